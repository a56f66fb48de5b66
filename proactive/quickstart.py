"""Run the main job end to end: embedded tiny base -> synthetic data -> SFT warm start -> GRPO -> eval -> report.

Stages (each prints its timing; each output folder is a cached stage, data/stage.py, stamped with its
inputs -- ``synthetic.json``, ``tiny_model.json`` or ``quickstart_stage.json`` -- so a rerun redoes only what
changed):
1. the tiny base: the pretrained Qwen2-VL twin embedded in the package (proactive/tiny/base/; its
   manifest.json says how it was made and what it measures); ``--pretrain`` rebuilds it into ``<out>/base``
   with the manifest's ``proactive tiny-model --pretrain`` command instead (an hour or more on a CPU; with
   ``--fast``, a short version of it);
2. two synthetic benchmarks with different seeds, at the base's image size: ``train`` (the recipe's
   episodes) and ``eval`` (fresh episodes, never trained on);
3. the recipe: a LoRA SFT warm start (``recipes/sft.py --config recipes/quickstart/sft.yaml``), merged into
   a copy of the base, then LoRA GRPO from that merged model (``recipes/grpo.py --config
   recipes/quickstart/grpo.yaml``) three times: the ``proactive`` reward, the paper's ``paper_rp1.0`` as
   published (the control), and the ``proactive`` reward on whole episodes (``--rollout episode``)
   (``GRPO_RUNS`` below: each run's flags, printed with its command) -- the GRPO runs in parallel, one
   torch thread each; every recipe runs through ``accelerate launch`` (accelerate_configs/cpu.yaml);
4. ``proactive eval`` (MCQA + reference image) of the oracle, the base, the SFT adapter and every GRPO
   adapter, on the eval benchmark's episodes of the training scenarios and of the held-out scenarios;
5. the report: ``<out>/report/report.md`` (evidence tables with 95% CIs, target checks), per scenario
   group ``proactive report``'s comparison tables and plots, and ``proactive view`` pages to browse the
   episodes of every run and the GRPO runs' sampled completions.

``--fast`` runs the same stages at toy sizes from the same embedded base (the CI smoke run, a few minutes).
"""

from __future__ import annotations

import dataclasses
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

import yaml

from data.outdir import OutputFolderError, check_output_folder
from data.stage import Stage
from proactive.cli import command_parser
from proactive.configs import accelerate_config, recipe_config
from proactive.embedded_base import weights_sha256
from proactive.launch import recipe_launch, runnable
from proactive.merge import merge_adapter
from proactive.quickstart_report import CONTROL, OTHER, TRAINED, Roles

CONFIGS = "quickstart"  # recipes/quickstart/<method>.yaml
ACCELERATE_CONFIG = "cpu"  # accelerate_configs/cpu.yaml
STAMP = "quickstart_stage.json"
DATA_SEEDS = {"train": 0, "eval": 1}
TRAIN_GROUP, HELD_OUT_GROUP = "train-scenarios", "held-out-scenarios"


@dataclass(frozen=True)
class GRPORun:
    """One GRPO run from the SFT start: its label (adapter folder, report row), its role in the report, and the
    recipe flags it adds to recipes/quickstart/grpo.yaml (printed with its command)."""

    label: str
    role: str
    flags: tuple[str, ...]


GRPO_RUNS = (
    # The recipe as configured: the `proactive` reward as shipped.
    GRPORun("grpo-proactive", TRAINED, ("--reward_preset", "proactive")),
    # The control: the paper's rp=1.0 reward as published.
    GRPORun("grpo-paper_rp1.0", CONTROL, ("--reward_preset", "paper_rp1.0")),
    # Episode-level GRPO (proactive/episode_rollout.py): the same reward scored on the episode's final answer.
    GRPORun("grpo-episode", OTHER, ("--reward_preset", "proactive", "--rollout", "episode")),
)


