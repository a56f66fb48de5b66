"""Typed ProactiveBench records and the JSONL loader (official or synthetic benchmark folders)."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from data.filters import IdFilter, filter_from_correctness, official_filter
from data.jsonl import decode_lines, decode_utf8
from data.paths import OutsideFolderError, inside_folder
from data.scenarios import SCENARIO_NAMES, SCENARIOS, resolve_scenario


class BenchmarkFormatError(ValueError):
    """A JSONL line that does not hold a valid record; the message names file, line and field."""


class ImageNotFoundError(FileNotFoundError):
    """An image a record refers to is not on disk; the message names the path."""


class BadImageError(BenchmarkFormatError):
    """An image file that is not an image, or is truncated or corrupt; the message names the path."""


_COMMON_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": int,
    "image_template": str,
    "first_image": int,
    "num_images": int,
    "reference_image": int,
    "prompt": str,
    "options": list,
    "categories": list,
    "answer": str,
}
_NUMBER = (int, float)
_EXTRA_FIELDS: dict[str, type | tuple[type, ...]] = {
    "valid_images": list,
    "quality_answer": str,
    "strong_occlusions": bool,
    "step_size": int,
    "max_steps": int,
    "direction": str,
    "granularity": int,
    "horizontal_step": _NUMBER,
    "vertical_step": _NUMBER,
    "crop": dict,
}


@dataclass(frozen=True)
class Record:
    """One episode of the benchmark, as one JSONL line describes it."""

    scenario: str
    id: int
    image_template: str
    first_image: int
    num_images: int
    reference_image: int
    prompt: str
    options: tuple[str, ...]
    categories: tuple[str, ...]
    answer: str
    extras: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""  # "file:line", for error messages
    informative_views: frozenset[str] | None = None  # synthetic benchmarks label every view

    def to_json(self) -> dict[str, Any]:
        """The record as its JSONL line (official field names)."""
        line = {name: getattr(self, name) for name in _COMMON_FIELDS}
        line["options"] = list(self.options)
        line["categories"] = list(self.categories)
        line.update(self.extras)
        return line


@dataclass
class LoadReport:
    """What was read from one scenario file and why anything was left out."""

    scenario: str
    path: str
    read: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        parts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items()))
        return f"{self.scenario}: {self.kept}/{self.read} kept" + (f" (dropped: {parts})" if parts else "")


@dataclass
class ScenarioData:
    records: list[Record]
    report: LoadReport


def _type_name(expected: type | tuple[type, ...]) -> str:
    if isinstance(expected, tuple):
        return " or ".join(t.__name__ for t in expected)
    return expected.__name__


def _check_type(where: str, name: str, value: Any, expected: type | tuple[type, ...]) -> None:
    allowed = expected if isinstance(expected, tuple) else (expected,)
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        raise BenchmarkFormatError(
            f"{where}: field {name!r}: expected {_type_name(expected)}, got {type(value).__name__} {value!r:.60}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise BenchmarkFormatError(f"{where}: field {name!r}: expected a finite number, got {value}")


def parse_record(scenario: str, raw: Any, where: str) -> Record:
    """Validate one decoded JSONL object and turn it into a :class:`Record`."""
    if not isinstance(raw, dict):
        raise BenchmarkFormatError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    for name, expected in _COMMON_FIELDS.items():
        if name not in raw:
            raise BenchmarkFormatError(f"{where}: field {name!r}: missing")
        _check_type(where, name, raw[name], expected)
    for list_field in ("options", "categories"):
        for i, item in enumerate(raw[list_field]):
            _check_type(where, f"{list_field}[{i}]", item, str)
    if raw["answer"] not in raw["categories"]:
        raise BenchmarkFormatError(f"{where}: field 'answer': {raw['answer']!r} is not one of the categories")
    if raw["num_images"] < 1:
        raise BenchmarkFormatError(
            f"{where}: field 'num_images': must be at least 1, got {raw['num_images']}"
        )
    extras: dict[str, Any] = {}
    for name in SCENARIOS[scenario].extra_fields:
        if name not in raw:
            raise BenchmarkFormatError(f"{where}: field {name!r}: missing (required for {scenario})")
        _check_type(where, name, raw[name], _EXTRA_FIELDS[name])
        extras[name] = raw[name]
    for name in ("step_size", "max_steps"):
        if name in extras and extras[name] < 1:
            raise BenchmarkFormatError(f"{where}: field {name!r}: must be at least 1, got {extras[name]}")
    if "valid_images" in extras:
        for i, item in enumerate(extras["valid_images"]):
            _check_type(where, f"valid_images[{i}]", item, int)
        if len(extras["valid_images"]) < raw["num_images"]:
            raise BenchmarkFormatError(
                f"{where}: field 'valid_images': needs at least num_images={raw['num_images']} entries"
            )
    if "quality_answer" in extras and extras["quality_answer"] not in raw["options"]:
        raise BenchmarkFormatError(
            f"{where}: field 'quality_answer': {extras['quality_answer']!r} is not one of the options"
        )
    if "crop" in extras:
        for key in ("top", "left", "height", "width"):
            if key not in extras["crop"]:
                raise BenchmarkFormatError(f"{where}: field 'crop.{key}': missing")
            _check_type(where, f"crop.{key}", extras["crop"][key], _NUMBER)
    return Record(
        scenario=scenario,
        id=raw["id"],
        image_template=raw["image_template"],
        first_image=raw["first_image"],
        num_images=raw["num_images"],
        reference_image=raw["reference_image"],
        prompt=raw["prompt"],
        options=tuple(raw["options"]),
        categories=tuple(raw["categories"]),
        answer=raw["answer"],
        extras=extras,
        source=where,
    )


SYNTHETIC_MARKER = "synthetic.json"


def is_synthetic(data_dir: str | Path) -> bool:
    return (Path(data_dir) / SYNTHETIC_MARKER).is_file()


def resolve_id_filter(
    data_dir: str | Path, id_filter: IdFilter | None | str, threshold: float = 0.25
) -> IdFilter | None:
    """Turn "auto" / "official" / "none" / a correctness-file path into an :class:`IdFilter` (or None)."""
    if id_filter is None or isinstance(id_filter, IdFilter):
        return id_filter
    if id_filter == "auto":
        return None if is_synthetic(data_dir) else official_filter()
    if id_filter == "official":
        return official_filter()
    if id_filter == "none":
        return None
    if Path(id_filter).is_file():
        return filter_from_correctness(id_filter, threshold)
    raise ValueError(
        f"id_filter {id_filter!r}: expected auto, official, none or the path of a correctness JSONL file"
    )


def scenario_path(data_dir: str | Path, scenario: str) -> Path:
    return Path(data_dir) / f"{scenario}_preprocessed.jsonl"


def informative_path(data_dir: str | Path, scenario: str) -> Path:
    """Sidecar written by the synthetic generator: record id -> views known to be informative."""
    return Path(data_dir) / f"{scenario}_informative.json"


def load_scenario(
    data_dir: str | Path,
    scenario: str,
    id_filter: IdFilter | None | str = "auto",
    check_images: bool = False,
) -> ScenarioData:
    """Read ``<scenario>_preprocessed.jsonl`` from ``data_dir``.

    ``id_filter`` keeps only listed ids: "official" is the paper's 7,557-sample filter, ``None`` or
    "none" keeps everything, "auto" (default) is "official" except for a synthetic folder (one with a
    ``synthetic.json`` marker), or pass an :class:`IdFilter`. VSOD records whose ``strong_occlusions``
    is false are dropped, as the official loader does. Every dropped record is counted in the report.

    Every image path of every record must lie inside ``data_dir`` once symlinks are resolved (no
    absolute path, no ``..``); ``check_images`` also opens each image of the kept records. Any
    problem, an empty file included, is a :class:`BenchmarkFormatError` naming file, line and field.
    """
    scenario = resolve_scenario(scenario)
    path = scenario_path(data_dir, scenario)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such benchmark file (is {data_dir} a ProactiveBench folder?)")
    _check_inside(data_dir, path)
    id_filter = resolve_id_filter(data_dir, id_filter)
    informative = _read_informative(data_dir, scenario)
    sidecar = str(informative_path(data_dir, scenario))
    report = LoadReport(scenario, str(path))
    records: list[Record] = []
    seen: dict[int, str] = {}
    inside: set[str] = set()  # paths already found inside the folder
    readable: set[str] = set()  # images already found readable (check_images)
    with open(path, "rb") as handle:
        for where, raw in decode_lines(handle, str(path), BenchmarkFormatError):
            record = parse_record(scenario, raw, where)
            report.read += 1
            if record.id in seen:
                raise BenchmarkFormatError(
                    f"{where}: field 'id': {record.id} already used at {seen[record.id]}"
                )
            seen[record.id] = where
            images = _image_paths_inside(record, data_dir, inside)
            if record.extras.get("strong_occlusions") is False:
                report.dropped["weak occlusion (strong_occlusions=false)"] += 1
                continue
            if id_filter is not None and not id_filter.keeps(scenario, record.id):
                report.dropped[f"not in {id_filter.name}"] += 1
                continue
            if check_images:
                _check_image_files(record, images, data_dir, readable)
            if informative is not None:
                record = _with_informative_views(record, informative, sidecar, data_dir, inside)
            records.append(record)
    if report.read == 0:
        raise BenchmarkFormatError(f"{path}: no records (the file is empty)")
    report.kept = len(records)
    return ScenarioData(records, report)


def _check_inside(data_dir: str | Path, path: Path) -> None:
    """Refuse a benchmark file that is a symlink leading out of ``data_dir``."""
    try:
        inside_folder(data_dir, path.name)
    except OutsideFolderError as err:
        raise BenchmarkFormatError(f"{path}: {err}") from None


def _image_paths_inside(record: Record, data_dir: str | Path, inside: set[str]) -> list[str]:
    """Every image ``record`` can show; each must lie inside ``data_dir`` (paths in ``inside`` already do).

    A bad ``image_template`` placeholder or a path leading out of the folder names the record's line.
    """
    where = record.source
    try:
        images = record_image_paths(record)
    except KeyError as err:
        raise BenchmarkFormatError(
            f"{where}: field 'image_template': unknown placeholder {{{err.args[0]}}} in {record.image_template!r:.80}"
        ) from None
    except (IndexError, ValueError, AttributeError, TypeError) as err:
        raise BenchmarkFormatError(
            f"{where}: field 'image_template': cannot fill {record.image_template!r:.80} ({err})"
        ) from None
    for image in images:
        if image not in inside:
            try:
                inside_folder(data_dir, image)
            except OutsideFolderError as err:
                raise BenchmarkFormatError(f"{where}: field 'image_template': {err}") from None
            inside.add(image)
    return images


def _check_image_files(record: Record, images: list[str], data_dir: str | Path, readable: set[str]) -> None:
    """Each image exists and reads as an image (paths in ``readable`` already do)."""
    from data.images import check_image

    for image in images:
        if image not in readable:
            check_image(data_dir, image, owner=f"record {record.id} ({record.source})")
            readable.add(image)


def _with_informative_views(
    record: Record, informative: dict[str, Any], sidecar: str, data_dir: str | Path, inside: set[str]
) -> Record:
    """``record`` with its views from ``sidecar``, which must list them (as strings inside the folder)."""
    views = informative.get(str(record.id))
    if views is None:
        raise BenchmarkFormatError(
            f"{sidecar}: field {str(record.id)!r}: missing (record at {record.source})"
        )
    _check_type(sidecar, str(record.id), views, list)
    for i, view in enumerate(views):
        field_name = f"{record.id}[{i}]"
        _check_type(sidecar, field_name, view, str)
        if view in inside:
            continue
        try:
            inside_folder(data_dir, view)
        except OutsideFolderError as err:
            raise BenchmarkFormatError(f"{sidecar}: field {field_name!r}: {err}") from None
        inside.add(view)
    return replace(record, informative_views=frozenset(views))


def _read_informative(data_dir: str | Path, scenario: str) -> dict[str, Any] | None:
    path = informative_path(data_dir, scenario)
    if not path.is_file():
        return None
    _check_inside(data_dir, path)
    text = decode_utf8(path.read_bytes(), str(path), BenchmarkFormatError)
    try:
        informative = json.loads(text)
    except json.JSONDecodeError as err:
        raise BenchmarkFormatError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
    except (ValueError, RecursionError) as err:
        raise BenchmarkFormatError(f"{path}: invalid JSON ({type(err).__name__}: {err})") from None
    if not isinstance(informative, dict):
        raise BenchmarkFormatError(
            f"{path}: expected a JSON object (record id -> views), got {type(informative).__name__}"
        )
    return informative


def records_fingerprint(records: Iterable[Record]) -> str:
    """A short hash of the records' content (every field and informative view, in order): a run's data identity."""
    digest = hashlib.sha256()
    for record in records:
        line = record.to_json()
        line["scenario"] = record.scenario
        views = record.informative_views
        line["informative_views"] = sorted(views) if views is not None else None
        digest.update(json.dumps(line, sort_keys=True).encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]


def load_benchmark(
    data_dir: str | Path,
    scenarios: Iterable[str] | None = None,
    id_filter: IdFilter | None | str = "auto",
    check_images: bool = False,
) -> dict[str, ScenarioData]:
    """Load several scenarios (all seven by default) from one benchmark folder."""
    names = [resolve_scenario(s) for s in (scenarios or SCENARIO_NAMES)]
    return {name: load_scenario(data_dir, name, id_filter, check_images) for name in names}


def record_image_paths(record: Record) -> list[str]:
    """Every image path (relative to the benchmark folder) an episode of ``record`` can show."""
    from data.environment import image_path_for

    return sorted(image_path_for(record))
