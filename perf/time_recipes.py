"""Usage: python perf/time_recipes.py [--steps 20] [--warmup 3] [--per-scenario 20] [--arch qwen2_vl]
                             [--threads 1] [--repeats 1] [--workdir DIR] [--only grpo|sft]

Seconds per optimizer step of our SFT and GRPO recipes against a bare TRL trainer on the same tiny model,
the same rows and the same settings (recipes/tiny/<recipe>.yaml, no checkpoints), and each run's peak memory
(resident set size; on a GPU also peak allocated memory). Target: recipe overhead per step <= 10%.

Each run is its own process, so peak memory is per run. "bare" = the trainer loading the model from its
path, ``trl.get_peft_config``, the same dataset rows, and (GRPO) a constant reward; "recipe" = ``recipes/<recipe>.py``'s ``build_trainer`` (our reward, our data preparation).
A step's time is the gap between consecutive ``on_step_end`` callbacks (data loading, generation,
reward, forward, backward, optimizer); the first ``--warmup`` steps are left out; the median and the
minimum are reported (on a shared machine the minimum is the steadier figure). ``--repeats`` runs bare and
recipe alternately several times and keeps each mode's best median.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from types import ModuleType
from typing import Any

RECIPES = ("grpo", "sft")


def load_recipe(name: str) -> ModuleType:
    return importlib.import_module(f"recipes.{name}")


def constant_reward(completions: list[Any], **_: Any) -> list[float]:
    """The bare GRPO run's reward: free to compute, so the recipe's reward cost shows as overhead."""
    return [0.0] * len(completions)


def bare_trainer(recipe: str, script_args: Any, training_args: Any, model_args: Any) -> Any:
    """A plain TRL trainer on the rows the recipe would build, with nothing of ours in the loop."""
    from trl import GRPOTrainer, SFTTrainer, get_peft_config

    from data.builders import build_grpo_dataset, build_sft_dataset, to_prompt_completion
    from proactive.training import load_recipe_records

    records = load_recipe_records(script_args)
    model = model_args.model_name_or_path  # loaded by the trainer, as the recipe's is
    training_args.model_init_kwargs = {"dtype": model_args.dtype}
    peft_config = get_peft_config(model_args)
    if recipe == "grpo":
        dataset = build_grpo_dataset(records.train, records.benchmark_dir).select_columns(["prompt", "image"])
        return GRPOTrainer(
            model=model,
            reward_funcs=constant_reward,
            args=training_args,
            train_dataset=dataset,
            peft_config=peft_config,
        )
    dataset = to_prompt_completion(build_sft_dataset(records.train, records.benchmark_dir))
    return SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        peft_config=peft_config,
    )


def worker(
    recipe: str, mode: str, model: str, bench: str, out: str, steps: int, warmup: int, threads: int
) -> dict:
    """One timed run in this process; returns its figures."""
    import torch
    from transformers import TrainerCallback
    from trl import GRPOConfig, SFTConfig

    from proactive.recipe_args import parse_recipe_args

    torch.set_num_threads(threads)
    argv = ["--config", f"tiny/{recipe}", "--model_name_or_path", model]
    argv += ["--benchmark_dir", bench, "--output_dir", out, "--max_steps", str(steps + warmup)]
    argv += ["--save_strategy", "no", "--logging_steps", str(steps + warmup), "--report_to", "none"]
    if recipe == "grpo":
        argv += ["--num_completions_to_print", "0"]
    args = parse_recipe_args(GRPOConfig if recipe == "grpo" else SFTConfig, argv)

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_train_begin(self, *_: Any, **__: Any) -> None:
            self.ends.append(time.perf_counter())

        def on_step_end(self, *_: Any, **__: Any) -> None:
            self.ends.append(time.perf_counter())

    start = time.perf_counter()
    trainer = load_recipe(recipe).build_trainer(*args)[0] if mode == "recipe" else bare_trainer(recipe, *args)
    setup = time.perf_counter() - start
    clock = StepClock()
    trainer.add_callback(clock)
    trainer.train()
    gaps = [b - a for a, b in zip(clock.ends, clock.ends[1:], strict=False)][warmup:]
    figures = {
        "recipe": recipe,
        "mode": mode,
        "rows": len(trainer.train_dataset),
        "setup_s": round(setup, 2),
        "sec_per_step": round(median(gaps), 4),
        "min_sec_per_step": round(min(gaps), 4),
        "steps_timed": len(gaps),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if torch.cuda.is_available():
        figures["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return figures


def prepare(workdir: Path, arch: str, per_scenario: int) -> tuple[Path, Path]:
    from data.synth import generate_benchmark
    from proactive.tiny_models import build_tiny_model

    bench = workdir / f"bench-{per_scenario}"
    if not (bench / "synthetic.json").is_file():
        generate_benchmark(bench, per_scenario, seed=0, size=112)
    return bench, build_tiny_model(arch, workdir / f"tiny-{arch}")


def run_worker_process(
    recipe: str, mode: str, model: Path, bench: Path, out: Path, args: argparse.Namespace
) -> dict:
    command = [sys.executable, __file__, "--worker", recipe, mode, str(model), str(bench), str(out)]
    command += ["--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{recipe}/{mode} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def best_of(results: list[dict]) -> dict:
    """The repeat with the lowest median step time, with the lowest minimum over all repeats."""
    best = min(results, key=lambda r: r["sec_per_step"])
    return {**best, "min_sec_per_step": min(r["min_sec_per_step"] for r in results)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per run")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps")
    parser.add_argument("--per-scenario", type=int, default=20, help="synthetic episodes per scenario")
    parser.add_argument("--arch", default="qwen2_vl")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the benchmark and model here")
    parser.add_argument("--only", choices=RECIPES, default=None)
    parser.add_argument("--repeats", type=int, default=1, help="alternate bare / recipe runs this many times")
    parser.add_argument(
        "--worker", nargs=5, metavar=("RECIPE", "MODE", "MODEL", "BENCH", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        recipe, mode, model, bench, out = args.worker
        print(json.dumps(worker(recipe, mode, model, bench, out, args.steps, args.warmup, args.threads)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-recipes-") as tmp:
        workdir = args.workdir or Path(tmp)
        bench, model = prepare(workdir, args.arch, args.per_scenario)
        rows = []
        for recipe in [args.only] if args.only else RECIPES:
            runs: dict[str, list[dict]] = {}
            for repeat in range(args.repeats):
                for mode in ("bare", "recipe"):
                    out = Path(tmp) / f"{recipe}-{mode}-{repeat}"
                    runs.setdefault(mode, []).append(
                        run_worker_process(recipe, mode, model, bench, out, args)
                    )
            rows.append((recipe, {mode: best_of(results) for mode, results in runs.items()}))
    print(
        f"{args.arch}, {args.steps} timed steps after {args.warmup}, {args.threads} thread(s), recipes/tiny/*.yaml"
    )
    print(
        f"{'recipe':6} {'mode':6} {'rows':>5} {'setup s':>8} {'median s/step':>14} {'min s/step':>11} "
        f"{'peak RSS MB':>12}  overhead (median / min)"
    )
    for recipe, runs in rows:
        for mode in ("bare", "recipe"):
            r, bare = runs[mode], runs["bare"]
            tail = ""
            if mode == "recipe":
                over_median = r["sec_per_step"] / bare["sec_per_step"] - 1
                over_min = r["min_sec_per_step"] / bare["min_sec_per_step"] - 1
                tail = f"  {over_median:+.1%} / {over_min:+.1%}"
            cuda = f"  (CUDA peak {r['peak_cuda_mb']} MB)" if "peak_cuda_mb" in r else ""
            print(
                f"{recipe:6} {mode:6} {r['rows']:>5} {r['setup_s']:>8} {r['sec_per_step']:>14} "
                f"{r['min_sec_per_step']:>11} {r['peak_rss_mb']:>12}{tail}{cuda}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
