"""Case values per component and preset: the reward table used by the functions, the docs and the tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from data.markdown import markdown_table as table
from reward.cases import CASE_DESCRIPTIONS, INTERVENTION_CASES, Case
from reward.weights import PRESETS, RewardWeights, resolve_weights

# Each case belongs to exactly one component, so the components of a completion sum to its total.
COMPONENT_CASES: dict[str, frozenset[Case]] = {
    "answer_reward": frozenset({Case.CORRECT, Case.WRONG_CATEGORY, Case.PREMATURE_ANSWER}),
    "intervention_reward": frozenset({Case.USEFUL_INTERVENTION, Case.OVER_ASKING, Case.ABSTAIN}),
    "format_reward": frozenset({Case.INVALID_OPTION, Case.UNPARSEABLE}),
}
COMPONENT_OF: dict[Case, str] = {case: name for name, cases in COMPONENT_CASES.items() for case in cases}


def case_value(case: Case, weights: RewardWeights) -> float:
    """The total reward of ``case``: its weight, less the intervention cost for an intervention."""
    value = getattr(weights, case.value)
    return value - weights.intervention_cost if case in INTERVENTION_CASES else value


@dataclass(frozen=True)
class TableRow:
    case: Case
    component: str
    description: str
    values: dict[str, float]  # preset name -> reward


def preset_table(presets: Sequence[str] | None = None, **weights: float) -> list[TableRow]:
    """One row per case with its reward in each preset (all presets by default; ``weights`` override all)."""
    names = list(presets or PRESETS)
    resolved = {name: resolve_weights(name, **weights) for name in names}
    return [
        TableRow(
            case,
            COMPONENT_OF[case],
            CASE_DESCRIPTIONS[case],
            {n: case_value(case, w) for n, w in resolved.items()},
        )
        for case in Case
    ]


def markdown_table(presets: Sequence[str] | None = None) -> str:
    """The preset table as Markdown (embedded verbatim in reward/DESIGN.md)."""
    rows = preset_table(presets)
    names = list(rows[0].values)
    header = ["case", "component", "what the completion did", *(f"`{n}`" for n in names)]
    body = [
        [f"`{row.case.value}`", f"`{row.component}`", row.description, *(f"{row.values[n]:g}" for n in names)]
        for row in rows
    ]
    return "\n".join(table(header, body, right_aligned=range(3, len(header)))) + "\n"
