"""A study's results: the generalization matrix (training split x evaluated scenario) of acc and psr,
means over seeds with 95% CIs, in-domain and out-of-domain averages, as Markdown, JSON and heatmaps.

CIs: with two or more seeds, a Student t interval of the mean over seeds (the seeds' own values, clipped
to the metric's range: acc in [0, 100], psr >= 0); with
one seed, the eval's percentile bootstrap interval over episodes (for the in-domain, out-of-domain and
overall averages, recomputed with ``eval.metrics.summarize`` on those scenarios' episodes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy import stats

from data.markdown import markdown_table
from eval.metrics import summarize
from eval.report import METRIC_LABELS, metric_cell, short, write_matrix
from eval.results import EpisodeResult
from eval.store import read_episodes, read_summary
from proactive.study_config import Cell, Study

METRICS = ("acc", "psr")
IN_DOMAIN, OUT_OF_DOMAIN, AVERAGE = "in-domain", "out-of-domain", "average"
REPORT_DIR = "report"


@dataclass
class CellResult:
    """A finished cell: its eval summary and episodes."""

    cell: Cell
    summary: dict[str, Any]
    episodes: list[EpisodeResult]


def read_cell_result(study: Study, cell: Cell) -> CellResult:
    """The eval summary and the episodes of a finished cell."""
    folder = study.eval_dir(cell)
    return CellResult(cell, read_summary(folder), read_episodes(folder))


# --- statistics ---------------------------------------------------------------------------------------
def t_quantile(df: int) -> float:
    """Two-sided 95% Student t quantile with ``df`` degrees of freedom (scipy.stats.t)."""
    if df < 1:
        raise ValueError("a t interval needs at least two values")
    return float(stats.t.ppf(0.975, df))


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """95% Student t interval of the mean of ``values`` (at least two)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return mean - half, mean + half


# --- the matrix -----------------------------------------------------------------------------------------
def row_label(study: Study, row: tuple[str, str, str | None]) -> str:
    """The split name, plus method and reward preset when the study varies them."""
    split, method, preset = row
    varies = len(study.methods) > 1 or ("grpo" in study.methods and len(study.reward_presets) > 1)
    if not varies:
        return split
    return f"{split} {method}" + (f":{preset}" if preset else "")


def column_scenarios(column: str, cell: Cell, evaluated: Sequence[str]) -> list[str]:
    """The evaluated scenarios a column averages: one scenario, the cell's train or held-out ones, or all."""
    if column == IN_DOMAIN:
        return [s for s in evaluated if s in cell.train_scenarios]
    if column == OUT_OF_DOMAIN:
        return [s for s in evaluated if s in cell.held_out]
    if column == AVERAGE:
        return list(evaluated)
    return [column]


def _seed_value(result: CellResult, scenarios: Sequence[str], metric: str) -> float | None:
    values = [result.summary["scenarios"][s][metric] for s in scenarios if s in result.summary["scenarios"]]
    return sum(values) / len(values) if values and len(values) == len(scenarios) else None


def _bootstrap_ci(result: CellResult, scenarios: Sequence[str], metric: str) -> list[float] | None:
    """One seed: the eval's bootstrap interval (recomputed over ``scenarios`` when they are several)."""
    if len(scenarios) == 1:
        return result.summary["scenarios"][scenarios[0]].get(f"{metric}_ci")
    if set(scenarios) == set(result.summary["scenarios"]):
        return result.summary["average"].get(f"{metric}_ci")
    # the eval's episode order (record order), so each scenario's resamples are the eval's own
    episodes = sorted((e for e in result.episodes if e.scenario in scenarios), key=lambda e: e.record_id)
    seed = result.summary.get("config", {}).get("seed", 0)
    return summarize(episodes, seed=seed)["average"].get(f"{metric}_ci")


def column_entry(results: Sequence[CellResult], scenarios: Sequence[str]) -> dict[str, Any] | None:
    """Mean over seeds, its CI and the per-seed values of each metric (None when nothing was evaluated)."""
    if not scenarios:
        return None
    entry: dict[str, Any] = {"scenarios": list(scenarios), "seeds": len(results)}
    for metric in METRICS:
        per_seed = [_seed_value(r, scenarios, metric) for r in results]
        if any(v is None for v in per_seed):
            return None
        mean = sum(per_seed) / len(per_seed)
        if len(per_seed) >= 2:  # clipped to the metric's range (acc 0-100, psr >= 0)
            lo, hi = t_interval(per_seed)
            ci = [max(lo, 0.0), min(hi, 100.0) if metric == "acc" else hi]
        else:
            ci = _bootstrap_ci(results[0], scenarios, metric)
        entry[metric] = round(mean, 4)
        entry[f"{metric}_ci"] = [round(v, 4) for v in ci] if ci else None
        entry[f"{metric}_per_seed"] = per_seed
    return entry


