"""Which record ids to evaluate: the official 7,557-sample filter, or one recomputed at any threshold."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from data.jsonl import decode_lines
from data.scenarios import resolve_scenario


@dataclass(frozen=True)
class IdFilter:
    """Record ids to keep, per scenario (official scenario names)."""

    name: str
    ids: dict[str, frozenset[int]]

    def keeps(self, scenario: str, record_id: int) -> bool:
        return record_id in self.ids.get(scenario, frozenset())

    def __len__(self) -> int:
        return sum(len(v) for v in self.ids.values())


@lru_cache(maxsize=1)
def official_filter() -> IdFilter:
    """The paper's filter (``data/official_filter.json``, copied from proactivebench 0.1.1's FILTER)."""
    raw = json.loads(resources.files("data").joinpath("official_filter.json").read_text(encoding="utf-8"))
    return IdFilter("official filter", {name: frozenset(ids) for name, ids in raw["ids"].items()})


def filter_from_correctness(path: str | Path, threshold: float = 0.25) -> IdFilter:
    """Recompute the filter from first-turn correctness per model.

    ``path`` is a JSONL file, one line per (scenario, id, model): ``{"scenario": "QuickDraw", "id": 3,
    "model": "Qwen2.5-VL-3B", "correct": true}``. A record is dropped when the fraction of models that
    answer it correctly at the first turn is at least ``threshold`` (the paper: 0.25, i.e. 6 of 22).
    Ids absent from the file are not kept.
    """
    votes: dict[tuple[str, int], dict[str, bool]] = defaultdict(dict)
    with open(path, encoding="utf-8") as handle:
        for where, row in decode_lines(handle, str(path)):
            for key, kind in (("scenario", str), ("id", int), ("model", str), ("correct", bool)):
                if key not in row:
                    raise ValueError(f"{where}: field {key!r}: missing")
                if not isinstance(row[key], kind) or (kind is int and isinstance(row[key], bool)):
                    raise ValueError(f"{where}: field {key!r}: expected {kind.__name__}, got {row[key]!r}")
            votes[(resolve_scenario(row["scenario"]), row["id"])][row["model"]] = row["correct"]
    kept: dict[str, set[int]] = defaultdict(set)
    for (scenario, record_id), by_model in votes.items():
        if sum(by_model.values()) / len(by_model) < threshold:
            kept[scenario].add(record_id)
    return IdFilter(
        f"filter at threshold {threshold:g} from {Path(path).name}",
        {k: frozenset(v) for k, v in kept.items()},
    )
