"""What YAML configs (recipes, studies) share: the line of each key, and whether a value has a field's type.

A YAML value reaches a dataclass field as written (argparse converts only strings), so a list where a number
is expected, or a string where a list is, must be caught by comparing it with the field's type hint.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml


def key_lines(path: str | os.PathLike[str]) -> dict[str, int]:
    """The line (from 1) of every key of a YAML file, nested keys dotted (``eval.limit``); empty when the
    file cannot be read or is no YAML."""
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    lines: dict[str, int] = {}

    def walk(node: yaml.Node | None, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[f"{prefix}{key.value}"] = key.start_mark.line + 1
                walk(value, f"{prefix}{key.value}.")

    walk(root, "")
    return lines


def fits(value: Any, hint: Any) -> bool:
    """Whether a YAML value has the declared type (``int`` is not ``bool``; ``float`` takes ints; an enum
    takes its values; a class YAML cannot spell, such as a config object, is left to its library)."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return True
    if origin in (Union, UnionType):
        return any(fits(value, arg) for arg in args)
    if origin is Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(fits(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            fits(k, args[0]) and fits(v, args[1]) for k, v in value.items()
        )
    if hint is type(None):
        return value is None
    if hint in (int, float):
        return isinstance(value, (int, float) if hint is float else int) and not isinstance(value, bool)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return value in {member.value for member in hint} or isinstance(value, hint)
    if hint in (bool, str, list, dict):
        return isinstance(value, hint)
    return True


def hint_text(hint: Any) -> str:
    """A type hint as one would write it (``int | None``, ``list[str]``)."""
    if get_origin(hint) in (Union, UnionType):
        return " | ".join(hint_text(arm) for arm in get_args(hint))
    if get_args(hint) and get_origin(hint) is not Literal:
        return f"{get_origin(hint).__name__}[{', '.join(hint_text(arg) for arg in get_args(hint))}]"
    if get_origin(hint) is Literal:
        return " | ".join(repr(arg) for arg in get_args(hint))
    return "None" if hint is type(None) else getattr(hint, "__name__", str(hint))
