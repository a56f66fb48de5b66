"""Train / held-out splits: by scenario (train on some, test on the others) and by episode id."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from data.records import Record, ScenarioData
from data.scenarios import resolve_scenario


def split_by_scenario(
    benchmark: Mapping[str, ScenarioData | Sequence[Record]],
    train: Iterable[str],
    held_out: Iterable[str],
) -> tuple[list[Record], list[Record]]:
    """Records of the ``train`` scenarios and records of the ``held_out`` scenarios (names or acronyms).

    A scenario may not be on both sides, and each one named must be in ``benchmark`` (as returned by
    :func:`data.records.load_benchmark`, or a plain mapping of scenario -> records).
    """
    train_names = [resolve_scenario(s) for s in train]
    held_names = [resolve_scenario(s) for s in held_out]
    both = sorted(set(train_names) & set(held_names))
    if both:
        raise ValueError(f"scenarios both trained on and held out: {', '.join(both)}")

    def records_of(names: list[str]) -> list[Record]:
        out: list[Record] = []
        for name in names:
            if name not in benchmark:
                raise KeyError(f"scenario {name!r} was not loaded (loaded: {', '.join(benchmark) or 'none'})")
            data = benchmark[name]
            out.extend(data.records if isinstance(data, ScenarioData) else data)
        return out

    return records_of(train_names), records_of(held_names)


def split_episodes(
    records: Iterable[Record], eval_fraction: float, seed: int = 0
) -> tuple[list[Record], list[Record]]:
    """Split episodes into (train, eval), per scenario, deterministically from ``seed``.

    Within each scenario the ids are sorted, shuffled with a generator seeded by ``seed`` and the
    scenario name, and ``round(eval_fraction * n)`` of them go to eval. Order within each side follows
    the input order. An episode is never on both sides.
    """
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    records = list(records)
    ids_by_scenario: dict[str, list[int]] = defaultdict(list)
    for record in records:
        ids_by_scenario[record.scenario].append(record.id)
    eval_keys: set[tuple[str, int]] = set()
    for scenario, ids in ids_by_scenario.items():
        if len(set(ids)) != len(ids):
            raise ValueError(f"{scenario}: duplicate record ids; cannot split episodes by id")
        shuffled = sorted(ids)
        random.Random(f"{seed}/{scenario}").shuffle(shuffled)
        eval_keys.update((scenario, i) for i in shuffled[: round(eval_fraction * len(shuffled))])
    train = [r for r in records if (r.scenario, r.id) not in eval_keys]
    held = [r for r in records if (r.scenario, r.id) in eval_keys]
    return train, held
