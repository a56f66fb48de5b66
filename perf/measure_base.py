"""Measure a tiny base: does it see informative views right, does it (not) ask, can GRPO sample an ask?

usage: python perf/measure_base.py --model DIR [--data DIR] [--seed 2] [--per-scenario 40] [--samples 8]
       [--sample-states 48] [--temperature 0.7] [--threads 1] [--batch-size 32]
       [--grpo-steps 0] [--grpo-data DIR] --out FILE.json [--ship]

On fresh synthetic episodes (``--data``, else a benchmark of ``--seed`` written next to ``--out``, at the
model's image size), every scenario:
- ``proactive eval`` in MCQA mode with reference images: acc, psr, reference-image acc (95% bootstrap CIs)
  and the eval's episodes per second;
- greedy: the share of uninformative-view turns answered with an accepted intervention (95% CI);
- sampled (what GRPO starts from): on up to ``--sample-states`` reachable uninformative states per
  scenario, ``--samples`` completions each at ``--temperature`` (<= 16 new tokens, TRL's sampling: top-k 0,
  top-p 1, the vision tokens suppressed as recipes/grpo.py does): the share of completions that are an
  accepted intervention, and the share of states where at least one completion is.
- with ``--grpo-steps N``: seconds per GRPO step of recipes/grpo.py with recipes/quickstart/grpo.yaml's settings
  (32 completions of <= 16 tokens, LoRA), the model as the starting point, on ``--grpo-data`` (default: a
  60-per-scenario benchmark of seed 0, the quickstart's train data); the median over N steps after two.
Prints a table and writes everything as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from data.environment import TurnState, reachable_states
from data.parsing import Outcome
from data.records import load_benchmark
from data.scenarios import SCENARIO_NAMES, SCENARIOS
from data.synth import generate_benchmark
from data.synth.generate import benchmark_stage
from eval.backends import HFGenerator, Prompt, load_hf_generator
from eval.cli import EvalConfig, evaluate
from eval.metrics import bootstrap_ci
from eval.report import ci_text, metric_cell
from eval.results import MCQA, EpisodeResult
from eval.rollout import conversation
from eval.store import read_episodes
from proactive.embedded_base import ship
from proactive.tiny_models import BUILD_FILE, read_build_args

SAMPLE_MAX_NEW_TOKENS = 16  # recipes/quickstart/grpo.yaml's max_completion_length
VISION_TOKEN_FIELDS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")


def eval_benchmark(folder: Path, per_scenario: int, seed: int, size: int) -> Path:
    """The synthetic benchmark in ``folder``, written unless it already holds one of these arguments."""
    if not benchmark_stage(folder, per_scenario, seed, size).done():
        generate_benchmark(folder, per_scenario, seed, size)
    return folder


def rate(values: Sequence[float]) -> dict[str, Any]:
    """Percentage with its 95% bootstrap CI (``n`` = the number of values)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return {"value": None, "ci": None, "n": 0}
    lo, hi = bootstrap_ci(array)
    return {
        "value": round(100 * float(array.mean()), 2),
        "ci": [round(100 * lo, 2), round(100 * hi, 2)],
        "n": int(array.size),
    }


def greedy_asks(episodes: Sequence[EpisodeResult]) -> dict[str, dict[str, Any]]:
    """Per scenario: the share of uninformative-view MCQA turns answered with an accepted intervention."""
    turns: dict[str, list[float]] = {}
    for episode in episodes:
        if episode.mode != MCQA:
            continue
        for turn in episode.turns:
            if turn.informative is False:
                turns.setdefault(episode.scenario, []).append(turn.outcome == Outcome.INTERVENTION.value)
    return {scenario: rate(values) for scenario, values in turns.items()}


