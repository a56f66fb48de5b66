"""Reading JSON Lines with errors that name the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def decode_utf8(data: bytes, where: str, error: type[Exception] = ValueError) -> str:
    """``data`` as text; bytes that are not UTF-8 raise ``error`` naming ``where`` and the column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        newline = b"\n"
        line_start = data.rfind(newline, 0, err.start) + 1
        multiline = newline in data.rstrip(b"\r\n")
        line = f"line {data.count(newline, 0, err.start) + 1}, " if multiline else ""
        raise error(
            f"{where}: not UTF-8 text (byte 0x{data[err.start]:02x} at {line}column {err.start - line_start + 1})"
        ) from None


def decode_lines(
    lines: Iterable[str | bytes], source: str, error: type[Exception] = ValueError
) -> Iterator[tuple[str, Any]]:
    """``("source:line", object)`` for every non-blank line; an undecodable line raises ``error`` naming it.

    Lines may be text or bytes (a file opened in binary mode); bytes must be UTF-8.
    """
    for number, line in enumerate(lines, start=1):
        where = f"{source}:{number}"
        text = decode_utf8(line, where, error) if isinstance(line, bytes) else line
        if not text.strip():
            continue
        try:
            yield where, json.loads(text)
        except json.JSONDecodeError as err:
            raise error(f"{where}: invalid JSON ({err.msg} at column {err.colno})") from None
        except ValueError as err:  # e.g. an integer longer than Python's digit limit
            raise error(f"{where}: invalid JSON ({err})") from None
        except RecursionError:
            raise error(f"{where}: invalid JSON (nested too deeply)") from None
