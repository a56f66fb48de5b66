"""Run a cross-scenario generalization study: train one adapter per cell, evaluate it on every scenario, and
aggregate the generalization matrix.

A cell is one (training split, method, reward preset, seed). For each cell the study runs
  accelerate launch --config_file ACC recipes/<method>.py --config BASE.yaml --train_scenarios ...
      --held_out_scenarios ... [--reward_preset P] --seed S --output_dir OUT/cells/<cell>/adapter [overrides]
  proactive eval --model BASE --adapter OUT/cells/<cell>/adapter --data EVAL --scenarios ... --out .../eval
with the output in OUT/cells/<cell>/{train.log,eval.log}, then writes OUT/report/: study.md and study.json
(acc and psr per training split x evaluated scenario, mean over seeds with 95% CIs, in-domain and
out-of-domain averages) and the heatmaps matrix_acc.png / matrix_psr.png. OUT/study_log.jsonl records
every command started, with its exit status and time.

Resumable: a cell whose training (its adapter's train_results.json, written after the weights) and eval
(summary.json) have finished is skipped, by the same rule in the runner, the dry run and the job scripts;
a failed cell is reported with its log and the other cells go on (exit status 1 when any failed). A cell
folder made with other commands (OUT/cells/<cell>/cell.json) is refused: delete it to run the cell again.

Scale out: --dry-run prints the commands that would run (one per line; finished cells as comments);
--emit-jobs DIR writes DIR/<cell>.sh per cell (and setup.sh when the study generates its eval data),
DIR/cells.txt listing them and the Slurm template DIR/cell.sbatch. Run each script anywhere, or each as its
own Slurm job:
  bash DIR/setup.sh                                   # once, if present
  sbatch --array=0-$(($(wc -l < DIR/cells.txt) - 1)) DIR/cell.sbatch DIR
then `proactive study --config STUDY.yaml` on the login node skips the finished cells and writes the report.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.outdir import OutputFolder, OutputFolderError, check_output_folder
from data.stage import pin_inputs
from proactive.cli import command_parser
from proactive.configs import slurm_template
from proactive.launch import runnable
from proactive.study_config import EVAL_LOG, TRAIN_LOG, Cell, Study, StudyConfigError, load_study
from proactive.study_report import read_cell_result, write_study_report

LOG_FILE = "study_log.jsonl"
CELL_FILE = "cell.json"
DONE, SKIPPED, FAILED, NOT_RUN = "done", "skipped (finished earlier)", "failed", "not run"


@dataclass
class CellStatus:
    cell: Cell
    status: str
    log: Path | None = None
    message: str = ""

    def to_json(self) -> dict[str, str | None]:
        return {
            "cell": self.cell.name,
            "status": self.status,
            "log": str(self.log) if self.log else None,
            "message": self.message,
        }


def finished(study: Study, cell: Cell, *stages: str) -> bool:
    """Whether the cell's ``stages`` (default: ``train`` and ``eval``, the whole cell) have finished, each
    by :meth:`Study.finished_file`: the one rule of the runner, the dry run and the job scripts."""
    return all(study.finished_file(cell, stage).is_file() for stage in stages or ("train", "eval"))


def _commands(cell_record: dict[str, Any]) -> dict[str, Any]:
    """The part of ``cell.json`` a rerun must match: the commands (the cell name is in the folder's name)."""
    return {"commands": cell_record.get("commands")}


class StudyRunner:
    """Runs the cells' commands as subprocesses, logging each to a file and to ``study_log.jsonl``."""

    def __init__(self, study: Study, echo: Callable[[str], None] = print) -> None:
        self.study = study
        self.echo = echo
        self.env = {**os.environ, **study.env, "PYTHONUNBUFFERED": "1"}

    def log_event(self, **event: object) -> None:
        self.study.out.mkdir(parents=True, exist_ok=True)
        with open(self.study.out / LOG_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")

    def run(self, cell: str, stage: str, command: list[str], log: Path) -> int:
        self.echo(f"[{cell}] {stage}: {shlex.join(command)}")
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log_event(cell=cell, stage=stage, event="start", time=time.time(), command=command, log=str(log))
        began = time.perf_counter()
        with open(log, "w", encoding="utf-8") as handle:
            handle.write(f"$ {shlex.join(command)}\n")
            handle.flush()
            rc = subprocess.run(
                runnable(command), stdout=handle, stderr=subprocess.STDOUT, env=self.env
            ).returncode
        seconds = round(time.perf_counter() - began, 1)
        self.log_event(cell=cell, stage=stage, event="end", time=time.time(), rc=rc, seconds=seconds)
        self.echo(f"[{cell}] {stage}: exit {rc} after {seconds} s (log {log})")
        return rc

    def setup(self) -> None:
        for command in self.study.setup_commands():
            if self.run("setup", "setup", command, self.study.out / "setup.log") != 0:
                raise RuntimeError(
                    f"setup failed: {shlex.join(command)} (log {self.study.out / 'setup.log'})"
                )

    def run_cell(self, cell: Cell) -> CellStatus:
        study = self.study
        folder = study.cell_dir(cell)
        commands = {"train": study.train_command(cell), "eval": study.eval_command(cell)}
        folder.mkdir(parents=True, exist_ok=True)
        if pin_inputs(folder / CELL_FILE, {"cell": cell.name, "commands": commands}, _commands):
            return CellStatus(
                cell, FAILED, folder / CELL_FILE, f"{folder} was made with other commands; delete it to rerun"
            )
        if finished(study, cell):
            return CellStatus(cell, SKIPPED)
        if not finished(study, cell, "train"):
            log = folder / TRAIN_LOG
            if self.run(cell.name, "train", commands["train"], log) != 0 or not finished(
                study, cell, "train"
            ):
                return CellStatus(cell, FAILED, log, "training failed")
        log = folder / EVAL_LOG
        if self.run(cell.name, "eval", commands["eval"], log) != 0 or not finished(study, cell, "eval"):
            return CellStatus(cell, FAILED, log, "evaluation failed")
        return CellStatus(cell, DONE)


def select_cells(study: Study, only: Sequence[str] | None) -> list[Cell]:
    """Every cell, or those named (by cell name or split name) in ``only``."""
    cells = study.cells()
    if not only:
        return cells
    unknown = [n for n in only if not any(n in (c.name, c.split) for c in cells)]
    if unknown:
        names = ", ".join(c.name for c in cells)
        raise StudyConfigError(f"--only {', '.join(unknown)}: no such cell or split; cells: {names}")
    return [c for c in cells if c.name in only or c.split in only]


def run_study(
    study: Study, only: Sequence[str] | None = None, echo: Callable[[str], None] = print
) -> list[CellStatus]:
    """Run (or resume) the selected cells, then write the report over every finished cell of the study."""
    runner = StudyRunner(study, echo)
    runner.setup()
    statuses = []
    for cell in select_cells(study, only):
        status = runner.run_cell(cell)
        echo(
            f"[{cell.name}] {status.status}"
            + (f": {status.message} (log {status.log})" if status.log else "")
        )
        statuses.append(status)
    selected = {s.cell for s in statuses}
    for cell in study.cells():  # cells left out by --only still count when they finished earlier
        if cell not in selected:
            finished_before = finished(study, cell)
            statuses.append(CellStatus(cell, SKIPPED if finished_before else NOT_RUN))
    done_cells = [s.cell for s in statuses if s.status in (DONE, SKIPPED)]
    if done_cells:
        results = [read_cell_result(study, c) for c in done_cells]
        paths = write_study_report(study, results, [s.to_json() for s in statuses])
        echo(f"report: {paths[0]} (heatmaps in {paths[0].parent})")
    return statuses


def dry_run(study: Study, only: Sequence[str] | None, echo: Callable[[str], None] = print) -> None:
    """Print every command the study would run, one per line; finished cells appear as comments."""
    for command in study.setup_commands():
        echo(shlex.join(command))
    for cell in select_cells(study, only):
        if finished(study, cell):
            echo(f"# {cell.name}: finished, skipped")
            continue
        if not finished(study, cell, "train"):
            echo(shlex.join(study.train_command(cell)))
        echo(shlex.join(study.eval_command(cell)))


def cell_script(study: Study, cell: Cell) -> str:
    """A bash script that runs one cell (skipping finished stages); ``$LAUNCH_FLAGS`` extends the launch
    (the Slurm template passes the multi-node flags) and only node 0 evaluates."""
    train = study.train_command(cell)
    launch, recipe = shlex.join(train[:4]), shlex.join(train[4:])
    exports = [f"export {k}={shlex.quote(v)}" for k, v in study.env.items()]
    return "\n".join(
        [
            "#!/usr/bin/env bash",
            f"# Study {study.name}, cell {cell.name}: train, then evaluate on {len(study.eval_scenarios)} scenarios.",
            "# usage: bash THIS_SCRIPT  (one machine), or through cell.sbatch beside it (multi-node)",
            "set -euo pipefail",
            f"cd {shlex.quote(str(Path.cwd()))}",
            *exports,
            f"if [ ! -f {shlex.quote(str(study.finished_file(cell, 'train')))} ]; then",
            f"  {launch} ${{LAUNCH_FLAGS:-}} {recipe}",
            "fi",
            f'if [ "${{SLURM_NODEID:-0}}" = "0" ] && [ ! -f {shlex.quote(str(study.finished_file(cell, "eval")))} ]; then',
            f"  {shlex.join(study.eval_command(cell))}",
            "fi",
            "",
        ]
    )


def emit_jobs(study: Study, only: Sequence[str] | None, folder: Path) -> list[Path]:
    """One script per cell in ``folder`` (+ setup.sh), ``cells.txt`` naming them for a job array, and the
    Slurm template that runs that array (``cell.sbatch``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    setup = study.setup_commands()
    if setup:
        path = folder / "setup.sh"
        lines = ["#!/usr/bin/env bash", "set -euo pipefail", f"cd {shlex.quote(str(Path.cwd()))}"]
        path.write_text("\n".join([*lines, *map(shlex.join, setup), ""]), encoding="utf-8")
        path.chmod(0o755)
        written.append(path)
    cells = select_cells(study, only)
    for cell in cells:
        path = folder / f"{cell.name}.sh"
        path.write_text(cell_script(study, cell), encoding="utf-8")
        path.chmod(0o755)
        written.append(path)
    (folder / "cells.txt").write_text("".join(f"{cell.name}.sh\n" for cell in cells), encoding="utf-8")
    shutil.copyfile(slurm_template(), folder / "cell.sbatch")
    return written


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("proactive study", __doc__)
    parser.add_argument(
        "--config", required=True, help="study YAML: a path or a shipped name (proactive configs)"
    )
    parser.add_argument("--out", action=OutputFolder, help="study folder (default: the file's `out`)")
    parser.add_argument("--only", nargs="+", metavar="CELL", help="run only these cells (or splits)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    group.add_argument(
        "--emit-jobs",
        metavar="DIR",
        type=Path,
        action=OutputFolder,
        help="write one shell script per cell to DIR",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        study = load_study(args.config, args.out)
        if args.dry_run:
            dry_run(study, args.only)
            return 0
        if args.emit_jobs:
            written = emit_jobs(study, args.only, args.emit_jobs)
            print(f"{args.emit_jobs}: {len(written)} scripts, cells.txt and cell.sbatch")
            return 0
        check_output_folder(study.out)
        began = time.perf_counter()
        statuses = run_study(study, args.only)
    except (StudyConfigError, OutputFolderError, RuntimeError) as err:
        print(f"proactive study: {err}", file=sys.stderr)
        return 2
    failed = [s for s in statuses if s.status == FAILED]
    counts = {label: sum(s.status == label for s in statuses) for label in (DONE, SKIPPED, FAILED, NOT_RUN)}
    shown = ", ".join(f"{n} {label}" for label, n in counts.items() if n)
    print(f"study {study.name}: {shown}; {time.perf_counter() - began:.0f} s")
    for status in failed:
        print(f"  failed: {status.cell.name}: {status.message} (log {status.log})", file=sys.stderr)
    return 1 if failed else 0
