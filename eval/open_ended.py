"""The single-turn open-ended protocol, as the official loop runs it (proactivebench tests/oeg.py and
open_ended_gen.py): the model answers the first view's question freely (no options); an LLM judge
marks, for each correct answer, whether the reply expresses it; the verdict says whether the reply made
a proactive suggestion (ps), named the category (cc), or either (agg).

The judge's prompt, the correct answers and the verdict parser are the official ones, byte for byte,
oddities included (each is noted where it is reproduced).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from data.environment import REJECTED_IMAGE, Episode, TurnState
from data.images import open_view
from data.prompts import user_message
from eval.backends import REJECTED, Generator, Prompt
from eval.results import OPEN, EpisodeResult, JudgeResult, TurnResult

T = TypeVar("T")
OPEN_HINT = "If you cannot answer this question, please tell me what I should do to help you."
JUDGED = "judged"
SKIPPED_AFTER_REJECTION = "skipped_after_rejected_image"
OFFICIAL_SAMPLE_SEED = 0
OFFICIAL_SAMPLE_SIZE = 100

# The official judge prompt (open_ended_gen.SYSTEM_PROMPT and USER_PROMPT), byte for byte.
JUDGE_SYSTEM_PROMPT = (
    "You are an automatic evaluation system.\n\nYou will receive:\n- A user prompt\n- A list of correct "
    "answers (JSON list of strings)\n- A system output\n\nYour task:\nFor each correct answer, determine "
    "whether the system output expresses the same idea, action, or requirement.\n\nEvaluation "
    "principles:\n\n1. Semantic equivalence is sufficient.\n   - The wording does NOT need to match "
    "exactly.\n   - Functional equivalence counts as correct.\n   - If the system output describes an "
    "action that necessarily implies the correct answer, count it as present.\n\n2. Implicit but clear "
    "implications count as correct.\n   - If the output describes the mechanism required to achieve the "
    'correct answer\u2019s goal, count it as correct.\n   - Example: "change perspective" can imply '
    '"move the camera."\n\n3. Do NOT require exact phrasing.\n\n4. Only mark 0 if:\n   - The idea is '
    "clearly absent\n   - The idea is contradicted\n   - The answer is negated\n\nProcedure:\n1. Think "
    "step by step.\n2. For each correct answer, decide if it is semantically expressed or clearly "
    "implied.\n3. Output the result on a new line in the exact format below.\n\n<comma-separated list of "
    "0s and 1s>\n\nThe last line must not contain anything else."
)
JUDGE_USER_PROMPT = (
    "### User Prompt:\n{user_prompt}\n### Correct Answers (List):\n{correct_answers}\n"
    "### System Output:\n{generated_answer}"
)

# How many of the judge's verdicts are suggestions (the rest are categories): official PREDICTION_THR.
SUGGESTION_COUNT: dict[str, int] = {
    "Realistic-Occlusion-Dataset": 2,
    "OcclusionDataSet-MM20": 3,
    "MVP-N": 2,
    "ImageNet-C": 1,
    "QuickDraw": 1,
    "ChangeIt": 2,
    "coco2014": 2,
}
# The official answer strings (environment.get_open_ended_gen_answers): fixed for the two scenarios whose
# first view cannot be answered, a fixed start followed by the category for three others.
_FIXED_ANSWERS = {
    "Realistic-Occlusion-Dataset": "Move the blocks, Move the camera.",
    "MVP-N": "Rotate the object, Move the camera.",
}
_ANSWER_STARTS = {
    "OcclusionDataSet-MM20": "Wait for the occlusion to disappear, Rewind the video, Move the camera, ",
    "QuickDraw": "Add more details to the drawing, ",
    "coco2014": "Move the camera, Move farther from the object, ",
}
_REWIND = "Rewind the video."
# The official verdict: the last run of 0/1 digits joined by commas (no word boundaries: "10" holds two).
_VERDICT_LIST = re.compile(r"[01](?:\s*,\s*[01])*")


def _without_dots(texts: Iterable[str]) -> list[str]:
    return [text.replace(".", "") for text in texts]


def valid_answers(episode: Episode) -> tuple[str, str]:
    """The official correct-answer string of the episode's first view, as (shown to the judge, counted by
    the verdict parser). The two are equal but for one official quirk: a ChangeIt episode that starts
    mid-video appends "Rewind the video." to the environment's own option list, so the parser's second
    call sees it twice and expects one verdict more than the judge was shown (such episodes score 0)."""
    state = episode.state()
    scenario = state.scenario
    categories = list(state.accepted_categories)
    if scenario in _FIXED_ANSWERS:
        text = _FIXED_ANSWERS[scenario]
        return text, text
    if scenario in _ANSWER_STARTS:
        text = _ANSWER_STARTS[scenario] + ", ".join(_without_dots(categories)) + "."
        return text, text
    options = list(state.accepted_options)
    if scenario == "ImageNet-C":
        text = ", ".join(_without_dots(options + categories)) + "."
        return text, text
    # ChangeIt: the accepted options, plus "Rewind the video." (official: "first frame never has rewind"),
    # joined by bare commas. Mid-video, the environment appends it to its own list (not a copy).
    step, here = episode.record.extras["step_size"], episode.image_id
    mid_video = here - step >= 0 and here + step < episode.record.num_images

    def joined(rewinds: int) -> str:
        return ",".join(_without_dots(options + [_REWIND] * rewinds + categories)) + "."

    return joined(1), joined(2 if mid_video else 1)


def answer_list(answers: str) -> list[str]:
    """The list the judge is shown: the answer string split on commas (category names with commas
    split too), each piece stripped and without dots."""
    return [answer.strip().replace(".", "") for answer in answers.split(",")]


def judge_messages(prompt: str, answers: str, reply: str) -> list[dict[str, str]]:
    """The official judge input: the system prompt, then the question, the answer list (its Python repr)
    and the model's reply."""
    user = JUDGE_USER_PROMPT.format(
        user_prompt=prompt, correct_answers=answer_list(answers), generated_answer=reply
    )
    return [{"content": JUDGE_SYSTEM_PROMPT, "role": "system"}, {"content": user, "role": "user"}]


