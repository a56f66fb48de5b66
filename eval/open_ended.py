"""The single-turn open-ended protocol: the model answers the question freely (no options) and an LLM
judge decides whether the reply suggests a valid intervention (ps) and/or names the correct category
(cc); agg is either. The judge's last line is a comma-separated list of 0/1 verdicts, one per correct
answer, suggestions first (their number per scenario is fixed by the official protocol).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from data.environment import Episode, TurnState
from data.images import open_view
from data.prompts import user_message
from eval.backends import Generator, Prompt
from eval.results import OPEN, EpisodeResult, JudgeResult, TurnResult

# How many of the judge's verdicts are suggestions (the rest are categories), per scenario.
SUGGESTION_COUNT: dict[str, int] = {
    "Realistic-Occlusion-Dataset": 2,
    "OcclusionDataSet-MM20": 3,
    "MVP-N": 2,
    "ImageNet-C": 1,
    "QuickDraw": 1,
    "ChangeIt": 2,
    "coco2014": 2,
}
_FIXED_SUGGESTIONS: dict[str, list[str]] = {
    "Realistic-Occlusion-Dataset": ["Move the blocks", "Move the camera"],
    "OcclusionDataSet-MM20": ["Wait for the occlusion to disappear", "Rewind the video", "Move the camera"],
    "MVP-N": ["Rotate the object", "Move the camera"],
    "QuickDraw": ["Add more details to the drawing"],
    "coco2014": ["Move the camera", "Move farther from the object"],
}
# Scenarios whose first view cannot be answered, so naming a category earns no credit (official).
_NO_CATEGORY = frozenset({"Realistic-Occlusion-Dataset", "MVP-N"})
OPEN_HINT = "If you cannot answer this question, please tell me what I should do to help you."
JUDGED = "judged"

JUDGE_SYSTEM_PROMPT = (
    "You grade a model's free-form reply automatically.\n"
    "You receive the question the model was asked about an image, a numbered list of reference answers, "
    "and the model's reply.\n"
    "For every reference answer, in order, decide whether the reply expresses it: the same idea in other "
    "words counts, and so does an action that clearly implies the reference action (for example "
    '"change the point of view" implies "move the camera"). A reference answer that is absent, '
    "contradicted or negated in the reply does not count.\n"
    "You may reason first. End with one line that holds only the verdicts in the order of the list, "
    "1 for present and 0 for absent, separated by commas (for example: 1,0,0). Write nothing after it."
)


def correct_answers(episode: Episode, state: TurnState) -> tuple[list[str], list[str]]:
    """The valid suggestions and the creditable categories of an episode's first view."""
    scenario = state.scenario
    if scenario == "ImageNet-C":
        suggestions = [episode.record.extras["quality_answer"]]
    elif scenario == "ChangeIt":
        wait = next(o for o in episode.record.options if "Wait for the" in o)
        suggestions = [wait, "Rewind the video."]
    else:
        suggestions = list(_FIXED_SUGGESTIONS[scenario])
    if len(suggestions) != SUGGESTION_COUNT[scenario]:
        raise ValueError(
            f"{episode.record.source}: expected {SUGGESTION_COUNT[scenario]} suggestions, got {suggestions}"
        )
    categories = [] if scenario in _NO_CATEGORY else list(state.accepted_categories)
    return [s.rstrip(".") for s in suggestions], [c.rstrip(".") for c in categories]


def judge_messages(question: str, answers: Sequence[str], reply: str) -> list[dict[str, str]]:
    listed = "\n".join(f"{i}. {answer}" for i, answer in enumerate(answers, start=1))
    user = f"Question:\n{question}\n\nReference answers:\n{listed}\n\nModel reply:\n{reply}"
    return [{"role": "system", "content": JUDGE_SYSTEM_PROMPT}, {"role": "user", "content": user}]


_VERDICT_LIST = re.compile(r"(?<![\w.])[01](?:[ \t]*,[ \t]*[01])*(?!\w|\.\d)")


def strip_thinking(text: str) -> str:
    """The judge's visible answer: what follows the last ``</think>``; nothing if thinking never ended."""
    if "</think>" in text:
        return text.rsplit("</think>", 1)[1]
    return "" if "<think>" in text else text


def parse_verdicts(text: str, expected: int) -> list[int] | None:
    """The last comma-separated 0/1 list in ``text``; None when there is none or its length is wrong."""
    found = _VERDICT_LIST.findall(strip_thinking(text))
    if not found:
        return None
    verdicts = [int(token) for token in re.split(r"\s*,\s*", found[-1].strip())]
    return verdicts if len(verdicts) == expected else None


def read_judgement(output: str, suggestions: Sequence[str], categories: Sequence[str]) -> JudgeResult:
    """Score one judge output; malformed text scores 0 on everything (``parsed`` False)."""
    answers = [*suggestions, *categories]
    verdicts = parse_verdicts(output, len(answers))
    parsed = verdicts is not None
    verdicts = verdicts or [0] * len(answers)
    suggestion = int(any(verdicts[: len(suggestions)]))
    category = int(any(verdicts[len(suggestions) :]))
    return JudgeResult(answers, output, suggestion, category, int(bool(suggestion or category)), parsed)


def open_question(state: TurnState, hint: bool) -> str:
    """The question alone (pre-prompt included, no options), with the open-ended hint if asked."""
    return f"{state.question} {OPEN_HINT}" if hint else state.question


def run_open_episodes(
    episodes: Iterable[Episode],
    generator: Generator,
    judge: Generator,
    data_dir: str | Path,
    hint: bool = False,
    batch_size: int = 32,
    on_result: Callable[[EpisodeResult], None] | None = None,
) -> list[EpisodeResult]:
    """Answer each episode's first view freely, then judge the replies; both in batches."""
    pending = list(episodes)
    results: list[EpisodeResult] = []
    for start in range(0, len(pending), batch_size):
        chunk = pending[start : start + batch_size]
        states = [episode.state() for episode in chunk]
        questions = [open_question(state, hint) for state in states]
        answers = [correct_answers(e, s) for e, s in zip(chunk, states, strict=True)]
        replies = generator.generate(
            [
                Prompt([user_message(q)], [open_view(data_dir, s.image, s.crop, owner=s.record_name)])
                for q, s in zip(questions, states, strict=True)
            ]
        )
        outputs = judge.generate(
            [
                Prompt(judge_messages(q, [*sug, *cat], r))
                for q, (sug, cat), r in zip(questions, answers, replies, strict=True)
            ]
        )
        for state, reply, (sug, cat), output in zip(states, replies, answers, outputs, strict=True):
            verdict = read_judgement(output, sug, cat)
            crop = list(state.crop) if state.crop else None
            turn = TurnResult(0, state.image, crop, [], reply, JUDGED, None, None, state.informative)
            result = EpisodeResult(
                OPEN, state.scenario, state.record_id, bool(verdict.aggregate), JUDGED, 1, 0, [turn], verdict
            )
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results
