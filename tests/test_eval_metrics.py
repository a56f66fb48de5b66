"""acc / psr / reference acc / open-mode metrics and their bootstrap intervals, on hand-made results."""

from __future__ import annotations

import numpy as np
import pytest

from eval.metrics import END_REASONS, bootstrap_ci, resampled_means, summarize
from eval.results import MCQA, OPEN, REFERENCE, EpisodeResult, JudgeResult

QD, COCO = "QuickDraw", "coco2014"


def result(
    scenario: str, record_id: int, success: bool, turns: int, end: str | None = None, mode: str = MCQA
) -> EpisodeResult:
    end = end or ("correct" if success else "wrong_category")
    return EpisodeResult(mode, scenario, record_id, success, end, turns, turns - 1, [])


def test_ci_contains_estimate_and_narrows_with_n() -> None:
    rng = np.random.default_rng(1)
    widths = []
    for n in (20, 200, 2000):
        values = (rng.random(n) < 0.3).astype(float)
        lo, hi = bootstrap_ci(values, seed=0)
        assert lo <= values.mean() <= hi
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2] > 0
    # the normal approximation of a proportion's 95% interval: 2 * 1.96 * sqrt(p (1-p) / n)
    assert widths[2] == pytest.approx(2 * 1.96 * np.sqrt(0.3 * 0.7 / 2000), rel=0.15)


def test_bootstrap_is_seeded_and_degenerate_on_constant_samples() -> None:
    values = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    assert bootstrap_ci([5.0]) == (5.0, 5.0)
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci([])
    means = resampled_means(values, 1000, np.random.default_rng(0))
    assert means.shape == (1000,)
    assert set(np.round(means * 5).astype(int)) <= set(range(6))  # a mean of five 0/1 values


def test_summary_hand_computed() -> None:
    results = [
        result(QD, 1, True, 2),
        result(QD, 2, False, 1, "abstained"),
        result(QD, 3, True, 3),
        result(QD, 4, True, 1),
        result(COCO, 1, False, 4, "step_limit"),
        result(COCO, 2, False, 1, "unparseable"),
    ]
    summary = summarize(results)
    qd, coco, avg = summary["scenarios"][QD], summary["scenarios"][COCO], summary["average"]
    assert list(summary["scenarios"]) == [QD, COCO]  # official order
    assert (qd["acc"], qd["psr"], qd["n"]) == (75.0, 0.75, 4)
    assert (coco["acc"], coco["psr"], coco["n"]) == (0.0, 1.5, 2)
    assert qd["acc_ci"][0] <= 75.0 <= qd["acc_ci"][1] and 0 <= qd["acc_ci"][0] and qd["acc_ci"][1] <= 100
    assert qd["psr_ci"][0] <= 0.75 <= qd["psr_ci"][1]
    assert coco["acc_ci"] == [0.0, 0.0]
    assert list(qd["end_reasons"]) == list(END_REASONS)
    assert qd["end_reasons"]["correct"] == 3 and qd["end_reasons"]["abstained"] == 1
    assert coco["end_reasons"]["step_limit"] == 1 and coco["end_reasons"]["unparseable"] == 1
    assert avg["acc"] == 37.5 and avg["psr"] == 1.125 and avg["n"] == 6 and avg["scenarios"] == 2
    assert avg["acc_ci"][0] <= 37.5 <= avg["acc_ci"][1]
    assert sum(avg["end_reasons"].values()) == 6
    assert "reference_acc" not in avg


def test_reference_accuracy_sits_beside_acc() -> None:
    results = [result(QD, i, i == 0, 1) for i in range(4)] + [
        result(QD, i, i < 3, 1, mode=REFERENCE) for i in range(4)
    ]
    block = summarize(results)["scenarios"][QD]
    assert block["acc"] == 25.0 and block["reference_acc"] == 75.0 and block["reference_n"] == 4
    assert block["reference_acc_ci"][0] <= 75.0 <= block["reference_acc_ci"][1]


def test_open_mode_scores_ps_cc_agg() -> None:
    def judged(i: int, ps: int, cc: int) -> EpisodeResult:
        verdict = JudgeResult(["a", "b"], "1,0", ps, cc, int(ps or cc), True)
        return EpisodeResult(OPEN, QD, i, bool(ps or cc), "judged", 1, 0, [], verdict)

    block = summarize([judged(0, 1, 0), judged(1, 0, 0), judged(2, 1, 1), judged(3, 0, 1)])["scenarios"][QD]
    assert (block["ps"], block["cc"], block["agg"], block["n"]) == (50.0, 50.0, 75.0, 4)
    assert "psr" not in block and "end_reasons" not in block


def test_scenario_interval_does_not_depend_on_other_scenarios() -> None:
    qd = [result(QD, i, i % 3 == 0, 1 + i % 2) for i in range(30)]
    alone = summarize(qd)["scenarios"][QD]
    together = summarize(qd + [result(COCO, i, True, 1) for i in range(5)])["scenarios"][QD]
    assert alone == together
