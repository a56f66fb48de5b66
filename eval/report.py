"""Human-readable outputs of runs: Markdown tables, bar plots with CI error bars, side-by-side
comparisons and the cross-scenario matrix heatmap (rows: runs or training splits, columns: scenarios)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from data.markdown import markdown_table  # noqa: E402
from data.scenarios import SCENARIO_NAMES, SCENARIOS  # noqa: E402
from eval.store import SUMMARY_FILE  # noqa: E402

Summary = Mapping[str, Any]
METRIC_LABELS = {
    "acc": "acc (%)",
    "psr": "psr (interventions / episode)",
    "reference_acc": "reference-image acc (%)",
    "ps": "proactive suggestion (%)",
    "cc": "correct category (%)",
    "agg": "aggregate (%)",
}
AVERAGE = "average"


def short(scenario: str) -> str:
    """The paper's acronym of an official scenario name (the name itself if unknown)."""
    return SCENARIOS[scenario].short if scenario in SCENARIOS else scenario


def metrics_of(summary: Summary) -> list[str]:
    """The metrics a summary holds, in display order."""
    present = set(summary.get("average", {}))
    for block in summary.get("scenarios", {}).values():
        present |= set(block)
    return [m for m in METRIC_LABELS if m in present]


def scenario_columns(summaries: Sequence[Summary]) -> list[str]:
    """Scenarios present in any summary: official order first, unknown names after."""
    names = {name for s in summaries for name in s.get("scenarios", {})}
    return [n for n in SCENARIO_NAMES if n in names] + sorted(names - set(SCENARIO_NAMES))


def metric_digits(metric: str) -> int:
    """Decimals a metric is shown with: 2 for psr (interventions per episode), 1 for percentages."""
    return 2 if metric == "psr" else 1


def ci_text(value: float, ci: Sequence[float] | None, digits: int, bold: bool = False) -> str:
    """``value [lo, hi]`` with ``digits`` decimals (the value in bold when asked; no brackets without a CI)."""
    text = f"{value:.{digits}f}"
    text = f"**{text}**" if bold else text
    return text + (f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "")


def metric_cell(block: Mapping[str, Any] | None, metric: str, bold: bool = False) -> str:
    """A summary block's ``metric`` with its 95% CI, as ``value [lo, hi]``; '–' when the block lacks it."""
    if not block or metric not in block:
        return "–"
    return ci_text(block[metric], block.get(f"{metric}_ci"), metric_digits(metric), bold)


def run_title(config: Mapping[str, Any]) -> str:
    """The title of a run's report, from its ``config.json``: mode, model (or policy) and adapter."""
    who = config.get("model") or config.get("policy")
    adapter = f" + {config['adapter']}" if config.get("adapter") else ""
    return f"ProactiveBench ({config.get('mode')}): {who}{adapter}"


def summary_markdown(summary: Summary, title: str = "ProactiveBench evaluation") -> str:
    """A run's Markdown report: metrics with 95% CIs per scenario and averaged, and how episodes ended."""
    metrics = metrics_of(summary)
    rows = [(f"{short(name)} ({name})", block) for name, block in summary["scenarios"].items()]
    rows.append(("**average**", summary["average"]))
    header = ["scenario", "n", *(METRIC_LABELS[m] for m in metrics)]
    lines = [f"# {title}", "", "Metrics with 95% percentile bootstrap confidence intervals.", ""]
    if summary.get("note"):
        lines += [f"Note: {summary['note']}.", ""]
    lines += markdown_table(
        header,
        [
            [label, str(block.get("n", "–")), *(metric_cell(block, m) for m in metrics)]
            for label, block in rows
        ],
    )
    reasons = [r for r in summary["average"].get("end_reasons", {})]
    if reasons:
        lines += ["", "## How episodes ended (% of episodes)", ""]
        body = []
        for label, block in rows:
            counts = block.get("end_reasons", {})
            total = sum(counts.values()) or 1
            body.append([label, *(f"{100 * counts.get(r, 0) / total:.1f}" for r in reasons)])
        lines += markdown_table(["scenario", *reasons], body)
    config = summary.get("config")
    if config:
        lines += ["", "## Configuration", "", "```json", json.dumps(config, indent=2, sort_keys=True), "```"]
    return "\n".join(lines) + "\n"


