"""The open-ended protocol's own rules on fixed inputs (the differential test compares them with the
official code on generated ones): the answer strings per scenario, the judge input, the verdict parser,
the thinking cut, the official record sample, and the loop's handling of a refused view."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from data.environment import REJECTED_IMAGE, make_episode
from data.records import load_benchmark, parse_record
from eval.backends import REJECTED, Prompt, after_last
from eval.open_ended import (
    JUDGE_SYSTEM_PROMPT,
    SKIPPED_AFTER_REJECTION,
    answer_list,
    judge_messages,
    official_sample,
    open_question,
    read_verdict,
    run_open_episodes,
    valid_answers,
)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("1,0,0,1", (1, 1, 1, True)),
        ("0, 0 ,0 , 1\n", (0, 1, 1, True)),
        ("Reasoning: the reply asks to wait.\n1,0,0,0", (1, 0, 1, True)),
        ("first 1,1,1,1 then I changed my mind:\n0,0,1,0.", (1, 0, 1, True)),  # the last list wins
        ("1,\n0,\n0,\n0", (1, 0, 1, True)),  # newlines inside the list count as spaces
        ("**0,0,0,0**", (0, 0, 0, True)),
        ("1,0,0", (0, 0, 0, False)),  # wrong count
        ("yes, no, no, yes", (0, 0, 0, False)),
        ("", (0, 0, 0, False)),
        ("1,0,0,1 and 10", (0, 0, 0, False)),  # "10" holds two one-entry lists; the last is "0"
        ("0,0,0,1\n1", (0, 0, 0, False)),
    ],
)
def test_read_verdict(output: str, expected: tuple[int, int, int, bool]) -> None:
    answers = "Wait for the occlusion to disappear, Rewind the video, Move the camera, a dog."
    assert read_verdict(answers, output, "OcclusionDataSet-MM20") == expected


def test_answer_list_splits_commas_and_drops_dots() -> None:
    assert answer_list("Add more details to the drawing, tench, Tinca tinca, St. Bernard.") == [
        "Add more details to the drawing",
        "tench",
        "Tinca tinca",
        "St Bernard",
    ]


def test_thinking_is_cut_after_the_last_end_token() -> None:
    assert after_last([1, 9, 2, 9, 3, 4], 9) == [3, 4]
    assert after_last([1, 2, 3], 9) == [1, 2, 3]  # no end of thinking: the whole output is parsed
    assert after_last([1, 9], 9) == []


def test_judge_input_is_the_official_layout() -> None:
    system, user = judge_messages("Who is talking?", "Rewind the video, a dog.", "Please wait.")
    assert system == {"content": JUDGE_SYSTEM_PROMPT, "role": "system"}
    assert JUDGE_SYSTEM_PROMPT.endswith(
        "<comma-separated list of 0s and 1s>\n\nThe last line must not contain anything else."
    )
    assert user["content"] == (
        "### User Prompt:\nWho is talking?\n### Correct Answers (List):\n['Rewind the video', 'a dog']\n"
        "### System Output:\nPlease wait."
    )


def test_official_sample_is_seeded_shuffle_then_first_hundred() -> None:
    records = list(range(250))
    random.seed(0)  # the official loop shuffles with the module's generator
    random.shuffle(records)
    assert official_sample(list(range(250))) == records[:100]
    assert official_sample(list(range(5))) == [2, 1, 0, 4, 3]


def changeit(first_image: int) -> dict:
    return {
        "id": 0, "image_template": "CIT/{image}.png", "first_image": first_image, "num_images": 9,
        "reference_image": 8, "prompt": "What appears?", "categories": ["cat", "dog", "cow", "U.S. flag"],
        "answer": "U.S. flag", "options": ["Wait for the object to appear.", "Rewind the video.", "I cannot tell."],
        "step_size": 2, "max_steps": 5,
    }  # fmt: skip


def test_changeit_answers_and_the_official_mid_video_quirk() -> None:
    start = make_episode(parse_record("ChangeIt", changeit(0), "t"))
    assert valid_answers(start) == ("Wait for the object to appear,Rewind the video,US flag.",) * 2
    middle = make_episode(parse_record("ChangeIt", changeit(4), "t"))
    shown, counted = valid_answers(middle)
    assert answer_list(shown) == [
        "Wait for the object to appear",
        "Rewind the video",
        "Rewind the video",
        "US flag",
    ]
    assert len(answer_list(counted)) == 5  # the parser expects one verdict more than the judge was shown
    assert read_verdict(counted, "1,0,0,0", "ChangeIt")[3] is False


def test_open_question_carries_only_the_open_hint(bench: Path) -> None:
    record = load_benchmark(bench, id_filter=None)["Realistic-Occlusion-Dataset"].records[0]
    state = make_episode(record).state()
    assert open_question(state, hint=False) == record.prompt
    assert open_question(state, hint=True) == (
        f"{record.prompt} If you cannot answer this question, please tell me what I should do to help you."
    )
    with pytest.raises(ValueError, match="own hint"):
        run_open_episodes([make_episode(record, hint=True)], None, None, bench)  # type: ignore[arg-type]


class RefuseOnce:
    """The tested model: refuses the view of the ``refused``-th prompt it is given, answers the others."""

    def __init__(self, refused: int) -> None:
        self.refused = refused
        self.seen = 0

    def generate(self, prompts: Sequence[Prompt]) -> list[str | None]:
        replies: list[str | None] = []
        for _ in prompts:
            replies.append(REJECTED if self.seen == self.refused else "Rotate it, please.")
            self.seen += 1
        return replies


class Judge:
    def generate(self, prompts: Sequence[Prompt]) -> list[str | None]:
        return ["Thinking done.\n1,0\n\n" for _ in prompts]


def test_a_refused_view_stops_its_scenario_as_the_official_loop_does(bench: Path) -> None:
    """tests/oeg.py breaks out of the record loop: the refused record and every later one score 0."""
    data = load_benchmark(bench, id_filter=None)
    rod, mvpn = data["Realistic-Occlusion-Dataset"].records, data["MVP-N"].records
    episodes = [make_episode(r) for r in rod[:4] + mvpn[:3]]

    results = run_open_episodes(episodes, RefuseOnce(1), Judge(), bench, batch_size=3)
    by_key = {(r.scenario, r.record_id): r for r in results}
    reasons = [by_key[("Realistic-Occlusion-Dataset", r.id)].end_reason for r in rod[:4]]
    assert reasons == ["judged", REJECTED_IMAGE, SKIPPED_AFTER_REJECTION, SKIPPED_AFTER_REJECTION]
    assert all(by_key[("MVP-N", r.id)].end_reason == "judged" for r in mvpn[:3])
    judged = by_key[("Realistic-Occlusion-Dataset", rod[0].id)].judge
    assert judged is not None and judged.output == "Thinking done.\n1,0" and judged.suggestion == 1
    assert judged.input_messages[1]["content"].startswith(f"### User Prompt:\n{rod[0].prompt}\n")
    assert judged.correct_answers == ["Move the blocks", "Move the camera"] and judged.expected_verdicts == 2
    refused = by_key[("Realistic-Occlusion-Dataset", rod[1].id)]
    assert (refused.success, refused.num_turns, refused.judge) == (False, 0, None)
    resumed = run_open_episodes(  # a resumed run knows which scenarios were stopped
        [make_episode(r) for r in rod[2:4]], RefuseOnce(-1), Judge(), bench, stopped={rod[0].scenario}
    )
    assert [r.end_reason for r in resumed] == [SKIPPED_AFTER_REJECTION] * 2
