"""Pretraining the tiny base: the data recipe, the vision warm-up, the command line, and the embedded base
(its manifest matches the code that would rebuild it)."""

from __future__ import annotations

import dataclasses
import io
import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from data.environment import reachable_states
from data.records import load_benchmark
from data.synth import generate_benchmark
from proactive import quickstart
from proactive.embedded_base import (
    BASE_DIR,
    MANIFEST_FILE,
    MAX_SHIPPED_BYTES,
    SHIPPED_FILES,
    command_argv,
    embedded_base,
    load_manifest,
    weights_sha256,
)
from proactive.pretrain import PRETRAIN_FORMAT, PretrainArgs, SyntheticData, pretrain_rows
from proactive.tiny_models import BUILD_FILE, build_tiny_model, parse_request, tiny_build_args
from proactive.vision_warmup import view_dataset, warm_up_vision

SIZE = 56


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench")
    generate_benchmark(folder, 6, seed=5, size=SIZE)
    return folder


@pytest.fixture(scope="module")
def records(bench: Path) -> list:
    return [r for scenario in load_benchmark(bench).values() for r in scenario.records]


def _target(row: dict) -> str:
    return row["completion"][0]["content"][0]["text"]


def test_rows_answer_every_view_and_add_noise_per_scenario(bench: Path, records: list) -> None:
    args = PretrainArgs(noise_fraction=0.5, abstain_share=0.0, proactive_share=1.0)
    rows = pretrain_rows(records, bench, args)
    per_scenario: dict[str, Counter] = {}
    for row in rows:
        per_scenario.setdefault(row["scenario"], Counter())[row["kind"]] += 1
    assert set(per_scenario) == {r.scenario for r in records}
    for scenario, kinds in per_scenario.items():
        assert kinds["reference"] == sum(r.scenario == scenario for r in records)
        clean = kinds["answer"] + kinds["reference"]
        noise = sum(kinds.values()) - clean
        uninformative = sum(
            state.informative is False
            for r in records
            if r.scenario == scenario
            for state in reachable_states(r)
        )
        assert noise == min(uninformative, round(0.5 * clean))
        assert kinds["proactive"] >= 0.9 * noise  # a noise row asks unless its view accepts no intervention
    for row in rows:
        prompt = row["prompt"][0]["content"][1]["text"]
        assert f". {_target(row)}\n" in prompt  # the reply is one of the offered choices, as text
        assert Image.open(io.BytesIO(row["image"]["bytes"])).size[0] > 0  # the view, as PNG bytes


def test_scenario_rows_weigh_every_scenario_alike(bench: Path, records: list) -> None:
    rows = pretrain_rows(records, bench, PretrainArgs(noise_fraction=0.0, scenario_rows=8))
    counts = Counter(row["scenario"] for row in rows)
    assert set(counts.values()) == {8}  # each scenario has more than 8 answered views here
    assert rows == pretrain_rows(records, bench, PretrainArgs(noise_fraction=0.0, scenario_rows=8))


def test_view_dataset_labels_every_answered_view(bench: Path, records: list) -> None:
    rows = pretrain_rows(records, bench, PretrainArgs(noise_fraction=0.3))
    views = view_dataset(rows)
    answered = [row for row in rows if row["kind"] in ("answer", "reference")]
    assert len(views) == len(answered) < len(rows)
    names = views.features["label"].names
    assert names == sorted({_target(row) for row in answered})
    assert [names[label] for label in views["label"]] == [_target(row) for row in answered]


def test_vision_warm_up_trains_the_tower_only(tmp_path: Path, bench: Path, records: list) -> None:
    folder = build_tiny_model("qwen2_vl", tmp_path / "m", image_size=SIZE, vision_width=48)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    processor = AutoProcessor.from_pretrained(folder)
    assert model.config.vision_config.embed_dim == 48
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    views = view_dataset(pretrain_rows(records, bench, PretrainArgs(noise_fraction=0.0)))
    figures = warm_up_vision(
        model, processor.image_processor, SIZE, views, steps=3, batch_size=8, learning_rate=1e-2, seed=0,
        work_dir=tmp_path / "work",
    )  # fmt: skip
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed and all(name.startswith("model.visual.") for name in changed)
    assert any(".blocks.0." in name for name in changed) and any("merger" in name for name in changed)
    assert figures["vision_rows"] == len(views) and figures["vision_classes"] == len(
        views.features["label"].names
    )


