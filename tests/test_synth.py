"""The synthetic benchmark generator: format, determinism, ground truth, official rules, loader errors."""

from __future__ import annotations

import json
import random
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from data.environment import make_episode
from data.icl import ICL_SCENARIOS, example_record, in_context_example
from data.images import open_view
from data.parsing import normalize_text
from data.policies import abstain, oracle, random_category, run_policy
from data.records import (
    SYNTHETIC_MARKER,
    BenchmarkFormatError,
    ImageNotFoundError,
    informative_path,
    is_synthetic,
    load_benchmark,
    load_scenario,
    parse_record,
    scenario_path,
)
from data.scenarios import ACTION_KEYWORDS, SCENARIO_NAMES, SCENARIOS, Action, is_abstain
from data.stage import unfinished_marker
from data.synth import generate_benchmark, reachable_views
from data.synth.cli import main as synth_main
from data.synth.drawing import COLOURS
from data.synth.generate import GENERATOR, MAKERS
from proactive.cli import main as proactive_main

PER_SCENARIO = 20
SIZE = 56
SEED = 7
WEAK = "weak occlusion (strong_occlusions=false)"
DETAIL_KEYWORDS = ("details", "quickdraw", "drawing", "sketch")


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "bench"
    return out, generate_benchmark(out, PER_SCENARIO, seed=SEED, size=SIZE)


@pytest.fixture(scope="session")
def loaded(generated):
    return load_benchmark(generated[0], id_filter=None, check_images=True)


def raw_lines(folder: Path, scenario: str) -> list[dict]:
    return [
        json.loads(line) for line in scenario_path(folder, scenario).read_text(encoding="utf-8").splitlines()
    ]


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- format ---------------------------------------------------------------------------------------


def test_summary_counts_match_the_files(generated):
    folder, summary = generated
    assert list(summary) == list(SCENARIO_NAMES)
    for name, row in summary.items():
        assert row["kept"] == PER_SCENARIO
        assert row["records"] == len(raw_lines(folder, name))
        assert row["images"] == sum(1 for _ in (folder / name).rglob("*.png"))
        assert len(row["categories"]) >= 4 and row["oracle_turns"] > 1
    assert summary["OcclusionDataSet-MM20"]["records"] > PER_SCENARIO


def test_round_trip_through_the_loader(generated, loaded):
    folder, _ = generated
    for name in SCENARIO_NAMES:
        written = [line for line in raw_lines(folder, name) if line.get("strong_occlusions", True)]
        records = loaded[name].records
        assert [r.to_json() for r in records] == written
        assert [r.id for r in records] == [line["id"] for line in written]
        sidecar = json.loads(informative_path(folder, name).read_text(encoding="utf-8"))
        assert all(r.informative_views == frozenset(sidecar[str(r.id)]) for r in records)


def test_ids_count_from_zero(generated):
    folder, _ = generated
    for name in SCENARIO_NAMES:
        ids = [line["id"] for line in raw_lines(folder, name)]
        assert ids == list(range(len(ids)))


def test_marker_is_written_and_makes_auto_filter_keep_everything(generated):
    folder, _ = generated
    marker = json.loads((folder / SYNTHETIC_MARKER).read_text(encoding="utf-8"))
    assert marker == {
        "generator": GENERATOR,
        "per_scenario": PER_SCENARIO,
        "seed": SEED,
        "size": SIZE,
        "scenarios": list(SCENARIO_NAMES),
    }
    assert is_synthetic(folder)
    assert all(len(data.records) == PER_SCENARIO for data in load_benchmark(folder).values())


def test_image_sizes(generated, loaded):
    folder, _ = generated
    for name, data in loaded.items():
        side = 2 * SIZE if name == "coco2014" else SIZE
        for record in data.records[:3]:
            with Image.open(folder / make_episode(record).state().image) as image:
                assert image.size == (side, side)


def test_vsod_weak_occlusions_are_dropped_and_counted(generated, loaded):
    folder, summary = generated
    lines = raw_lines(folder, "OcclusionDataSet-MM20")
    weak = sum(not line["strong_occlusions"] for line in lines)
    report = loaded["OcclusionDataSet-MM20"].report
    assert weak >= 1 and weak == summary["OcclusionDataSet-MM20"]["records"] - PER_SCENARIO
    assert (report.read, report.kept, report.dropped[WEAK]) == (len(lines), PER_SCENARIO, weak)


