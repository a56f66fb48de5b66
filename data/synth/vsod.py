"""OcclusionDataSet-MM20: a short looping video in which a bus passes in front of people.

The bus stands right in front of the people at ``first_image``; frame i moves it by the signed loop
distance from there, and frames two or more steps away show everyone. Questions ask who is talking
(a speech bubble), how many people there are, or what the person is doing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

from PIL import Image, ImageDraw

from data.synth.drawing import COLOURS, OUTLINE, RGB, WHITE, Box, canvas, intersects, shifted, stroke_width
from data.synth.sample import ABSTAIN, Sample, pick_categories, record_line, shuffled

NAME = "OcclusionDataSet-MM20"
OPTIONS = ("Wait for the occlusion to disappear.", "Rewind the video.", ABSTAIN)
SHIRTS = ("red", "green", "blue", "purple", "yellow", "orange")
COUNTS = ("one", "two", "three", "four", "five")
EVENTS = ("waving", "holding a balloon", "kicking a ball", "carrying a box", "holding an umbrella")
PROMPTS = {
    "who": ("Who is talking in this scene?", "Which person is speaking?"),
    "count": ("How many people are in the scene?", "How many people can be seen in the video?"),
    "event": ("What is the person doing?", "Which activity is shown in the video?"),
}
CLEAR_STEPS = 2  # frames this many steps (or more) from first_image show everyone
GROUP_HALF_WIDTH = 0.35  # people stand within this fraction of the image width from the centre
SKIES: tuple[RGB, ...] = ((200, 222, 242), (214, 226, 236), (226, 232, 214))
GROUND: RGB = (150, 170, 120)
BUSES: tuple[RGB, ...] = ((90, 90, 100), (60, 84, 64), (120, 76, 44))
SKIN: RGB = (236, 196, 160)
TROUSERS: RGB = (50, 50, 80)
CARDBOARD: RGB = (170, 120, 70)


def draw_person(
    draw: ImageDraw.ImageDraw, cx: float, ground: float, height: float, shirt: RGB, pose: str
) -> None:
    """A stick person with a shirt; ``pose`` is "standing" or one of EVENTS (drawn with its prop)."""

    def at(right: float, up: float) -> tuple[float, float]:
        return (cx + right * height, ground - up * height)

    width = max(1, round(height * 0.06))
    hands = {
        "waving": at(0.3, 1.0),
        "holding a balloon": at(0.28, 0.95),
        "holding an umbrella": at(0.18, 0.95),
    }
    hand = hands.get(pose, at(0.22, 0.5) if pose == "carrying a box" else at(0.24, 0.42))
    foot = at(0.28, 0.14) if pose == "kicking a ball" else at(0.1, 0)
    draw.line((*at(-0.08, 0.38), *at(-0.1, 0)), fill=TROUSERS, width=width)
    draw.line((*at(0.08, 0.38), *foot), fill=TROUSERS, width=width)
    draw.line((*at(-0.16, 0.7), *at(-0.24, 0.42)), fill=SKIN, width=width)
    draw.line((*at(0.16, 0.7), *hand), fill=SKIN, width=width)
    draw.rectangle((*at(-0.16, 0.74), *at(0.16, 0.38)), fill=shirt, outline=OUTLINE)
    draw.ellipse((*at(-0.12, 0.98), *at(0.12, 0.74)), fill=SKIN, outline=OUTLINE)
    if pose == "holding a balloon":
        draw.line((*hand, *at(0.3, 1.15)), fill=OUTLINE, width=1)
        draw.ellipse((*at(0.2, 1.38), *at(0.4, 1.14)), fill=COLOURS["red"], outline=OUTLINE)
    elif pose == "kicking a ball":
        draw.ellipse((*at(0.32, 0.18), *at(0.5, 0)), fill=WHITE, outline=OUTLINE)
    elif pose == "carrying a box":
        draw.rectangle((*at(-0.2, 0.62), *at(0.26, 0.34)), fill=CARDBOARD, outline=OUTLINE)
    elif pose == "holding an umbrella":
        draw.line((*hand, *at(0.18, 1.2)), fill=OUTLINE, width=width)
        draw.pieslice((*at(-0.12, 1.4), *at(0.48, 1.0)), 180, 360, fill=COLOURS["blue"], outline=OUTLINE)


@dataclass(eq=False)
class PassingBus:
    size: int
    num_frames: int
    first: int
    people: list[tuple[float, RGB, str]]  # centre x, shirt, pose
    height: float  # of a person
    ground: float
    talker: int | None  # index into people of the one with a speech bubble
    group: Box  # the region all people and props stay in
    bus: Box  # where the bus stands at the first frame
    shift: float
    sky: RGB
    bus_colour: RGB

    def offset(self, frame: int) -> int:
        """Signed loop distance of ``frame`` from the first frame."""
        half = self.num_frames // 2
        return (frame - self.first + half) % self.num_frames - half

    def bus_at(self, frame: int) -> Box:
        return shifted(self.bus, self.offset(frame) * self.shift)

    @cached_property
    def street(self) -> Image.Image:
        image, draw = canvas(self.size, self.sky)
        draw.rectangle((0, self.ground - self.size * 0.04, self.size, self.size), fill=GROUND)
        for x, shirt, pose in self.people:
            draw_person(draw, x, self.ground, self.height, shirt, pose)
        if self.talker is not None:
            x = self.people[self.talker][0]
            top = self.ground - 1.32 * self.height
            bubble = (x - 0.08 * self.size, top, x + 0.08 * self.size, top + 0.1 * self.size)
            tail = [
                (x - 0.03 * self.size, bubble[3] - 2),
                (x + 0.03 * self.size, bubble[3] - 2),
                (x, bubble[3] + 0.04 * self.size),
            ]
            draw.polygon(tail, fill=WHITE, outline=OUTLINE)
            draw.ellipse(bubble, fill=WHITE, outline=OUTLINE, width=stroke_width(self.size, 1 / 80))
        return image

    def draw(self, frame: int) -> Image.Image:
        image = self.street.copy()
        draw = ImageDraw.Draw(image)
        box = self.bus_at(frame)
        draw.rectangle(box, fill=self.bus_colour, outline=OUTLINE, width=stroke_width(self.size))
        height = box[3] - box[1]
        windows = (box[0] + 4, box[1] + height * 0.12, box[2] - 4, box[1] + height * 0.4)
        draw.rectangle(windows, fill=(180, 210, 230), outline=OUTLINE)
        radius = self.size * 0.06
        for wx in (box[0] + (box[2] - box[0]) * 0.2, box[0] + (box[2] - box[0]) * 0.8):
            draw.ellipse(
                (wx - radius, box[3] - radius * 1.5, wx + radius, box[3] + radius * 0.5), fill=OUTLINE
            )
        return image

    def visible(self, frame: int, crop: Box | None) -> bool:
        return not intersects(self.bus_at(frame), self.group)


def make_sample(index: int, rng: random.Random, size: int, strong: bool = True) -> Sample:
    """One record; ``strong=False`` makes a weak occlusion (the bus covers only legs), which the loader drops."""
    num_frames = rng.randint(8, 10)
    first = rng.randrange(num_frames)
    question = rng.choice(tuple(PROMPTS))
    cx, ground = size * rng.uniform(0.47, 0.53), size * 0.88
    talker = None
    if question == "count":
        count = rng.randint(1, len(COUNTS))
        height, spacing = size * 0.36, size * 0.125
        people = [
            (cx + (k - (count - 1) / 2) * spacing, COLOURS[rng.choice(SHIRTS)], "standing")
            for k in range(count)
        ]
        answer, pool = COUNTS[count - 1], COUNTS
    elif question == "who":
        shirts = rng.sample(SHIRTS, 3)
        height = size * 0.42
        talker = rng.randrange(3)
        people = [(cx + (k - 1) * size * 0.18, COLOURS[shirt], "standing") for k, shirt in enumerate(shirts)]
        answer = f"person in {shirts[talker]}"
        absent = rng.choice([s for s in SHIRTS if s not in shirts])
        pool = tuple(f"person in {s}" for s in [*shirts, absent])  # everyone seen, and one more
    else:
        answer = rng.choice(EVENTS)
        height = size * 0.42
        people = [(cx - 0.1 * height, COLOURS[rng.choice(SHIRTS)], answer)]
        pool = EVENTS
    half = GROUP_HALF_WIDTH * size
    group = (cx - half, size * 0.28, cx + half, ground + 1)
    bus_half = size * rng.uniform(0.38, 0.42)
    bus_top = size * (0.68 if not strong else 0.24)
    bus = (cx - bus_half, bus_top, cx + bus_half, size * 0.93)
    shift = (bus_half + half) / CLEAR_STEPS * 1.04
    scene = PassingBus(
        size,
        num_frames,
        first,
        people,
        height,
        ground,
        talker,
        group,
        bus,
        shift,
        rng.choice(SKIES),
        rng.choice(BUSES),
    )
    template = f"{NAME}/video{index:05d}/{{image}}.png"
    reference = rng.choice([i for i in range(num_frames) if scene.visible(i, None)])
    line = record_line(
        index,
        template,
        first,
        num_frames,
        reference,
        rng.choice(PROMPTS[question]),
        shuffled(rng, OPTIONS),
        pick_categories(rng, answer, pool),
        answer,
        strong_occlusions=strong,
    )
    return Sample(line, {template.format(image=str(i).zfill(4)): i for i in range(num_frames)}, scene)