def test_command_line_maps_every_pretraining_argument() -> None:
    values = {
        "steps": 7, "learning_rate": 0.004, "batch_size": 5, "noise_fraction": 0.25, "abstain_share": 0.1,
        "proactive_share": 0.15, "scenario_rows": 9, "vision_steps": 11, "vision_batch_size": 13,
        "vision_learning_rate": 0.003, "seed": 3,
    }  # fmt: skip
    assert set(values) == {f.name for f in dataclasses.fields(PretrainArgs)}
    flags = [f"--{'pretrain-seed' if k == 'seed' else k.replace('_', '-')}={v}" for k, v in values.items()]
    request = parse_request(
        ["--arch", "qwen2_vl", "--out", "x", "--vision-width", "48", "--pretrain",
         "--synthetic-per-scenario", "12", "--synthetic-seed", "9", *flags]
    )  # fmt: skip
    assert request.pretrain == PretrainArgs(**values)
    assert request.data == SyntheticData(per_scenario=12, seed=9)
    assert request.build["vision_width"] == 48
    assert parse_request(["--arch", "qwen2_vl", "--out", "x", "--pretrain", "--data", "b"]).data == Path("b")
    with pytest.raises(SystemExit):
        parse_request(["--arch", "qwen2_vl", "--out", "x", "--pretrain"])  # no data


def test_command_argv_replaces_and_adds_flags() -> None:
    command = ["proactive", "tiny-model", "--arch", "qwen2_vl", "--out", "/somewhere", "--steps", "900"]
    argv = command_argv(command, out="/here", steps="3", vision_steps="2")
    assert argv == ["--arch", "qwen2_vl", "--out", "/here", "--steps", "3", "--vision-steps", "2"]
    with pytest.raises(ValueError, match="not a 'proactive tiny-model' command"):
        command_argv(["python", "x.py"])


# --- the embedded base -------------------------------------------------------------------------------
def test_embedded_base_is_what_its_manifest_says() -> None:
    manifest = load_manifest()
    folder = embedded_base()
    assert folder == BASE_DIR
    assert weights_sha256(folder) == manifest["weights_sha256"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*SHIPPED_FILES, MANIFEST_FILE])
    assert sum((folder / name).stat().st_size for name in SHIPPED_FILES) == manifest["files_bytes"]
    assert manifest["files_bytes"] <= MAX_SHIPPED_BYTES
    record = json.loads((folder / BUILD_FILE).read_text())
    assert record["command"] == manifest["command"] and record["build"] == manifest["build"]
    assert manifest["code_version"]["commit"] and not manifest["code_version"]["dirty"]
    figures = manifest["figures"]
    assert len(figures["summary"]["scenarios"]) == 7
    # what the default run needs of its base (issue 13), measured on fresh episodes by perf/measure_base.py
    assert figures["settings"]["per_scenario"] >= 40 and figures["settings"]["seed"] not in (0, 1, 1000)
    assert figures["summary"]["average"]["reference_acc"] >= 85.0
    assert all(block["reference_acc"] >= 70.0 for block in figures["summary"]["scenarios"].values())
    assert figures["summary"]["average"]["psr"] < 0.3
    assert all(rate["value"] < 5.0 for rate in figures["greedy_uninformative_asks"].values())
    model = AutoModelForImageTextToText.from_pretrained(folder)
    assert sum(p.numel() for p in model.parameters()) == manifest["num_parameters"]


def test_manifest_command_parses_to_the_recorded_recipe() -> None:
    """Today's code reads the manifest's command as the build and pretraining the base was made with."""
    manifest = load_manifest()
    request = parse_request(command_argv(manifest["command"]))
    build = dict(manifest["build"])
    pretrain = build.pop("pretrain")
    assert tiny_build_args(request.arch, **request.build) == build
    assert {
        "format": PRETRAIN_FORMAT,
        "data": {"synthetic": dataclasses.asdict(request.data)},
    } | dataclasses.asdict(request.pretrain) == pretrain


@pytest.mark.slow
def test_short_rebuild_follows_the_manifest(tmp_path: Path) -> None:
    """``proactive quickstart --fast --pretrain``'s base: the manifest's command with fewer steps and less
    data runs and records the same recipe."""
    manifest = load_manifest()
    out = quickstart.make_base(tmp_path, quickstart.FAST_PLAN, pretrain=True)
    assert out == tmp_path / "base"
    short = dict(quickstart.FAST_PLAN.pretrain_flags)
    record = json.loads((out / BUILD_FILE).read_text())
    expected = json.loads(json.dumps(manifest["build"]))
    synthetic = expected["pretrain"]["data"]["synthetic"]
    synthetic["per_scenario"] = int(short.pop("synthetic_per_scenario"))
    expected["pretrain"].update({name: int(value) for name, value in short.items()})
    assert record["build"] == expected
    argv = command_argv(manifest["command"], out=str(out), **dict(quickstart.FAST_PLAN.pretrain_flags))
    assert record["command"] == ["proactive", "tiny-model", *argv]
    assert record["num_parameters"] == manifest["num_parameters"]