def aggregate(study: Study, results: Sequence[CellResult]) -> dict[str, Any]:
    """The study's rows (split [x method x preset]) with every column's entry, in cell order."""
    evaluated = list(study.eval_scenarios)
    columns = [*evaluated, IN_DOMAIN, OUT_OF_DOMAIN, AVERAGE]
    rows: dict[tuple[str, str, str | None], list[CellResult]] = {}
    for result in results:
        rows.setdefault(result.cell.row, []).append(result)
    table = []
    for row, members in rows.items():
        first = members[0].cell
        table.append(
            {
                "label": row_label(study, row),
                "split": row[0],
                "method": row[1],
                "reward_preset": row[2],
                "train_scenarios": list(first.train_scenarios),
                "seeds": [m.cell.seed for m in members],
                "cells": [m.cell.name for m in members],
                "columns": {c: column_entry(members, column_scenarios(c, first, evaluated)) for c in columns},
            }
        )
    ci = "Student t over seeds (2+ seeds); eval bootstrap over episodes (1 seed)"
    return {"study": study.name, "metrics": list(METRICS), "columns": columns, "ci": ci, "rows": table}


# --- writing ----------------------------------------------------------------------------------------------
def study_markdown(study: Study, matrix: dict[str, Any], statuses: Sequence[Mapping[str, Any]]) -> str:
    columns = matrix["columns"]
    header = ["training split", *(short(c) for c in columns[:-3]), "in-domain", "out-of-domain", "avg"]
    lines = [
        f"# Study {study.name}: generalization matrix",
        "",
        *([study.description.strip(), ""] if study.description.strip() else []),
        "Rows: training splits; columns: evaluated scenarios (bold: trained on), then the averages over the",
        "row's training scenarios (in-domain), its held-out scenarios (out-of-domain) and all evaluated ones.",
        f"Values: mean over seeds; 95% CIs in brackets ({matrix['ci']}).",
        "",
    ]
    for metric in matrix["metrics"]:
        body = [
            [
                f"{row['label']} (seeds {', '.join(map(str, row['seeds']))})",
                *(metric_cell(row["columns"][c], metric, bold=c in row["train_scenarios"]) for c in columns),
            ]
            for row in matrix["rows"]
        ]
        lines += [f"## {METRIC_LABELS[metric]}", "", *markdown_table(header, body), ""]
    lines += ["## Cells", ""]
    lines += markdown_table(
        ["cell", "status", "log"],
        [[s["cell"], s["status"], s.get("log") or ""] for s in statuses],
    )
    return "\n".join(lines) + "\n"


def heatmap_rows(matrix: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rows as the summaries ``eval.report.write_matrix`` plots (the averages as extra columns)."""
    rows = {}
    for row in matrix["rows"]:
        blocks = {c: {m: e[m] for m in METRICS} for c, e in row["columns"].items() if e is not None}
        average = blocks.pop(AVERAGE, {})
        rows[row["label"]] = {"scenarios": blocks, "average": average}
    return rows


def write_study_report(
    study: Study, results: Sequence[CellResult], statuses: Sequence[Mapping[str, Any]]
) -> list[Path]:
    """``<out>/report/study.md``, ``study.json`` and the heatmaps ``matrix_<metric>.png`` (+ matrix.md/json)."""
    out = study.out / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    matrix = aggregate(study, results)
    matrix["cells"] = list(statuses)
    (out / "study.json").write_text(json.dumps(matrix, indent=2) + "\n", encoding="utf-8")
    (out / "study.md").write_text(study_markdown(study, matrix, statuses), encoding="utf-8")
    written = write_matrix(
        heatmap_rows(matrix),
        out,
        metrics=METRICS,
        title=f"{study.name} (mean over seeds)",
        scenarios=[*study.eval_scenarios, IN_DOMAIN, OUT_OF_DOMAIN],
    )
    return [out / "study.md", out / "study.json", *written]
