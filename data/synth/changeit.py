"""ChangeIt: a video of a table on which an object is put down after a few frames.

Wait jumps ``step_size`` frames ahead, rewind jumps back; the object is on the table from frame
``appears`` on, which takes the oracle one to three jumps to reach.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

from PIL import Image, ImageDraw

from data.synth.drawing import (
    BACKGROUNDS,
    COLOURS,
    OUTLINE,
    RGB,
    Box,
    canvas,
    draw_shape,
    square_box,
    stroke_width,
)
from data.synth.sample import (
    ABSTAIN,
    ObjectClass,
    Sample,
    grid_classes,
    pick_categories,
    record_line,
    shuffled,
)

NAME = "ChangeIt"
CLASSES = grid_classes(("diamond", "hexagon", "star", "cross", "circle"), ("orange", "green"))
OPTIONS = ("Wait for the object to appear.", "Rewind the video.", ABSTAIN)
PROMPTS = (
    "Which object appears in the video?",
    "What object is put on the table?",
    "Which object shows up in this clip?",
)
TABLE: RGB = (150, 108, 70)


@dataclass(eq=False)
class ObjectAppears:
    size: int
    cls: ObjectClass
    appears: int  # first frame with the object
    obj: Box  # where it lands
    drift: float  # how far it slides per frame after landing
    table_top: float
    wall: RGB

    @cached_property
    def empty_table(self) -> Image.Image:
        image, draw = canvas(self.size, self.wall)
        draw.rectangle(
            (0, self.table_top, self.size, self.size),
            fill=TABLE,
            outline=OUTLINE,
            width=stroke_width(self.size),
        )
        return image

    def draw(self, frame: int) -> Image.Image:
        image = self.empty_table.copy()
        if frame >= self.appears:
            dx = (frame - self.appears) * self.drift
            box = (self.obj[0] + dx, self.obj[1], self.obj[2] + dx, self.obj[3])
            draw_shape(
                ImageDraw.Draw(image), self.cls.shape, box, COLOURS[self.cls.colour], stroke_width(self.size)
            )
        return image

    def visible(self, frame: int, crop: Box | None) -> bool:
        return frame >= self.appears


def make_sample(index: int, rng: random.Random, size: int) -> Sample:
    cls = rng.choice(CLASSES)
    num_frames = rng.randint(8, 16)
    step = rng.randint(1, 3)
    jumps = rng.randint(1, min(3, (num_frames - 1) // step))  # wait answers needed to see the object
    appears = rng.randint((jumps - 1) * step + 1, jumps * step)
    side = size * rng.uniform(0.36, 0.42)
    table_top = size * rng.uniform(0.6, 0.68)
    obj = square_box(size * rng.uniform(0.3, 0.5), table_top - side / 2 + size * 0.04, side)
    drift = size * 0.2 / num_frames  # slides right, never off the table
    scene = ObjectAppears(size, cls, appears, obj, drift, table_top, rng.choice(BACKGROUNDS))
    reachable = range(0, num_frames, step)
    reference = rng.choice([f for f in reachable if f >= appears])
    template = f"{NAME}/clip{index:05d}/{{image}}.png"
    line = record_line(
        index,
        template,
        0,
        num_frames,
        reference,
        rng.choice(PROMPTS),
        shuffled(rng, OPTIONS),
        pick_categories(rng, cls.name, [c.name for c in CLASSES]),
        cls.name,
        step_size=step,
        max_steps=jumps + 1 + rng.randint(0, 2),
    )
    return Sample(line, {template.format(image=f): f for f in reachable}, scene)
