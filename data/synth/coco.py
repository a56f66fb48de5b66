"""coco2014: one scene photo seen through a crop that misses the object; moving the camera grows the crop.

The scene is twice the benchmark size, so crops are about the size of the other scenarios' images.
The start crop does not touch the object; the last crop the moves can reach contains it. A crop shows
the object when it holds at least 90% of the object's box. Distractors share the object's shape or colour.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image

from data.synth.drawing import (
    BACKGROUNDS,
    COLOURS,
    RGB,
    Box,
    canvas,
    draw_shape,
    inside_fraction,
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

NAME = "coco2014"
SHOWN_FRACTION = 0.9
CLASSES = grid_classes(("circle", "triangle", "diamond", "hexagon"), ("red", "blue", "yellow"))
DIRECTIONS = ("left", "right", "up", "down", "up_left", "up_right", "down_left", "down_right", "zoom")
MOVE_OPTIONS = {  # official option texts (data.environment)
    "left": "Move the camera to the left.",
    "right": "Move the camera to the right.",
    "up": "Move the camera up.",
    "down": "Move the camera down.",
    "zoom": "Move farther from the object.",
}
PROMPTS = (
    "What object is in the picture?",
    "Which object can be found in this scene?",
    "What is the main object in this photo?",
)
FLOOR: RGB = (170, 160, 146)
CLUTTER: tuple[RGB, ...] = ((120, 110, 100), (150, 150, 156), (104, 84, 70))


@dataclass(eq=False)
class CroppedScene:
    size: int  # side of the whole scene
    cls: ObjectClass
    obj: Box
    horizon: float
    wall: RGB
    clutter: list[tuple[Box, RGB]]

    def draw(self, view: int) -> Image.Image:
        image, draw = canvas(self.size, self.wall)
        draw.rectangle((0, self.horizon, self.size, self.size), fill=FLOOR)
        for box, colour in self.clutter:
            draw.rectangle(box, fill=colour)
        draw_shape(draw, self.cls.shape, self.obj, COLOURS[self.cls.colour], stroke_width(self.size, 1 / 60))
        return image

    def visible(self, view: int, crop: Box | None) -> bool:
        return crop is None or inside_fraction(self.obj, crop) >= SHOWN_FRACTION


def _axis(
    rng: random.Random, length: int, side: int, granularity: int, mode: str
) -> tuple[int, int, int, int]:
    """Crop low edge, crop high edge, step and object low edge along one axis.

    ``mode`` "low": the crop grows towards 0 (left, up); "high": towards ``length``; "static": it does
    not move on this axis and holds the object. The crop edges are the official record's values: the
    shown box spans [low - k * step, high] ("low"), [low, high + k * step] ("high") at move k-1, k >= 1.
    """
    margin = max(1, round(0.02 * length))
    step = math.ceil((side + 2 * margin) / (granularity - 1) * rng.uniform(1.0, 1.25))
    if mode == "static":
        extent = round(length * rng.uniform(0.5, 0.7))
        low = rng.randint(0, length - extent)
        return low, low + extent, step, rng.randint(low + margin, low + extent - margin - side)
    view = min(round(length * rng.uniform(0.38, 0.5)), length - (granularity - 1) * step)
    final_low = rng.randint(0, length - (granularity - 1) * step - view)
    low, high = final_low + granularity * step, final_low + (granularity - 1) * step + view
    obj_low = rng.randint(final_low + margin, low - step - margin - side)
    if mode == "low":
        return low, high, step, obj_low
    return length - high, length - low, step, length - obj_low - side


def _zoom(
    rng: random.Random, length: int, side: int, granularity: int
) -> tuple[dict[str, int], int, tuple[int, int]]:
    """Crop (official zoom fields), step and object corner for a zoom-out record.

    The shown box is the crop grown by k * step on every side at move k-1 (k = 1 .. granularity + 1);
    the object sits in the band the last growth reveals, on a random side.
    """
    margin = max(1, round(0.02 * length))
    step = math.ceil((side + 2 * margin) / granularity * rng.uniform(1.0, 1.1))
    reach = (granularity + 1) * step
    inner = [min(round(length * rng.uniform(0.25, 0.35)), length - 2 * reach) for _ in range(2)]
    low = [rng.randint(0, length - extent - 2 * reach) + reach for extent in inner]
    x = rng.randint(low[0] - reach + margin, low[0] - step - margin - side)  # in the band left of the crop
    y = rng.randint(low[1] - reach + margin, low[1] + inner[1] + reach - margin - side)
    if rng.random() < 0.5:  # the band on the right instead
        low[0], x = length - low[0] - inner[0], length - x - side
    if rng.random() < 0.5:  # above or below instead
        low, inner, (x, y) = low[::-1], inner[::-1], (y, x)
    return {"top": low[1], "left": low[0], "height": inner[1], "width": inner[0]}, step, (x, y)


def make_sample(index: int, rng: random.Random, size: int) -> Sample:
    scene_size = 2 * size
    cls = rng.choice(CLASSES)
    direction = rng.choice(DIRECTIONS)
    granularity = rng.randint(3, 5)
    if direction == "zoom":
        side = round(scene_size * rng.uniform(0.17, 0.19))
        crop, step, (x, y) = _zoom(rng, scene_size, side, granularity)
        h_step = v_step = step
        options = [MOVE_OPTIONS["zoom"]]
    else:
        side = round(scene_size * rng.uniform(0.2, 0.24))
        h_mode = "low" if "left" in direction else "high" if "right" in direction else "static"
        v_mode = "low" if "up" in direction else "high" if "down" in direction else "static"
        left, right, h_step, x = _axis(rng, scene_size, side, granularity, h_mode)
        top, bottom, v_step, y = _axis(rng, scene_size, side, granularity, v_mode)
        crop = {
            "top": top,
            "left": left,
            "height": bottom,
            "width": right,
        }  # official: height/width are edges
        options = [MOVE_OPTIONS[word] for word in direction.split("_")]
    clutter = []
    for _ in range(2):
        w, h = scene_size * rng.uniform(0.1, 0.25), scene_size * rng.uniform(0.1, 0.25)
        cx, cy = rng.uniform(0, scene_size - w), rng.uniform(0, scene_size - h)
        clutter.append(((cx, cy, cx + w, cy + h), rng.choice(CLUTTER)))
    obj = (x, y, x + side, y + side)
    scene = CroppedScene(
        scene_size, cls, obj, scene_size * rng.uniform(0.45, 0.65), rng.choice(BACKGROUNDS), clutter
    )
    image = f"{NAME}/images/scene{index:05d}.png"
    distractors = [c.name for c in CLASSES if (c.shape == cls.shape) != (c.colour == cls.colour)]
    line = record_line(
        index,
        image,
        0,
        1,
        0,
        rng.choice(PROMPTS),
        shuffled(rng, [*options, ABSTAIN]),
        pick_categories(rng, cls.name, distractors),
        cls.name,
        direction=direction,
        granularity=granularity,
        horizontal_step=h_step,
        vertical_step=v_step,
        crop=crop,
    )
    return Sample(line, {image: 0}, scene)
