"""Write the synthetic ProactiveBench (official file format, plus informative-view sidecars and the
synthetic.json marker) and print one summary row per scenario.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from data.outdir import OutputFolder
from data.scenarios import SCENARIO_NAMES, SCENARIOS
from data.synth.generate import generate_benchmark


def format_summary(summary: dict[str, dict[str, Any]]) -> str:
    """The summary as a small text table."""
    header = ("scenario", "records", "kept", "images", "categories", "oracle turns")
    rows = [
        (
            SCENARIOS[name].short,
            row["records"],
            row["kept"],
            row["images"],
            len(row["categories"]),
            f"{row['oracle_turns']:.2f}",
        )
        for name, row in summary.items()
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(
            str(cell).rjust(w) if i else str(cell).ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in (header, *rows)
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="proactive synth", description=__doc__)
    parser.add_argument("--out", required=True, action=OutputFolder, help="benchmark folder to write")
    parser.add_argument(
        "--per-scenario", type=int, required=True, help="records the loader keeps, per scenario"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--size", type=int, default=112, help="image side in pixels (COCO scenes are twice as large)"
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"names or acronyms (default: all of {', '.join(SCENARIO_NAMES)})",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        summary = generate_benchmark(args.out, args.per_scenario, args.seed, args.size, args.scenarios)
    except (ValueError, FileExistsError) as err:
        parser.error(str(err))
    seconds = time.perf_counter() - start
    print(format_summary(summary))
    records = sum(row["records"] for row in summary.values())
    print(f"wrote {records} records to {args.out} in {seconds:.1f} s ({records / seconds:.0f} episodes/s)")
    return 0
