"""The episode reward (reward/episode.py) against hand-computed values on scripted episodes."""

from __future__ import annotations

import pytest

from data.environment import make_episode
from data.records import parse_record
from reward import PRESETS, RewardWarning, resolve_weights
from reward.cases import Case
from reward.episode import episode_reward, final_case

CATS = ["banana", "coffee mug", "blue kite", "star"]  # the answer is "banana"
ABSTAIN = "I cannot tell."
DETAILS = "Add more details to the drawing."
LEFT = "Move the occluder to the left."
FIELDS = {
    "QuickDraw": dict(  # four strokes: details accepted at steps 0-2, only categories at step 3
        image_template="qd/{image}.png",
        first_image=0,
        num_images=4,
        reference_image=2,
        options=[DETAILS, ABSTAIN],
    ),
    "Realistic-Occlusion-Dataset": dict(  # 14 frames: the step limit is 14 turns
        image_template="rod/s{image}.png",
        first_image=7,
        num_images=14,
        reference_image=8,
        options=[LEFT, "Move the occluder to the right.", ABSTAIN],
    ),
}


def played(scenario: str, answers: list[str]):
    raw = {"id": 1, "prompt": "What is it?", "categories": CATS, "answer": "banana", **FIELDS[scenario]}
    episode = make_episode(parse_record(scenario, raw, "test"))
    for answer in answers:
        episode.step(answer)
    assert episode.done
    return episode


COST = 0.05
# (scenario, answers, final case, interventions, reward under `proactive` with intervention_cost 0.05)
SCRIPTS = [
    ("QuickDraw", ["banana"], Case.CORRECT, 0, 1.0),
    ("QuickDraw", [DETAILS, "A", "C"], Case.CORRECT, 2, 1.0 - 2 * COST),  # letters: A = details, C = banana
    ("QuickDraw", [DETAILS, "coffee mug"], Case.WRONG_CATEGORY, 1, -0.5 - COST),
    ("QuickDraw", [DETAILS, DETAILS, DETAILS, DETAILS], Case.INVALID_OPTION, 3, -0.5 - 3 * COST),  # last view
    ("QuickDraw", [DETAILS, ABSTAIN], Case.ABSTAIN, 1, -0.25 - COST),
    ("QuickDraw", ["A or C"], Case.UNPARSEABLE, 0, -0.5),
    ("Realistic-Occlusion-Dataset", ["banana"], Case.PREMATURE_ANSWER, 0, -0.5),  # right, but at step 0
    ("Realistic-Occlusion-Dataset", [LEFT, "banana"], Case.CORRECT, 1, 1.0 - COST),
    (
        "Realistic-Occlusion-Dataset",
        [LEFT] * 14,
        Case.ABSTAIN,
        14,
        -0.25 - 14 * COST,
    ),  # step limit: no answer
]


@pytest.mark.parametrize(("scenario", "answers", "case", "moves", "value"), SCRIPTS)
def test_episode_reward_equals_the_hand_computed_value(scenario, answers, case, moves, value):
    episode = played(scenario, answers)
    assert final_case(episode.turns) is case
    assert episode.interventions == moves
    weights = resolve_weights("proactive", intervention_cost=COST)
    assert episode_reward(episode.turns, weights) == pytest.approx(value)


def test_paper_presets_pay_the_answer_and_never_the_asking():
    """rp is a single-turn proxy for the value of asking: an episode pays its answer instead, so the
    paper presets agree on episodes (1 for a right answer, 0 otherwise, less the cost)."""
    right = played("QuickDraw", [DETAILS, DETAILS, "banana"]).turns
    asked_forever = played("Realistic-Occlusion-Dataset", [LEFT] * 14).turns
    for name in ("paper_rp0.5", "paper_rp0.75", "paper_rp1.0"):
        assert episode_reward(right, PRESETS[name]) == 1.0
        assert episode_reward(asked_forever, PRESETS[name]) == 0.0
        assert episode_reward(right, resolve_weights(name, intervention_cost=0.1)) == pytest.approx(0.8)


def test_the_rollout_part_of_an_episode_is_scored_alone():
    """A rollout from a later state is scored on the turns it played (the path that reached it is the
    same for every rollout of its group)."""
    turns = played("QuickDraw", [DETAILS, DETAILS, "banana"]).turns
    weights = resolve_weights("proactive", intervention_cost=COST)
    assert episode_reward(turns[2:], weights) == 1.0
    assert episode_reward(turns[1:], weights) == pytest.approx(1.0 - COST)


def test_a_broken_episode_is_a_warning_and_the_unparseable_weight():
    with pytest.warns(RewardWarning):
        assert episode_reward([object()], PRESETS["proactive"]) == -0.5
