"""Run reports (summary.json / summary.md / PNG plots), the side-by-side report with the paper's numbers
and the cross-scenario matrix heatmaps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from eval.metrics import summarize
from eval.paper import paper_model, paper_rows
from eval.report import summary_markdown, write_matrix, write_run_report
from eval.report_cli import main as report_main
from eval.results import MCQA, REFERENCE, EpisodeResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size[0] > 100 and image.size[1] > 100


def make_summary(accuracy: list[bool], model: str | None = None, reference: bool = False) -> dict:
    results = [
        EpisodeResult(MCQA, scenario, i, ok, "correct" if ok else "abstained", 1 + i % 3, i % 3, [])
        for scenario in ("QuickDraw", "coco2014", "ChangeIt")
        for i, ok in enumerate(accuracy)
    ]
    if reference:
        results += [
            EpisodeResult(REFERENCE, r.scenario, r.record_id, True, "correct", 1, 0, []) for r in results
        ]
    summary = summarize(results)
    summary["config"] = {"model": model, "adapter": None, "policy": None if model else "oracle"}
    return summary


def test_run_report_files(tmp_path: Path) -> None:
    summary = make_summary([True, False, True, True, False], reference=True)
    written = write_run_report(summary, tmp_path, "tiny run")
    names = sorted(p.name for p in written)
    assert names == ["acc.png", "psr.png", "reference_acc.png", "summary.json", "summary.md"]
    for png in tmp_path.glob("*.png"):
        assert_png(png)
    assert json.loads((tmp_path / "summary.json").read_text())["average"]["acc"] == 60.0
    markdown = (tmp_path / "summary.md").read_text()
    assert markdown.startswith("# tiny run")
    assert "| QD (QuickDraw) | 5 | 60.0 [" in markdown and "**average**" in markdown
    assert "## How episodes ended" in markdown and "abstained" in markdown


def test_markdown_marks_missing_metrics() -> None:
    summary = make_summary([True, False])
    del summary["scenarios"]["ChangeIt"]["psr"]
    row = next(line for line in summary_markdown(summary).splitlines() if line.startswith("| CIT"))
    assert row.endswith("| – |")


def test_paper_numbers_are_matched_to_models() -> None:
    assert paper_model("Qwen/Qwen2.5-VL-3B-Instruct") == "Qwen2.5-VL-3B"
    assert paper_model("llava-hf/llava-v1.6-mistral-7b-hf") == "LLaVA-NeXT-Mistral-7B"
    assert paper_model("/tmp/my-tiny-model") is None and paper_model(None) is None
    base = paper_rows("Qwen/Qwen2.5-VL-3B-Instruct")
    (row,) = base.values()
    assert row["scenarios"]["QuickDraw"] == {"acc": 7.9, "psr": 0.2, "reference_acc": 65.5}
    assert row["average"] == {"acc": 11.0, "psr": 0.4, "reference_acc": 81.2}
    tuned = paper_rows("Qwen/Qwen2.5-VL-3B-Instruct", adapter=True)
    grpo = tuned["paper Qwen2.5-VL-3B GRPO rp=1.0 (Table 3)"]
    assert (
        grpo["average"] == {"acc": 17.2, "psr": 15.1}
        and grpo["scenarios"]["OcclusionDataSet-MM20"]["psr"] == 60.0
    )
    assert paper_rows("llava-hf/llava-1.5-7b-hf") == {
        "paper LLaVA-1.5-7B (Table 1)": {"scenarios": {}, "average": {"acc": 24.8, "psr": 0.9}}
    }


def test_report_of_two_runs(tmp_path: Path) -> None:
    runs = []
    for name, accuracy, model in (
        ("base", [False, False, True, False], "Qwen/Qwen2.5-VL-3B-Instruct"),
        ("grpo", [True, True, True, False], None),
    ):
        run = tmp_path / name
        run.mkdir()
        write_run_report(make_summary(accuracy, model), run)
        runs.append(str(run))
    out = tmp_path / "report"
    assert report_main([*runs, "--out", str(out), "--labels", "base", "GRPO"]) == 0
    markdown = (out / "comparison.md").read_text()
    acc_table = markdown.split("## acc (%)")[1].split("##")[0]
    assert "| run | QD | CIT | COCO | avg |" in acc_table
    assert "| base | 25.0 [" in acc_table and "| GRPO | 75.0 [" in acc_table
    assert "| paper Qwen2.5-VL-3B original (Table 3) | 7.9 | 12.4 | 6.3 | 11.0 |" in acc_table
    for name in ("comparison_acc.png", "comparison_psr.png", "matrix_acc.png", "matrix_psr.png"):
        assert_png(out / name)
    matrix = json.loads((out / "matrix.json").read_text())
    assert matrix["rows"] == ["base", "paper Qwen2.5-VL-3B original (Table 3)", "GRPO"]
    assert matrix["columns"] == ["QuickDraw", "ChangeIt", "coco2014", "average"]
    assert matrix["acc"][0] == [25.0, 25.0, 25.0, 25.0] and matrix["acc"][1] == [7.9, 12.4, 6.3, 11.0]
    assert report_main([*runs, "--out", str(out), "--labels", "only-one"]) == 2
    assert report_main([str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_matrix_api_with_missing_cells(tmp_path: Path) -> None:
    train_qd = summarize([EpisodeResult(MCQA, "QuickDraw", i, i < 2, "correct", 1, 0, []) for i in range(4)])
    train_coco = summarize([EpisodeResult(MCQA, "coco2014", i, True, "correct", 2, 1, []) for i in range(4)])
    written = write_matrix(
        {"train QD": train_qd, "train COCO": train_coco},
        tmp_path / "m",
        metrics=["acc"],
        name="split",
        average=False,
    )
    assert [p.name for p in written] == ["split_acc.png", "split.md", "split.json"]
    assert_png(written[0])
    table = json.loads(written[2].read_text())
    assert table["acc"] == [[50.0, None], [None, 100.0]]
    assert "| train QD | 50.0 | – |" in written[1].read_text()


@pytest.mark.parametrize("metric", ["acc", "psr"])
def test_matrix_heatmap_has_one_cell_per_pair(tmp_path: Path, metric: str) -> None:
    rows = {f"run{i}": make_summary([bool(i % 2), True, False]) for i in range(3)}
    png, md, js = write_matrix(rows, tmp_path, metrics=[metric])
    assert_png(png)
    values = json.loads(js.read_text())[metric]
    assert len(values) == 3 and all(len(row) == 4 for row in values)