def expected_verdicts(answers: str) -> int:
    """How many 0/1 entries the official parser requires: the non-blank pieces of the answer string."""
    return len([answer for answer in answers.split(",") if answer.strip() != ""])


def read_verdict(answers: str, output: str, scenario: str) -> tuple[int, int, int, bool]:
    """(suggestion, category, aggregate, parsed) from the judge's output, by the official rule: the last
    0/1 list must have as many entries as the answer string has pieces, else everything scores 0; the
    first SUGGESTION_COUNT entries are the suggestions, the rest the categories."""
    found = _VERDICT_LIST.findall(output)
    if not found:
        return 0, 0, 0, False
    verdicts = [token.strip() for token in found[-1].split(",") if token.strip() != ""]
    if len(verdicts) != expected_verdicts(answers):
        return 0, 0, 0, False
    count = SUGGESTION_COUNT[scenario]
    suggestion, category = int("1" in verdicts[:count]), int("1" in verdicts[count:])
    return suggestion, category, int(bool(suggestion or category)), True


def open_question(state: TurnState, hint: bool) -> str:
    """The question alone (pre-prompt included, no options), with only the open-ended hint if asked."""
    return f"{state.question} {OPEN_HINT}" if hint else state.question


def official_sample(records: Sequence[T]) -> list[T]:
    """The official open-ended records of one scenario: shuffled by ``random.seed(0)``, the first 100."""
    shuffled = list(records)
    random.Random(OFFICIAL_SAMPLE_SEED).shuffle(shuffled)
    return shuffled[:OFFICIAL_SAMPLE_SIZE]


def judge_reply(episode: Episode, question: str, reply: str, output: str) -> JudgeResult:
    """Score one judge output on the episode's official answers (``output`` as the judge generator
    returned it, thinking already cut; its outer newlines are stripped as the official loop does)."""
    shown, counted = valid_answers(episode)
    output = output.strip("\n")
    suggestion, category, aggregate, parsed = read_verdict(counted, output, episode.record.scenario)
    return JudgeResult(
        correct_answers=answer_list(shown),
        output=output,
        suggestion=suggestion,
        category=category,
        aggregate=aggregate,
        parsed=parsed,
        input_messages=judge_messages(question, shown, reply),
        expected_verdicts=expected_verdicts(counted),
    )


def _unjudged(episode: Episode, reason: str) -> EpisodeResult:
    record = episode.record
    return EpisodeResult(OPEN, record.scenario, record.id, False, reason, 0, 0, [])


def run_open_episodes(
    episodes: Iterable[Episode],
    generator: Generator,
    judge: Generator,
    data_dir: str | Path,
    hint: bool = False,
    batch_size: int = 32,
    on_result: Callable[[EpisodeResult], None] | None = None,
    stopped: Iterable[str] = (),
) -> list[EpisodeResult]:
    """Answer each episode's first view freely, then judge the replies; both in batches, in order.

    When the model's processor refuses a view, the official loop leaves the scenario's record loop: that
    record and every later one of its scenario score 0 (they stay in the mean). Reproduced here (the
    refused one ends as ``rejected_image``, the later ones as ``skipped_after_rejected_image``);
    ``stopped`` names the scenarios a resumed run already stopped.
    """
    pending = list(episodes)
    if any(episode.hint for episode in pending):
        raise ValueError("open mode appends its own hint to the question: give it episodes without hint")
    results: list[EpisodeResult] = []
    stopped = set(stopped)

    def emit(result: EpisodeResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    for start in range(0, len(pending), batch_size):
        live = []
        for episode in pending[start : start + batch_size]:
            if episode.record.scenario in stopped:
                emit(_unjudged(episode, SKIPPED_AFTER_REJECTION))
            else:
                live.append(episode)
        states = [episode.state() for episode in live]
        questions = [open_question(state, hint) for state in states]
        replies = generator.generate(
            [
                Prompt(
                    [user_message(q)],
                    [open_view(data_dir, s.image, s.crop, s.short_edge, owner=s.record_name)],
                )
                for q, s in zip(questions, states, strict=True)
            ]
        )
        to_judge = []
        for episode, state, question, reply in zip(live, states, questions, replies, strict=True):
            if episode.record.scenario in stopped:
                emit(_unjudged(episode, SKIPPED_AFTER_REJECTION))
            elif reply is REJECTED:
                stopped.add(episode.record.scenario)
                episode.reject_view()
                emit(_unjudged(episode, REJECTED_IMAGE))
            else:
                to_judge.append((episode, state, question, reply))
        outputs = judge.generate(
            [Prompt(judge_messages(q, valid_answers(e)[0], r)) for e, _, q, r in to_judge]
        )
        for (episode, state, question, reply), output in zip(to_judge, outputs, strict=True):
            verdict = judge_reply(episode, question, reply, output or "")
            crop = list(state.crop) if state.crop else None
            turn = TurnResult(0, state.image, crop, [], reply, JUDGED, None, None, state.informative)
            record = episode.record
            emit(
                EpisodeResult(
                    OPEN, record.scenario, record.id, bool(verdict.aggregate), JUDGED, 1, 0, [turn], verdict
                )
            )
    return results
