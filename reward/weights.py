"""Reward weights: one value per case, the named presets, and validated overrides."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class RewardWeights:
    """The reward of each case (see :class:`reward.cases.Case`) plus a per-intervention cost."""

    correct: float = 1.0  # the correct category
    useful_intervention: float = 0.5  # an accepted intervention on a view not known to be informative
    over_asking: float = 0.0  # an accepted intervention on a view known to be informative
    wrong_category: float = -0.5  # another category
    premature_answer: float = -0.5  # any category where none is accepted yet (ROD's first step)
    abstain: float = -0.25  # an abstain option ("I cannot tell."); chosen by a sweep (reward/DESIGN.md)
    invalid_option: float = -0.5  # an offered option that is not accepted now (e.g. the wrong IN-C fix)
    unparseable: float = -0.5  # text that names no offered choice ("A or B", chatter, empty)
    intervention_cost: float = 0.0  # subtracted from both intervention cases (multi-turn training)


WEIGHT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(RewardWeights))


def paper_weights(rp: float) -> RewardWeights:
    """The paper's reward: correct category 1, an accepted proactive option ``rp``, anything else 0."""
    return RewardWeights(
        correct=1.0,
        useful_intervention=rp,
        over_asking=rp,
        wrong_category=0.0,
        premature_answer=0.0,
        abstain=0.0,
        invalid_option=0.0,
        unparseable=0.0,
        intervention_cost=0.0,
    )


DEFAULT_PRESET = "proactive"
PRESETS: dict[str, RewardWeights] = {
    "proactive": RewardWeights(),
    "paper_rp0.5": paper_weights(0.5),
    "paper_rp0.75": paper_weights(0.75),
    "paper_rp1.0": paper_weights(1.0),
}


def resolve_weights(preset: str = DEFAULT_PRESET, **overrides: float) -> RewardWeights:
    """The weights of ``preset`` with ``overrides`` applied; unknown names or non-finite values raise ValueError."""
    if preset not in PRESETS:
        raise ValueError(f"unknown reward preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    unknown = sorted(set(overrides) - set(WEIGHT_NAMES))
    if unknown:
        raise ValueError(
            f"unknown reward weight(s) {', '.join(unknown)}; valid weights: {', '.join(WEIGHT_NAMES)}"
        )
    for name, value in overrides.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"reward weight {name!r}: expected a finite number, got {value!r}")
    return replace(PRESETS[preset], **{name: float(value) for name, value in overrides.items()})
