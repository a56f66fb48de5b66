"""Realistic-Occlusion-Dataset: an object on a table behind a block that slides left or right.

Fourteen frames; frame 7 has the block right in front of the object, frame i moves it by (i - 7)
steps, and frames at least three steps away show the whole object (both ends of the loop included).
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
    intersects,
    shifted,
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

NAME = "Realistic-Occlusion-Dataset"
NUM_FRAMES = 14
FIRST_FRAME = 7
CLEAR_STEPS = 3  # frames this many steps (or more) from FIRST_FRAME show the whole object
CLASSES = grid_classes(("circle", "square", "triangle", "star", "cross"), ("red", "blue"))
OPTIONS = ("Move the occluder to the left.", "Move the occluder to the right.", ABSTAIN)
PROMPTS = (
    "What object is hidden behind the block?",
    "Which object is behind the occluder?",
    "What kind of object is standing behind the obstacle?",
)
BLOCK_COLOURS: tuple[RGB, ...] = ((120, 86, 52), (92, 92, 104), (70, 104, 120))
TABLE_COLOUR: RGB = (176, 140, 100)


@dataclass(eq=False)
class OccludedObject:
    size: int
    background: RGB
    cls: ObjectClass
    obj: Box
    block: Box  # where the block stands in the first frame
    shift: float  # how far the block moves per frame
    block_colour: RGB

    def block_at(self, frame: int) -> Box:
        return shifted(self.block, (frame - FIRST_FRAME) * self.shift)

    @cached_property
    def table_scene(self) -> Image.Image:
        image, draw = canvas(self.size, self.background)
        draw.rectangle((0, self.obj[3], self.size, self.size), fill=TABLE_COLOUR)
        draw_shape(draw, self.cls.shape, self.obj, COLOURS[self.cls.colour], stroke_width(self.size))
        return image

    def draw(self, frame: int) -> Image.Image:
        image = self.table_scene.copy()
        draw = ImageDraw.Draw(image)
        box = self.block_at(frame)
        draw.rectangle(box, fill=self.block_colour, outline=OUTLINE, width=stroke_width(self.size))
        for k in (1, 2):  # wood-grain lines
            y = box[1] + (box[3] - box[1]) * k / 3
            draw.line((box[0] + 3, y, box[2] - 3, y), fill=OUTLINE, width=1)
        return image

    def visible(self, frame: int, crop: Box | None) -> bool:
        return not intersects(self.block_at(frame), self.obj)


def make_sample(index: int, rng: random.Random, size: int) -> Sample:
    cls = rng.choice(CLASSES)
    side = size * rng.uniform(0.32, 0.38)
    cx, cy = size * rng.uniform(0.46, 0.54), size * rng.uniform(0.5, 0.58)
    obj = square_box(cx, cy, side)
    block_width = side * rng.uniform(1.7, 1.9)
    block = (cx - block_width / 2, obj[1] - size * 0.08, cx + block_width / 2, min(size, obj[3] + size * 0.1))
    shift = (block_width + side) / 2 / CLEAR_STEPS * 1.04
    scene = OccludedObject(size, rng.choice(BACKGROUNDS), cls, obj, block, shift, rng.choice(BLOCK_COLOURS))
    template = f"{NAME}/sample{index:05d}/frame-s{{image}}.png"
    reference = rng.choice([i for i in range(NUM_FRAMES) if scene.visible(i, None)])
    line = record_line(
        index,
        template,
        FIRST_FRAME,
        NUM_FRAMES,
        reference,
        rng.choice(PROMPTS),
        shuffled(rng, OPTIONS),
        pick_categories(rng, cls.name, [c.name for c in CLASSES]),
        cls.name,
    )
    return Sample(line, {template.format(image=i): i for i in range(NUM_FRAMES)}, scene)
