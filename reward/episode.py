"""The reward of a whole episode, for multi-turn GRPO: the final answer pays, every intervention costs.

    R = weight of the final case - intervention_cost x accepted interventions

The final case is the last turn's, decided as for a single turn (reward/cases.py): ``correct``,
``wrong_category``, ``premature_answer``, ``abstain``, ``invalid_option`` or ``unparseable``. An episode
that ends without an answer (the step limit cut off its last accepted intervention, or the rollout stopped
while asking) scores the ``abstain`` weight: it never answered. The single-turn ``useful_intervention`` and
``over_asking`` weights are not paid: they stand in for the value of asking on one turn, and an episode
measures that value itself, through the answer the asking leads to. Asking too much is priced by
``intervention_cost`` (0 in every preset; the episode recipes set it). So every preset keeps its meaning
for the answer: ``proactive`` pays 1 / -0.5 for a right / wrong final answer, the paper presets 1 / 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from data.environment import Turn
from data.parsing import Outcome
from reward.cases import Case, case_of
from reward.funcs import warn_unscored
from reward.weights import RewardWeights


def final_case(turns: Sequence[Turn]) -> Case:
    """The case the episode ended on: its last turn's, or ``abstain`` when it ended without an answer."""
    if not turns or turns[-1].judgement.outcome is Outcome.INTERVENTION:
        return Case.ABSTAIN
    last = turns[-1]
    return case_of(last.judgement, last.state.informative)


def interventions(turns: Sequence[Turn]) -> int:
    """Accepted interventions among ``turns``."""
    return sum(turn.judgement.outcome is Outcome.INTERVENTION for turn in turns)


def episode_reward(turns: Sequence[Turn], weights: RewardWeights) -> float:
    """The reward of the episode made of ``turns``; a failure to score becomes a warning and the
    ``unparseable`` weight, never an exception."""
    try:
        return getattr(weights, final_case(turns).value) - weights.intervention_cost * interventions(turns)
    except Exception as err:  # a reward must not stop training; RewardWarning reports the bug
        warn_unscored("score an episode", err)
        return weights.unparseable
