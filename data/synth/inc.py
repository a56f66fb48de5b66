"""ImageNet-C: an object photo under one of eight real corruptions, at severity 5 (worst) down to 1.

Level 0 is the clean picture. Levels 1 and 2 are recognisable, 3 to 5 are not. The distractors are
chosen so that what a corruption leaves intact does not give the answer away: corruptions that keep
colours (blur, noise, JPEG, pixelation, shuffled blocks) get same-colour distractors, desaturation
gets same-shape distractors.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from data.synth.drawing import BACKGROUNDS, COLOURS, RGB, Box, canvas, draw_shape, square_box, stroke_width
from data.synth.sample import (
    ABSTAIN,
    ObjectClass,
    Sample,
    grid_classes,
    pick_categories,
    record_line,
    shuffled,
)

NAME = "ImageNet-C"
SEVERITIES = 5
RECOGNISABLE_UP_TO = 2  # levels 0..2 show the object
CLASSES = grid_classes(("circle", "square", "triangle", "star"), ("red", "green", "blue", "purple"))
# corruption -> (the option that undoes it, its parameter at levels 0..5)
CORRUPTIONS: dict[str, tuple[str, tuple[float, ...]]] = {
    "gaussian_blur": ("Deblur the image.", (0, 1, 2.5, 5, 9, 15)),  # radius at 112 px
    "gaussian_noise": ("Denoise the image.", (0, 30, 60, 120, 180, 255)),  # standard deviation
    "darken": ("Increase the brightness.", (1, 0.6, 0.35, 0.08, 0.03, 0.01)),  # brightness factor
    "low_contrast": ("Increase the contrast.", (1, 0.5, 0.3, 0.06, 0.025, 0.01)),  # contrast factor
    "desaturate": ("Increase the saturation.", (1, 0.55, 0.32, 0.1, 0.03, 0)),  # colour factor
    "jpeg_compression": ("Reduce the compression.", (100, 25, 12, 6, 3, 1)),  # JPEG quality
    "pixelate": ("Increase the resolution.", (1, 3, 5, 9, 16, 28)),  # pixel block side at 112 px
    "blocky_artifacts": ("Remove the artifacts.", (0, 0.08, 0.2, 0.45, 0.75, 1)),  # share of blocks moved
}
JPEG_SHRINK = (1, 1, 1, 2, 3, 4)  # the worst levels are also encoded at a fraction of the resolution
KEEPS_COLOUR = ("gaussian_blur", "gaussian_noise", "jpeg_compression", "pixelate", "blocky_artifacts")
PROMPTS = (
    "What object is shown in the image?",
    "Which object does this picture show?",
    "What is depicted in the image?",
)


def corrupt(image: Image.Image, corruption: str, level: int, seed: int) -> Image.Image:
    """``image`` under ``corruption`` at ``level`` (0 returns it unchanged); ``seed`` drives the random ones."""
    if level == 0:
        return image
    value = CORRUPTIONS[corruption][1][level]
    scale = image.width / 112
    if corruption == "gaussian_blur":
        return image.filter(ImageFilter.GaussianBlur(value * scale))
    if corruption == "gaussian_noise":
        noise = np.random.default_rng(seed).normal(0.0, value, (image.height, image.width, 3))
        return Image.fromarray(np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8))
    if corruption == "darken":
        return ImageEnhance.Brightness(image).enhance(value)
    if corruption == "low_contrast":
        return ImageEnhance.Contrast(image).enhance(value)
    if corruption == "desaturate":
        return ImageEnhance.Color(image).enhance(value)
    if corruption == "jpeg_compression":
        small = image.reduce(JPEG_SHRINK[level])
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=int(value))
        return Image.open(buffer).convert("RGB").resize(image.size, Image.Resampling.BILINEAR)
    if corruption == "pixelate":
        side = max(1, round(image.width / (value * scale)))
        return image.resize((side, side), Image.Resampling.BOX).resize(image.size, Image.Resampling.NEAREST)
    if corruption == "blocky_artifacts":
        return _move_blocks(image, value, seed)
    raise ValueError(f"unknown corruption {corruption!r}; known: {', '.join(CORRUPTIONS)}")


def _move_blocks(image: Image.Image, share: float, seed: int, grid: int = 8) -> Image.Image:
    """Swap a ``share`` of the image's grid blocks among themselves."""
    pixels = np.asarray(image).copy()
    side = image.width // grid
    rng = np.random.default_rng(seed)
    blocks = [(r, c) for r in range(grid) for c in range(grid)]
    chosen = rng.choice(len(blocks), size=round(share * len(blocks)), replace=False)
    targets = rng.permutation(chosen)
    source = pixels.copy()
    for a, b in zip(chosen, targets, strict=True):
        (ra, ca), (rb, cb) = blocks[a], blocks[b]
        pixels[ra * side : (ra + 1) * side, ca * side : (ca + 1) * side] = source[
            rb * side : (rb + 1) * side, cb * side : (cb + 1) * side
        ]
    return Image.fromarray(pixels)


@dataclass(eq=False)
class CorruptedObject:
    size: int
    cls: ObjectClass
    obj: Box
    background: RGB
    corruption: str
    seed: int

    @cached_property
    def clean(self) -> Image.Image:
        image, draw = canvas(self.size, self.background)
        draw_shape(draw, self.cls.shape, self.obj, COLOURS[self.cls.colour], stroke_width(self.size))
        return image.convert("RGB")

    def draw(self, level: int) -> Image.Image:
        return corrupt(self.clean, self.corruption, level, self.seed + level)

    def visible(self, level: int, crop: Box | None) -> bool:
        return level <= RECOGNISABLE_UP_TO


def _distractors(cls: ObjectClass, corruption: str, rng: random.Random) -> list[str]:
    same_colour = corruption in KEEPS_COLOUR or (corruption != "desaturate" and rng.random() < 0.5)
    if same_colour:
        return [c.name for c in CLASSES if c.colour == cls.colour]
    return [c.name for c in CLASSES if c.shape == cls.shape]


def make_sample(index: int, rng: random.Random, size: int) -> Sample:
    cls = rng.choice(CLASSES)
    corruption = rng.choice(tuple(CORRUPTIONS))
    centre = (size * rng.uniform(0.44, 0.56), size * rng.uniform(0.44, 0.56))
    obj = square_box(*centre, size * rng.uniform(0.55, 0.65))
    scene = CorruptedObject(size, cls, obj, rng.choice(BACKGROUNDS), corruption, rng.getrandbits(32))
    fix = CORRUPTIONS[corruption][0]
    others = [option for option, _ in CORRUPTIONS.values() if option != fix]
    options = shuffled(rng, [fix, *rng.sample(others, 3), ABSTAIN])
    template = f"{NAME}/{corruption}/{{level}}/photo{index:05d}.png"
    categories = pick_categories(rng, cls.name, _distractors(cls, corruption, rng))
    line = record_line(
        index,
        template,
        SEVERITIES,
        SEVERITIES,
        0,
        rng.choice(PROMPTS),
        options,
        categories,
        cls.name,
        quality_answer=fix,
    )
    return Sample(line, {template.format(level=level): level for level in range(SEVERITIES + 1)}, scene)
