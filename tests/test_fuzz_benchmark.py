"""Randomly corrupted benchmark folders through the loader and ``proactive eval --policy oracle``.

Each corruption of a small synthetic benchmark (bytes flipped, lines cut, fields removed or retyped,
paths pointed outside, images truncated, replaced or linked out, files emptied or removed) must end in
either a run whose results equal the clean data's (where the corruption keeps the meaning) or exit
code 2 with one line naming the file: never a traceback, never a file opened outside the case folder
(an audit hook records every ``open``). ``PROACTIVE_FUZZ_CASES`` (default 200) and
``PROACTIVE_FUZZ_SEED`` (default 0) choose how many cases and which.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import pytest

from data.images import open_view
from data.records import (
    BenchmarkFormatError,
    informative_path,
    load_benchmark,
    record_image_paths,
    scenario_path,
)
from data.scenarios import SCENARIO_NAMES
from data.synth import generate_benchmark
from eval.cli import main as eval_main

CASES = int(os.environ.get("PROACTIVE_FUZZ_CASES", "200"))
SEED = int(os.environ.get("PROACTIVE_FUZZ_SEED", "0"))
SAME, ERROR, EITHER = "same", "error", "either"  # what a case must end in


# --- every file the process opens, while a case runs ---------------------------------------------------

_OPENED: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


@contextlib.contextmanager
def recording_opens() -> Any:
    global _OPENED
    _OPENED = opened = []
    try:
        yield opened
    finally:
        _OPENED = None


def allowed_roots() -> list[str]:
    """Where a case may open files besides its own folder: Python, the installed packages, this repo."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(__file__).resolve().parents[1])}
    roots |= {matplotlib.get_configdir(), matplotlib.get_cachedir(), "/dev/", "/proc/", "/sys/"}
    return [os.path.join(os.path.realpath(root), "") for root in roots]


# --- the clean benchmark and its results ----------------------------------------------------------------


@dataclass
class Clean:
    folder: Path
    lines: dict[str, list[dict]]  # scenario -> its JSONL objects
    sidecars: dict[str, dict]
    kept_images: dict[str, list[str]]  # scenario -> images of the records the loader keeps
    records: dict[str, list]  # loaded, for comparison
    summary: dict[str, Any]


def record_content(data: dict) -> dict[str, list]:
    return {
        name: [(r.to_json(), sorted(r.informative_views or ())) for r in scenario.records]
        for name, scenario in data.items()
    }


def summary_content(out: Path) -> dict[str, Any]:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {"scenarios": summary["scenarios"], "average": summary["average"]}


