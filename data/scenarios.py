"""The seven ProactiveBench scenarios: names, fixed prompt parts and intervention vocabulary.

Prompt strings and action keywords are protocol facts of the official environment
(proactivebench 0.1.1); they must stay byte-identical for fidelity.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Action(IntEnum):
    """Interventions an accepted option can trigger (STOP ends the episode)."""

    STOP = 0
    LEFT = 1
    RIGHT = 2
    REWIND = 3
    FORWARD = 4
    ROTATE = 5
    BRIGHTNESS = 6
    CONTRAST = 7
    SATURATE = 8
    BLUR = 9
    NOISE = 10
    JPEG_COMPRESSION = 11
    PIXELATE = 12
    ARTIFACTS = 13
    DETAILS = 14
    UP = 15
    DOWN = 16
    ZOOM = 17


# Keyword -> action, in the order the official environment scans them. An option's lower-cased text
# selects the first keyword of the scenario's action space that it contains.
ACTION_KEYWORDS: tuple[tuple[str, Action], ...] = (
    ("to the left", Action.LEFT),
    ("to the right", Action.RIGHT),
    ("rewind the video.", Action.REWIND),
    ("wait for the", Action.FORWARD),
    ("rotate", Action.ROTATE),
    ("view", Action.ROTATE),
    ("angle", Action.ROTATE),
    ("orientation", Action.ROTATE),
    ("different", Action.ROTATE),
    ("brightness", Action.BRIGHTNESS),
    ("contrast", Action.CONTRAST),
    ("saturation", Action.SATURATE),
    ("deblur", Action.BLUR),
    ("denoise", Action.NOISE),
    ("compression", Action.JPEG_COMPRESSION),
    ("resolution", Action.PIXELATE),
    ("artifacts", Action.ARTIFACTS),
    ("details", Action.DETAILS),
    ("quickdraw", Action.DETAILS),
    ("drawing", Action.DETAILS),
    ("sketch", Action.DETAILS),
    ("up", Action.UP),
    ("down", Action.DOWN),
    ("farther", Action.ZOOM),
)

ABSTAIN_MARKERS = ("cannot", "do not")


def is_abstain(option: str) -> bool:
    """An option is an abstention when it says "cannot" or "do not" (official rule)."""
    low = option.lower()
    return any(marker in low for marker in ABSTAIN_MARKERS)


VIDEO_PRE_PROMPT = "This is a frame extracted from a video. Answer the following question."


@dataclass(frozen=True)
class Scenario:
    """Static facts of one scenario."""

    name: str  # official file name stem, e.g. "QuickDraw"
    short: str  # the paper's acronym, e.g. "QD"
    hint: str
    pre_prompt: str = ""
    reference_prompt: str | None = None
    extra_fields: tuple[str, ...] = ()
    cot_prompt: str | None = None  # chain of thought written before the answer in in-context examples
    icl_short_edge: int | None = None  # in-context example images, resized under the resize mode


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "Realistic-Occlusion-Dataset",
            "ROD",
            hint="Hint: moving the occluding object might reveal what is behind it.",
            reference_prompt="What type of object is in the image?",
            cot_prompt="I cannot see what is behind the occluding object. Moving the occluding object might reveal its position. So, first, I need to move the occluding object and then answer the question. Therefore, the answer is:",
            icl_short_edge=512,
        ),
        Scenario(
            "OcclusionDataSet-MM20",
            "VSOD",
            hint="Hint: If there is an occlusion, waiting for it to disappear or rewinding the video might reveal what's behind it.",
            pre_prompt=VIDEO_PRE_PROMPT,
            extra_fields=("strong_occlusions",),
        ),
        Scenario(
            "MVP-N",
            "MVP-N",
            hint="Hint: rotating the object could provide a more informative view.",
            extra_fields=("valid_images",),
            cot_prompt="I cannot tell which object is this. Rotating the object or changing the viewpoint might provide a more informative view. So, first, I need to rotate the object or change the viewpoint and then answer the question. Therefore, the answer is:",
            icl_short_edge=112,
        ),
        Scenario(
            "ImageNet-C",
            "IN-C",
            hint="Hint: enhancing the image quality could help with classification.",
            extra_fields=("quality_answer",),
        ),
        Scenario(
            "QuickDraw",
            "QD",
            hint="Hint: Adding more details to the quickdraw could help with classification.",
        ),
        Scenario(
            "ChangeIt",
            "CIT",
            hint="Hint: If you cannot answer the question, waiting for it to appear or rewinding the video could help with classification.",
            pre_prompt=VIDEO_PRE_PROMPT,
            extra_fields=("step_size", "max_steps"),
        ),
        Scenario(
            "coco2014",
            "COCO",
            hint="Hint: moving the camera could help with classification.",
            extra_fields=("direction", "granularity", "horizontal_step", "vertical_step", "crop"),
        ),
    )
}
COCO_ZOOM_HINT = "Hint: zooming out could help with classification."
# The resize mode (official resize_samples): every view's short side, COCO crops excepted.
RESIZE_SHORT_EDGE = 224

SCENARIO_NAMES: tuple[str, ...] = tuple(SCENARIOS)
_BY_SHORT = {s.short.lower(): s.name for s in SCENARIOS.values()}


def resolve_scenario(name: str) -> str:
    """Map an official name or acronym (any case: "qd", "QuickDraw", "CIT") to the official name."""
    if name in SCENARIOS:
        return name
    key = name.lower()
    for official in SCENARIOS:
        if official.lower() == key:
            return official
    if key in _BY_SHORT:
        return _BY_SHORT[key]
    known = ", ".join(f"{s.short} ({s.name})" for s in SCENARIOS.values())
    raise ValueError(f"unknown scenario {name!r}; known: {known}")