def uninformative_states(data_dir: Path, scenarios: Sequence[str], limit: int) -> dict[str, list[TurnState]]:
    """Up to ``limit`` reachable uninformative states per scenario (records in file order, states in
    breadth-first order), each with an accepted intervention to sample."""
    benchmark = load_benchmark(data_dir, scenarios)
    picked: dict[str, list[TurnState]] = {}
    for scenario, loaded in benchmark.items():
        states = [
            state
            for record in loaded.records
            for state in reachable_states(record)
            if state.informative is False and state.accepted_options
        ]
        stride = max(1, len(states) // limit)
        picked[scenario] = states[::stride][:limit]
    return picked


@torch.inference_mode()
def sample_answers(
    generator: HFGenerator, prompts: Sequence[Prompt], samples: int, temperature: float, seed: int
) -> list[list[str]]:
    """``samples`` sampled completions per prompt, decoded as the eval decodes."""
    model = generator.model
    suppress = sorted(
        {i for i in (getattr(model.config, f, None) for f in VISION_TOKEN_FIELDS) if isinstance(i, int)}
    )
    torch.manual_seed(seed)
    inputs = generator.encode(prompts)
    output = model.generate(
        **inputs,
        max_new_tokens=SAMPLE_MAX_NEW_TOKENS,
        do_sample=True,
        temperature=temperature,
        top_k=0,
        top_p=1.0,
        num_return_sequences=samples,
        suppress_tokens=suppress,
        pad_token_id=generator.pad_token_id,
    )
    texts = generator.tokenizer.batch_decode(
        output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True, clean_up_tokenization_spaces=True
    )
    return [texts[i * samples : (i + 1) * samples] for i in range(len(prompts))]


def sampled_asks(
    generator: HFGenerator,
    data_dir: Path,
    states: dict[str, list[TurnState]],
    samples: int,
    temperature: float,
    batch_size: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Per scenario: outcome shares over the sampled completions and the share of states with an ask."""
    figures = {}
    for scenario, picked in states.items():
        outcomes: list[list[str]] = []
        per_batch = max(1, batch_size // samples)
        for start in range(0, len(picked), per_batch):
            chunk = picked[start : start + per_batch]
            prompts = [conversation(None, state, data_dir, history=False) for state in chunk]  # type: ignore[arg-type]
            answers = sample_answers(generator, prompts, samples, temperature, seed + start)
            outcomes += [
                [s.judge(a).outcome.value for a in group] for s, group in zip(chunk, answers, strict=True)
            ]
        flat = [o for group in outcomes for o in group]
        asks = [o == Outcome.INTERVENTION.value for o in flat]
        figures[scenario] = {
            "ask": rate(asks),
            "states_with_an_ask": rate([Outcome.INTERVENTION.value in group for group in outcomes]),
            "outcomes": {o.value: round(100 * flat.count(o.value) / max(1, len(flat)), 2) for o in Outcome},
        }
    return figures


def grpo_step_seconds(model: str, data: Path, work: Path, steps: int, warmup: int = 2) -> dict[str, float]:
    """Median and minimum seconds per optimizer step of the quickstart's GRPO recipe from ``model``."""
    import statistics

    from transformers import TrainerCallback
    from trl import GRPOConfig

    from proactive.configs import recipe_config
    from proactive.recipe_args import parse_recipe_args
    from recipes import grpo as recipe

    argv = [
        "--config", str(recipe_config("quickstart/grpo")), "--model_name_or_path", model,
        "--benchmark_dir", str(data), "--output_dir", str(work / "grpo"), "--max_steps", str(steps + warmup),
        "--logging_steps", str(steps + warmup),
    ]  # fmt: skip
    trainer, _ = recipe.build_trainer(*parse_recipe_args(GRPOConfig, argv))
    ends: list[float] = []

    class StepClock(TrainerCallback):
        def on_train_begin(self, *_: Any, **__: Any) -> None:
            ends.append(time.perf_counter())

        def on_step_end(self, *_: Any, **__: Any) -> None:
            ends.append(time.perf_counter())

    trainer.add_callback(StepClock())
    trainer.train()
    gaps = [b - a for a, b in zip(ends, ends[1:], strict=False)][warmup:]
    return {"median_s": round(statistics.median(gaps), 3), "min_s": round(min(gaps), 3), "steps": len(gaps)}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    if args.threads:
        torch.set_num_threads(args.threads)
    build = read_build_args(Path(args.model) / BUILD_FILE)
    work = Path(args.out).with_suffix("")
    data = (
        Path(args.data)
        if args.data
        else eval_benchmark(work / "data", args.per_scenario, args.seed, build["image_size"])
    )
    scenarios = [s for s in SCENARIO_NAMES if s in load_benchmark(data)]
    config = EvalConfig(
        data=str(data), out=str(work / "eval"), model=args.model, scenarios=scenarios, reference=True,
        batch_size=args.batch_size, threads=args.threads, progress=False,
    )  # fmt: skip
    began = time.perf_counter()
    summary = evaluate(config)
    eval_seconds = time.perf_counter() - began
    episodes = read_episodes(Path(config.out))
    generator = load_hf_generator(args.model, device="cpu", dtype="float32")
    began = time.perf_counter()
    states = uninformative_states(data, scenarios, args.sample_states)
    sampled = sampled_asks(
        generator, data, states, args.samples, args.temperature, args.batch_size, args.seed
    )
    sampling_seconds = time.perf_counter() - began
    grpo = None
    if args.grpo_steps:
        grpo_data = (
            Path(args.grpo_data)
            if args.grpo_data
            else eval_benchmark(work / "grpo-data", 60, 0, build["image_size"])
        )
        grpo = grpo_step_seconds(args.model, grpo_data, work, args.grpo_steps)
    return {
        "model": str(args.model),
        "build": build,
        "data": str(data),
        "settings": {k: v for k, v in vars(args).items() if k not in ("model", "out")},
        "summary": {"scenarios": summary["scenarios"], "average": summary["average"]},
        "greedy_uninformative_asks": greedy_asks(episodes),
        "sampled_uninformative": sampled,
        "speed": {
            "eval_episodes": len(episodes),
            "eval_seconds": round(eval_seconds, 1),
            "eval_episodes_per_s": round(len(episodes) / eval_seconds, 2),
            "sampling_seconds": round(sampling_seconds, 1),
            "grpo_step": grpo,
        },
    }


def _rate_cell(figure: dict[str, Any] | None) -> str:
    if not figure or figure["value"] is None:
        return "–"
    return ci_text(figure["value"], figure["ci"], 1)


def format_table(result: dict[str, Any]) -> str:
    """One row per scenario (and the average): ref acc, acc, psr, greedy and sampled ask rates."""
    header = "| scenario | reference acc | acc | psr | greedy asks (uninf. turns) | sampled asks | states with an ask |"
    lines = [header, "|" + "---|" * 7]
    summary = result["summary"]
    for scenario, block in summary["scenarios"].items():
        sampled = result["sampled_uninformative"].get(scenario, {})
        lines.append(
            f"| {SCENARIOS[scenario].short} | {metric_cell(block, 'reference_acc')} | {metric_cell(block, 'acc')} | "
            f"{metric_cell(block, 'psr')} | {_rate_cell(result['greedy_uninformative_asks'].get(scenario))} | "
            f"{_rate_cell(sampled.get('ask'))} | {_rate_cell(sampled.get('states_with_an_ask'))} |"
        )
    average = summary["average"]
    lines.append(
        f"| average | {metric_cell(average, 'reference_acc')} | {metric_cell(average, 'acc')} | {metric_cell(average, 'psr')} | | | |"
    )
    speed = result["speed"]
    lines.append(
        f"\neval: {speed['eval_episodes']} episodes in {speed['eval_seconds']} s "
        f"({speed['eval_episodes_per_s']} episodes/s); sampling {speed['sampling_seconds']} s"
        + (
            f"; GRPO {speed['grpo_step']['median_s']} s/step (min {speed['grpo_step']['min_s']})"
            if speed["grpo_step"]
            else ""
        )
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="tiny model folder (with tiny_model.json)")
    parser.add_argument("--data", help="benchmark to measure on (default: a fresh one of --seed)")
    parser.add_argument("--seed", type=int, default=2, help="seed of the fresh benchmark (and of sampling)")
    parser.add_argument("--per-scenario", type=int, default=40)
    parser.add_argument("--samples", type=int, default=8, help="sampled completions per uninformative state")
    parser.add_argument(
        "--sample-states", type=int, default=48, help="uninformative states sampled per scenario"
    )
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--grpo-steps", type=int, default=0, help="time this many GRPO steps (0: none)")
    parser.add_argument("--grpo-data", help="GRPO training benchmark (default: 60 per scenario, seed 0)")
    parser.add_argument("--out", required=True, help="JSON file to write (its stem names a work folder)")
    parser.add_argument(
        "--ship",
        action="store_true",
        help="then copy the model into proactive/tiny/base/ with these figures in its manifest.json",
    )
    args = parser.parse_args(argv)
    result = measure(args)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(format_table(result))
    if args.ship:
        figures = {key: result[key] for key in ("settings", "summary", "greedy_uninformative_asks", "speed")}
        figures["sampled_uninformative"] = {
            scenario: {key: block[key] for key in ("ask", "states_with_an_ask")}
            for scenario, block in result["sampled_uninformative"].items()
        }
        print(f"shipped: {ship(Path(args.model), figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
