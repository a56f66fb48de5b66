"""Batched multi-turn rollouts: the live episodes advance together, one generate call per batch per turn.

At most ``max_live`` episodes are live at once (``batch_size`` by default); each round gathers their
current states, asks the agent in batches of ``batch_size`` (sorted by prompt length to limit padding),
steps every episode with its answer, hands the finished ones to ``on_result`` at once and refills the
pool from the queue. A killed run therefore loses at most the episodes in flight.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Protocol

from data.environment import Episode, TurnState
from data.images import open_view
from data.policies import POLICIES
from data.prompts import assistant_message, user_message
from eval.backends import Generator, Prompt
from eval.results import EpisodeResult, episode_result

Item = tuple[Episode, TurnState]


class Agent(Protocol):
    """Answers one batch of turns (one generate call for a model)."""

    def answer(self, batch: Sequence[Item]) -> list[str]: ...


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


def conversation(episode: Episode, state: TurnState, data_dir: str | Path, history: bool) -> Prompt:
    """The model input of one turn: the official prompt after the view's image, plus earlier turns with
    their images when ``history`` is on. Images are opened here, one turn at a time."""
    messages, images = [], []
    if history:
        for turn in episode.turns:
            messages += [user_message(turn.state.prompt), assistant_message(turn.answer)]
            images.append(
                open_view(data_dir, turn.state.image, turn.state.crop, owner=turn.state.record_name)
            )
    messages.append(user_message(state.prompt))
    images.append(open_view(data_dir, state.image, state.crop, owner=state.record_name))
    return Prompt(messages, images)


@dataclass
class ModelAgent:
    """An image-text-to-text model answering the official MCQA prompt."""

    generator: Generator
    data_dir: str | Path
    history: bool = False

    def answer(self, batch: Sequence[Item]) -> list[str]:
        return self.generator.generate([conversation(e, s, self.data_dir, self.history) for e, s in batch])


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
                episode.step(answer)
        for job in live:
            if job.episode.done:
                result = episode_result(job.mode, job.episode)
                finished.append(result)
                if on_result is not None:
                    on_result(result)
        live = [job for job in live if not job.episode.done]
