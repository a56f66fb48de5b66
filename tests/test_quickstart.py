"""The quickstart pipeline at toy sizes from the embedded base: every stage runs, the report holds the summaries'
numbers, a second run reuses every stage."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eval.report import metric_cell
from eval.view.page import read_index
from proactive import quickstart
from proactive.embedded_base import BASE_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def fast_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    out = tmp_path_factory.mktemp("quickstart")
    report = quickstart.run_quickstart(out, quickstart.FAST_PLAN)
    return out, report, report.read_text(encoding="utf-8")


def test_every_stage_leaves_its_outputs(fast_run: tuple[Path, Path, str]) -> None:
    out, report, _ = fast_run
    assert report == out / "report" / "report.md"
    base_size = json.loads((BASE_DIR / "tiny_model.json").read_text())["build"]["image_size"]
    for name in ("train", "eval"):
        assert json.loads((out / "data" / name / "synthetic.json").read_text())["size"] == base_size
    assert not (out / "base").exists()  # the embedded base is used where it is
    assert json.loads((out / "eval" / "base" / quickstart.TRAIN_GROUP / "config.json").read_text())[
        "model"
    ] == str(BASE_DIR)
    for adapter in ("sft", "grpo-proactive", "grpo-paper_rp1.0", "grpo-episode"):
        assert (out / adapter / "adapter_model.safetensors").stat().st_size > 0
    assert (out / "sft-merged" / "model.safetensors").is_file()
    labels = ("oracle", "base", "sft", "grpo-proactive", "grpo-paper_rp1.0", "grpo-episode")
    for label in labels:
        for group in (quickstart.TRAIN_GROUP, quickstart.HELD_OUT_GROUP):
            run = out / "eval" / label / group
            assert (run / "episodes.jsonl").is_file() and (run / "summary.json").is_file()
    for group in (quickstart.TRAIN_GROUP, quickstart.HELD_OUT_GROUP):
        for plot in ("comparison_acc.png", "comparison_psr.png", "comparison_reference_acc.png"):
            assert (out / "report" / group / plot).stat().st_size > 0
    timings = json.loads((out / "timings.json").read_text())
    assert timings["total"] > 0 and "report" in timings


def test_report_numbers_equal_the_summaries(fast_run: tuple[Path, Path, str]) -> None:
    out, _, text = fast_run
    train, held_out = quickstart.recipe_scenarios()
    assert "## Targets" in text and ("**met**" in text or "**NOT met**" in text)
    for group, scenarios in ((quickstart.TRAIN_GROUP, train), (quickstart.HELD_OUT_GROUP, held_out)):
        section = text.split(f"## {group}:")[1].split("\n## ")[0]
        for label in ("oracle", "base", "grpo-proactive"):
            summary = json.loads((out / "eval" / label / group / "summary.json").read_text())
            acc_table = section.split("### acc (%)")[1].split("###")[0]
            row = next(line for line in acc_table.splitlines() if line.startswith(f"| {label} |"))
            cells = [c.strip() for c in row.strip("|").split("|")][1:]
            expected = [metric_cell(summary["scenarios"][s], "acc") for s in scenarios] + [
                metric_cell(summary["average"], "acc")
            ]
            assert cells == expected
    oracle = json.loads((out / "eval" / "oracle" / quickstart.TRAIN_GROUP / "summary.json").read_text())
    assert (
        oracle["average"]["acc"] == 100.0
    )  # the synthetic benchmark labels every view, so the oracle is perfect
    assert re.search(
        r"\| oracle \| 0\.0 \[0\.0, 0\.0\] \| 0\.0 \[0\.0, 0\.0\] \| 100\.0 \[100\.0, 100\.0\]", text
    )


def test_report_links_the_pages_of_every_run_and_of_the_grpo_samples(
    fast_run: tuple[Path, Path, str],
) -> None:
    out, report, text = fast_run
    links = re.findall(r"^- \[(.+?)\]\((.+?/index\.html)\)$", text, re.MULTILINE)
    pages = {title: report.parent / path for title, path in links}
    labels = ["oracle", "base", "sft", "grpo-proactive", "grpo-paper_rp1.0", "grpo-episode"]
    for group in (quickstart.TRAIN_GROUP, quickstart.HELD_OUT_GROUP):
        index = read_index(pages[f"{group}: episodes of every run"])
        episodes = (out / "eval" / "base" / group / "episodes.jsonl").read_text().splitlines()
        assert index["runs"] == labels and len(index["items"]) == len(episodes)
    for reward in ("proactive", "paper_rp1.0", "episode"):
        index = read_index(pages[f"grpo-{reward}: GRPO samples, step by step"])
        assert index["completions"] == 8  # the last generation batch: 8 completions of 2 prompts


def test_second_run_reuses_every_stage(
    fast_run: tuple[Path, Path, str], capsys: pytest.CaptureFixture
) -> None:
    out, _, _ = fast_run
    quickstart.run_quickstart(out, quickstart.FAST_PLAN)
    printed = capsys.readouterr().out
    assert f"{out / 'sft-merged'}: reused" in printed
    assert "$ accelerate launch" not in printed  # neither recipe ran again
    assert "$ proactive eval" not in printed
