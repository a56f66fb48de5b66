"""acc, psr (and the open-mode ps / cc / agg) per scenario and averaged, with 95% bootstrap CIs.

acc is the percentage of episodes that end in the correct category; psr is the mean number of turns
minus one per episode (the official count of proactive suggestions). Confidence intervals are
percentile bootstrap intervals (2000 resamples, fixed seed); the average's interval resamples every
scenario independently and averages the resampled means, so it reflects each scenario's own n.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from data.environment import STEP_LIMIT
from data.parsing import Outcome
from data.scenarios import SCENARIO_NAMES
from eval.results import MCQA, OPEN, REFERENCE, EpisodeResult

N_RESAMPLES = 2000
CONFIDENCE = 0.95
END_REASONS: tuple[str, ...] = (
    Outcome.CORRECT.value,
    Outcome.WRONG_CATEGORY.value,
    Outcome.ABSTAINED.value,
    Outcome.INVALID_OPTION.value,
    Outcome.UNPARSEABLE.value,
    STEP_LIMIT,
)
_CHUNK = 4_000_000  # resampled values drawn at once (memory bound for large n)


def resampled_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_resamples`` bootstrap resamples of ``values`` (vectorized, chunked for large n)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        raise ValueError("cannot bootstrap an empty sample")
    return np.concatenate(
        [values[chunk].mean(axis=1) for chunk in _resample_indices(len(values), n_resamples, rng)]
    )


def percentile_interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``."""
    return percentile_interval(
        resampled_means(np.asarray(values), n_resamples, np.random.default_rng(seed)), confidence
    )


def _rng(seed: int, scenario: str, mode: str) -> np.random.Generator:
    """One generator per (scenario, mode): a scenario's interval does not depend on the others run."""
    return np.random.default_rng([seed, zlib.crc32(scenario.encode()), zlib.crc32(mode.encode())])


def _metric(values: np.ndarray, samples: np.ndarray, scale: float) -> tuple[float, list[float]]:
    lo, hi = percentile_interval(samples * scale)
    return round(float(values.mean() * scale), 4), [round(lo, 4), round(hi, 4)]


def _columns(results: Sequence[EpisodeResult], mode: str) -> dict[str, tuple[np.ndarray, float]]:
    """The per-episode values of each metric of ``mode``, with the factor that scales their mean."""
    if mode == OPEN:
        judged = [r.judge for r in results]
        return {
            "ps": (np.array([j.suggestion if j else 0 for j in judged], dtype=float), 100.0),
            "cc": (np.array([j.category if j else 0 for j in judged], dtype=float), 100.0),
            "agg": (np.array([j.aggregate if j else 0 for j in judged], dtype=float), 100.0),
        }
    columns = {"acc": (np.array([r.success for r in results], dtype=float), 100.0)}
    if mode == MCQA:
        columns["psr"] = (np.array([r.proactive_steps for r in results], dtype=float), 1.0)
    return columns


def _scenario_block(
    results: Sequence[EpisodeResult], mode: str, n_resamples: int, seed: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    columns = _columns(results, mode)
    n = len(results)
    rng = _rng(seed, results[0].scenario, mode)
    samples: dict[str, np.ndarray] = {}
    block: dict[str, Any] = {}
    indices = _resample_indices(n, n_resamples, rng)
    for name, (values, scale) in columns.items():
        samples[name] = np.concatenate([values[chunk].mean(axis=1) for chunk in indices])
        block[name], block[f"{name}_ci"] = _metric(values, samples[name], scale)
        samples[name] = samples[name] * scale
    block["n"] = n
    return block, samples


def _resample_indices(n: int, n_resamples: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Bootstrap index matrices (shared by a scenario's metrics, so their intervals are paired)."""
    rows = max(1, _CHUNK // n)
    return [rng.integers(0, n, size=(min(rows, n_resamples - s), n)) for s in range(0, n_resamples, rows)]


def _order(scenarios: Iterable[str]) -> list[str]:
    known = [s for s in SCENARIO_NAMES if s in scenarios]
    return known + sorted(set(scenarios) - set(known))


def summarize(
    results: Iterable[EpisodeResult], n_resamples: int = N_RESAMPLES, seed: int = 0
) -> dict[str, Any]:
    """``{"scenarios": {NAME: {...}}, "average": {...}}`` over every mode present in ``results``.

    MCQA gives acc, psr, their CIs, n and the end-reason counts; reference-image episodes add
    reference_acc (+ CI, n); open mode gives ps, cc, agg. The average is the mean over scenarios.
    """
    by_mode: dict[str, dict[str, list[EpisodeResult]]] = {}
    for result in results:
        by_mode.setdefault(result.mode, {}).setdefault(result.scenario, []).append(result)
    scenarios = _order({s for per in by_mode.values() for s in per})
    table: dict[str, dict[str, Any]] = {name: {} for name in scenarios}
    average: dict[str, Any] = {}
    for mode, prefix in ((MCQA, ""), (REFERENCE, "reference_"), (OPEN, "")):
        per = by_mode.get(mode, {})
        if not per:
            continue
        pooled: dict[str, list[np.ndarray]] = {}
        for name in _order(per):
            block, samples = _scenario_block(per[name], mode, n_resamples, seed)
            table[name].update({prefix + k: v for k, v in block.items()})
            if mode == MCQA:
                table[name]["end_reasons"] = _end_reasons(per[name])
            for metric, sample in samples.items():
                pooled.setdefault(metric, []).append(sample)
        for metric, stacks in pooled.items():
            means = [table[name][prefix + metric] for name in per]
            lo, hi = percentile_interval(np.mean(stacks, axis=0))
            average[prefix + metric] = round(float(np.mean(means)), 4)
            average[f"{prefix}{metric}_ci"] = [round(lo, 4), round(hi, 4)]
        average[prefix + "n"] = sum(len(v) for v in per.values())
        average[prefix + "scenarios"] = len(per)
        if mode == MCQA:
            average["end_reasons"] = _end_reasons([r for v in per.values() for r in v])
    return {"scenarios": table, "average": average}


def _end_reasons(results: Sequence[EpisodeResult]) -> dict[str, int]:
    counts = Counter(r.end_reason for r in results)
    reasons = {reason: counts.pop(reason, 0) for reason in END_REASONS}
    reasons.update(sorted(counts.items()))  # e.g. out_of_range, only in random-action runs
    return reasons
