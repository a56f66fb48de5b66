"""Hostile benchmark folders: every image path stays inside the folder (symlinks included), and bad bytes,
bad images, bad templates and empty files give one line naming the file, line and field."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from data.builders import build_grpo_dataset, build_sft_dataset
from data.environment import make_episode
from data.images import open_view
from data.paths import OutsideFolderError, inside_folder
from data.records import (
    BadImageError,
    BenchmarkFormatError,
    ImageNotFoundError,
    informative_path,
    load_scenario,
    records_fingerprint,
    scenario_path,
)
from data.synth import generate_benchmark
from eval.rollout import conversation

QD = "QuickDraw"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("guards") / "bench"
    generate_benchmark(path, 3, seed=0, size=32, scenarios=[QD, "MVP-N", "coco2014"])
    return path


@pytest.fixture
def bench(clean: Path, tmp_path: Path) -> Path:
    """A private copy of the small benchmark, inside a parent that also holds a secret file."""
    (tmp_path / "secret.png").write_bytes((clean / QD / "sketch00000" / "0000.png").read_bytes())
    shutil.copytree(clean, tmp_path / "bench")
    return tmp_path / "bench"


def lines(folder: Path, scenario: str = QD) -> list[dict]:
    text = scenario_path(folder, scenario).read_text(encoding="utf-8")
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def rewrite(folder: Path, records: list[dict], scenario: str = QD) -> Path:
    path = scenario_path(folder, scenario)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def edit(folder: Path, number: int, scenario: str = QD, **fields: object) -> Path:
    records = lines(folder, scenario)
    records[number - 1].update(fields)
    return rewrite(folder, records, scenario)


def load_error(folder: Path, scenario: str = QD, check_images: bool = False) -> str:
    with pytest.raises(BenchmarkFormatError) as err:
        load_scenario(folder, scenario, id_filter=None, check_images=check_images)
    message = str(err.value)
    assert "\n" not in message
    return message


# --- paths stay inside the benchmark folder ---------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("/etc/passwd", "absolute path"),
        ("../secret.png", "'..' in path"),
        ("QuickDraw/../../secret.png", "'..' in path"),
        ("{image:/>5}", "absolute path"),  # a fill character can make a path absolute
    ],
)
def test_template_leading_out_is_a_load_error_naming_file_line_and_field(
    bench: Path, template: str, reason: str
) -> None:
    path = edit(bench, 2, image_template=template)
    message = load_error(bench)
    assert f"{path}:2: field 'image_template'" in message and reason in message


def test_symlink_leading_out_is_refused_at_load_and_at_open(bench: Path) -> None:
    first = lines(bench)[0]
    image = first["image_template"].format(image="0001")
    (bench / image).unlink()
    (bench / image).symlink_to(bench.parent / "secret.png")
    message = load_error(bench)
    assert f"{scenario_path(bench, QD)}:1: field 'image_template'" in message
    assert "outside the benchmark folder" in message
    with pytest.raises(BenchmarkFormatError, match="outside the benchmark folder"):
        open_view(bench, image)
    folder = bench / QD / "sketch00001"  # a whole directory linked out
    shutil.rmtree(folder)
    folder.symlink_to(bench.parent, target_is_directory=True)
    with pytest.raises(BenchmarkFormatError, match="outside the benchmark folder"):
        open_view(bench, "QuickDraw/sketch00001/secret.png")


def test_symlinks_inside_the_folder_and_a_linked_folder_are_fine(bench: Path, tmp_path: Path) -> None:
    image = lines(bench)[0]["image_template"].format(image="0001")
    moved = bench / "store" / "0001.png"
    moved.parent.mkdir()
    (bench / image).rename(moved)
    (bench / image).symlink_to(moved)
    link = tmp_path / "linked-bench"
    link.symlink_to(bench, target_is_directory=True)
    data = load_scenario(link, QD, id_filter=None, check_images=True)
    assert len(data.records) == 3
    assert open_view(link, image).size == (32, 32)


def test_benchmark_file_linked_out_is_refused(bench: Path) -> None:
    path = scenario_path(bench, QD)
    outside = bench.parent / "elsewhere.jsonl"
    path.rename(outside)
    path.symlink_to(outside)
    assert "outside the benchmark folder" in load_error(bench)


def test_sidecar_views_must_be_strings_inside_the_folder(bench: Path) -> None:
    sidecar = informative_path(bench, QD)
    views = json.loads(sidecar.read_text(encoding="utf-8"))
    for value, message in (
        (["../secret.png"], "field '1[0]': '../secret.png': '..' in path"),
        (["/etc/passwd"], "field '1[0]': '/etc/passwd': absolute path"),
        ("QuickDraw/x.png", "field '1': expected list"),
        ([3], "field '1[0]': expected str"),
    ):
        sidecar.write_text(json.dumps({**views, "1": value}), encoding="utf-8")
        error = load_error(bench)
        assert error.startswith(str(sidecar)) and message in error
    sidecar.write_text("[1, 2]", encoding="utf-8")
    assert "expected a JSON object" in load_error(bench)


def test_inside_folder_resolves_without_touching_the_target(tmp_path: Path) -> None:
    assert inside_folder(tmp_path, "a/b.png") == os.path.join(os.path.realpath(tmp_path), "a", "b.png")
    for bad in ("", "a/\0.png", "/a.png", "a/../../b.png"):
        with pytest.raises(OutsideFolderError):
            inside_folder(tmp_path, bad)


def test_builders_and_eval_never_open_outside(bench: Path) -> None:
    record = load_scenario(bench, QD, id_filter=None).records[0]
    outside = record.__class__(**{**record.__dict__, "image_template": "../secret.png"})
    for build in (build_grpo_dataset, build_sft_dataset):
        with pytest.raises(BenchmarkFormatError, match=r"QuickDraw record 0: '\.\./secret\.png'"):
            build([outside], bench)
    episode = make_episode(outside)
    with pytest.raises(BenchmarkFormatError, match="outside|'..'"):
        conversation(episode, episode.state(), bench, history=False)


# --- one line instead of a traceback ------------------------------------------------------------------


def test_non_utf8_bytes_name_file_and_line(bench: Path) -> None:
    path = scenario_path(bench, QD)
    text = path.read_bytes().split(b"\n")
    text[1] = text[1].replace(b"What", b"Wh\xffat")
    path.write_bytes(b"\n".join(text))
    assert f"{path}:2: not UTF-8 text (byte 0xff at column" in load_error(bench)
    sidecar = informative_path(bench, QD)
    sidecar.write_bytes(b'{"0": ["\xfe"]}')
    assert f"{sidecar}: not UTF-8 text" in load_error(bench)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("QuickDraw/{imgae}.png", "unknown placeholder {imgae}"),
        ("QuickDraw/{image:d}.png", "Unknown format code 'd'"),
        ("QuickDraw/{}.png", "cannot fill"),
        ("QuickDraw/{image.x}.png", "cannot fill"),
        ("QuickDraw/{image.png", "cannot fill"),
    ],
)
def test_bad_template_placeholder_names_file_line_and_field(bench: Path, template: str, message: str) -> None:
    path = edit(bench, 3, image_template=template)
    error = load_error(bench)
    assert error.startswith(f"{path}:3: field 'image_template'") and message in error


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: b"not an image at all",
        lambda data: b"",
        lambda data: data[:8] + bytes(len(data) - 8),  # a PNG header, then zeros
    ],
)
def test_a_broken_image_is_named_at_load_with_check_images_and_at_first_use(bench: Path, damage) -> None:
    record = load_scenario(bench, QD, id_filter=None).records[1]
    image = record.image_template.format(image="0000")
    (bench / image).write_bytes(damage((bench / image).read_bytes()))
    load_scenario(bench, QD, id_filter=None)  # images are read only on request ...
    error = load_error(bench, check_images=True)  # ... or at first use
    assert error.startswith(f"{bench / image}: image of record 1 ({scenario_path(bench, QD)}:2)")
    assert "is not a readable image" in error
    episode = make_episode(record)
    with pytest.raises(BadImageError, match=f"{bench / image}: image of QuickDraw record 1 is not"):
        conversation(episode, episode.state(), bench, history=False)
    with pytest.raises(BadImageError, match="QuickDraw record 1"):
        build_grpo_dataset([record], bench)


def test_missing_image_at_first_use_names_record_and_path(bench: Path) -> None:
    record = load_scenario(bench, QD, id_filter=None).records[2]
    image = bench / record.image_template.format(image="0000")
    image.unlink()
    with pytest.raises(ImageNotFoundError, match=f"{image}: image of QuickDraw record 2 not found"):
        build_sft_dataset([record], bench)


def test_empty_scenario_file_is_an_error_like_a_missing_one(bench: Path) -> None:
    path = scenario_path(bench, QD)
    path.write_text("\n\n", encoding="utf-8")
    assert load_error(bench) == f"{path}: no records (the file is empty)"
    path.unlink()
    with pytest.raises(FileNotFoundError, match="no such benchmark file"):
        load_scenario(bench, QD, id_filter=None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("step_size", 0, "'step_size': must be at least 1"),
        ("max_steps", -3, "'max_steps': must be at least 1"),
    ],
)
def test_out_of_range_step_fields(tmp_path: Path, field: str, value: int, message: str) -> None:
    generate_benchmark(tmp_path, 1, seed=0, size=32, scenarios=["ChangeIt"])
    path = edit(tmp_path, 1, "ChangeIt", **{field: value})
    assert f"{path}:1: field {message}" in load_error(tmp_path, "ChangeIt")


def test_non_finite_numbers_are_refused(bench: Path) -> None:
    path = scenario_path(bench, "coco2014")
    text = path.read_text(encoding="utf-8").replace('"horizontal_step": ', '"horizontal_step": NaN, "x": ', 1)
    path.write_text(text, encoding="utf-8")
    assert "field 'horizontal_step': expected a finite number, got nan" in load_error(bench, "coco2014")


def test_fingerprint_follows_content_not_formatting(bench: Path) -> None:
    before = records_fingerprint(load_scenario(bench, QD, id_filter=None).records)
    records = lines(bench)
    path = scenario_path(bench, QD)
    path.write_text("\n".join(json.dumps(r, indent=None, sort_keys=True) for r in records) + "\n\n")
    assert records_fingerprint(load_scenario(bench, QD, id_filter=None).records) == before
    edit(bench, 2, prompt="What is drawn here?")
    assert records_fingerprint(load_scenario(bench, QD, id_filter=None).records) != before
