"""Episode rules of the seven scenarios, matching the official ProactiveBench environment.

An :class:`Episode` shows one view per turn, offers the options valid now plus the four categories,
and applies each answer: the correct category ends it with success, an accepted proactive option
changes the view, anything else ends it with failure, as does reaching the step limit.
"""

from __future__ import annotations

import copy
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from data.parsing import Judgement, Outcome, judge_answer
from data.prompts import mcqa_prompt
from data.records import BenchmarkFormatError, Record
from data.scenarios import (
    ACTION_KEYWORDS,
    COCO_ZOOM_HINT,
    RESIZE_SHORT_EDGE,
    SCENARIOS,
    Action,
    is_abstain,
)

Box = tuple[float, float, float, float]  # PIL crop box: left, top, right, bottom

STEP_LIMIT = "step_limit"
OUT_OF_RANGE = "out_of_range"  # random-action mode only: the random action left the video
REJECTED_IMAGE = "rejected_image"  # the model's processor refused the view; the turn is not counted


def view_key(image: str, crop: Box | None) -> str:
    """A stable name for what is shown: the image path, plus the crop box where there is one."""
    if crop is None:
        return image
    return image + "@" + ",".join(f"{x:.6g}" for x in crop)


@dataclass(frozen=True)
class TurnState:
    """What the model sees at one turn."""

    scenario: str
    record_id: int
    step: int  # turns already taken
    image: str  # path relative to the benchmark folder
    crop: Box | None  # COCO: the part of the image shown
    question: str  # pre-prompt + prompt (+ hint)
    options: tuple[str, ...]  # proactive and abstain options offered now (empty in reference mode)
    categories: tuple[str, ...]
    accepted_options: tuple[str, ...]  # options that trigger an intervention now
    accepted_categories: tuple[str, ...]  # the correct category, or () when answering is not allowed yet
    informative: bool | None  # whether the view shows the answer; None when unknown
    short_edge: int | None = None  # resize mode: the view is resized to this short side (official transform)

    @property
    def choices(self) -> tuple[str, ...]:
        """Everything offered, in the order it is lettered."""
        return self.options + self.categories

    @property
    def prompt(self) -> str:
        """The official MCQA prompt text."""
        return mcqa_prompt(self.question, self.choices)

    @property
    def view_key(self) -> str:
        return view_key(self.image, self.crop)

    @property
    def record_name(self) -> str:
        """The record, as error messages name it ("QuickDraw record 3")."""
        return f"{self.scenario} record {self.record_id}"

    def judge(self, answer: str) -> Judgement:
        return judge_answer(
            answer, self.options, self.accepted_options, self.categories, self.accepted_categories
        )


@dataclass(frozen=True)
class Turn:
    """One answered turn."""

    state: TurnState
    answer: str
    judgement: Judgement
    action: Action  # the intervention applied (STOP when the episode ended)


def _remove_first(options: list[str], text: str, where: str) -> None:
    if text not in options:
        raise BenchmarkFormatError(
            f"{where}: option {text!r} is required by the scenario rules but missing from 'options'"
        )
    options.remove(text)


