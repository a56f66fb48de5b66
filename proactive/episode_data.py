"""GRPO rows for the episode rollouts: where each rollout starts and what the model sees there.

- ``episode`` (MCQA): one row per reachable state of every training episode (as the single-turn rows), with
  the answers that reached it (``path``) so the environment can replay it; the prompt is the official
  MCQA turn, preceded by the earlier turns and their images when ``history`` is on.
- ``tools``: one row per episode, at its start: the tools protocol's first turn (data/tools.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datasets import Dataset, Features, Image, List, Value

from data.builders import GRPO_FEATURES
from data.environment import make_episode, reachable_episodes
from data.images import open_view
from data.records import Record
from data.tools import first_message
from eval.rollout import conversation

_KEYS = {"scenario": Value("string"), "record_id": Value("int64"), "step": Value("int32")}
EPISODE_FEATURES = Features(
    {
        "prompt": GRPO_FEATURES["prompt"],
        "images": List(Image()),
        "path": List(Value("string")),
        **_KEYS,
    }
)


def build_episode_dataset(records: Iterable[Record], data_dir: str | Path, history: bool = False) -> Dataset:
    """One row per reachable state (``rollout: episode``)."""
    rows: list[dict[str, Any]] = []
    for record in records:
        for episode in reachable_episodes(record):
            state = episode.state()
            prompt = conversation(episode, state, data_dir, history)
            rows.append(
                {
                    "prompt": prompt.messages,
                    "images": prompt.images,
                    "path": [turn.answer for turn in episode.turns],
                    "scenario": state.scenario,
                    "record_id": state.record_id,
                    "step": state.step,
                }
            )
    return Dataset.from_list(rows, features=EPISODE_FEATURES)


def build_tool_dataset(records: Iterable[Record], data_dir: str | Path) -> Dataset:
    """One row per episode, at its start (``rollout: tools``)."""
    rows: list[dict[str, Any]] = []
    for record in records:
        state = make_episode(record).state()
        rows.append(
            {
                "prompt": [first_message(state)],
                "images": [open_view(data_dir, state.image, state.crop, state.short_edge)],
                "path": [],
                "scenario": state.scenario,
                "record_id": state.record_id,
                "step": 0,
            }
        )
    return Dataset.from_list(rows, features=EPISODE_FEATURES)