@dataclass(frozen=True)
class Plan:
    """Sizes and steps of one quickstart run (the default and ``--fast``)."""

    train_per_scenario: int = 60
    eval_per_scenario: int = 40
    pretrain_flags: tuple[tuple[str, str], ...] = ()  # --pretrain: flags of the manifest's command to change
    sft_steps: int = 300  # 0: GRPO starts from the base itself
    grpo_steps: int = 200
    grpo_runs: tuple[GRPORun, ...] = GRPO_RUNS
    sft_flags: tuple[str, ...] = ()  # extra recipe flags, e.g. smaller batches
    grpo_flags: tuple[str, ...] = ()
    eval_batch_size: int = 32
    expected_time: str = "about 10 minutes on 2 CPU cores"  # printed first (docs/quickstart-log.md)


DEFAULT_PLAN = Plan()
FAST_PLAN = Plan(
    train_per_scenario=4,
    eval_per_scenario=2,
    pretrain_flags=(
        ("steps", "2"),
        ("batch_size", "4"),
        ("vision_steps", "2"),
        ("synthetic_per_scenario", "2"),
    ),
    sft_steps=2,
    grpo_steps=2,
    sft_flags=("--per_device_train_batch_size", "4"),
    grpo_flags=("--per_device_train_batch_size", "8", "--num_generations", "4"),
    eval_batch_size=16,
    expected_time="a few minutes",
)


def config_path(method: str) -> Path:
    """The quickstart's config of ``method`` (recipes/quickstart/<method>.yaml, as shipped)."""
    return recipe_config(f"{CONFIGS}/{method}")


def recipe_scenarios() -> tuple[list[str], list[str]]:
    """(train scenarios, held-out scenarios) as the quickstart GRPO config names them."""
    config = yaml.safe_load(config_path("grpo").read_text(encoding="utf-8"))
    return list(config["train_scenarios"]), list(config["held_out_scenarios"])


# --- stage bookkeeping ------------------------------------------------------------------------------
def quickstart_stage(folder: Path, key: Any) -> Stage:
    """A stage of this run (data/stage.py's rule), stamped ``quickstart_stage.json``; its folder lies below
    ``--out``, so whatever it holds is replaced when the stage is redone."""
    return Stage(folder, key, STAMP, owns_folder=True)


class Progress:
    """Numbered stage banners with wall times, collected for the report."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.index = 0
        self.timings: dict[str, float] = {}
        self.start = time.perf_counter()

    def run(self, name: str, action: Callable[[], Any]) -> Any:
        self.index += 1
        print(f"\n=== [{self.index}/{self.total}] {name} ===", flush=True)
        began = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - began
        self.timings[name] = round(seconds, 1)
        print(
            f"=== [{self.index}/{self.total}] {name}: {seconds:.1f} s (total {self.elapsed():.0f} s) ===",
            flush=True,
        )
        return result

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


# --- stages ----------------------------------------------------------------------------------------
def make_data(out: Path, plan: Plan, image_size: int) -> dict[str, Path]:
    """The train and eval benchmarks at the base's image size (each regenerated only when its arguments change)."""
    from data.synth.generate import benchmark_stage, generate_benchmark

    sizes = {"train": plan.train_per_scenario, "eval": plan.eval_per_scenario}
    folders = {}
    for name, per_scenario in sizes.items():
        folder = out / "data" / name
        if benchmark_stage(folder, per_scenario, DATA_SEEDS[name], image_size).done():
            print(f"{folder}: reused")
        else:
            generate_benchmark(folder, per_scenario, DATA_SEEDS[name], image_size)
            print(f"{folder}: {per_scenario} episodes per scenario (seed {DATA_SEEDS[name]})")
        folders[name] = folder
    return folders


def make_base(out: Path, plan: Plan, pretrain: bool) -> Path:
    """The embedded base, or with ``pretrain`` the base rebuilt into ``<out>/base`` by the manifest's command
    (with the plan's flags changed; reused when pretrained alike)."""
    from proactive.embedded_base import embedded_base, rebuild

    if not pretrain:
        folder = embedded_base()
        record = json.loads((folder / "tiny_model.json").read_text())
        print(f"{folder}: the embedded base, {record['num_parameters']:,} parameters (manifest.json)")
        return folder
    return rebuild(out / "base", **dict(plan.pretrain_flags))


