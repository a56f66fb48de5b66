"""Batched multi-turn rollouts: the live episodes advance together, one generate call per batch per turn.

At most ``max_live`` episodes are live at once (``batch_size`` by default); each round gathers their
current states, asks the agent in batches of ``batch_size`` (sorted by prompt length to limit padding),
steps every episode with its answer, hands the finished ones to ``on_result`` at once and refills the
pool from the queue. A killed run therefore loses at most the episodes in flight. An answer of
``REJECTED`` (the model's processor refused the view) ends its episode there without a turn, as the
official loop breaks out of it.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Protocol

from data.environment import Episode, TurnState
from data.icl import ICL_SCENARIOS, ExampleTurn, example_record, in_context_example
from data.images import open_view
from data.policies import POLICIES
from data.prompts import assistant_message, user_message
from data.records import Record
from eval.backends import REJECTED, Generator, Prompt
from eval.results import EpisodeResult, episode_result

Item = tuple[Episode, TurnState]
RecordKey = tuple[str, int]  # scenario, record id


class Agent(Protocol):
    """Answers one batch of turns (one generate call for a model); REJECTED where a view was refused."""

    def answer(self, batch: Sequence[Item]) -> list[str | None]: ...


def stable_seed(seed: int, *parts: object) -> int:
    """A seed for one episode (or turn) that does not depend on run order, so resumed runs replay it."""
    return zlib.crc32("/".join(map(str, (seed, *parts))).encode())


@dataclass
class PolicyAgent:
    """A model-free baseline (oracle, random, abstain, first-option); random draws are seeded per turn."""

    name: str
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name not in POLICIES:
            raise ValueError(f"unknown policy {self.name!r}; known: {', '.join(POLICIES)}")

    def answer(self, batch: Sequence[Item]) -> list[str]:
        return [
            POLICIES[self.name](stable_seed(self.seed, s.scenario, s.record_id, s.step))(episode, s)
            for episode, s in batch
        ]


@dataclass(frozen=True)
class Modes:
    """The official multiple-choice modes a run plays under (environment.py): the scenario's hint, the
    224-pixel resize, and in-context examples, optionally with chain of thought and reduced steps."""

    hint: bool = False
    resize: bool = False
    icl: bool = False
    cot: bool = False
    reduce_icl_steps: bool = False

    def __post_init__(self) -> None:
        if (self.cot or self.reduce_icl_steps) and not self.icl:
            raise ValueError(
                "chain of thought and reduced steps shape the in-context examples: they need icl"
            )


def in_context_examples(
    records: Iterable[Record], pool: Sequence[Record], modes: Modes, seed: int = 0
) -> dict[RecordKey, list[ExampleTurn]]:
    """The in-context example shown before each of ``records`` (ROD and MVP-N only: the official
    environment has none for the other scenarios), drawn from ``pool``; empty unless ``modes.icl``."""
    if not modes.icl:
        return {}
    return {
        (record.scenario, record.id): in_context_example(
            example_record(pool, record),
            hint=modes.hint,
            cot=modes.cot,
            resize=modes.resize,
            reduce_steps=modes.reduce_icl_steps,
            rng=random.Random(stable_seed(seed, "icl", record.scenario, record.id)),
        )
        for record in records
        if record.scenario in ICL_SCENARIOS
    }


def conversation(
    episode: Episode,
    state: TurnState,
    data_dir: str | Path,
    history: bool,
    examples: Sequence[ExampleTurn] = (),
) -> Prompt:
    """The model input of one turn: the official prompt after the view's image, preceded by the
    in-context example's turns (as user/assistant pairs with their images) and, when ``history`` is on,
    by the episode's earlier turns. Images are opened here, one turn at a time."""
    messages, images = [], []
    earlier = [(t.state, t.answer) for t in examples]
    if history:
        earlier += [(t.state, t.answer) for t in episode.turns]
    for shown, answer in earlier:
        messages += [user_message(shown.prompt), assistant_message(answer)]
        images.append(open_view(data_dir, shown.image, shown.crop, shown.short_edge, owner=shown.record_name))
    messages.append(user_message(state.prompt))
    images.append(open_view(data_dir, state.image, state.crop, state.short_edge, owner=state.record_name))
    return Prompt(messages, images)


@dataclass
class ModelAgent:
    """An image-text-to-text model answering the official MCQA prompt (after its record's in-context
    example, if ``examples`` holds one)."""

    generator: Generator
    data_dir: str | Path
    history: bool = False
    examples: Mapping[RecordKey, Sequence[ExampleTurn]] = field(default_factory=dict)

    def answer(self, batch: Sequence[Item]) -> list[str | None]:
        return self.generator.generate(
            [
                conversation(
                    e, s, self.data_dir, self.history, self.examples.get((s.scenario, s.record_id), ())
                )
                for e, s in batch
            ]
        )


@dataclass(frozen=True)
class Job:
    """One episode to play: its mode (mcqa or reference) and the fresh episode."""

    mode: str
    episode: Episode


def episode_rng(seed: int, scenario: str, record_id: int) -> random.Random:
    """The random-action control's generator for one episode."""
    return random.Random(stable_seed(seed, "random-actions", scenario, record_id))


def _prompt_size(item: Item) -> tuple[str, int, int]:
    episode, state = item
    return (state.scenario, len(episode.turns), len(state.prompt))


def run_episodes(
    jobs: Iterable[Job],
    agent: Agent,
    batch_size: int = 32,
    max_live: int | None = None,
    on_result: Callable[[EpisodeResult], None] | None = None,
) -> list[EpisodeResult]:
    """Play every job to its end and return the results in the order episodes finished."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    max_live = max_live or batch_size
    queue = iter(jobs)
    live: list[Job] = []
    finished: list[EpisodeResult] = []
    while True:
        live += list(islice(queue, max_live - len(live)))
        if not live:
            return finished
        items = sorted(((job.episode, job.episode.state()) for job in live), key=_prompt_size)
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            answers = agent.answer(chunk)
            if len(answers) != len(chunk):
                raise RuntimeError(f"agent returned {len(answers)} answers for {len(chunk)} turns")
            for (episode, _), answer in zip(chunk, answers, strict=True):
                if answer is REJECTED:
                    episode.reject_view()
                else:
                    episode.step(answer)
        for job in live:
            if job.episode.done:
                result = episode_result(job.mode, job.episode)
                finished.append(result)
                if on_result is not None:
                    on_result(result)
        live = [job for job in live if not job.episode.done]
