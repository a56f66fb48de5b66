"""The dataset columns a reward reads, validated per row with errors that name the row and field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REQUIRED_COLUMNS: tuple[str, ...] = ("options", "accepted_options", "categories", "accepted_categories")
OPTIONAL_COLUMNS: tuple[str, ...] = ("informative", "step", "scenario", "record_id")
_SUBSETS = (("accepted_options", "options"), ("accepted_categories", "categories"))


class RewardInputError(ValueError):
    """A dataset row (not a completion) the reward cannot use; the message names the row and field."""


@dataclass(frozen=True)
class RowFields:
    """What one turn offered and accepted, as the parser needs it."""

    options: Sequence[str]
    accepted_options: Sequence[str]
    categories: Sequence[str]
    accepted_categories: Sequence[str]
    informative: bool | None


def describe_row(row: Mapping[str, Any], index: int | None = None) -> str:
    """A short name for a row in error messages: batch index plus scenario, record id and step when present."""
    labels = [f"{key} {row[key]!r}" for key in ("scenario", "record_id", "step") if row.get(key) is not None]
    head = "reward input row" if index is None else f"reward input row {index}"
    return head + (f" ({', '.join(labels)})" if labels else "")


def _string_list(row: Mapping[str, Any], name: str, index: int | None) -> Sequence[str]:
    value = row[name]
    if not isinstance(value, (list, tuple)):
        raise RewardInputError(
            f"{describe_row(row, index)}: field {name!r}: expected a list of strings, got {type(value).__name__} {value!r:.60}"
        )
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise RewardInputError(
                f"{describe_row(row, index)}: field '{name}[{i}]': expected a string, got {type(item).__name__} {item!r:.60}"
            )
    return value


def row_fields(row: Mapping[str, Any], index: int | None = None) -> RowFields:
    """Validate one row (a mapping with the GRPO dataset's columns) and return the fields the parser needs."""
    missing = [name for name in REQUIRED_COLUMNS if name not in row]
    if missing:
        raise RewardInputError(
            f"{describe_row(row, index)}: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED_COLUMNS)}"
        )
    lists = {name: _string_list(row, name, index) for name in REQUIRED_COLUMNS}
    for subset, full in _SUBSETS:
        extra = [item for item in lists[subset] if item not in lists[full]]
        if extra:
            raise RewardInputError(
                f"{describe_row(row, index)}: field {subset!r}: {extra[0]!r} is not one of the {full}"
            )
    informative = row.get("informative")
    if informative is not None and not isinstance(informative, bool):
        raise RewardInputError(
            f"{describe_row(row, index)}: field 'informative': expected true, false or null, got {informative!r:.60}"
        )
    return RowFields(
        lists["options"],
        lists["accepted_options"],
        lists["categories"],
        lists["accepted_categories"],
        informative,
    )


def column_rows(columns: Mapping[str, Any], size: int) -> list[dict[str, Any]]:
    """Turn TRL's column lists (one entry per completion) into one mapping per row."""
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise RewardInputError(
            f"reward input: missing column(s) {', '.join(missing)}; the GRPO dataset needs {', '.join(REQUIRED_COLUMNS)}"
        )
    present = [name for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if name in columns]
    for name in present:
        if len(columns[name]) != size:
            raise RewardInputError(
                f"reward input: column {name!r} has {len(columns[name])} entries for {size} completions"
            )
    return [{name: columns[name][i] for name in present} for i in range(size)]


def check_rows(rows: Iterable[Mapping[str, Any]]) -> int:
    """Validate every row of a dataset ahead of training; returns the number of rows checked."""
    count = 0
    for index, row in enumerate(rows):
        row_fields(row, index)
        count += 1
    return count
