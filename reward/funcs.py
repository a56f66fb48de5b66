"""Reward callables for TRL's GRPOTrainer: ``fn(completions, **columns) -> list[float]``, one per component."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reward.cases import Case, classify_text, completion_text
from reward.rows import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, RowFields, column_rows, row_fields
from reward.table import COMPONENT_CASES, case_value
from reward.weights import DEFAULT_PRESET, RewardWeights, resolve_weights

OUTCOME_METRIC = "outcomes/{case}"  # log_metric name of the batch rate of each case
CASE_COLUMN = "reward_case"  # log_extra column: the case of each completion
# Dataset columns also logged with each completion (log_extra name; TRL's table has its own "step").
ROW_LOG_COLUMNS = {
    "scenario": "scenario",
    "record_id": "record_id",
    "step": "turn",
    "informative": "informative",
}


class RewardWarning(UserWarning):
    """A completion the parser failed on; it is scored as unparseable (the test suite makes this an error)."""


def warn_unscored(what: str, err: Exception) -> None:
    """Report what a reward could not score (it is then scored as unparseable): a RewardWarning."""
    warnings.warn(f"reward: could not {what} ({err!r}); scored as unparseable", RewardWarning, stacklevel=3)


def judge_safely(completion: Any, fields: RowFields) -> Case:
    """The case of one completion; a parser failure becomes a warning and ``Case.UNPARSEABLE``, never an exception."""
    try:
        return classify_text(completion_text(completion), fields)
    except Exception as err:  # a reward must not stop training; RewardWarning reports the bug
        warn_unscored("judge a completion", err)
        return Case.UNPARSEABLE


class BatchJudge:
    """Classifies a batch once for all components: TRL calls every component with the same batch.

    The batch is recognised by identity (``is``) of its completions and column entries, never by ``==``:
    a completion's own comparison may raise (numpy arrays, tensors, custom objects) and must not stop
    training. The last batch's objects are held, so their ids cannot be reused by new objects; a batch
    of new objects with equal contents is simply judged again.
    """

    def __init__(self) -> None:
        self._key: tuple[tuple[Any, ...], ...] | None = None
        self._cases: list[Case] = []

    def cases(self, completions: Sequence[Any], columns: Mapping[str, Any]) -> list[Case]:
        key = (
            tuple(completions),
            *(_entries(columns.get(name)) for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS),
        )
        if not _same_objects(key, self._key):
            rows = column_rows(columns, len(completions))
            self._cases = [
                judge_safely(c, row_fields(row, i))
                for i, (c, row) in enumerate(zip(completions, rows, strict=True))
            ]
            self._key = key
        return self._cases


def _entries(column: Any) -> tuple[Any, ...]:
    """A column's entries (a list or tuple from TRL), or the column object itself when it is anything else."""
    return tuple(column) if isinstance(column, (list, tuple)) else (column,)


def _same_objects(key: tuple[tuple[Any, ...], ...], cached: tuple[tuple[Any, ...], ...] | None) -> bool:
    """Whether two batch keys hold the very same objects, position by position (identity only)."""
    if cached is None or len(key) != len(cached):
        return False
    return all(
        len(part) == len(old) and all(a is b for a, b in zip(part, old, strict=True))
        for part, old in zip(key, cached, strict=True)
    )


class RewardComponent:
    """One named part of the reward; the parts built together sum to the total of :func:`score_completion`."""

    def __init__(
        self, name: str, weights: RewardWeights, judge: BatchJudge, log_outcomes: bool = False
    ) -> None:
        self.__name__ = name  # TRL logs each reward function under its __name__: rewards/<name>/mean
        self.weights = weights
        self.values = {
            case: case_value(case, weights) if case in COMPONENT_CASES[name] else 0.0 for case in Case
        }
        self.judge = judge
        self.log_outcomes = log_outcomes

    def __repr__(self) -> str:
        return f"RewardComponent({self.__name__!r}, {self.weights})"

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float]:
        cases = self.judge.cases(completions, columns)
        if self.log_outcomes:
            _log_cases(cases, columns)
        return [self.values[case] for case in cases]


def _log_cases(cases: list[Case], columns: Mapping[str, Any]) -> None:
    """The rate of every case in the batch (as TRL metrics); each completion's case and the row it answered
    (scenario, record id, turn, informative) as columns of TRL's completions table."""
    log_metric: Callable | None = columns.get("log_metric")
    log_extra: Callable | None = columns.get("log_extra")
    if log_metric is not None and cases:
        for case in Case:
            log_metric(OUTCOME_METRIC.format(case=case.value), sum(c is case for c in cases) / len(cases))
    if log_extra is not None:
        log_extra(CASE_COLUMN, [case.value for case in cases])
        for column, name in ROW_LOG_COLUMNS.items():
            if column in columns and len(columns[column]) == len(cases):
                log_extra(name, list(columns[column]))


def build_reward_funcs(preset: str = DEFAULT_PRESET, **weights: float) -> list[RewardComponent]:
    """``answer_reward``, ``intervention_reward`` and ``format_reward`` for ``GRPOTrainer(reward_funcs=...)``."""
    resolved = resolve_weights(preset, **weights)
    judge = BatchJudge()
    return [
        RewardComponent(name, resolved, judge, log_outcomes=i == 0) for i, name in enumerate(COMPONENT_CASES)
    ]


def score_completion(
    completion: Any, row: Mapping[str, Any], preset: str = DEFAULT_PRESET, **weights: float
) -> float:
    """The total reward of one completion (plain text or conversational) for one dataset row."""
    return case_value(judge_safely(completion, row_fields(row)), resolve_weights(preset, **weights))
