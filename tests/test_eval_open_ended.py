"""The open-ended judge: its output parser on fixed (often malformed) texts, the per-scenario split of
the verdicts into suggestions and categories, and the judge prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.environment import make_episode
from data.records import load_benchmark
from eval.open_ended import (
    SUGGESTION_COUNT,
    correct_answers,
    judge_messages,
    open_question,
    parse_verdicts,
    read_judgement,
    strip_thinking,
)

SUG = ["Wait for the occlusion to disappear", "Rewind the video", "Move the camera"]
CAT = ["a dog"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,0,0,1", [1, 0, 0, 1]),
        ("0, 1 ,0 , 0\n", [0, 1, 0, 0]),
        ("Reasoning: the reply asks to wait.\n1,0,0,0", [1, 0, 0, 0]),
        ("<think>maybe 1,1,1,1</think>\n0,0,0,1", [0, 0, 0, 1]),  # thinking is ignored
        ("first guess 1,1,1,1 then I changed my mind:\n0,1,0,0.", [0, 1, 0, 0]),  # the last list wins
        ("Final answer: **1,0,1,0**", [1, 0, 1, 0]),
        ("1,0,0", None),  # wrong count
        ("1,0,0,1,1", None),  # wrong count
        ("yes, no, no, yes", None),
        ("", None),
        ("<think>1,0,0,1 and I never finish thinking", None),
        ("scores: 10, 2021, 0.5", None),  # no 0/1 token inside bigger numbers
        ("1,0,0,1\nAll four verdicts, 3 of them 0.5 sure", [1, 0, 0, 1]),
    ],
)
def test_parse_verdicts(text: str, expected: list[int] | None) -> None:
    assert parse_verdicts(text, 4) == expected


def test_strip_thinking() -> None:
    assert strip_thinking("<think>a</think>b<think>c</think>d") == "d"
    assert strip_thinking("plain") == "plain"
    assert strip_thinking("<think>unfinished") == ""


def test_split_into_suggestions_and_categories() -> None:
    assert SUGGESTION_COUNT == {
        "Realistic-Occlusion-Dataset": 2,
        "OcclusionDataSet-MM20": 3,
        "MVP-N": 2,
        "ImageNet-C": 1,
        "QuickDraw": 1,
        "ChangeIt": 2,
        "coco2014": 2,
    }
    only_category = read_judgement("0,0,0,1", SUG, CAT)
    assert (
        only_category.suggestion,
        only_category.category,
        only_category.aggregate,
        only_category.parsed,
    ) == (0, 1, 1, True)
    only_suggestion = read_judgement("thinking...\n0,0,1,0", SUG, CAT)
    assert (only_suggestion.suggestion, only_suggestion.category, only_suggestion.aggregate) == (1, 0, 1)
    nothing = read_judgement("0,0,0,0", SUG, CAT)
    assert (nothing.suggestion, nothing.category, nothing.aggregate, nothing.parsed) == (0, 0, 0, True)
    malformed = read_judgement("I think the answer is good.", SUG, CAT)
    assert (malformed.suggestion, malformed.category, malformed.aggregate, malformed.parsed) == (
        0,
        0,
        0,
        False,
    )
    wrong_count = read_judgement("1,1", SUG, CAT)
    assert (wrong_count.aggregate, wrong_count.parsed) == (0, False)
    no_categories = read_judgement("1,0", ["Move the blocks", "Move the camera"], [])  # ROD: suggestions only
    assert (no_categories.suggestion, no_categories.category, no_categories.aggregate) == (1, 0, 1)
    assert malformed.correct_answers == [*SUG, *CAT]


def test_judge_prompt_lists_the_answers_in_order() -> None:
    system, user = judge_messages("Who is talking?", [*SUG, *CAT], "Please wait a moment.")
    assert system["role"] == "system" and "comma" in system["content"] and "0" in system["content"]
    assert user["role"] == "user"
    text = user["content"]
    assert "Who is talking?" in text and "Please wait a moment." in text
    positions = [text.index(f"{i}. {answer}") for i, answer in enumerate([*SUG, *CAT], start=1)]
    assert positions == sorted(positions)


def test_correct_answers_per_scenario(bench: Path) -> None:
    for name, data in load_benchmark(bench, id_filter=None).items():
        for record in data.records:
            episode = make_episode(record)
            state = episode.state()
            suggestions, categories = correct_answers(episode, state)
            assert len(suggestions) == SUGGESTION_COUNT[name]
            assert all(not s.endswith(".") for s in suggestions)
            if name in ("Realistic-Occlusion-Dataset", "MVP-N"):  # the first view cannot be answered
                assert categories == []
            else:
                assert categories == [record.answer.rstrip(".")]
            if name == "ImageNet-C":
                assert suggestions == [record.extras["quality_answer"].rstrip(".")]
            if name == "ChangeIt":
                assert suggestions[1] == "Rewind the video" and suggestions[0].startswith("Wait for the")
            question = open_question(state, hint=True)
            assert "Options" not in question and question.startswith(state.question)
            assert question.endswith("please tell me what I should do to help you.")
