"""Replays the same answer scripts through OUR environment, in the driver's output format."""

from __future__ import annotations

import random
from typing import Any

from data.environment import make_episode
from data.records import parse_record


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    record = parse_record(case["scenario"], case["record"], "case")
    seed = case["random_seed"]
    episode = make_episode(
        record,
        hint=case["hint"],
        reference=case["reference"],
        rng=random.Random(seed) if seed is not None else None,
    )
    answers = case["answers"]
    while not episode.done:
        answer = answers[episode.num_turns % len(answers)]
        episode.step(answer)
    turns = [
        {
            "image": t.state.image,
            "crop": list(t.state.crop) if t.state.crop else None,
            "question": t.state.question,
            "choices": list(t.state.choices),
            "answer": t.answer,
        }
        for t in episode.turns
    ]
    return {
        "turns": turns,
        "num_turns": episode.num_turns,
        "success": episode.success,
        "actions": [int(t.action) for t in episode.turns],
        "max_steps": episode.num_turns == episode.max_steps,
    }
