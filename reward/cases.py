"""What a completion did, in reward terms: the parser's outcome refined by the view and the step."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from data.parsing import Judgement, Outcome, judge_answer
from reward.rows import RowFields, row_fields


class Case(str, Enum):
    """Every situation the reward tells apart (the names double as weight names)."""

    CORRECT = "correct"
    USEFUL_INTERVENTION = "useful_intervention"
    OVER_ASKING = "over_asking"
    WRONG_CATEGORY = "wrong_category"
    PREMATURE_ANSWER = "premature_answer"
    ABSTAIN = "abstain"
    INVALID_OPTION = "invalid_option"
    UNPARSEABLE = "unparseable"


CASE_DESCRIPTIONS: dict[Case, str] = {
    Case.CORRECT: "the correct category (episode succeeds)",
    Case.USEFUL_INTERVENTION: "an intervention accepted now, on a view not known to be informative",
    Case.OVER_ASKING: "an intervention accepted now, on a view known to be informative",
    Case.WRONG_CATEGORY: "another category (a wrong guess)",
    Case.PREMATURE_ANSWER: "any category where none is accepted yet (ROD's first step)",
    Case.ABSTAIN: 'an abstain option ("I cannot tell.")',
    Case.INVALID_OPTION: "an offered option not accepted now (e.g. the wrong IN-C fix)",
    Case.UNPARSEABLE: 'text naming no offered choice ("A or B", chatter, empty)',
}

INTERVENTION_CASES = frozenset({Case.USEFUL_INTERVENTION, Case.OVER_ASKING})


def _content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a multimodal content list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = [
            part if isinstance(part, str) else part.get("text")
            for part in content
            if isinstance(part, (str, dict))
        ]
        return "".join(part for part in parts if isinstance(part, str))
    return str(content)


def completion_text(completion: Any) -> str:
    """The answer text of a plain or conversational completion (the last assistant message)."""
    if isinstance(completion, str):
        return completion
    if completion is None:
        return ""
    if isinstance(completion, dict):
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        messages = [m for m in completion if isinstance(m, dict)]
        answers = [m for m in messages if m.get("role") == "assistant"] or messages
        return _content_text(answers[-1].get("content")) if answers else ""
    return str(completion)


def classify_text(text: str, fields: RowFields) -> Case:
    """The case of answer ``text`` at the turn described by ``fields`` (parsed by ``data.parsing.judge_answer``)."""
    judgement = judge_answer(
        text, fields.options, fields.accepted_options, fields.categories, fields.accepted_categories
    )
    return case_of(judgement, fields.informative)


def case_of(judgement: Judgement, informative: bool | None) -> Case:
    """The case of a parsed answer, given whether its view is known to be informative."""
    outcome = judgement.outcome
    if outcome is Outcome.CORRECT:
        return Case.CORRECT
    if outcome is Outcome.INTERVENTION:
        return Case.OVER_ASKING if informative is True else Case.USEFUL_INTERVENTION
    if outcome is Outcome.WRONG_CATEGORY:
        return Case.WRONG_CATEGORY
    if outcome is Outcome.ABSTAINED:
        return Case.ABSTAIN
    if outcome is Outcome.INVALID_OPTION:
        return Case.PREMATURE_ANSWER if judgement.category is not None else Case.INVALID_OPTION
    return Case.UNPARSEABLE


def classify(completion: Any, row: Mapping[str, Any]) -> Case:
    """The case of one completion (plain or conversational) for one dataset row."""
    return classify_text(completion_text(completion), row_fields(row))