@dataclass
class Episode:
    """One ProactiveBench episode. Use :func:`make_episode` to get the scenario's subclass."""

    record: Record
    hint: bool = False
    reference: bool = False
    rng: random.Random | None = (
        None  # set: the official control that maps any accepted option to a random action
    )
    resize: bool = False  # the official resize_samples mode: views resized to a 224-pixel short side
    image_id: int = field(init=False)
    last_action: Action | None = field(init=False, default=None)
    turns: list[Turn] = field(init=False, default_factory=list)
    done: bool = field(init=False, default=False)
    success: bool = field(init=False, default=False)
    end_reason: str | None = field(init=False, default=None)

    action_space: tuple[Action, ...] = field(init=False, default=(Action.STOP,))

    def __post_init__(self) -> None:
        self.image_id = self.record.first_image
        self.correct_options = tuple(o for o in self.record.options if not is_abstain(o))

    # --- scenario hooks -------------------------------------------------------------------------
    @property
    def max_steps(self) -> int:
        return self.record.num_images

    def _image(self, image_id: int) -> str:
        return self.record.image_template.format(image=image_id)

    def _valid_options(self) -> list[str]:
        return list(self.record.options)

    def _accepted(self) -> tuple[list[str], list[str]]:
        """Options and categories accepted now (the official "correct options and categories")."""
        return list(self.correct_options), [self.record.answer]

    def _crop(self) -> Box | None:
        return None

    def _advance(self, action: Action) -> None:
        raise NotImplementedError

    def _hint_text(self) -> str:
        return SCENARIOS[self.record.scenario].hint

    def _informative_flag(self, image: str) -> bool | None:
        return True if image == self._image(self.record.reference_image) else None

    # --- the protocol ---------------------------------------------------------------------------
    @property
    def num_turns(self) -> int:
        return len(self.turns)

    @property
    def interventions(self) -> int:
        """Interventions the model asked for and the environment accepted.

        psr counts ``num_turns - 1`` per episode, as the official loop does; the two differ only when the
        step limit (or, in random-action mode, the video's end) cuts the last accepted request off.
        """
        return sum(t.judgement.outcome is Outcome.INTERVENTION for t in self.turns)

    def state(self) -> TurnState:
        """The view, question and choices of the current turn."""
        if self.done:
            raise RuntimeError(f"episode {self.record.scenario}/{self.record.id} has ended")
        scenario = SCENARIOS[self.record.scenario]
        if self.reference:
            image = self._image(self.record.reference_image)
            crop = None
            question = scenario.reference_prompt or self.record.prompt
            options: list[str] = []
            accepted_options: list[str] = []
            accepted_categories = [self.record.answer]
        else:
            image = self._displayed_image()
            crop = self._crop()
            question = self.record.prompt
            options = self._valid_options()
            accepted_options, accepted_categories = self._accepted()
        if scenario.pre_prompt:
            question = f"{scenario.pre_prompt} {question}"
        if self.hint:
            question = f"{question} {self._hint_text()}"
        informative = self._informative(image, crop)
        # Official: the resize transform replaces the identity; COCO's crop transform replaces it instead,
        # so COCO ignores the mode except on its uncropped reference image.
        short_edge = RESIZE_SHORT_EDGE if self.resize and crop is None else None
        return TurnState(
            scenario=self.record.scenario,
            record_id=self.record.id,
            step=self.num_turns,
            image=image,
            crop=crop,
            question=question,
            options=tuple(options),
            categories=self.record.categories,
            accepted_options=tuple(accepted_options),
            accepted_categories=tuple(accepted_categories),
            informative=informative,
            short_edge=short_edge,
        )

    def _displayed_image(self) -> str:
        return self._image(self.image_id)

    def _informative(self, image: str, crop: Box | None) -> bool | None:
        views = self.record.informative_views
        if views is not None:
            return view_key(image, crop) in views
        if self.reference:
            return True
        return self._informative_flag(image)

    def step(self, answer: str) -> Turn:
        """Apply one model answer and return the turn it made."""
        state = self.state()
        judgement = state.judge(answer)
        action = Action.STOP
        if judgement.outcome is Outcome.CORRECT:
            self.success = True
        elif judgement.outcome is Outcome.INTERVENTION and not self.reference:
            action = self._action_for(judgement.option or "")
        turn = Turn(state, answer, judgement, action)
        self.turns.append(turn)
        end_reason = None if action is not Action.STOP else judgement.outcome.value
        if action is not Action.STOP and self.num_turns == self.max_steps:
            action, end_reason = Action.STOP, STEP_LIMIT
        if action is not Action.STOP:
            self.last_action = action
            if not self._advance(action):
                end_reason = OUT_OF_RANGE
        if end_reason is not None:
            self.done = True
            self.end_reason = end_reason
        return turn

    def reject_view(self) -> None:
        """End the episode at the current view without a turn: the model's processor refused the image
        (e.g. a very thin COCO crop). The official loop breaks out of the episode there, so the turn is
        not counted: psr is ``num_turns - 1`` of the turns before it (-1 when it was the first view)."""
        self.state()  # raises when the episode has already ended
        self.done = True
        self.end_reason = REJECTED_IMAGE

    def fork(self) -> Episode:
        """An independent copy of the episode in progress (its state is plain attributes plus the turns)."""
        clone = copy.copy(self)
        clone.turns = list(self.turns)
        return clone

    def _action_for(self, option: str) -> Action:
        """Map an accepted option's text to its action (official keyword scan over the action space)."""
        allowed = [(key, act) for key, act in ACTION_KEYWORDS if act in self.action_space]
        # random-action mode: any keyword of the action space, drawn in the official order
        chosen = self.rng.choice([key for key, _ in allowed]) if self.rng is not None else option.lower()
        for key, act in allowed:
            if key in chosen:
                return act
        raise BenchmarkFormatError(
            f"{self.record.source}: option {option!r} names no action of {self.record.scenario}"
        )