def eval_argv(bench: Path, out: Path) -> list[str]:
    return ["--policy", "oracle", "--data", str(bench), "--out", str(out), "--no-progress"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Clean:
    base = tmp_path_factory.mktemp("fuzz")
    folder = base / "bench"
    generate_benchmark(folder, 2, seed=3, size=32)
    loaded = load_benchmark(folder, check_images=True)
    with contextlib.redirect_stdout(io.StringIO()):
        assert eval_main(eval_argv(folder, base / "clean_run")) == 0
    return Clean(
        folder=folder,
        lines={
            name: [json.loads(x) for x in scenario_path(folder, name).read_text().splitlines()]
            for name in SCENARIO_NAMES
        },
        sidecars={name: json.loads(informative_path(folder, name).read_text()) for name in SCENARIO_NAMES},
        kept_images={
            name: sorted({i for r in data.records for i in record_image_paths(r)})
            for name, data in loaded.items()
        },
        records=record_content(loaded),
        summary=summary_content(base / "clean_run"),
    )


# --- corruptions -----------------------------------------------------------------------------------------


@dataclass
class Case:
    kind: str
    loader: str  # SAME, ERROR or EITHER for load_benchmark(check_images=True)
    eval: str  # the same for proactive eval --policy oracle (which never opens an image)
    names: list[Path]  # the files an error may name
    image: str | None = None  # an image that must fail at first use
    details: list[str] = field(default_factory=list)


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` as a new file: the case folder hard-links the clean one, which must stay intact."""
    path.unlink()
    path.write_bytes(data)


def canonical(text_or_objects: Any) -> str:
    return json.dumps(text_or_objects, sort_keys=True)


def classify_jsonl(data: bytes, clean_lines: list[dict]) -> str:
    """What a changed JSONL file must give: SAME if it holds the same objects, ERROR if unreadable."""
    try:
        objects = [json.loads(line) for line in data.decode("utf-8").split("\n") if line.strip()]
    except ValueError:
        return ERROR
    if not objects:
        return ERROR
    return SAME if canonical(objects) == canonical(clean_lines) else EITHER


def classify_json(data: bytes, clean_object: dict) -> str:
    try:
        value = json.loads(data.decode("utf-8"))
    except ValueError:
        return ERROR
    return SAME if canonical(value) == canonical(clean_object) else EITHER


def wrong_type(value: Any, rng: random.Random) -> Any:
    """A JSON value of another type than ``value`` (never int for float or the reverse)."""
    if isinstance(value, bool):
        pool: list[Any] = ["true", 1, None, [value]]
    elif isinstance(value, (int, float)):
        pool = [str(value), None, [value], {"v": value}, True]
    elif isinstance(value, str):
        pool = [7, None, [value], {"v": value}, False]
    elif isinstance(value, list):
        pool = ["x", 3, None, {"v": value}]
    else:
        pool = [[1], "x", None, 2]
    return rng.choice(pool)


def write_lines(bench: Path, scenario: str, lines: list[dict], **dumps: Any) -> tuple[Path, bytes]:
    path = scenario_path(bench, scenario)
    data = "".join(json.dumps(line, **dumps) + "\n" for line in lines).encode()
    replace_file(path, data)
    return path, data


def kept_indices(clean: Clean, scenario: str) -> list[int]:
    return [i for i, line in enumerate(clean.lines[scenario]) if line.get("strong_occlusions") is not False]


def jsonl_bytes(bench: Path, clean: Clean, rng: random.Random, scenario: str) -> Case:
    path = scenario_path(bench, scenario)
    data = bytearray(path.read_bytes())
    how = rng.choice(["flip", "flip", "cut line", "cut file", "drop line", "not utf-8"])
    if how == "flip":
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(data))
            data[position] = rng.choice([b for b in range(256) if b != data[position]])
    elif how == "cut line":
        starts = [0] + [i + 1 for i, b in enumerate(data[:-1]) if b == 10]
        start = rng.choice(starts)
        end = data.index(b"\n", start)
        cut = rng.randrange(start + 1, end)
        data = data[:cut] + data[end:]
    elif how == "cut file":
        data = data[: rng.randrange(1, len(data))]
    elif how == "drop line":
        lines = bytes(data).split(b"\n")
        del lines[rng.randrange(len(lines) - 1)]
        data = bytearray(b"\n".join(lines))
    else:
        position = data.index(b'"prompt": "') + len('"prompt": "') + rng.randrange(5)
        data[position:position] = rng.choice([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80"])
    replace_file(path, bytes(data))
    expected = classify_jsonl(bytes(data), clean.lines[scenario])
    return Case(f"jsonl {how}", expected, expected, [path, informative_path(bench, scenario)])


def jsonl_fields(bench: Path, clean: Clean, rng: random.Random, scenario: str) -> Case:
    lines = json.loads(json.dumps(clean.lines[scenario]))
    line = rng.choice(lines)
    key = rng.choice(sorted(line))
    how = rng.choice(["remove", "retype", "retype item"])
    if how == "retype item":
        containers = [k for k in ("options", "categories", "valid_images", "crop") if k in line]
        if containers:
            key = rng.choice(containers)
            inner = line[key]
            index = rng.choice(sorted(inner)) if isinstance(inner, dict) else rng.randrange(len(inner))
            inner[index] = wrong_type(inner[index], rng)
        else:
            line[key] = wrong_type(line[key], rng)
    elif how == "remove":
        del line[key]
    else:
        line[key] = wrong_type(line[key], rng)
    path, _ = write_lines(bench, scenario, lines)
    return Case(f"jsonl {how} {key}", ERROR, ERROR, [path])


def jsonl_paths(bench: Path, clean: Clean, rng: random.Random, scenario: str) -> Case:
    lines = json.loads(json.dumps(clean.lines[scenario]))
    line = rng.choice(lines)
    outside = [
        "/etc/passwd",
        "../outside/secret.png",
        f"{scenario}/../../outside/secret.png",
        str(bench.parent / "outside" / "secret.png"),
    ]
    placeholders = ["{image:/>6}", "{level:/>6}", "{missing}.png", "{0}.png", "{image!z}.png", "{image", "x}"]
    line["image_template"] = template = rng.choice(outside + placeholders)
    path, _ = write_lines(bench, scenario, lines)
    if scenario == "coco2014" and template in placeholders:  # COCO names its one image as is: no such file
        return Case("jsonl template", ERROR, EITHER, [path], details=[template])
    return Case("jsonl template", ERROR, ERROR, [path], details=[template])


def jsonl_benign(bench: Path, clean: Clean, rng: random.Random, scenario: str) -> Case:
    lines = json.loads(json.dumps(clean.lines[scenario]))
    how = rng.choice(["reorder", "compact", "blank lines", "crlf", "no final newline", "unknown field"])
    path = scenario_path(bench, scenario)
    if how == "reorder":
        shuffled = []
        for line in lines:
            keys = list(line)
            rng.shuffle(keys)
            shuffled.append({k: line[k] for k in keys})
        write_lines(bench, scenario, shuffled)
    elif how == "compact":
        write_lines(bench, scenario, lines, separators=(",", ":"))
    elif how == "unknown field":
        rng.choice(lines)["comment"] = "added by hand"
        write_lines(bench, scenario, lines)
    else:
        text = "".join(json.dumps(line) + "\n" for line in lines)
        if how == "blank lines":
            text = "\n  \n" + text.replace("\n", "\n\n  \t\n")
        elif how == "crlf":
            text = text.replace("\n", "\r\n")
        else:
            text = text.rstrip("\n")
        replace_file(path, text.encode())
    return Case(f"jsonl {how}", SAME, SAME, [path])


def jsonl_file(bench: Path, clean: Clean, rng: random.Random, scenario: str) -> Case:
    path = scenario_path(bench, scenario)
    how = rng.choice(["empty", "removed", "linked out", "a folder"])
    if how == "empty":
        replace_file(path, rng.choice([b"", b"\n\n", b"  \n"]))
    elif how == "removed":
        path.unlink()
    elif how == "linked out":
        outside = bench.parent / "outside" / path.name
        shutil.copy(path, outside)
        path.unlink()
        path.symlink_to(outside)
    else:
        path.unlink()
        path.mkdir()
    return Case(f"jsonl file {how}", ERROR, ERROR, [path])


def sidecar(bench: Path, clean: Clean, rng: random.Random, scenario: str) -> Case:
    path = informative_path(bench, scenario)
    views = json.loads(json.dumps(clean.sidecars[scenario]))
    record_id = str(clean.lines[scenario][rng.choice(kept_indices(clean, scenario))]["id"])
    how = rng.choice(["flip", "cut", "retype", "retype view", "view outside", "drop id", "removed"])
    if how in ("flip", "cut"):
        data = bytearray(path.read_bytes())
        if how == "flip":
            position = rng.randrange(len(data))
            data[position] = rng.choice([b for b in range(256) if b != data[position]])
        else:
            data = data[: rng.randrange(len(data))]
        replace_file(path, bytes(data))
        expected = classify_json(bytes(data), clean.sidecars[scenario])
        return Case(f"sidecar {how}", expected, expected, [path])
    if how == "removed":
        path.unlink()
        return Case("sidecar removed", EITHER, EITHER, [path])
    if how == "retype":
        views[record_id] = wrong_type(views[record_id], rng)
    elif how == "retype view":
        views[record_id][0] = wrong_type(views[record_id][0], rng)
    elif how == "view outside":
        views[record_id][0] = rng.choice(["../outside/secret.png", "/etc/passwd", f"{scenario}/../../x.png"])
    else:
        del views[record_id]
    replace_file(path, json.dumps(views).encode())
    return Case(f"sidecar {how}", ERROR, ERROR, [path])


def image(bench: Path, clean: Clean, rng: random.Random, scenario: str) -> Case:
    name = rng.choice(clean.kept_images[scenario])
    path = bench / name
    names = [path, scenario_path(bench, scenario)]
    data = path.read_bytes()
    how = rng.choice(
        ["truncated", "garbage", "empty", "removed", "flipped", "linked out", "folder linked out"]
    )
    if how in ("truncated", "garbage", "empty", "flipped"):
        if how == "truncated":
            data = data[: rng.randrange(1, len(data) - 12)]  # always before the end chunk
        elif how == "garbage":
            data = rng.randbytes(rng.randint(1, 200))
        elif how == "empty":
            data = b""
        else:
            data = data[:8] + bytes(b ^ 0xFF for b in data[8:40]) + data[40:]  # header intact, chunks broken
        replace_file(path, data)
        return Case(f"image {how}", ERROR, SAME, names, image=name)
    if how == "removed":
        path.unlink()
        return Case("image removed", ERROR, SAME, names, image=name)
    if how == "linked out":
        outside = bench.parent / "outside" / f"{rng.randrange(10**9)}.png"
        outside.write_bytes(data)
        path.unlink()
        path.symlink_to(outside)
        return Case("image linked out", ERROR, ERROR, names, image=name)
    folder = path.parent
    outside = bench.parent / "outside" / f"folder{rng.randrange(10**9)}"
    shutil.copytree(folder, outside)
    shutil.rmtree(folder)
    folder.symlink_to(outside, target_is_directory=True)
    return Case("image folder linked out", ERROR, ERROR, names, image=name)


def image_linked_inside(bench: Path, clean: Clean, rng: random.Random, scenario: str) -> Case:
    """A symlink that stays inside the folder changes nothing."""
    name = rng.choice(clean.kept_images[scenario])
    path = bench / name
    store = bench / "store" / f"{rng.randrange(10**9)}.png"
    store.parent.mkdir(exist_ok=True)
    store.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(os.path.relpath(store, path.parent) if rng.random() < 0.5 else store)
    return Case("image linked inside", SAME, SAME, [path])


def marker(bench: Path, clean: Clean, rng: random.Random, scenario: str) -> Case:
    (bench / "synthetic.json").unlink()  # the loader then applies the official id filter
    return Case("marker removed", EITHER, EITHER, [scenario_path(bench, name) for name in SCENARIO_NAMES])


CORRUPTIONS: list[tuple[Callable[[Path, Clean, random.Random, str], Case], int]] = [
    (jsonl_bytes, 6),
    (jsonl_fields, 5),
    (jsonl_paths, 3),
    (jsonl_benign, 3),
    (jsonl_file, 2),
    (sidecar, 4),
    (image, 5),
    (image_linked_inside, 1),
    (marker, 1),
]


# --- running a case --------------------------------------------------------------------------------------


def load_outcome(bench: Path) -> tuple[str, Any]:
    try:
        data = load_benchmark(bench, check_images=True)
    except (BenchmarkFormatError, FileNotFoundError) as err:
        return ERROR, str(err)
    return "ok", record_content(data)


def eval_outcome(bench: Path, out: Path) -> tuple[str, Any]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = eval_main(eval_argv(bench, out))
    if code == 2:
        return ERROR, stderr.getvalue()
    assert code == 0, f"exit code {code}: {stderr.getvalue()}"
    return "ok", summary_content(out)


def check(label: str, expected: str, outcome: str, value: Any, clean_value: Any, case: Case) -> None:
    if outcome == ERROR:
        message = value.removesuffix("\n")
        assert expected != SAME, f"{label}: the data kept its meaning but it failed: {message}"
        assert message and "\n" not in message, f"{label}: not one line: {value!r}"
        assert "Traceback" not in message
        assert any(str(name) in message for name in case.names), (
            f"{label}: names none of {case.names}: {message}"
        )
    else:
        assert expected != ERROR, f"{label}: corrupt data was accepted"
        if expected == SAME:
            assert value == clean_value, f"{label}: results differ from the clean data's"


def first_use(label: str, bench: Path, image: str) -> bytes | None:
    """A damaged image fails when first shown, naming it; else its pixels (it may only have lost a trailer)."""
    try:
        view = open_view(bench, image, owner="the fuzzed record")
    except (BenchmarkFormatError, FileNotFoundError) as err:
        assert image in str(err) and "\n" not in str(err), f"{label}, first use: {err}"
        return None
    return view.tobytes()


def test_corrupted_benchmarks_fail_cleanly_or_give_the_clean_results(clean: Clean, tmp_path: Path) -> None:
    sys.addaudithook(_audit)  # hooks cannot be removed; it records only inside recording_opens()
    roots = allowed_roots()
    rng = random.Random(SEED)
    kinds, weights = zip(*CORRUPTIONS, strict=True)
    tally: dict[str, int] = {}
    for number in range(CASES):
        case_dir = tmp_path / f"case{number}"
        (case_dir / "outside").mkdir(parents=True)
        bench = case_dir / "bench"
        shutil.copytree(clean.folder, bench, copy_function=os.link)
        shutil.copy(
            clean.folder / "QuickDraw" / "sketch00000" / "0000.png", case_dir / "outside" / "secret.png"
        )
        corrupt = rng.choices(kinds, weights)[0]
        case = corrupt(bench, clean, rng, rng.choice(SCENARIO_NAMES))
        label = f"case {number} (seed {SEED}): {case.kind} {case.details or ''}"
        inside = os.path.realpath(case_dir / "bench") + "/", os.path.realpath(case_dir / "run") + "/"
        try:
            with recording_opens() as opened:
                outcome, value = load_outcome(bench)
                check(f"{label}, loader", case.loader, outcome, value, clean.records, case)
                outcome, value = eval_outcome(bench, case_dir / "run")
                check(f"{label}, eval", case.eval, outcome, value, clean.summary, case)
                pixels = first_use(label, bench, case.image) if case.image is not None else None
        except AssertionError:
            raise
        except Exception:
            pytest.fail(f"{label}: traceback\n{traceback.format_exc()}")
        outside = [
            path
            for path in opened
            if not os.path.realpath(path).startswith(inside)
            and not any(os.path.realpath(path).startswith(root) for root in roots)
        ]
        assert not outside, f"{label}: opened outside its folder: {outside}"
        if pixels is not None:  # shown, so every pixel must be the clean image's
            assert pixels == open_view(clean.folder, case.image).tobytes(), f"{label}: other pixels shown"
        tally[corrupt.__name__] = tally.get(corrupt.__name__, 0) + 1
        shutil.rmtree(case_dir)
    print(f"{CASES} corrupted benchmarks: {tally}")
    if CASES >= 100:
        expected = {kind.__name__ for kind in kinds}
        assert set(tally) == expected, f"corruptions never drawn: {expected - set(tally)}"