# --- determinism ----------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_records(tmp_path):
    generate_benchmark(tmp_path / "a", 3, seed=1, size=40)
    generate_benchmark(tmp_path / "b", 3, seed=1, size=40)
    generate_benchmark(tmp_path / "c", 3, seed=2, size=40)
    generate_benchmark(tmp_path / "d", 3, seed=1, size=40, scenarios=["qd", "COCO"])
    a, b, c, d = (tree(tmp_path / name) for name in "abcd")
    assert a == b
    for name in SCENARIO_NAMES:
        assert a[f"{name}_preprocessed.jsonl"] != c[f"{name}_preprocessed.jsonl"]
    subset = {path: data for path, data in a.items() if path.startswith(("QuickDraw", "coco2014"))}
    assert {path: data for path, data in d.items() if path != SYNTHETIC_MARKER} == subset


# --- ground truth and policies --------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_oracle_always_right_abstain_never(loaded, scenario):
    records = loaded[scenario].records
    episodes = [run_policy(make_episode(r), oracle) for r in records]
    assert all(e.success for e in episodes)
    interventions = sum(e.interventions for e in episodes)
    assert interventions == sum(e.num_turns - 1 for e in episodes) > 0
    assert not any(run_policy(make_episode(r), abstain).success for r in records)


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_start_view_hides_the_answer_reference_view_shows_it(loaded, scenario):
    for record in loaded[scenario].records:
        assert make_episode(record).state().informative is False
        assert make_episode(record, reference=True).state().informative is True


def test_blind_guesser_scores_about_a_quarter(tmp_path, loaded):
    folder = tmp_path / "coco"
    generate_benchmark(folder, 200, seed=3, size=32, scenarios=["coco2014"])
    records = load_scenario(folder, "coco2014", id_filter=None).records
    guess = random_category(seed=0)
    accuracy = sum(run_policy(make_episode(r), guess).success for r in records) / len(records)
    assert 0.15 <= accuracy <= 0.35
    pooled = records + [r for data in loaded.values() for r in data.records]
    positions = Counter(r.categories.index(r.answer) for r in pooled)
    assert all(0.15 <= positions[i] / len(pooled) <= 0.35 for i in range(4))