class RODEpisode(Episode):
    """Realistic-Occlusion-Dataset: a block slides left or right, frames wrap around."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.action_space = (Action.STOP, Action.LEFT, Action.RIGHT)

    def _accepted(self) -> tuple[list[str], list[str]]:
        if self.last_action is None:  # first step: only moving the occluder is accepted
            return list(self.correct_options), []
        return list(self.correct_options), [self.record.answer]

    def _displayed_image(self) -> str:
        image = self._image(self.image_id)
        if "natural_bluebl_greenr-banana-s6" in image:  # a broken frame in the official data
            return image.replace("s6", "s5" if self.last_action is Action.LEFT else "s7")
        return image

    def _advance(self, action: Action) -> bool:
        delta = -1 if action is Action.LEFT else 1
        self.image_id = (self.image_id + delta) % self.record.num_images
        return True


class VSODEpisode(Episode):
    """OcclusionDataSet-MM20: wait for the occluder to pass, or rewind; frames wrap around."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.action_space = (Action.STOP, Action.REWIND, Action.FORWARD)

    def _image(self, image_id: int) -> str:
        return self.record.image_template.format(image=str(image_id).zfill(4))

    def _advance(self, action: Action) -> bool:
        delta = -1 if action is Action.REWIND else 1
        self.image_id = (self.image_id + delta) % self.record.num_images
        return True


class _LastStepAnswersOnly(Episode):
    """MVP-N, ImageNet-C, QuickDraw: interventions are accepted on every view but the last."""

    def _accepted(self) -> tuple[list[str], list[str]]:
        if self.num_turns + 1 < self.record.num_images:
            return list(self.correct_options), [self.record.answer]
        return [], [self.record.answer]


class MVPNEpisode(_LastStepAnswersOnly):
    """MVP-N: rotate the product; only the last view is informative."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.action_space = (Action.STOP, Action.ROTATE)

    def _image(self, image_id: int) -> str:
        informative = int(self.reference or self.num_turns + 1 == self.record.num_images)
        return self.record.image_template.format(informative=informative, image=str(image_id).zfill(4))

    def _informative_flag(self, image: str) -> bool | None:
        return bool(self.reference or self.num_turns + 1 == self.record.num_images)

    def _advance(self, action: Action) -> bool:
        self.image_id = self.record.extras["valid_images"][self.num_turns]
        return True


class INCEpisode(_LastStepAnswersOnly):
    """ImageNet-C: the one matching fix lowers the corruption severity by one (5 -> 1)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        quality = self.record.extras["quality_answer"]
        if quality in self.record.options:
            self.correct_options = (quality,)
        self.action_space = (
            Action.STOP,
            Action.BRIGHTNESS,
            Action.CONTRAST,
            Action.SATURATE,
            Action.BLUR,
            Action.NOISE,
            Action.JPEG_COMPRESSION,
            Action.PIXELATE,
            Action.ARTIFACTS,
        )

    def _image(self, image_id: int) -> str:
        return self.record.image_template.format(level=image_id)

    def _advance(self, action: Action) -> bool:
        self.image_id -= 1
        return True


