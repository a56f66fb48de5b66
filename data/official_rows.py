"""One row of the paper's GRPO train split (the dataset card's columns) as one GRPO row, every assumption checked.

The card (``tdemin16/ProactiveBench``, split ``train``) declares the columns and nothing more. A row becomes the
columns of :func:`data.builders.build_grpo_dataset` under these assumptions, each checked; the first row that breaks
one raises :class:`OfficialTrainError`, one line naming the row, the column, what was expected and what was found:

- ``prompt``: system messages (if any), then one user message with one text part and at most one image
  placeholder. Its text is the whole official MCQA prompt (question, lettered choices, short-answer request)
  or the question alone, to which the lettered choices are appended as the official prompt does.
- ``options``: the lettered choices, with the proactive actions among them or without them (then the actions
  are lettered first). The last four choices are the categories; the ones before them are proactive or
  abstain options, as in every official prompt.
- ``proactive_actions``: the options that trigger an intervention now (``accepted_options``).
- ``ground_truth``: a category's text or its letter.
How each unknown is encoded is decided by the rows that tell and must agree across rows; a row that reads the
same either way does not decide. The scenario is QuickDraw or coco2014, read from the interventions' texts with
the official keyword scan (``ACTION_KEYWORDS``: "details", "drawing", "sketch", ... for QuickDraw; left, right,
up, down, "farther" for COCO) or, failing those, from the hint in the prompt; None when a row has neither.
Whether a view is informative and which step of its episode it is are not published: ``informative`` and
``step`` are None (so the reward's over-asking case never fires on these rows). ``record_id`` is the row's index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from data.prompts import MCQA_INTRO, MCQA_SHORT_ANSWER, mcqa_prompt
from data.scenarios import ACTION_KEYWORDS, COCO_ZOOM_HINT, SCENARIOS, Action, is_abstain

CATEGORIES_PER_PROMPT = 4  # every official prompt offers four candidate categories, lettered last

# The encodings of the unknowns, per column.
ENCODINGS: dict[str, tuple[str, ...]] = {
    "ground_truth": ("text", "letter"),
    "options": ("with_actions", "without_actions"),
    "prompt": ("mcqa", "question"),
}
NOT_TOLD = "not told by any row (all read the same either way)"

# The interventions of the two train scenarios (data.environment: QDEpisode and COCOEpisode action spaces).
ACTION_SCENARIO = {
    Action.DETAILS: "QuickDraw",
    Action.LEFT: "coco2014",
    Action.RIGHT: "coco2014",
    Action.UP: "coco2014",
    Action.DOWN: "coco2014",
    Action.ZOOM: "coco2014",
}
HINT_SCENARIO = {scenario.hint: name for name, scenario in SCENARIOS.items()} | {COCO_ZOOM_HINT: "coco2014"}
_LETTER = re.compile(r"([A-Z])\.?")
_CHOICE_LINE = re.compile(r"(?m)^[A-Z][.)]\s")


class OfficialTrainError(ValueError):
    """The train split breaks an assumption of the mapping; the one-line message says where and how."""


def _short(value: Any, limit: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Where:
    """The split being read (its source as the user gave it), for error messages."""

    source: str

    def fail(self, row: int | None, column: str, expected: str, found: Any) -> OfficialTrainError:
        at = f"{self.source}: row {row}" if row is not None else self.source
        return OfficialTrainError(f"{at}: column {column!r}: expected {expected}, found {_short(found)}")


@dataclass
class _Encoding:
    """One column's encoding: fixed by the first row that tells it; a later row that tells otherwise fails."""

    column: str
    value: str | None = None
    row: int | None = None

    def tell(self, where: Where, row: int, value: str, found: Any) -> None:
        if self.value is None:
            self.value, self.row = value, row
        elif value != self.value:
            raise where.fail(row, self.column, f"the {self.value} encoding of row {self.row}", found)