def recipe_command(recipe: str, flags: Sequence[str]) -> list[str]:
    """``accelerate launch --config_file accelerate_configs/cpu.yaml recipes/<recipe>.py --config
    recipes/quickstart/<recipe>.yaml FLAGS``, as a user would type it."""
    return recipe_launch(recipe, accelerate_config(ACCELERATE_CONFIG), config_path(recipe), flags)


def launch_recipe(recipe: str, flags: Sequence[str]) -> None:
    """Run one recipe here, printing its command first."""
    command = recipe_command(recipe, flags)
    print(f"$ {shlex.join(command)}", flush=True)
    subprocess.run(runnable(command), check=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def launch_parallel(recipe: str, runs: Sequence[tuple[Sequence[str], Path]]) -> None:
    """Launch one recipe process per flag list at once, one torch thread each; the first one prints here,
    the others into their log file. Raises CalledProcessError (naming the log) if any fails."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    processes = []
    for index, (flags, log) in enumerate(runs):
        command = recipe_command(recipe, flags)
        shown = f"$ {shlex.join(command)}"
        print(shown if index == 0 else f"{shown}\n  (in parallel; its log: {log})", flush=True)
        handle = None if index == 0 else open(log, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
        process = subprocess.Popen(runnable(command), env=env, stdout=handle, stderr=handle)
        processes.append((process, handle, log))
    failed = None
    for process, handle, log in processes:
        code = process.wait()
        if handle is not None:
            handle.close()
        if code != 0 and failed is None:
            failed = subprocess.CalledProcessError(code, [*process.args[:1], f"(log: {log})"])
    if failed is not None:
        raise failed


def train_sft(out: Path, plan: Plan, base: Path, train_data: Path, base_key: Any) -> tuple[Path, Path]:
    """The SFT warm-start adapter and the base with it merged in (GRPO's starting point)."""
    adapter, merged = out / "sft", out / "sft-merged"
    flags = [
        "--model_name_or_path", str(base), "--benchmark_dir", str(train_data), "--output_dir", str(adapter),
        "--max_steps", str(plan.sft_steps), *plan.sft_flags,
    ]  # fmt: skip
    key = {"base": base_key, "flags": flags, "config": config_path("sft").read_text(encoding="utf-8")}
    training, merging = quickstart_stage(adapter, key), quickstart_stage(merged, key)
    retrained = not training.done()
    if retrained:
        training.begin()
        launch_recipe("sft", flags)
        training.finish()
    else:
        print(f"{adapter}: reused")
    if merging.done() and not retrained:  # a new adapter is merged anew
        print(f"{merged}: reused")
    else:
        merge_adapter(base, adapter, merging.begin(), processor_from=base, dtype="float32")
        merging.finish()
    return adapter, merged


def grpo_flags(plan: Plan, start: Path, train_data: Path, adapter: Path, run: GRPORun) -> list[str]:
    """The GRPO recipe's flags for ``run``: paths, steps, the plan's batch flags, then the run's own."""
    return [
        "--model_name_or_path", str(start), "--benchmark_dir", str(train_data), "--output_dir", str(adapter),
        "--max_steps", str(plan.grpo_steps), *plan.grpo_flags, *run.flags,
    ]  # fmt: skip


def train_grpo_runs(
    out: Path, plan: Plan, start: Path, train_data: Path, start_key: Any
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """One GRPO adapter per run of the plan, trained from ``start`` (the runs not yet done run in parallel);
    returns, per run label, the adapter and its stage key."""
    config = config_path("grpo").read_text(encoding="utf-8")
    results: dict[str, tuple[Path, dict[str, Any]]] = {}
    pending = []
    for run in plan.grpo_runs:
        adapter = out / run.label
        flags = grpo_flags(plan, start, train_data, adapter, run)
        stage = quickstart_stage(adapter, {"start": start_key, "flags": flags, "config": config})
        results[run.label] = (adapter, stage.key)
        if stage.done():
            print(f"{adapter}: reused")
        else:
            pending.append((stage, flags))
    if pending:
        for stage, _ in pending:
            stage.begin()
        launch_parallel("grpo", [(flags, out / f"{stage.folder.name}.log") for stage, flags in pending])
        for stage, _ in pending:
            stage.finish()
    return results


@dataclass(frozen=True)
class EvalTarget:
    """One row of the report: a model (+ adapter) or a policy, and the stage key it depends on."""

    label: str
    args: tuple[str, ...]
    key: Any


def evaluate_target(
    out: Path, target: EvalTarget, eval_data: Path, scenarios: list[str], group: str, plan: Plan
) -> Path:
    """``proactive eval`` of ``target`` on ``scenarios`` of the eval benchmark (+ reference images)."""
    from eval.cli import main as eval_main

    run_dir = out / "eval" / target.label / group
    argv = [
        *target.args, "--data", str(eval_data), "--scenarios", *scenarios, "--reference",
        "--batch-size", str(plan.eval_batch_size), "--out", str(run_dir),
    ]  # fmt: skip
    stage = quickstart_stage(run_dir, {"target": target.key, "argv": argv})
    if stage.done():
        print(f"{run_dir}: reused")
        return run_dir
    stage.begin()
    print(f"$ proactive eval {' '.join(argv)}", flush=True)
    if eval_main(argv) != 0:
        raise RuntimeError(f"proactive eval failed for {target.label} ({group})")
    stage.finish()
    return run_dir


def write_reports(
    out: Path,
    runs: dict[str, dict[str, Path]],
    roles: Roles,
    scenarios: dict[str, list[str]],
    context: dict[str, Any],
) -> Path:
    """``proactive report`` per scenario group, then the evidence report; returns its path."""
    from eval.report_cli import write_report
    from proactive.quickstart_report import write_evidence_report

    report_dir = out / "report"
    shutil.rmtree(report_dir, ignore_errors=True)  # written whole on every run
    for group in scenarios:
        labels = list(runs)
        write_report([str(runs[label][group]) for label in labels], report_dir / group, labels, paper=False)
    pages = write_views(out, report_dir, runs, scenarios)
    return write_evidence_report(report_dir, runs, roles, scenarios, {**context, "pages": pages})


def write_views(
    out: Path, report_dir: Path, runs: dict[str, dict[str, Path]], scenarios: dict[str, list[str]]
) -> dict[str, Path]:
    """The ``proactive view`` pages, title -> index.html: per scenario group every run's episodes side by
    side (``proactive report`` wrote them), and each GRPO run's logged samples (written here)."""
    from eval.report_cli import EPISODES_DIR
    from eval.view.page import PAGE_FILE
    from proactive.view.cli import write_view
    from proactive.view.samples import has_samples

    pages = {
        f"{group}: episodes of every run": report_dir / group / EPISODES_DIR / PAGE_FILE
        for group in scenarios
    }
    for label in runs:
        if has_samples(out / label):
            pages[f"{label}: GRPO samples, step by step"] = write_view(
                [out / label], report_dir / "samples" / label
            )
    return pages


def announcement(out: Path, plan: Plan, pretrain: bool, groups: dict[str, list[str]]) -> str:
    """What the run is about to do and how long it should take: its first lines."""
    base = "rebuild the tiny base (--pretrain), then" if pretrain else "from the embedded tiny base,"
    runs = ", ".join(run.label for run in plan.grpo_runs)
    return (
        f"proactive quickstart: {base} a LoRA SFT warm start ({plan.sft_steps} steps), then LoRA GRPO "
        f"({plan.grpo_steps} steps each, in parallel: {runs}),\nthen every run evaluated on fresh episodes "
        f"({plan.eval_per_scenario} per scenario) of {', '.join(groups)}, and a report with 95% CIs.\n"
        f"Expected: {plan.expected_time}"
        + (" plus the pretraining" if pretrain else "")
        + f". Outputs: {out}; a rerun reuses every finished stage."
    )


# --- the whole run ---------------------------------------------------------------------------------
def run_quickstart(out: str | Path, plan: Plan = DEFAULT_PLAN, pretrain: bool = False) -> Path:
    """Every stage, in order (``pretrain``: rebuild the base first); returns the path of ``report.md``."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    train_scenarios, held_out = recipe_scenarios()
    groups = {TRAIN_GROUP: train_scenarios, HELD_OUT_GROUP: held_out}
    models = 1 + (plan.sft_steps > 0) + len(plan.grpo_runs)
    print(announcement(out, plan, pretrain, groups), flush=True)
    progress = Progress(total=4 + (plan.sft_steps > 0) + (len(plan.grpo_runs) > 0))
    base = progress.run("tiny base", lambda: make_base(out, plan, pretrain))
    base_build = json.loads((base / "tiny_model.json").read_text())["build"]
    data = progress.run("synthetic benchmarks", lambda: make_data(out, plan, base_build["image_size"]))
    base_key = {"build": base_build, "weights_sha256": weights_sha256(base)}
    targets = [
        EvalTarget("oracle", ("--policy", "oracle"), None),
        EvalTarget("base", ("--model", str(base)), base_key),
    ]
    start, start_key = base, base_key
    if plan.sft_steps > 0:
        adapter, merged = progress.run(
            "SFT warm start (LoRA)", lambda: train_sft(out, plan, base, data["train"], base_key)
        )
        start_key = json.loads((merged / STAMP).read_text())
        start = merged
        targets.append(EvalTarget("sft", ("--model", str(base), "--adapter", str(adapter)), start_key))
    if plan.grpo_runs:
        grpo = progress.run(
            f"GRPO (LoRA; {', '.join(run.label for run in plan.grpo_runs)}, in parallel)",
            lambda: train_grpo_runs(out, plan, start, data["train"], start_key),
        )
        for label, (adapter, key) in grpo.items():
            targets.append(EvalTarget(label, ("--model", str(start), "--adapter", str(adapter)), key))
    roles = Roles(
        oracle="oracle",
        base="base",
        trained=next((r.label for r in plan.grpo_runs if r.role == TRAINED), None),
        control=next((r.label for r in plan.grpo_runs if r.role == CONTROL), None),
    )

    def evaluate_all() -> dict[str, dict[str, Path]]:
        return {
            t.label: {g: evaluate_target(out, t, data["eval"], s, g, plan) for g, s in groups.items()}
            for t in targets
        }

    runs = progress.run(f"evaluation ({models} models + oracle, {len(groups)} scenario groups)", evaluate_all)
    context = {
        "plan": dataclasses.asdict(plan),
        "timings_s": progress.timings,
        "base": json.loads((base / "tiny_model.json").read_text()),
        "data": {name: str(path) for name, path in data.items()},
    }
    report = progress.run("report", lambda: write_reports(out, runs, roles, groups, context))
    total = progress.elapsed()
    (out / "timings.json").write_text(
        json.dumps({**progress.timings, "total": round(total, 1)}, indent=2) + "\n", encoding="utf-8"
    )
    print(f"\nquickstart finished in {total:.0f} s; report: {report}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("proactive quickstart", __doc__)
    parser.add_argument(
        "--out", default="outputs/quickstart", help="folder for every output (default %(default)s)"
    )
    parser.add_argument("--fast", action="store_true", help="toy sizes: the CI smoke run")
    parser.add_argument(
        "--pretrain",
        action="store_true",
        help="rebuild the base with its manifest's command instead of using the embedded one (an hour or more)",
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice, all cores)")
    args = parser.parse_args(argv)
    try:
        check_output_folder(args.out)
    except OutputFolderError as err:
        print(f"proactive quickstart: {err}", file=sys.stderr)
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    try:
        run_quickstart(args.out, FAST_PLAN if args.fast else DEFAULT_PLAN, pretrain=args.pretrain)
    except subprocess.CalledProcessError as err:
        print(
            f"proactive quickstart: a recipe failed (exit {err.returncode}): {' '.join(err.cmd)}",
            file=sys.stderr,
        )
        return 1
    return 0
