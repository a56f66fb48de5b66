"""Training datasets built from a benchmark folder (official or synthetic).

- :func:`build_grpo_dataset`: one single-turn row per reachable state (every step of every episode,
  informative views and uninformative ones), with the columns the reward functions read.
- :func:`build_sft_dataset`: the oracle's conversations, one row per turn or one per episode;
  :func:`to_prompt_completion` splits single-turn rows for a loss on the reply only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from datasets import Dataset, Features, Image, List, Value

from data.environment import Episode, TurnState, make_episode, reachable_states
from data.images import open_view
from data.policies import oracle, run_policy
from data.prompts import assistant_message, user_message
from data.records import Record

ANSWER_FORMATS = ("text", "letter", "letter_text")
SFT_TURNS = ("single", "multi")

_STRINGS = List(Value("string"))
_MESSAGES = List(
    {"role": Value("string"), "content": List({"type": Value("string"), "text": Value("string")})}
)

GRPO_FEATURES = Features(
    {
        "prompt": _MESSAGES,
        "image": Image(),
        "options": _STRINGS,
        "accepted_options": _STRINGS,
        "categories": _STRINGS,
        "accepted_categories": _STRINGS,
        "answer": Value("string"),
        "informative": Value("bool"),
        "step": Value("int32"),
        "scenario": Value("string"),
        "record_id": Value("int64"),
    }
)
_SFT_COMMON = {"scenario": Value("string"), "record_id": Value("int64")}
SFT_SINGLE_FEATURES = Features(
    {"messages": _MESSAGES, "image": Image(), "step": Value("int32"), **_SFT_COMMON}
)
SFT_MULTI_FEATURES = Features({"messages": _MESSAGES, "images": List(Image()), **_SFT_COMMON})
SFT_PROMPT_COMPLETION_FEATURES = Features(
    {"prompt": _MESSAGES, "completion": _MESSAGES, "image": Image(), "step": Value("int32"), **_SFT_COMMON}
)


def grpo_row(state: TurnState, answer: str, data_dir: str | Path) -> dict[str, Any]:
    """One GRPO example: the conversational prompt, the view, and what the reward needs to judge it."""
    return {
        "prompt": [user_message(state.prompt)],
        "image": open_view(data_dir, state.image, state.crop, owner=state.record_name),
        "options": list(state.options),
        "accepted_options": list(state.accepted_options),
        "categories": list(state.categories),
        "accepted_categories": list(state.accepted_categories),
        "answer": answer,
        "informative": state.informative,
        "step": state.step,
        "scenario": state.scenario,
        "record_id": state.record_id,
    }


def build_grpo_dataset(records: Iterable[Record], data_dir: str | Path, hint: bool = False) -> Dataset:
    """One row per reachable single-turn state of every record (see :func:`reachable_states`)."""
    rows = [
        grpo_row(state, record.answer, data_dir)
        for record in records
        for state in reachable_states(record, hint)
    ]
    return Dataset.from_list(rows, features=GRPO_FEATURES)


def format_target(answer: str, state: TurnState, answer_format: str = "text") -> str:
    """The assistant's reply for ``answer`` (an offered choice): its text, its letter, or "X. text"."""
    if answer_format not in ANSWER_FORMATS:
        raise ValueError(f"answer_format {answer_format!r}: expected one of {', '.join(ANSWER_FORMATS)}")
    if answer_format == "text":
        return answer
    letter = chr(65 + state.choices.index(answer))
    return letter if answer_format == "letter" else f"{letter}. {answer}"


def oracle_episode(record: Record, hint: bool = False) -> Episode:
    """``record`` played to its end by the oracle policy."""
    return run_policy(make_episode(record, hint=hint), oracle)


def _sft_single_rows(episode: Episode, data_dir: str | Path, answer_format: str) -> Iterator[dict[str, Any]]:
    for turn in episode.turns:
        state = turn.state
        yield {
            "messages": [
                user_message(state.prompt),
                assistant_message(format_target(turn.answer, state, answer_format)),
            ],
            "image": open_view(data_dir, state.image, state.crop, owner=state.record_name),
            "step": state.step,
            "scenario": state.scenario,
            "record_id": state.record_id,
        }


def _sft_multi_row(episode: Episode, data_dir: str | Path, answer_format: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    images = []
    for turn in episode.turns:
        state = turn.state
        messages += [
            user_message(state.prompt),
            assistant_message(format_target(turn.answer, state, answer_format)),
        ]
        images.append(open_view(data_dir, state.image, state.crop, owner=state.record_name))
    return {
        "messages": messages,
        "images": images,
        "scenario": episode.record.scenario,
        "record_id": episode.record.id,
    }


def build_sft_dataset(
    records: Iterable[Record],
    data_dir: str | Path,
    turns: str = "single",
    answer_format: str = "text",
    hint: bool = False,
) -> Dataset:
    """The oracle's conversations as SFT data.

    ``turns="single"``: one row per oracle turn, ``messages`` = [user (image + prompt), assistant] and
    ``image``. ``turns="multi"``: one row per episode, the whole conversation and its ``images``.
    ``answer_format``: "text" (the choice's full text, default), "letter" ("B") or "letter_text" ("B. cat").
    """
    if turns not in SFT_TURNS:
        raise ValueError(f"turns {turns!r}: expected one of {', '.join(SFT_TURNS)}")
    if answer_format not in ANSWER_FORMATS:
        raise ValueError(f"answer_format {answer_format!r}: expected one of {', '.join(ANSWER_FORMATS)}")
    episodes = [oracle_episode(record, hint) for record in records]
    if turns == "single":
        rows = [row for episode in episodes for row in _sft_single_rows(episode, data_dir, answer_format)]
        return Dataset.from_list(rows, features=SFT_SINGLE_FEATURES)
    rows = [_sft_multi_row(episode, data_dir, answer_format) for episode in episodes]
    return Dataset.from_list(rows, features=SFT_MULTI_FEATURES)


def to_prompt_completion(dataset: Dataset) -> Dataset:
    """Single-turn SFT rows as ``prompt`` (the user turn) + ``completion`` (the reply), for a loss on the reply only."""
    if "messages" not in dataset.column_names or "image" not in dataset.column_names:
        raise ValueError(
            f"expected single-turn SFT rows (messages + image), got columns {dataset.column_names}"
        )

    def split(row: dict[str, Any]) -> dict[str, Any]:
        return {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]}

    return dataset.map(split, remove_columns=["messages"], features=SFT_PROMPT_COMPLETION_FEATURES)
