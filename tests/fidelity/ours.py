"""Replays the same cases through OUR code, in the official driver's output format."""

from __future__ import annotations

import random
from typing import Any

from data.environment import Episode, TurnState, make_episode
from data.icl import ExampleTurn, in_context_example
from data.images import short_edge_size
from data.records import parse_record
from eval.open_ended import judge_reply, official_sample, open_question, read_verdict


def view_ops(state: TurnState, sizes: dict[str, list[int]]) -> list[list[Any]]:
    """What our pipeline does to the state's image, as the driver's probe records the official one."""
    if state.crop is not None and state.short_edge is not None:
        raise AssertionError("a view is cropped or resized, never both")
    ops: list[list[Any]] = []
    if state.crop is not None:
        ops.append(["crop", list(state.crop)])
    if state.short_edge is not None:
        width, height = sizes[state.image]
        ops.append(["resize", list(short_edge_size((width, height), state.short_edge))])
    return ops


def _turn(state: TurnState, answer: str, sizes: dict[str, list[int]]) -> dict[str, Any]:
    return {
        "image": state.image,
        "view": view_ops(state, sizes),
        "question": state.question,
        "choices": list(state.choices),
        "answer": answer,
    }


def play(case: dict[str, Any]) -> Episode:
    """The case's episode, played with its answer script (None: the processor refuses that view)."""
    record = parse_record(case["scenario"], case["record"], "case")
    seed = case["random_seed"]
    episode = make_episode(
        record,
        hint=case["hint"],
        reference=case["reference"],
        rng=random.Random(seed) if seed is not None else None,
        resize=case["resize"],
    )
    answers = case["answers"]
    while not episode.done:
        answer = answers[episode.num_turns % len(answers)]
        if answer is None:
            episode.reject_view()
        else:
            episode.step(answer)
    return episode


def example(case: dict[str, Any]) -> list[ExampleTurn]:
    """The case's in-context example."""
    return in_context_example(
        parse_record(case["scenario"], case["record"], "case"),
        hint=case["hint"],
        cot=case["cot"],
        resize=case["resize"],
        reduce_steps=case["reduce_icl_steps"],
        rng=random.Random(case["random_seed"]),
    )


def run_episode(case: dict[str, Any]) -> dict[str, Any]:
    episode = play(case)
    return {
        "turns": [_turn(t.state, t.answer, case["sizes"]) for t in episode.turns],
        "num_turns": episode.num_turns,
        "success": episode.success,
        "actions": [int(t.action) for t in episode.turns],
        "max_steps": episode.num_turns == episode.max_steps,
    }


def run_icl(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [_turn(t.state, t.answer, case["sizes"]) for t in example(case)]


def run_open(case: dict[str, Any]) -> dict[str, Any]:
    record = parse_record(case["scenario"], case["record"], "case")
    episode = make_episode(record)
    state = episode.state()
    question = open_question(state, case["hint"])
    verdict = judge_reply(episode, question, case["reply"], case["judge_output"])
    return {
        "image": state.image,
        "view": view_ops(state, case["sizes"]),
        "prompt": question,
        "messages": verdict.input_messages,
        "result": {
            "proactive_suggestion": verdict.suggestion,
            "category_prediction": verdict.category,
            "aggregate": verdict.aggregate,
        },
    }


def run_verdicts(case: dict[str, Any]) -> list[dict[str, int]]:
    results = []
    for output in case["outputs"]:
        suggestion, category, aggregate, _ = read_verdict(case["valid_answers"], output, case["scenario"])
        results.append(
            {"proactive_suggestion": suggestion, "category_prediction": category, "aggregate": aggregate}
        )
    return results


RUNNERS = {
    "episode": run_episode,
    "icl": run_icl,
    "open": run_open,
    "verdicts": run_verdicts,
    "sample": lambda case: official_sample(case["items"]),
}


def run_case(case: dict[str, Any]) -> Any:
    return RUNNERS[case["kind"]](case)