class QDEpisode(_LastStepAnswersOnly):
    """QuickDraw: each intervention adds the next stroke."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.action_space = (Action.STOP, Action.DETAILS)

    def _image(self, image_id: int) -> str:
        return self.record.image_template.format(image=str(image_id).zfill(4))

    def _advance(self, action: Action) -> bool:
        self.image_id += 1
        return True


def _drop_wait(options: list[str]) -> None:
    """Remove the first "Wait for the ..." option (the official loop falls back to the last one)."""
    index = next((i for i, o in enumerate(options) if "Wait for the" in o), len(options) - 1)
    if options:
        options.pop(index)


class ChangeItEpisode(Episode):
    """ChangeIt: jump step_size frames forward (wait) or back (rewind); no wrap-around."""

    REWIND = "Rewind the video."

    def __post_init__(self) -> None:
        super().__post_init__()
        self.action_space = (Action.STOP, Action.REWIND, Action.FORWARD)

    @property
    def max_steps(self) -> int:
        return self.record.extras["max_steps"]

    def _image(self, image_id: int) -> str:
        return self.record.image_template.format(image=str(image_id))

    def _hide_unreachable(self, options: list[str]) -> list[str]:
        step = self.record.extras["step_size"]
        if self.image_id - step < 0:
            _remove_first(options, self.REWIND, self.record.source)
        elif self.image_id + step >= self.record.num_images:
            _drop_wait(options)
        return options

    def _valid_options(self) -> list[str]:
        options = list(self.record.options)
        return options if self.rng is not None else self._hide_unreachable(options)

    def _accepted(self) -> tuple[list[str], list[str]]:
        options = list(self.correct_options)
        return (options if self.rng is not None else self._hide_unreachable(options)), [self.record.answer]

    def _advance(self, action: Action) -> bool:
        step = self.record.extras["step_size"]
        target = self.image_id - step if action is Action.REWIND else self.image_id + step
        if self.rng is not None and not 0 <= target < self.record.num_images:
            return False
        self.image_id = target
        return True


_HORIZONTAL = ("Move the camera to the left.", "Move the camera to the right.")
_VERTICAL = ("Move the camera up.", "Move the camera down.")
ZOOM_OPTION = "Move farther from the object."


class COCOEpisode(Episode):
    """coco2014: the crop grows towards the object (left/right/up/down, diagonals, or zoom out)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        extras = self.record.extras
        self.direction: str = extras["direction"]
        granularity: int = extras["granularity"]
        self.h_step = extras["horizontal_step"]
        self.v_step = extras["vertical_step"]
        self.h_turns = 0
        self.v_turns = 0
        self.max_h = 0
        self.max_v = 0
        if "zoom" in self.direction:
            self.action_space = (Action.STOP, Action.ZOOM)
            self._max_steps = granularity + 1
            self.max_h = self.h_step * self._max_steps
            self.max_v = self.v_step * self._max_steps
        else:
            self._max_steps = granularity if "_" not in self.direction else granularity * 2
            space = [Action.STOP]
            for word, act in (
                ("up", Action.UP),
                ("down", Action.DOWN),
                ("left", Action.LEFT),
                ("right", Action.RIGHT),
            ):
                if word in self.direction:
                    space.append(act)
                    if act in (Action.UP, Action.DOWN):
                        self.max_v = self.v_step * granularity
                    else:
                        self.max_h = self.h_step * granularity
            self.action_space = tuple(space)

    @property
    def max_steps(self) -> int:
        return self._max_steps

    def _image(self, image_id: int) -> str:
        return self.record.image_template

    def _hint_text(self) -> str:
        return COCO_ZOOM_HINT if "zoom" in self.direction else SCENARIOS[self.record.scenario].hint

    def _hide_used_up(self, options: list[str]) -> list[str]:
        if self.rng is not None:
            return options
        if self.direction == "zoom":
            if self.h_step == self.max_h:
                _remove_first(options, ZOOM_OPTION, self.record.source)
            return options
        hidden = (_HORIZONTAL if self.h_step >= self.max_h else ()) + (
            _VERTICAL if self.v_step >= self.max_v else ()
        )
        for text in hidden:
            if text in options:
                options.remove(text)
        return options

    def _valid_options(self) -> list[str]:
        return self._hide_used_up(list(self.record.options))

    def _accepted(self) -> tuple[list[str], list[str]]:
        return self._hide_used_up(list(self.correct_options)), [self.record.answer]

    def _crop(self) -> Box | None:
        crop = self.record.extras["crop"]
        zoom = "zoom" in self.direction
        top = crop["top"] - self.v_step if ("up" in self.direction or zoom) else crop["top"]
        left = crop["left"] - self.h_step if ("left" in self.direction or zoom) else crop["left"]
        bottom = crop["height"] + self.v_step if ("down" in self.direction or zoom) else crop["height"]
        right = crop["width"] + self.h_step if ("right" in self.direction or zoom) else crop["width"]
        if self.direction == "zoom":
            bottom += crop["top"]
            right += crop["left"]
        return (left, top, right, bottom)

    def _advance(self, action: Action) -> bool:
        if action in (Action.LEFT, Action.RIGHT, Action.ZOOM):
            self.h_turns += 1
            self.h_step = self.h_step / self.h_turns * (self.h_turns + 1)
        if action in (Action.UP, Action.DOWN, Action.ZOOM):
            self.v_turns += 1
            self.v_step = self.v_step / self.v_turns * (self.v_turns + 1)
        return True