def test_informative_views_follow_each_scenario_design(loaded):
    for record in loaded["Realistic-Occlusion-Dataset"].records:  # |frame - 7| >= 3
        frames = {int(re.search(r"frame-s(\d+)", v).group(1)) for v in record.informative_views}
        assert frames == {i for i in range(14) if abs(i - 7) >= 3}
    for record in loaded["ImageNet-C"].records:  # levels 0 (reference), 1 and 2
        assert {int(v.split("/")[2]) for v in record.informative_views} == {0, 1, 2}
    for record in loaded["QuickDraw"].records:  # from the fourth stroke on
        assert {int(Path(v).stem) for v in record.informative_views} == set(range(3, record.num_images))
    for record in loaded["MVP-N"].records:  # only the last view, which is the reference
        assert record.informative_views == {f"MVP-N/item{record.id:05d}/{record.reference_image:04d}_1.png"}
        assert record.extras["valid_images"][record.num_images - 1] == record.reference_image
    for record in loaded["ChangeIt"].records:  # every frame reachable in time from the object's arrival on
        step, max_steps = record.extras["step_size"], record.extras["max_steps"]
        frames = {int(Path(v).stem) for v in record.informative_views}
        arrival = min(frames)
        reachable = {f for f in range(arrival, record.num_images, step) if f // step < max_steps}
        assert arrival > 0 and frames == reachable | {record.reference_image}
    for record in loaded["OcclusionDataSet-MM20"].records:  # two or more frames away from the start
        n, first = record.num_images, record.first_image
        frames = {int(Path(v).stem) for v in record.informative_views}
        assert frames == {i for i in range(n) if min((i - first) % n, (first - i) % n) >= 2}


@pytest.mark.parametrize("scenario", ["Realistic-Occlusion-Dataset", "MVP-N", "ChangeIt", "coco2014"])
def test_pixels_agree_with_the_ground_truth(generated, loaded, scenario):
    """The answer's colour is absent from the start view and present in the reference view."""
    folder, _ = generated
    for record in loaded[scenario].records:
        colour = COLOURS[record.answer.split()[0]]
        views = [make_episode(record).state(), make_episode(record, reference=True).state()]
        start, reference = (
            {c for _, c in open_view(folder, s.image, s.crop).getcolors(1 << 16)} for s in views
        )
        assert colour not in start and colour in reference


# --- official rules -------------------------------------------------------------------------------


def actions_named(option: str, space: tuple[Action, ...]) -> set[Action]:
    low = option.lower()
    return {action for keyword, action in ACTION_KEYWORDS if action in space and keyword in low}


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_options_and_categories_follow_the_official_rules(generated, scenario):
    folder, _ = generated
    for line in raw_lines(folder, scenario):
        options, categories = line["options"], line["categories"]
        assert [o for o in options if is_abstain(o)] == ["I cannot tell."]
        space = make_episode(parse_record(scenario, line, "test")).action_space
        for option in options:
            if not is_abstain(option):
                assert len(actions_named(option, space)) == 1, option
        assert len(categories) == 4 and line["answer"] in categories
        normalized = {normalize_text(c) for c in categories}
        assert len(normalized) == 4 and not normalized & {normalize_text(o) for o in options}
        for category in categories:
            assert category == category.lower() and not re.search(r"[A-Z]\.", category)
        assert line["prompt"].endswith("?")


def test_scenario_specific_option_rules(generated):
    folder, _ = generated
    lines = {name: raw_lines(folder, name) for name in SCENARIO_NAMES}
    for line in lines["Realistic-Occlusion-Dataset"]:
        assert sorted(line["options"]) == [
            "I cannot tell.",
            "Move the occluder to the left.",
            "Move the occluder to the right.",
        ]
        assert (line["first_image"], line["num_images"]) == (7, 14)
    for name in ("OcclusionDataSet-MM20", "ChangeIt"):
        for line in lines[name]:
            assert "Rewind the video." in line["options"]
            assert sum("Wait for the" in o for o in line["options"]) == 1
    for line in lines["MVP-N"]:
        assert 2 <= len(line["options"]) - 1 <= 3
        assert (
            line["first_image"] == line["valid_images"][0]
            and len(set(line["valid_images"])) == line["num_images"]
        )
    for line in lines["ImageNet-C"]:
        fixes = [o for o in line["options"] if not is_abstain(o)]
        assert len(fixes) == 4 and line["quality_answer"] in fixes
        assert (line["first_image"], line["num_images"], line["reference_image"]) == (5, 5, 0)
        assert line["image_template"].count("{level}") == 1
    for line in lines["QuickDraw"]:
        (option,) = [o for o in line["options"] if not is_abstain(o)]
        assert sum(keyword in option.lower() for keyword in DETAIL_KEYWORDS) == 1
        assert 4 <= line["num_images"] <= 6 and line["reference_image"] == line["num_images"] - 1
    words = {"left": "Move the camera to the left.", "right": "Move the camera to the right."}
    words |= {
        "up": "Move the camera up.",
        "down": "Move the camera down.",
        "zoom": "Move farther from the object.",
    }
    for line in lines["coco2014"]:
        expected = sorted(words[w] for w in line["direction"].split("_"))
        assert sorted(o for o in line["options"] if not is_abstain(o)) == expected
        assert 3 <= line["granularity"] <= 5 and "{" not in line["image_template"]


@pytest.mark.parametrize("scenario", ICL_SCENARIOS)
def test_every_record_gives_an_in_context_example(generated, loaded, scenario):
    """The official modes run offline: each ROD / MVP-N record's example (chain of thought, resized) opens
    its images, asks while the object is hidden and then names it (MVP-N on the informative front view;
    ROD, officially, after one move of the block, whatever that view shows)."""
    records = loaded[scenario].records
    for record in records:
        turns = in_context_example(record, cot=True, resize=True, rng=random.Random(record.id))
        assert [t.answer == record.answer for t in turns] == [False] * (len(turns) - 1) + [True]
        assert not turns[0].state.informative
        assert len(turns) == (2 if scenario == "Realistic-Occlusion-Dataset" else record.num_images)
        assert turns[-1].state.informative or scenario == "Realistic-Occlusion-Dataset"
        assert all(t.answer.startswith(SCENARIOS[scenario].cot_prompt) for t in turns[:-1])
        size = SCENARIOS[scenario].icl_short_edge
        assert all(
            min(open_view(generated[0], t.state.image, None, t.state.short_edge).size) == size for t in turns
        )
        assert example_record(records, record).id != record.id


def test_coco_crops_stay_inside_the_scene(loaded):
    for record in loaded["coco2014"].records:
        for _image, crop in reachable_views(record).values():
            if crop is not None:
                left, top, right, bottom = crop
                assert 0 <= left < right <= 2 * SIZE and 0 <= top < bottom <= 2 * SIZE


def test_reachable_views_of_a_quickdraw_record(loaded):
    record = loaded["QuickDraw"].records[0]
    views = reachable_views(record)
    assert sorted(views) == [f"QuickDraw/sketch00000/{k:04d}.png" for k in range(record.num_images)]


# --- loader errors on generated files -------------------------------------------------------------


@pytest.fixture
def quickdraw_copy(generated, tmp_path) -> Path:
    folder, _ = generated
    shutil.copy(scenario_path(folder, "QuickDraw"), tmp_path)
    shutil.copy(informative_path(folder, "QuickDraw"), tmp_path)
    shutil.copytree(folder / "QuickDraw", tmp_path / "QuickDraw")
    return tmp_path


def edit_line(folder: Path, number: int, edit) -> Path:
    path = scenario_path(folder, "QuickDraw")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[number - 1] = edit(lines[number - 1])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def changed(field: str, value):
    def edit(line: str) -> str:
        raw = json.loads(line)
        if value is None:
            del raw[field]
        else:
            raw[field] = value
        return json.dumps(raw)

    return edit


def test_truncated_line_names_file_and_line(quickdraw_copy):
    path = edit_line(quickdraw_copy, 3, lambda line: line[: len(line) // 2])
    with pytest.raises(BenchmarkFormatError, match="invalid JSON") as err:
        load_scenario(quickdraw_copy, "QuickDraw", id_filter=None)
    assert f"{path}:3" in str(err.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("answer", None, "'answer': missing"),
        ("num_images", "5", "'num_images': expected int"),
        ("options", "x", "'options': expected list"),
    ],
)
def test_bad_field_names_file_line_and_field(quickdraw_copy, field, value, message):
    path = edit_line(quickdraw_copy, 3, changed(field, value))
    with pytest.raises(BenchmarkFormatError) as err:
        load_scenario(quickdraw_copy, "QuickDraw", id_filter=None)
    assert f"{path}:3" in str(err.value) and message in str(err.value)


def test_missing_image_names_the_image_and_the_line(quickdraw_copy):
    path = scenario_path(quickdraw_copy, "QuickDraw")
    record = load_scenario(quickdraw_copy, "QuickDraw", id_filter=None).records[2]
    image = quickdraw_copy / record.image_template.format(image="0001")
    image.unlink()
    load_scenario(quickdraw_copy, "QuickDraw", id_filter=None)  # images are checked only on request
    with pytest.raises(ImageNotFoundError) as err:
        load_scenario(quickdraw_copy, "QuickDraw", id_filter=None, check_images=True)
    assert str(image) in str(err.value) and f"{path}:3" in str(err.value)


def test_missing_sidecar_entry_names_the_sidecar_and_the_id(quickdraw_copy):
    sidecar = informative_path(quickdraw_copy, "QuickDraw")
    views = json.loads(sidecar.read_text(encoding="utf-8"))
    del views["4"]
    sidecar.write_text(json.dumps(views), encoding="utf-8")
    with pytest.raises(BenchmarkFormatError) as err:
        load_scenario(quickdraw_copy, "QuickDraw", id_filter=None)
    assert str(sidecar) in str(err.value) and "'4'" in str(err.value)


# --- command line and guards ----------------------------------------------------------------------


def test_cli_prints_a_table_and_writes_the_chosen_scenarios(tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        proactive_main(
            ["synth", "--out", str(out), "--per-scenario", "2", "--size", "40", "--scenarios", "qd", "coco"]
        )
        == 0
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["scenario", "records", "kept", "images", "categories", "oracle", "turns"]
    assert [row.split()[:3] for row in printed[1:3]] == [["QD", "2", "2"], ["COCO", "2", "2"]]
    assert json.loads((out / SYNTHETIC_MARKER).read_text())["scenarios"] == ["QuickDraw", "coco2014"]
    assert not scenario_path(out, "ChangeIt").exists()


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    for argv in (
        ["--per-scenario", "0"],
        ["--per-scenario", "1", "--size", "8"],
        ["--per-scenario", "1", "--scenarios", "nope"],
    ):
        with pytest.raises(SystemExit):
            synth_main(["--out", str(tmp_path / "x"), *argv])
    assert "unknown scenario 'nope'" in capsys.readouterr().err


def test_refuses_a_foreign_folder_but_redoes_an_interrupted_run(tmp_path):
    scenario_path(tmp_path, "QuickDraw").write_text("{}\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="no synthetic.json"):
        generate_benchmark(tmp_path, 1)
    assert scenario_path(tmp_path, "QuickDraw").read_text(encoding="utf-8") == "{}\n"
    marker = tmp_path / unfinished_marker(SYNTHETIC_MARKER)
    marker.write_text("{}", encoding="utf-8")  # as a killed run leaves it
    generate_benchmark(tmp_path, 1, size=32, scenarios=["qd"])
    assert is_synthetic(tmp_path) and not marker.exists()
    assert len(load_scenario(tmp_path, "qd", check_images=True).records) == 1


def test_a_failed_run_leaves_no_marker(tmp_path, monkeypatch):
    generate_benchmark(tmp_path, 1, size=32, scenarios=["qd"])
    assert is_synthetic(tmp_path)

    def broken(index, rng, size):
        raise RuntimeError("drawing failed")

    monkeypatch.setitem(MAKERS, "coco2014", broken)
    with pytest.raises(RuntimeError, match="drawing failed"):
        generate_benchmark(tmp_path, 1, size=32, scenarios=["qd", "coco"])
    assert not is_synthetic(tmp_path) and (tmp_path / unfinished_marker(SYNTHETIC_MARKER)).is_file()
