"""Usage: python perf/time_reward.py [--batches 300] [--batch-size 64] [--seed 0] [--repeats 5]

Completions scored per second, single-threaded (one core), by the GRPO reward (target >= 50,000/s), over a realistic
mix of answers (correct / wrong categories, interventions, abstentions, letters, chatter, "A or B",
empty) on real environment states of four scenarios. Reports the TRL path (all three components
called on each batch, as GRPOTrainer does) and single ``score_completion`` calls.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from statistics import median
from typing import Any

from data.environment import make_episode
from data.records import parse_record
from reward import build_reward_funcs, score_completion

CATEGORIES = ["banana", "coffee mug", "pair of scissors", "teddy bear"]
RAW_RECORDS: dict[str, dict[str, Any]] = {
    "Realistic-Occlusion-Dataset": {
        "image_template": "rod/{image}.png",
        "first_image": 7,
        "num_images": 14,
        "reference_image": 9,
        "prompt": "What object is behind the block?",
        "options": ["Move the block to the left.", "Move the block to the right.", "I cannot tell."],
    },
    "QuickDraw": {
        "image_template": "qd/{image}.png",
        "first_image": 0,
        "num_images": 4,
        "reference_image": 3,
        "prompt": "What is this drawing?",
        "options": ["Add more details to the drawing.", "I do not know."],
    },
    "ImageNet-C": {
        "image_template": "inc/{level}.png",
        "first_image": 5,
        "num_images": 5,
        "reference_image": 1,
        "prompt": "What is in the image?",
        "options": ["Deblur the image.", "Denoise the image.", "Increase the brightness.", "I cannot tell."],
        "quality_answer": "Denoise the image.",
    },
    "OcclusionDataSet-MM20": {
        "image_template": "vsod/{image}.png",
        "first_image": 3,
        "num_images": 8,
        "reference_image": 6,
        "prompt": "Who is talking?",
        "options": ["Wait for the occlusion to disappear.", "Rewind the video.", "I cannot tell."],
        "strong_occlusions": True,
    },
}


def benchmark_rows() -> list[dict[str, Any]]:
    """Every state of one episode per scenario (walking with the first accepted option), as GRPO rows."""
    rows = []
    for scenario, raw in RAW_RECORDS.items():
        record = parse_record(
            scenario, {"id": 1, "categories": CATEGORIES, "answer": CATEGORIES[0], **raw}, scenario
        )
        episode = make_episode(record)
        while not episode.done:
            state = episode.state()
            rows.append(
                {
                    "options": list(state.options),
                    "accepted_options": list(state.accepted_options),
                    "categories": list(state.categories),
                    "accepted_categories": list(state.accepted_categories),
                    "answer": record.answer,
                    "informative": state.informative,
                    "step": state.step,
                    "scenario": scenario,
                    "record_id": record.id,
                }
            )
            episode.step(state.accepted_options[0] if state.accepted_options else record.answer)
    return rows


def sample_answer(row: dict[str, Any], rng: random.Random) -> str:
    """One answer of a realistic mix: mostly clean choices (text or letter), some chatter and format errors."""
    choices = row["options"] + row["categories"]
    pick = rng.choice(choices)
    letter = chr(65 + choices.index(pick))
    kind = rng.random()
    if kind < 0.45:
        return pick
    if kind < 0.65:
        return letter
    if kind < 0.80:
        return f"{letter}. {pick}"
    if kind < 0.90:
        return f"I think the answer is {pick}, because the image shows it."
    if kind < 0.95:
        return " or ".join(rng.sample("ABCD", 2))
    return ""


def rates(run: Callable[[], None], count: int, repeats: int) -> tuple[list[float], list[float]]:
    """Items per CPU-second and per wall-second of ``run`` (which handles ``count`` items), once per repeat.

    CPU time is the single-core cost even on a busy shared machine; wall time also counts waiting.
    """
    cpu, wall = [], []
    for _ in range(repeats):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        run()
        cpu.append(count / (time.process_time() - cpu_start))
        wall.append(count / (time.perf_counter() - wall_start))
    return cpu, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    rows = benchmark_rows()
    batches = []
    for _ in range(args.batches):
        batch_rows = [rng.choice(rows) for _ in range(args.batch_size)]
        columns = {name: [row[name] for row in batch_rows] for name in batch_rows[0]}
        completions = [[{"role": "assistant", "content": sample_answer(row, rng)}] for row in batch_rows]
        batches.append((completions, columns))
    funcs = build_reward_funcs("proactive")
    singles = [
        (completions[i][0]["content"], {name: values[i] for name, values in columns.items()})
        for completions, columns in batches[:50]
        for i in range(len(completions))
    ]

    def trl_path() -> None:
        for completions, columns in batches:
            for func in funcs:
                func(completions=completions, **columns)

    def single_calls() -> None:
        for text, row in singles:
            score_completion(text, row)

    print(
        f"rows: {len(rows)} states of {len(RAW_RECORDS)} scenarios; batches: {args.batches} x {args.batch_size}"
    )
    print(f"completions/s, median (best) of {args.repeats} repeats; target >= 50,000 per CPU-second:")
    for label, run, count in (
        ("TRL path (3 components per batch)", trl_path, args.batches * args.batch_size),
        ("score_completion, one call each  ", single_calls, len(singles)),
    ):
        cpu, wall = rates(run, count, args.repeats)
        print(f"  {label}: {median(cpu):,.0f} ({max(cpu):,.0f}) per CPU-second, {median(wall):,.0f} wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
