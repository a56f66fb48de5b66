"""Environments for TRL's ``environment_factory``: one ProactiveBench episode per rollout.

TRL builds a pool of instances with the factory and calls ``reset(**row)`` with the dataset row's columns
before each rollout; an instance's public methods other than ``reset`` and ``get_reward`` become the
model's tools, and ``get_reward`` scores the finished rollout (reward/episode.py).

- :class:`EpisodeEnvironment` (``rollout: episode``): an MCQA episode at the row's state, played to its
  end by the episode rollout (proactive/episode_rollout.py). No tools.
- :class:`ToolEnvironment` (``rollout: tools``): the tools protocol (data/tools.py); ``intervene`` is the
  tool, and the final text answer reaches the episode through :func:`finish_episodes`, because TRL calls
  ``get_reward`` without the completion.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data import tools
from data.environment import Episode, make_episode
from data.records import Record
from eval.metrics import END_REASONS
from reward.cases import completion_text
from reward.episode import episode_reward, interventions
from reward.weights import RewardWeights


@dataclass
class EpisodeSource:
    """The records a run trains on, where their images are, and the reward weights."""

    records: dict[tuple[str, int], Record]
    data_dir: Path
    weights: RewardWeights

    @classmethod
    def of(cls, records: Iterable[Record], data_dir: str | Path, weights: RewardWeights) -> EpisodeSource:
        return cls({(r.scenario, r.id): r for r in records}, Path(data_dir), weights)

    def replay(self, scenario: str, record_id: int, path: Sequence[str] = ()) -> Episode:
        """A fresh episode of the record with the answers of ``path`` already played."""
        episode = make_episode(self.records[(scenario, int(record_id))])
        for answer in path:
            episode.step(answer)
        return episode


class EpisodeEnvironment:
    """An MCQA episode from the row's state (``path``: the answers that reached it) to its end."""

    def __init__(self, source: EpisodeSource) -> None:
        self.source = source
        self.episode: Episode | None = None
        self.start = 0  # turns played before the rollout (the row's path)

    def reset(self, scenario: str, record_id: int, path: Sequence[str] = (), **_: Any) -> None:
        self.episode = self.source.replay(scenario, record_id, path)
        self.start = len(path)

    @property
    def rollout_turns(self) -> list:
        """The turns this rollout played (after the row's path)."""
        return self.episode.turns[self.start :] if self.episode is not None else []

    def get_reward(self) -> float:
        return episode_reward(self.rollout_turns, self.source.weights)


class ToolEnvironment(EpisodeEnvironment):
    """A whole episode under the tools protocol: the model calls ``intervene`` and answers in text."""

    def reset(self, scenario: str, record_id: int, path: Sequence[str] = (), **_: Any) -> None:
        super().reset(scenario, record_id, path)
        self.play = tools.ToolEpisode(self.episode, self.source.data_dir)

    def intervene(self, request: str) -> list:
        return self.play.intervene(request)

    intervene.__doc__ = tools.intervene.__doc__


def closing_text(completion: Any) -> str:
    """The final answer of a tools rollout: the text of its last assistant turn, "" if that turn calls a tool."""
    messages = completion if isinstance(completion, list) else [completion]
    assistants = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    if not assistants or assistants[-1].get("tool_calls"):
        return ""
    return completion_text(assistants[-1])


def finish_episodes(
    completions: list[Any],
    environments: list[EpisodeEnvironment] | None = None,
    log_metric: Callable[[str, float], None] | None = None,
    **_: Any,
) -> list[None]:
    """Hand each tools rollout's final text to its episode, then log the batch's episode outcomes.

    Listed before the environments' ``get_reward`` (TRL runs reward functions in order and appends the
    environment's last), it scores nothing itself: ``None`` for every rollout.
    """
    environments = environments or []
    for environment, completion in zip(environments, completions, strict=False):
        if isinstance(environment, ToolEnvironment):
            environment.play.answer(closing_text(completion))
    episodes = [e.episode for e in environments if e.episode is not None]
    if log_metric is not None and episodes:
        log_metric("episodes/acc", sum(e.success for e in episodes) / len(episodes))
        played = [e.rollout_turns for e in environments if e.episode is not None]
        log_metric("episodes/interventions", sum(interventions(t) for t in played) / len(played))
        ends = Counter(e.end_reason for e in episodes)
        for reason in END_REASONS:
            log_metric(f"episodes/end/{reason}", ends[reason] / len(episodes))
    return [None] * len(completions)
