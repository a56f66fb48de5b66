"""Put several evaluation runs side by side (e.g. base vs SFT vs GRPO), with the paper's numbers.

Writes DIR/comparison.md (one table per metric, the paper's Table 1 / Table 3 rows beside runs of a
model the paper evaluated), DIR/comparison.json, grouped bar plots DIR/comparison_<metric>.png, the
cross-scenario matrix heatmaps DIR/matrix_<metric>.png (+ matrix.md, matrix.json) and, linked from
comparison.md, DIR/episodes/index.html: the runs' episodes side by side (``proactive view``; when every
run folder holds its episodes.jsonl).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from data.outdir import OutputFolder
from eval.paper import paper_rows
from eval.report import comparison_markdown, metrics_of, plot_bars, scenario_columns, write_matrix
from eval.store import EPISODES_FILE, read_summary
from eval.view.episodes import write_eval_view

EPISODES_DIR = "episodes"


def _labels(run_dirs: Sequence[str], labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        if len(labels) != len(run_dirs):
            raise ValueError(f"--labels: {len(labels)} labels for {len(run_dirs)} runs")
        return list(labels)
    names = [Path(d).resolve().name for d in run_dirs]
    return names if len(set(names)) == len(names) else [str(d) for d in run_dirs]


def write_report(
    run_dirs: Sequence[str],
    out_dir: str | Path,
    labels: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    paper: bool = True,
    episodes: bool = True,
) -> list[Path]:
    """Compare runs (and, with ``episodes``, write the page of their episodes); return the files written."""
    runs = {label: read_summary(d) for label, d in zip(_labels(run_dirs, labels), run_dirs, strict=True)}
    if len(runs) != len(run_dirs):
        raise ValueError("--labels: labels must be distinct")
    metrics = list(metrics or dict.fromkeys(m for s in runs.values() for m in metrics_of(s)))
    rows: dict[str, Any] = {}
    for label, summary in runs.items():
        rows[label] = summary
        if paper:
            config = summary.get("config", {})
            for name, row in paper_rows(config.get("model"), bool(config.get("adapter"))).items():
                rows.setdefault(name, row)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scenarios = scenario_columns(
        list(runs.values())
    )  # the paper's rows fill only the scenarios the runs hold
    markdown = comparison_markdown(rows, metrics, scenarios)
    without = [d for d in run_dirs if not (Path(d) / EPISODES_FILE).is_file()]
    if episodes and without:
        print(
            f"proactive report: no episodes page: {Path(without[0]) / EPISODES_FILE} not found",
            file=sys.stderr,
        )
    page = write_eval_view(run_dirs, out_dir / EPISODES_DIR, list(runs)) if episodes and not without else None
    if page is not None:
        markdown += (
            f"\nBrowse the episodes, side by side: [{EPISODES_DIR}/index.html]({EPISODES_DIR}/index.html)\n"
        )
    (out_dir / "comparison.md").write_text(markdown, encoding="utf-8")
    table = {label: {k: row[k] for k in ("scenarios", "average")} for label, row in rows.items()}
    (out_dir / "comparison.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    written = [out_dir / "comparison.md", out_dir / "comparison.json", *([page] if page else [])]
    written += [
        plot_bars(runs, m, out_dir / f"comparison_{m}.png")
        for m in metrics
        if any(m in metrics_of(s) for s in runs.values())
    ]
    written += write_matrix(rows, out_dir, metrics=metrics, scenarios=scenarios)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    title, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(prog="proactive report", description=title, epilog=details)
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--out", required=True, action=OutputFolder)
    parser.add_argument("--labels", nargs="+", help="one label per run (default: the folder names)")
    parser.add_argument(
        "--metrics",
        nargs="+",
        help="default: every metric the runs hold (acc, psr, reference_acc, ps, cc, agg)",
    )
    parser.add_argument(
        "--no-paper", dest="paper", action="store_false", help="leave the paper's numbers out"
    )
    parser.add_argument(
        "--no-episodes", dest="episodes", action="store_false", help="no episodes page (proactive view)"
    )
    args = parser.parse_args(argv)
    try:
        written = write_report(args.runs, args.out, args.labels, args.metrics, args.paper, args.episodes)
    except (FileNotFoundError, ValueError) as err:
        print(f"proactive report: {err}", file=sys.stderr)
        return 2
    print("\n".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
