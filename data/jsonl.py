"""Reading JSON Lines with errors that name the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def decode_lines(
    lines: Iterable[str], source: str, error: type[Exception] = ValueError
) -> Iterator[tuple[str, Any]]:
    """``("source:line", object)`` for every non-blank line; an undecodable line raises ``error`` naming it."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as err:
            raise error(f"{where}: invalid JSON ({err.msg} at column {err.colno})") from None