def _bar_values(summary: Summary, metric: str, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Heights and (2, k) error-bar lengths of ``metric`` over ``columns`` (NaN / 0 where missing)."""
    heights, errors = [], []
    for column in columns:
        block = summary["average"] if column == AVERAGE else summary.get("scenarios", {}).get(column, {})
        value = block.get(metric, math.nan)
        lo, hi = block.get(f"{metric}_ci") or (value, value)
        heights.append(value)
        errors.append((max(value - lo, 0.0), max(hi - value, 0.0)) if not math.isnan(value) else (0.0, 0.0))
    return np.array(heights, dtype=float), np.array(errors, dtype=float).T


def plot_bars(runs: Mapping[str, Summary], metric: str, path: str | Path, title: str | None = None) -> Path:
    """Grouped bars of ``metric`` per scenario (and the average), one group member per run, CI error bars."""
    columns = [*scenario_columns(list(runs.values())), AVERAGE]
    x = np.arange(len(columns))
    width = 0.8 / max(len(runs), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(columns) * max(1, len(runs)) ** 0.5), 4.0))
    for i, (label, summary) in enumerate(runs.items()):
        heights, errors = _bar_values(summary, metric, columns)
        ax.bar(
            x + (i - (len(runs) - 1) / 2) * width,
            np.nan_to_num(heights),
            width,
            yerr=errors,
            capsize=3,
            label=label,
        )
    ax.set_xticks(x, [short(c) if c != AVERAGE else "avg" for c in columns])
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_title(title or METRIC_LABELS.get(metric, metric))
    if metric.endswith("acc") or metric in ("ps", "cc", "agg"):
        ax.set_ylim(0, 100)
    if len(runs) > 1:
        ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_run_report(
    summary: Summary, run_dir: str | Path, title: str = "ProactiveBench evaluation"
) -> list[Path]:
    """``summary.json``, ``summary.md`` and one PNG per metric (``<metric>.png``) in ``run_dir``."""
    run_dir = Path(run_dir)
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (run_dir / "summary.md").write_text(summary_markdown(summary, title), encoding="utf-8")
    plots = [plot_bars({"run": summary}, m, run_dir / f"{m}.png") for m in metrics_of(summary)]
    return [run_dir / SUMMARY_FILE, run_dir / "summary.md", *plots]


def comparison_markdown(
    runs: Mapping[str, Summary],
    metrics: Sequence[str] = ("acc", "psr"),
    scenarios: Sequence[str] | None = None,
) -> str:
    """Runs side by side, one table per metric (rows: runs, columns: ``scenarios`` (default: all the
    runs hold) and the average)."""
    columns = [*(scenarios if scenarios is not None else scenario_columns(list(runs.values()))), AVERAGE]
    lines = [
        "# Runs side by side",
        "",
        "95% bootstrap CIs in brackets. Rows starting with 'paper' are published numbers; their avg is the",
        "paper's average over all seven scenarios.",
    ]
    for metric in metrics:
        if not any(metric in metrics_of(s) for s in runs.values()):
            continue
        lines += ["", f"## {METRIC_LABELS.get(metric, metric)}", ""]
        body = [
            [
                label,
                *(
                    metric_cell(s["average"] if c == AVERAGE else s.get("scenarios", {}).get(c), metric)
                    for c in columns
                ),
            ]
            for label, s in runs.items()
        ]
        lines += markdown_table(["run", *(short(c) if c != AVERAGE else "avg" for c in columns)], body)
    return "\n".join(lines) + "\n"


def matrix_values(rows: Mapping[str, Summary], metric: str, columns: Sequence[str]) -> np.ndarray:
    """``metric`` for every (row, column) pair; NaN where a row did not evaluate that scenario."""
    return np.array(
        [
            [
                (s["average"] if c == AVERAGE else s.get("scenarios", {}).get(c, {})).get(metric, math.nan)
                for c in columns
            ]
            for s in rows.values()
        ],
        dtype=float,
    )


def write_matrix(
    rows: Mapping[str, Summary],
    out_dir: str | Path,
    metrics: Sequence[str] = ("acc", "psr"),
    name: str = "matrix",
    average: bool = True,
    title: str | None = None,
    scenarios: Sequence[str] | None = None,
) -> list[Path]:
    """Cross-scenario matrix (rows: runs or training splits, columns: evaluated scenarios, by default all
    the rows hold): for each metric a heatmap ``<name>_<metric>.png``, plus ``<name>.md`` and
    ``<name>.json`` with the numbers (None / "–" where a row lacks a scenario)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = list(scenarios if scenarios is not None else scenario_columns(list(rows.values())))
    columns += [AVERAGE] if average else []
    labels = [short(c) if c != AVERAGE else "avg" for c in columns]
    written: list[Path] = []
    tables: dict[str, Any] = {"rows": list(rows), "columns": columns}
    lines = [f"# {title or 'Cross-scenario matrix'}", ""]
    for metric in metrics:
        values = matrix_values(rows, metric, columns)
        tables[metric] = [[None if math.isnan(v) else v for v in row] for row in values.tolist()]
        written.append(_heatmap(values, list(rows), labels, metric, out_dir / f"{name}_{metric}.png", title))
        body = [
            [label, *("–" if math.isnan(v) else f"{v:.{metric_digits(metric)}f}" for v in row)]
            for label, row in zip(rows, values, strict=True)
        ]
        lines += [f"## {METRIC_LABELS.get(metric, metric)}", "", *markdown_table(["", *labels], body), ""]
    (out_dir / f"{name}.md").write_text("\n".join(lines), encoding="utf-8")
    (out_dir / f"{name}.json").write_text(json.dumps(tables, indent=2) + "\n", encoding="utf-8")
    return [*written, out_dir / f"{name}.md", out_dir / f"{name}.json"]


def _heatmap(
    values: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    metric: str,
    path: Path,
    title: str | None,
) -> Path:
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(columns), 1.2 + 0.5 * len(rows)))
    finite = values[np.isfinite(values)]
    vmax = (
        100.0
        if metric.endswith("acc") or metric in ("ps", "cc", "agg")
        else (float(finite.max()) if finite.size else 1.0) or 1.0
    )
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=0.0, vmax=vmax, aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        if math.isfinite(value):
            color = "white" if value < 0.6 * vmax else "black"
            ax.text(
                j,
                i,
                f"{value:.{metric_digits(metric)}f}",
                ha="center",
                va="center",
                fontsize=8,
                color=color,
            )
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_title(f"{title + ': ' if title else ''}{METRIC_LABELS.get(metric, metric)}")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
