"""Sweep the `proactive` reward's abstain weight: the default quickstart with one GRPO arm per value.

usage: python perf/abstain_sweep.py [--out outputs/abstain-sweep] [--values 0 -0.25 -1] [--threads 1]

Each arm is recipes/quickstart/grpo.yaml from the same SFT start with ``--reward_kwargs {abstain: V}``
(the runs in parallel, as the quickstart runs its arms); every arm is evaluated on the quickstart's fresh
episodes. Prints, per arm, on the training scenarios: acc, psr, reference-image acc and the share of
episodes that ended on the abstain option (with 95% CIs), and per scenario acc / abstain endings; the
quickstart report of the sweep (``<out>/report/report.md``) has every table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

from data.markdown import markdown_table
from eval.report import metric_cell, short
from eval.store import read_episodes, read_summary
from proactive.quickstart import DEFAULT_PLAN, TRAIN_GROUP, GRPORun, run_quickstart
from proactive.quickstart_report import OTHER, TRAINED, rate_cell


def arm(value: float, first: bool) -> GRPORun:
    return GRPORun(
        f"grpo-abstain{value:g}",
        TRAINED if first else OTHER,
        ("--reward_kwargs", json.dumps({"abstain": value})),
    )


def abstain_endings(run_dir: Path) -> tuple[np.ndarray, dict[str, float]]:
    """Per episode, 1 if it ended on the abstain option; and the share per scenario (%)."""
    episodes = read_episodes(run_dir)
    ended = np.array([float(e.end_reason == "abstained") for e in episodes])
    per_scenario = {}
    for scenario in sorted({e.scenario for e in episodes}):
        values = [float(e.end_reason == "abstained") for e in episodes if e.scenario == scenario]
        per_scenario[scenario] = 100.0 * sum(values) / len(values)
    return ended, per_scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="outputs/abstain-sweep")
    parser.add_argument("--values", type=float, nargs="+", default=[0.0, -0.25, -1.0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    runs = tuple(arm(value, index == 0) for index, value in enumerate(args.values))
    out = Path(args.out).resolve()
    run_quickstart(out, dataclasses.replace(DEFAULT_PLAN, grpo_runs=runs))
    rows, scenario_rows, names = [], [], []
    for run in runs:
        run_dir = out / "eval" / run.label / TRAIN_GROUP
        summary = read_summary(run_dir)
        average, scenarios = summary["average"], summary["scenarios"]
        names = list(scenarios)
        ended, per_scenario = abstain_endings(run_dir)
        rows.append(
            [run.label, metric_cell(average, "acc"), metric_cell(average, "psr"),
             metric_cell(average, "reference_acc"), rate_cell(ended)[2]]
        )  # fmt: skip
        scenario_rows.append(
            [run.label]
            + [f"{block['acc']:.1f} / {per_scenario.get(name, 0.0):.1f}" for name, block in scenarios.items()]
        )
    print("\n".join(markdown_table(["arm", "acc", "psr", "reference acc", "ended abstaining (%)"], rows)))
    print()
    print("\n".join(markdown_table(["arm (acc / % abstained)", *map(short, names)], scenario_rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
