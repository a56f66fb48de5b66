"""Reference policies that need no model: oracle, random, abstain, first-option.

The oracle asks while the view is not known to be informative and an intervention is accepted, and
answers the correct category (as its full text) otherwise. On the synthetic benchmark every view is
labelled, so the oracle is perfect; on official data it walks towards the reference image.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from data.environment import Episode, TurnState
from data.scenarios import is_abstain

Policy = Callable[[Episode, TurnState], str]

_BACKWARD_WORDS = ("to the left", "rewind")


def _towards_reference(episode: Episode, options: tuple[str, ...]) -> str:
    """ROD, VSOD, ChangeIt: the option whose direction reaches the reference frame sooner."""
    record = episode.record
    here, target = episode.image_id, record.reference_image
    if record.scenario == "ChangeIt":
        go_back = target < here
    else:
        n = record.num_images
        go_back = (here - target) % n < (target - here) % n
    for option in options:
        if any(word in option.lower() for word in _BACKWARD_WORDS) == go_back:
            return option
    return options[0]


def oracle(episode: Episode, state: TurnState) -> str:
    if state.informative is not True and state.accepted_options:
        if episode.record.scenario in ("Realistic-Occlusion-Dataset", "OcclusionDataSet-MM20", "ChangeIt"):
            return _towards_reference(episode, state.accepted_options)
        return state.accepted_options[0]
    return episode.record.answer


def abstain(episode: Episode, state: TurnState) -> str:
    """Always the first abstain option offered ("I cannot tell."), else an empty answer."""
    return next((o for o in state.options if is_abstain(o)), "")


def first_option(episode: Episode, state: TurnState) -> str:
    """Always the first choice offered (letter A)."""
    return state.choices[0]


def random_policy(seed: int = 0) -> Policy:
    """Uniformly one of the offered choices."""
    rng = random.Random(seed)

    def choose(episode: Episode, state: TurnState) -> str:
        return rng.choice(state.choices)

    return choose


def random_category(seed: int = 0) -> Policy:
    """A blind guesser: uniformly one of the categories, never asking."""
    rng = random.Random(seed)

    def choose(episode: Episode, state: TurnState) -> str:
        return rng.choice(state.categories)

    return choose


POLICIES: dict[str, Callable[[int], Policy]] = {
    "oracle": lambda seed: oracle,
    "abstain": lambda seed: abstain,
    "first-option": lambda seed: first_option,
    "random": random_policy,
    "random-category": random_category,
}


def run_policy(episode: Episode, policy: Policy) -> Episode:
    """Play ``episode`` to its end with ``policy``."""
    while not episode.done:
        episode.step(policy(episode, episode.state()))
    return episode
