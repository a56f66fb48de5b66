"""The official MCQA prompt text and the chat messages built from it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MCQA_INTRO = " Choose from the following options. Options:\n"
MCQA_SHORT_ANSWER = "Please only return one of the options without any other words."


def mcqa_prompt(question: str, choices: Sequence[str]) -> str:
    """``question`` followed by the lettered choices (A., B., ...) and the short-answer request."""
    lines = "".join(f"{chr(65 + i)}. {choice}\n" for i, choice in enumerate(choices))
    return question + MCQA_INTRO + lines + MCQA_SHORT_ANSWER


def user_message(text: str, with_image: bool = True) -> dict[str, Any]:
    """A user turn with one image placeholder before the text (the official conversation layout)."""
    content: list[dict[str, Any]] = [{"type": "image"}] if with_image else []
    content.append({"type": "text", "text": text})
    return {"role": "user", "content": content}


def assistant_message(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}