# --- one row ----------------------------------------------------------------------------------------
def _strings(where: Where, row: int, column: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.fail(row, column, "a list of strings", value)
    return value


def _text_part(part: Any) -> str | None:
    return part.get("text") if isinstance(part, dict) and part.get("type") == "text" else None


def _user_turn(where: Where, row: int, prompt: Any) -> tuple[list[dict[str, Any]], str, bool]:
    """The system messages (text parts only), the user message's text, and whether its image comes first."""
    if not isinstance(prompt, list) or not prompt or not all(isinstance(m, dict) for m in prompt):
        raise where.fail(row, "prompt", "a non-empty list of chat messages", prompt)
    roles = [m.get("role") for m in prompt]
    if roles[-1] != "user" or any(role != "system" for role in roles[:-1]):
        raise where.fail(row, "prompt", "system messages (if any) then one user message", roles)
    system = []
    for message in prompt[:-1]:
        texts = [_text_part(p) for p in message.get("content") or []]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise where.fail(row, "prompt", "system messages of text parts", message.get("content"))
        system.append({"role": "system", "content": [{"type": "text", "text": t} for t in texts]})
    parts = prompt[-1].get("content")
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        raise where.fail(row, "prompt", "a user message whose content is a list of parts", parts)
    kinds = [p.get("type") for p in parts]
    texts = [_text_part(p) for p in parts if p.get("type") == "text"]
    if set(kinds) - {"text", "image"} or kinds.count("image") > 1 or len(texts) != 1:
        raise where.fail(
            row, "prompt", "a user message of one text part and at most one image placeholder", kinds
        )
    if not isinstance(texts[0], str) or not texts[0].strip():
        raise where.fail(row, "prompt", "a non-empty user text", texts[0])
    image_first = "image" not in kinds or kinds.index("image") < kinds.index("text")
    return system, texts[0], image_first


def _lettered(where: Where, row: int, text: str) -> tuple[str, list[str]] | None:
    """(question, lettered choices) of a whole official MCQA prompt; None for a question alone."""
    if MCQA_INTRO not in text:
        if "Options:" in text or _CHOICE_LINE.search(text):
            raise where.fail(
                row,
                "prompt",
                f"the official MCQA layout ({MCQA_INTRO.strip()!r} then 'A. ...' lines) or a question alone",
                text,
            )
        return None
    question, _, listing = text.partition(MCQA_INTRO)
    lines = listing.removesuffix(MCQA_SHORT_ANSWER).split("\n")
    choices = [line[3:] for i, line in enumerate(lines[:-1]) if line.startswith(f"{chr(65 + i)}. ")]
    if mcqa_prompt(question, choices) != text:
        raise where.fail(
            row,
            "prompt",
            f"lines 'A. ...', 'B. ...' after {MCQA_INTRO.strip()!r} and then {MCQA_SHORT_ANSWER!r}",
            listing,
        )
    return question, choices


def _choices(
    where: Where, row: int, lettered: list[str] | None, actions: list[str], options: list[str]
) -> tuple[list[str], str | None]:
    """Everything offered, in letter order, and the options encoding the row tells (None: reads the same)."""
    if lettered is not None:
        missing = [a for a in actions if a not in lettered]
        if missing:
            raise where.fail(row, "proactive_actions", "options listed in the prompt", missing[0])
        with_actions, without = options == lettered, options == [c for c in lettered if c not in actions]
        if not (with_actions or without):
            raise where.fail(
                row,
                "options",
                "the prompt's lettered choices, with or without the proactive actions",
                options,
            )
        return lettered, None if with_actions and without else (
            "with_actions" if with_actions else "without_actions"
        )
    inside = [a for a in actions if a in options]
    if actions and len(inside) == len(actions):
        return list(options), "with_actions"
    if inside:
        raise where.fail(row, "proactive_actions", "all of them among the options or none of them", actions)
    return actions + options, "without_actions" if actions else None


def action_scenario(text: str) -> str | None:
    """QuickDraw or coco2014: the scenario of the first train-scenario keyword in ``text`` (official scan order)."""
    low = text.lower()
    return next(
        (ACTION_SCENARIO[a] for key, a in ACTION_KEYWORDS if a in ACTION_SCENARIO and key in low), None
    )


def _scenario(where: Where, row: int, interventions: list[tuple[str, str]], question: str) -> str | None:
    """The row's scenario from its interventions' texts (column, text), else from its hint."""
    scenarios = set()
    for column, text in interventions:
        scenario = action_scenario(text)
        if scenario is None:
            raise where.fail(
                row, column, "a QuickDraw or COCO intervention (an official action keyword)", text
            )
        scenarios.add(scenario)
    hints = {HINT_SCENARIO[h] for h in HINT_SCENARIO if h in question}
    if hints - set(ACTION_SCENARIO.values()) or len(hints) > 1:
        raise where.fail(row, "prompt", "no hint, or the QuickDraw or COCO hint", question)
    told = scenarios | hints
    if len(told) > 1:
        raise where.fail(row, "proactive_actions", "interventions and hint of one scenario", sorted(told))
    return next(iter(told), None)


def _readings(
    where: Where, row: int, truth: str, choices: list[str], categories: list[str]
) -> dict[str, str]:
    """The category ``ground_truth`` names, per encoding it can be read in (text and/or letter)."""
    readings = {"text": truth} if truth in categories else {}
    letter = _LETTER.fullmatch(truth.strip())
    if letter and ord(letter[1]) - 65 < len(choices):
        chosen = choices[ord(letter[1]) - 65]
        if chosen in categories:
            readings["letter"] = chosen
        elif not readings:
            raise where.fail(
                row, "ground_truth", f"the letter of a category, not of the option {chosen!r}", truth
            )
    if not readings:
        letters = "".join(chr(65 + choices.index(c)) for c in categories)
        raise where.fail(
            row, "ground_truth", f"one of the categories {categories} or its letter ({letters})", truth
        )
    return readings


@dataclass
class RowMapper:
    """Maps rows one by one, deciding the encodings as rows tell them."""

    where: Where
    encodings: dict[str, _Encoding] = field(
        default_factory=lambda: {name: _Encoding(name) for name in ENCODINGS}
    )
    undecided: dict[int, dict[str, str]] = field(default_factory=dict)  # row -> ground-truth readings
    hints: int = 0

    def row(self, index: int, raw: dict[str, Any]) -> dict[str, Any]:
        where = self.where
        truth = raw["ground_truth"]
        if not isinstance(truth, str):
            raise where.fail(index, "ground_truth", "a string", truth)
        actions = _strings(where, index, "proactive_actions", raw["proactive_actions"])
        options = _strings(where, index, "options", raw["options"])
        system, text, image_first = _user_turn(where, index, raw["prompt"])
        lettered = _lettered(where, index, text)
        self.encodings["prompt"].tell(where, index, "question" if lettered is None else "mcqa", text)
        question = text if lettered is None else lettered[0]
        choices, options_encoding = _choices(
            where, index, None if lettered is None else lettered[1], actions, options
        )
        if options_encoding is not None:
            self.encodings["options"].tell(where, index, options_encoding, options)
        offered, categories = self._split(index, choices, actions)
        interventions = [("proactive_actions", a) for a in actions]
        interventions += [("options", o) for o in offered if o not in actions and not is_abstain(o)]
        scenario = _scenario(where, index, interventions, question)
        self.hints += any(h in question for h in HINT_SCENARIO)
        readings = _readings(where, index, truth, choices, categories)
        if len(readings) == 1:
            self.encodings["ground_truth"].tell(where, index, next(iter(readings)), truth)
        elif len(set(readings.values())) > 1:
            self.undecided[index] = readings
        image = [{"type": "image", "text": None}]
        body = [{"type": "text", "text": text if lettered is not None else mcqa_prompt(text, choices)}]
        answer = next(iter(readings.values()))
        return {
            "prompt": system + [{"role": "user", "content": image + body if image_first else body + image}],
            "options": offered,
            "accepted_options": [o for o in offered if o in actions],
            "categories": categories,
            "accepted_categories": [answer],
            "answer": answer,
            "informative": None,
            "step": None,
            "scenario": scenario,
            "record_id": index,
        }

    def _split(self, row: int, choices: list[str], actions: list[str]) -> tuple[list[str], list[str]]:
        """(options, categories) of the lettered ``choices``: the last four are the categories."""
        where = self.where
        if len(set(choices)) != len(choices):
            raise where.fail(row, "options", "distinct choices", choices)
        if len(choices) < CATEGORIES_PER_PROMPT:
            raise where.fail(
                row, "options", f"at least {CATEGORIES_PER_PROMPT} choices (the categories)", choices
            )
        offered, categories = choices[:-CATEGORIES_PER_PROMPT], choices[-CATEGORIES_PER_PROMPT:]
        for category in categories:
            if category in actions or is_abstain(category):
                raise where.fail(
                    row,
                    "options",
                    f"{CATEGORIES_PER_PROMPT} categories last, after the proactive and abstain options",
                    category,
                )
        for action in actions:
            if is_abstain(action):
                raise where.fail(
                    row, "proactive_actions", "interventions (an abstain option is never accepted)", action
                )
        return offered, categories

    def finish(self, answers: list[str], accepted: list[list[str]]) -> dict[str, str]:
        """Resolve the rows whose ground truth read differently as text and as a letter; return the encodings."""
        truth = self.encodings["ground_truth"]
        for index, readings in self.undecided.items():
            if truth.value is None:
                raise self.where.fail(
                    index, "ground_truth", "a category text or a letter, told apart by some row", readings
                )
            answers[index] = readings[truth.value]
            accepted[index] = [readings[truth.value]]
        return {name: encoding.value or NOT_TOLD for name, encoding in self.encodings.items()}
