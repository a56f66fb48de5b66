"""The one answer parser, shared by the environment, the evaluation and the reward.

It follows the official rules: an answer is first compared as full text (a leading "X." prefix cut,
lower-cased, all spaces removed), then as a single letter (text before the first ".", stripped).
Options and categories are lettered in one list, categories after the options offered now.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from data.scenarios import is_abstain

_LETTER_PREFIX = re.compile(r"^.*[A-Z]\.\s*")


def normalize_text(text: str) -> str:
    """Full-text form: cut everything up to the last "<capital>." of the first line, lower, drop spaces."""
    return _LETTER_PREFIX.sub("", text).lower().strip().replace(" ", "")


# Offered choices repeat across turns and batches: normalize each distinct text once.
_normalized_choice = lru_cache(maxsize=16384)(normalize_text)


def normalize_letter(text: str) -> str:
    """Letter form: the lower-cased text before the first "."; "#" when longer than one character."""
    head = text.split(".")[0].lower().strip()
    return "#" if len(head) > 1 else head


class Verdict(str, Enum):
    CORRECT = "correct"
    WRONG = "wrong"
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class Match:
    """How an answer relates to one list of choices."""

    verdict: Verdict
    index: int | None  # position of the chosen item in the list; None on a mismatch


def match_choices(
    answer: str, choices: Sequence[str], correct: Sequence[str], letter_offset: int = 0
) -> Match:
    """Compare ``answer`` with ``choices`` (lettered from ``letter_offset``); ``correct`` is a subset."""
    full = normalize_text(answer)
    normalized = [_normalized_choice(c) for c in choices]
    if full in normalized:
        verdict = Verdict.CORRECT if full in {_normalized_choice(c) for c in correct} else Verdict.WRONG
        return Match(verdict, normalized.index(full))
    letter = normalize_letter(answer)
    letters = [chr(97 + i + letter_offset) for i in range(len(choices))]
    if letter in letters:
        index = letters.index(letter)
        correct_indexes = {list(choices).index(c) for c in correct}
        return Match(Verdict.CORRECT if index in correct_indexes else Verdict.WRONG, index)
    return Match(Verdict.MISMATCH, None)


class Outcome(str, Enum):
    """What one answer does to an episode."""

    CORRECT = "correct"  # the correct category: success, the episode ends
    INTERVENTION = "intervention"  # an accepted proactive option: the action is applied
    WRONG_CATEGORY = "wrong_category"  # another category: failure
    ABSTAINED = "abstained"  # an abstain option ("I cannot tell."): failure
    INVALID_OPTION = "invalid_option"  # an offered choice not accepted now: failure
    UNPARSEABLE = "unparseable"  # neither an offered text nor a letter: failure


@dataclass(frozen=True)
class Judgement:
    """The parse of one answer against one turn's offered choices."""

    outcome: Outcome
    option: str | None = None  # the option chosen, when the answer named an option
    category: str | None = None  # the category chosen, when the answer named a category


def judge_answer(
    answer: str,
    options: Sequence[str],
    accepted_options: Sequence[str],
    categories: Sequence[str],
    accepted_categories: Sequence[str],
) -> Judgement:
    """Judge ``answer`` against the options offered now and the categories (lettered after the options).

    ``accepted_options`` are the options that trigger an intervention now; ``accepted_categories`` holds
    the correct category, or nothing where a category may not be answered yet (ROD's first step).
    A correct category wins over an accepted option, as in the official environment.
    """
    action = match_choices(answer, options, accepted_options, 0)
    category = match_choices(answer, categories, accepted_categories, len(options))
    chosen_option = options[action.index] if action.index is not None else None
    chosen_category = categories[category.index] if category.index is not None else None
    if category.verdict is Verdict.CORRECT:
        return Judgement(Outcome.CORRECT, chosen_option, chosen_category)
    if action.verdict is Verdict.CORRECT:
        return Judgement(Outcome.INTERVENTION, chosen_option, chosen_category)
    if category.verdict is Verdict.WRONG:
        reason = Outcome.WRONG_CATEGORY if accepted_categories else Outcome.INVALID_OPTION
        return Judgement(reason, chosen_option, chosen_category)
    if action.verdict is Verdict.WRONG:
        reason = Outcome.ABSTAINED if is_abstain(chosen_option or "") else Outcome.INVALID_OPTION
        return Judgement(reason, chosen_option, chosen_category)
    return Judgement(Outcome.UNPARSEABLE)
