"""Parquet files with the official train split's schema (:data:`data.official_train.CARD_FEATURES`), made from
synthetic episodes: the tests, the timing script and the GPU check read them as the paper's train split.

One row per reachable single-turn state (as :func:`data.builders.build_grpo_dataset`), written in any of the
plausible encodings of the card's unknowns (:data:`data.official_rows.ENCODINGS`). The columns the card does
not explain (``qwen_conf``, ``llava_conf``, ``*_delta``) hold placeholders.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset

from data.environment import TurnState, reachable_states
from data.images import open_view
from data.official_rows import ENCODINGS
from data.official_train import CARD_FEATURES
from data.prompts import user_message
from data.records import Record


def _check_encoding(column: str, value: str) -> None:
    if value not in ENCODINGS[column]:
        raise ValueError(f"{column} encoding {value!r}: expected one of {', '.join(ENCODINGS[column])}")


def png_bytes(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def card_row(
    state: TurnState,
    image: bytes,
    *,
    ground_truth: str = "text",
    options: str = "with_actions",
    prompt: str = "mcqa",
) -> dict[str, Any]:
    """One train-split row for ``state`` (its view given as encoded ``image`` bytes), in the chosen encodings."""
    for column, value in (("ground_truth", ground_truth), ("options", options), ("prompt", prompt)):
        _check_encoding(column, value)
    choices = list(state.choices)
    actions = list(state.accepted_options)
    [answer] = state.accepted_categories
    return {
        "prompt": [user_message(state.prompt if prompt == "mcqa" else state.question)],
        "ground_truth": answer if ground_truth == "text" else chr(65 + choices.index(answer)),
        "proactive_actions": actions,
        "options": choices if options == "with_actions" else [c for c in choices if c not in actions],
        "images": [{"bytes": image, "path": None}],
        "qwen_conf": 0.0,
        "llava_conf": 0.0,
        "qwen_delta": [],
        "llava_delta": [],
    }


def card_rows(
    records: Iterable[Record], data_dir: str | Path, hint: bool = False, **encodings: str
) -> list[dict[str, Any]]:
    """One row per reachable state of every record (QuickDraw and coco2014 records: the split's scenarios)."""
    return [
        card_row(state, png_bytes(open_view(data_dir, state.image, state.crop)), **encodings)
        for record in records
        for state in reachable_states(record, hint)
    ]


def write_train_split(
    folder: str | Path, rows: Sequence[dict[str, Any]], rows_per_file: int = 2000
) -> list[Path]:
    """``folder/data/train-0000k-of-0000n.parquet`` (the hub's layout), ``rows_per_file`` rows each."""
    shards = max(1, -(-len(rows) // rows_per_file))
    out = Path(folder) / "data"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(shards):
        path = out / f"train-{k:05d}-of-{shards:05d}.parquet"
        part = Dataset.from_list(
            list(rows[k * rows_per_file : (k + 1) * rows_per_file]), features=CARD_FEATURES
        )
        part.to_parquet(str(path))
        paths.append(path)
    return paths