EPISODE_CLASSES: dict[str, type[Episode]] = {
    "Realistic-Occlusion-Dataset": RODEpisode,
    "OcclusionDataSet-MM20": VSODEpisode,
    "MVP-N": MVPNEpisode,
    "ImageNet-C": INCEpisode,
    "QuickDraw": QDEpisode,
    "ChangeIt": ChangeItEpisode,
    "coco2014": COCOEpisode,
}


def make_episode(
    record: Record,
    hint: bool = False,
    reference: bool = False,
    rng: random.Random | None = None,
    resize: bool = False,
) -> Episode:
    """A fresh episode of ``record`` under the chosen mode (hint, reference image, random actions, resize)."""
    return EPISODE_CLASSES[record.scenario](record, hint=hint, reference=reference, rng=rng, resize=resize)


def reachable_episodes(record: Record, hint: bool = False) -> Iterator[Episode]:
    """An episode in progress at every distinct state of ``record`` reachable by accepted interventions,
    breadth first (its turns are the path that reached the state).

    States alike in view, offered options and accepted answers are one state; the first reached (fewest
    turns) stands for all of them.
    """
    seen: set[tuple] = set()
    queue = deque([make_episode(record, hint=hint)])
    while queue:
        episode = queue.popleft()
        state = episode.state()
        signature = (state.view_key, state.options, state.accepted_options, state.accepted_categories)
        if signature in seen:
            continue
        seen.add(signature)
        yield episode
        for option in state.accepted_options:
            child = episode.fork()
            child.step(option)
            if not child.done:
                queue.append(child)


def reachable_states(record: Record, hint: bool = False) -> list[TurnState]:
    """Every distinct state an episode of ``record`` can reach by accepted interventions, breadth first
    (one single-turn example each; see :func:`reachable_episodes`)."""
    return [episode.state() for episode in reachable_episodes(record, hint)]


def image_path_for(record: Record) -> set[str]:
    """Every image path an episode of ``record`` can show (used to check a benchmark's images)."""
    probe = make_episode(record)
    paths: set[str] = set()
    if record.scenario == "MVP-N":
        valid = record.extras["valid_images"]
        n = record.num_images
        ids = [record.first_image] + list(valid[1:n])
        paths.update(
            record.image_template.format(informative=int(i == n - 1), image=str(v).zfill(4))
            for i, v in enumerate(ids)
        )
        paths.add(record.image_template.format(informative=1, image=str(record.reference_image).zfill(4)))
        return paths
    if record.scenario == "ImageNet-C":
        ids = range(1, record.num_images + 1)
    elif record.scenario == "ChangeIt":
        ids = range(
            record.first_image % record.extras["step_size"], record.num_images, record.extras["step_size"]
        )
    else:
        ids = range(record.num_images)
    paths.update(probe._image(i) for i in ids)
    paths.add(probe._image(record.reference_image))
    return paths
