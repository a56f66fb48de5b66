"""In-context examples: a solved episode of another record, shown before the evaluated one (official
``get_icl_example`` of ROD and MVP-N, with its chain-of-thought and resize variants).

The official package builds the example's turns; it does not say which record gives the example nor how
the turns enter the conversation. Here (our choice) the example is the first other record of the same
scenario, and its turns come first in the conversation as user/assistant pairs (see eval.rollout).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from data.environment import TurnState, make_episode
from data.records import Record
from data.scenarios import SCENARIOS, is_abstain

# The scenarios the official environment gives in-context examples to (the others raise there).
ICL_SCENARIOS: tuple[str, ...] = tuple(name for name, s in SCENARIOS.items() if s.icl_short_edge is not None)


@dataclass(frozen=True)
class ExampleTurn:
    """One turn of an in-context example: the view and prompt shown, and the answer given."""

    state: TurnState
    answer: str


def _proactive_answer(record: Record, index: int, cot: bool) -> str:
    """Option ``index`` as the example answers it; with chain of thought, the scenario's reasoning, the
    option's letter (its place among the options, which come first in the prompt) and its text."""
    option = record.options[index]
    if not cot:
        return option
    return f"{SCENARIOS[record.scenario].cot_prompt} {chr(65 + index)}. {option}"


def in_context_example(
    record: Record,
    hint: bool = False,
    cot: bool = False,
    resize: bool = False,
    reduce_steps: bool = False,
    rng: random.Random | None = None,
) -> list[ExampleTurn]:
    """The official example turns of ``record``: ROD asks to move the occluder once (a proactive option
    drawn with ``rng``), then names the object (officially, whether or not that one move reveals it);
    MVP-N rotates until the last view, then names the product
    (``reduce_steps`` keeps only its first and last turns). Under ``resize`` the example images get the
    scenario's own short side (ROD 512 px, MVP-N 112 px) instead of the evaluated views' 224 px."""
    scenario = SCENARIOS[record.scenario]
    if record.scenario not in ICL_SCENARIOS:
        raise ValueError(
            f"{record.source}: the official environment has no in-context example for {record.scenario}"
        )
    # Official: the indexes of the proactive options, read from a set of small ints (ascending order).
    proactive = [i for i, option in enumerate(record.options) if not is_abstain(option)]
    if not proactive:
        raise ValueError(
            f"{record.source}: an in-context example needs a proactive option, 'options' has none"
        )
    episode = make_episode(record, hint=hint, resize=resize)
    turns: list[tuple[TurnState, str]] = []
    if record.scenario == "Realistic-Occlusion-Dataset":
        first = episode.state()
        answer = _proactive_answer(record, (rng or random.Random(0)).choice(proactive), cot)
        episode.step(answer)
        if episode.done:
            raise ValueError(
                f"{record.source}: the in-context example needs a second view, the episode ended"
            )
        turns = [(first, answer), (episode.state(), record.answer)]
    else:  # MVP-N: the first proactive option on every view but the last, then the product
        while not episode.done:
            state = episode.state()
            last = episode.num_turns + 1 >= record.num_images
            answer = record.answer if last else _proactive_answer(record, proactive[0], cot)
            turns.append((state, answer))
            episode.step(answer)
        if reduce_steps and len(turns) > 2:
            turns = [turns[0], turns[-1]]
    edge = scenario.icl_short_edge if resize else None
    return [ExampleTurn(replace(state, short_edge=edge), answer) for state, answer in turns]


def example_record(pool: Sequence[Record], record: Record) -> Record:
    """The record whose solved episode is shown before ``record``: the first of its scenario in ``pool``
    that is not ``record`` itself (our choice; the official package leaves it to the caller)."""
    for candidate in pool:
        if candidate.scenario == record.scenario and candidate.id != record.id:
            return candidate
    raise ValueError(
        f"{record.scenario}: an in-context example needs a second record of the scenario; only {record.id} is there"
    )
