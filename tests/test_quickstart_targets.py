"""The quickstart report's target checks and control comparison, on hand-made summaries."""

from __future__ import annotations

from typing import Any

import numpy as np

from proactive.quickstart_report import Roles, control_lines, rate_cell, target_checks

ROLES = Roles(oracle="oracle", base="base", trained="grpo", control="control")


def summary(acc: float, acc_ci: tuple[float, float], psr: float, ref: float, **scenario_psr: float) -> Any:
    scenarios = {
        name: {"acc": acc, "acc_ci": list(acc_ci), "psr": value} for name, value in scenario_psr.items()
    }
    average = {"acc": acc, "acc_ci": list(acc_ci), "psr": psr, "psr_ci": [psr, psr], "reference_acc": ref}
    return {"scenarios": scenarios, "average": average}


def wrong_guesses(percent: float) -> dict[str, Any]:
    return {"wrong_guess_uninformative": [percent, [percent, percent]]}


def test_every_target_met_and_each_one_missed() -> None:
    train = {
        "oracle": summary(100.0, (100.0, 100.0), 2.5, 100.0, **{"MVP-N": 2.0, "QuickDraw": 3.0}),
        "base": summary(20.0, (15.0, 25.0), 0.1, 90.0, **{"MVP-N": 0.0, "QuickDraw": 0.2}),
        "grpo": summary(61.0, (55.0, 67.0), 2.1, 88.0, **{"MVP-N": 1.2, "QuickDraw": 3.0}),
        "control": summary(55.0, (49.0, 61.0), 2.9, 87.0, **{"MVP-N": 2.0, "QuickDraw": 3.8}),
    }
    behaviour = {"base": wrong_guesses(40.0), "grpo": wrong_guesses(20.0)}
    lines = target_checks(train, behaviour, ROLES)
    assert len(lines) == 6 and all(line.endswith("**met**") for line in lines), lines
    assert "+41.0; CIs apart" in lines[0] and "(gap 0.40)" in lines[1] and "MVP-N 1.20, QD 3.00" in lines[2]

    missed = {
        "acc": {**train, "grpo": summary(59.0, (53.0, 65.0), 2.1, 88.0, **{"MVP-N": 1.2, "QuickDraw": 3.0})},
        "psr": {**train, "grpo": summary(61.0, (55.0, 67.0), 1.9, 88.0, **{"MVP-N": 1.2, "QuickDraw": 3.0})},
        "asks": {**train, "grpo": summary(61.0, (55.0, 67.0), 2.1, 88.0, **{"MVP-N": 0.5, "QuickDraw": 3.0})},
        "reference": {
            **train,
            "grpo": summary(61.0, (55.0, 67.0), 2.1, 86.9, **{"MVP-N": 1.2, "QuickDraw": 3.0}),
        },
        "control": {**train, "control": summary(62.0, (56.0, 68.0), 2.9, 87.0, **{"MVP-N": 2.0})},
    }
    for index, name in enumerate(["acc", "psr", "asks", "reference", "control"]):
        checks = target_checks(missed[name], behaviour, ROLES)
        line = checks[index if index < 4 else 5]
        assert line.endswith("**NOT met**"), (name, line)
        assert sum(c.endswith("**NOT met**") for c in checks) == 1, (name, checks)
    guessing = target_checks(train, {**behaviour, "grpo": wrong_guesses(20.5)}, ROLES)
    assert guessing[4].endswith("**NOT met**") and "20.5% vs base 40.0%" in guessing[4]


def test_control_over_asking_is_told_with_its_cis() -> None:
    train = {label: summary(50.0, (45.0, 55.0), 1.0, 90.0) for label in ("oracle", "base", "grpo", "control")}

    def asks(values: list[float]) -> dict[str, Any]:
        return {"asks_on_informative": rate_cell(np.array(values), percent=False)}

    apart = {
        "oracle": asks([0.0]),
        "base": asks([0.0]),
        "grpo": asks([0.0] * 40),
        "control": asks([1.0] * 40),
    }
    text = "\n".join(control_lines(train, apart, ROLES))
    assert "| control | 1.00 [1.00, 1.00] | 0.0 | 1.00 [1.00, 1.00] | 50.0 [45.0, 55.0] |" in text
    assert "| grpo | 1.00 [1.00, 1.00] | 0.0 | 0.00 [0.00, 0.00] | 50.0 [45.0, 55.0] |" in text
    assert "1.00 [1.00, 1.00] vs 0.00 [0.00, 0.00] interventions per episode: yes" in text
    overlap = {**apart, "control": asks([0.0, 1.0] * 20), "grpo": asks([0.0, 1.0] * 19 + [0.0, 0.0])}
    assert "more on average, but the CIs overlap" in "\n".join(control_lines(train, overlap, ROLES))
    fewer = {**apart, "control": asks([0.0] * 40), "grpo": asks([1.0] * 40)}
    assert ": no: it does not ask more" in "\n".join(control_lines(train, fewer, ROLES))
