"""Usage: python perf/grpo_rollouts.py [--config recipes/quickstart/grpo.yaml] [--model DIR] [--bench DIR]
                                     [--rollouts single_turn episode tools] [--history] [--steps 10] [--warmup 2]
                                     [--threads 1] [--workdir DIR]

Seconds per optimizer step of GRPO with each rollout (recipes/grpo.py ``rollout: single_turn | episode |
tools``) on the same model, rows and settings, hence the same number of generated completions per
optimizer step (per_device_train_batch_size x gradient_accumulation_steps). The step time is TRL's own
``step_time`` metric (generation, reward, forward, backward and optimizer), one per step; the first
``--warmup`` steps are left out and the median and minimum reported. Beside it: the answers generated per
step (an episode rollout answers every later turn of its episode too) and the mean accepted interventions
per rollout, which is what makes episodes longer.

Without ``--model`` a tiny random Qwen2-VL twin is built; its episodes end at the first turn (it never
names a choice), so the figures are a floor. For the figures that matter, pass the quickstart's SFT warm
start: ``--model outputs/quickstart/sft-merged --bench outputs/quickstart/data/train``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]
ROLLOUTS = ("single_turn", "episode", "tools")
TOOL_FLAGS = [
    "--max_completion_length",
    "256",
    "--max_tool_calling_iterations",
    "8",
]  # recipes/tiny/grpo_tools.yaml


def worker(args: argparse.Namespace, rollout: str, out: str) -> dict:
    """One run in this process; its step times and rollout lengths."""
    import torch
    from trl import GRPOConfig

    from proactive.recipe_args import parse_recipe_args
    from recipes import grpo

    torch.set_num_threads(args.threads)
    argv = [
        "--config",
        str(args.config),
        "--model_name_or_path",
        str(args.model),
        "--benchmark_dir",
        str(args.bench),
    ]
    argv += ["--output_dir", out, "--max_steps", str(args.steps + args.warmup), "--logging_steps", "1"]
    argv += [
        "--save_strategy",
        "no",
        "--report_to",
        "none",
        "--log_completions",
        "false",
        "--rollout",
        rollout,
    ]
    argv += ["--history", str(args.history).lower()] + (TOOL_FLAGS if rollout == "tools" else [])
    trainer, _ = grpo.build_trainer(*parse_recipe_args(GRPOConfig, argv))
    trainer.train()
    steps = [h for h in trainer.state.log_history if "step_time" in h][args.warmup :]
    times = [h["step_time"] for h in steps]
    rows = trainer.args.per_device_train_batch_size * trainer.args.gradient_accumulation_steps
    moves = [h.get("episodes/interventions", 0.0) for h in steps]
    ends = [h.get("episodes/end/step_limit", 0.0) for h in steps]
    return {
        "rollout": rollout,
        "completions_per_step": rows,
        "sec_per_step": round(median(times), 3),
        "min_sec_per_step": round(min(times), 3),
        "interventions_per_rollout": round(sum(moves) / len(moves), 2),
        "step_limit_rate": round(sum(ends) / len(ends), 2),
        "steps_timed": len(times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--config", type=Path, default=REPO / "recipes" / "quickstart" / "grpo.yaml")
    parser.add_argument("--model", type=Path, help="model folder (default: a tiny random Qwen2-VL twin)")
    parser.add_argument(
        "--bench", type=Path, help="benchmark folder (default: a synthetic one, 20 per scenario)"
    )
    parser.add_argument("--rollouts", nargs="+", choices=ROLLOUTS, default=list(ROLLOUTS[:2]))
    parser.add_argument("--history", action="store_true", help="episode rollout: earlier turns in the prompt")
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per rollout")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--workdir", type=Path, help="keep the generated model and benchmark here")
    parser.add_argument("--worker", nargs=2, metavar=("ROLLOUT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args, *args.worker)))
        return 0
    with tempfile.TemporaryDirectory(prefix="grpo-rollouts-") as tmp:
        workdir = args.workdir or Path(tmp)
        if args.bench is None:
            from data.synth import generate_benchmark

            args.bench = workdir / "bench-20"
            if not (args.bench / "synthetic.json").is_file():
                generate_benchmark(args.bench, 20, seed=0, size=112)
        if args.model is None:
            from proactive.tiny_models import build_tiny_model

            args.model = build_tiny_model("qwen2_vl", workdir / "tiny-qwen2-vl", image_size=112)
        results = []
        for rollout in args.rollouts:
            command = [sys.executable, __file__, "--worker", rollout, str(Path(tmp) / rollout)]
            command += ["--config", str(args.config), "--model", str(args.model), "--bench", str(args.bench)]
            command += [
                "--steps",
                str(args.steps),
                "--warmup",
                str(args.warmup),
                "--threads",
                str(args.threads),
            ]
            command += ["--history"] if args.history else []
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"{rollout} run failed:\n{done.stderr[-3000:]}")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{args.model} on {args.bench}, {args.config.name}, {args.steps} timed steps after {args.warmup}")
    print(f"{'rollout':12} {'completions/step':>16} {'median s/step':>14} {'min s/step':>11} {'x single':>9} "
          f"{'interventions/rollout':>22} {'step-limit rate':>16}")  # fmt: skip
    base = next((r["sec_per_step"] for r in results if r["rollout"] == "single_turn"), None)
    for r in results:
        ratio = f"{r['sec_per_step'] / base:.2f}" if base else "-"
        print(f"{r['rollout']:12} {r['completions_per_step']:>16} {r['sec_per_step']:>14} {r['min_sec_per_step']:>11} "
              f"{ratio:>9} {r['interventions_per_rollout']:>22} {r['step_limit_rate']:>16}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
