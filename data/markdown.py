"""Markdown tables: the one writer behind every report (eval summaries and comparisons, the quickstart and
study reports, the model card, the reward table).

It only lays out cells; what goes in a cell (a metric with its CI, a reward value) is formatted by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def table_cell(value: Any) -> str:
    """A cell's text: lists and tuples joined by commas, and pipes escaped so they do not split the cell."""
    text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return text.replace("|", "\\|")


def markdown_table(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], right_aligned: Iterable[int] = ()
) -> list[str]:
    """The table's lines: the header, the separator (``---:`` for the ``right_aligned`` column indexes), one
    line per row."""
    right = set(right_aligned)
    separator = "|" + "".join("---:|" if i in right else "---|" for i in range(len(header)))
    return [
        "| " + " | ".join(map(table_cell, header)) + " |",
        separator,
        *("| " + " | ".join(map(table_cell, row)) + " |" for row in rows),
    ]
