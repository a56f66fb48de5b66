"""Look at the episodes: one static HTML page per evaluation run or comparison, or per GRPO run's samples.

RUN_DIR is a 'proactive eval' run folder (episodes.jsonl): each episode turn by turn (the image the model
saw, the prompt with the offered options, the answer, how it was parsed or judged, how the episode
ended), filtered by scenario, mode and outcome; several run folders are shown side by side, with a
filter for the episodes where they differ. Or RUN_DIR is a GRPO output folder trained with
log_completions: true: its sampled completions per logging step, with the prompt image, each reward
component and the reward case. Writes DIR/index.html, which opens from disk (no server, no network), and
DIR/view_files/ beside it (thumbnails, and the details loaded as pages are turned).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from data.outdir import OutputFolder
from data.records import BenchmarkFormatError
from eval.report_cli import _labels
from eval.results import ResultFormatError
from eval.store import EPISODES_FILE
from eval.view.episodes import ViewInputError, write_eval_view
from eval.view.page import write_page
from proactive.cli import command_parser
from proactive.view.samples import has_samples, samples_page


def write_view(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    labels: Sequence[str] | None = None,
    data_dir: str | Path | None = None,
    title: str | None = None,
) -> Path:
    """Write the page of ``run_dirs`` (eval runs, or one GRPO output folder) into ``out_dir``; returns
    the path of its index.html."""
    folders = [Path(d) for d in run_dirs]
    if not folders:
        raise ViewInputError("no run folder given")
    training = [f for f in folders if not (f / EPISODES_FILE).is_file() and has_samples(f)]
    if training:
        if len(folders) > 1:
            raise ViewInputError(
                f"{training[0]}: a GRPO output folder is shown on its own page, one at a time"
            )
        return write_page(samples_page(training[0], out_dir, title), out_dir)
    names = _labels([str(f) for f in folders], list(labels) if labels is not None else None)
    return write_eval_view(folders, out_dir, names, data_dir, title)


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("proactive view", __doc__)
    parser.add_argument(
        "runs", nargs="+", metavar="RUN_DIR", help="eval run folders, or one GRPO output folder"
    )
    parser.add_argument(
        "--out", required=True, action=OutputFolder, help="folder for index.html and view_files/"
    )
    parser.add_argument("--labels", nargs="+", help="one label per run (default: the folder names)")
    parser.add_argument("--data", help="benchmark folder (default: the one the runs' config.json names)")
    parser.add_argument("--title", help="the page's title")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        page = write_view(args.runs, args.out, args.labels, args.data, args.title)
    except (ViewInputError, ResultFormatError, BenchmarkFormatError, FileNotFoundError, ValueError) as err:
        print(f"proactive view: {err}", file=sys.stderr)
        return 2
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
