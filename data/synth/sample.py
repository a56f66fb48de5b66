"""What every scenario generator returns: one record's JSONL line, its pictures and their ground truth."""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from data.synth.drawing import Box

ABSTAIN = "I cannot tell."


@dataclass(frozen=True)
class ObjectClass:
    """A class the generator can draw: a shape in a colour, named like "red star"."""

    name: str
    shape: str
    colour: str


def grid_classes(shapes: Sequence[str], colours: Sequence[str]) -> tuple[ObjectClass, ...]:
    """Every colour-shape pair, named "<colour> <shape>"."""
    return tuple(ObjectClass(f"{colour} {shape}", shape, colour) for shape in shapes for colour in colours)


def pick_categories(rng: random.Random, answer: str, distractors: Sequence[str]) -> list[str]:
    """The answer and three of ``distractors`` (the answer itself is skipped there), shuffled."""
    chosen = rng.sample([d for d in distractors if d != answer], 3) + [answer]
    rng.shuffle(chosen)
    return chosen


def shuffled(rng: random.Random, items: Sequence[str]) -> list[str]:
    out = list(items)
    rng.shuffle(out)
    return out


def record_line(
    index: int,
    image_template: str,
    first_image: int,
    num_images: int,
    reference_image: int,
    prompt: str,
    options: Sequence[str],
    categories: Sequence[str],
    answer: str,
    **extras: Any,
) -> dict[str, Any]:
    """One JSONL object with the official field names, common fields first."""
    return {
        "id": index,
        "image_template": image_template,
        "first_image": first_image,
        "num_images": num_images,
        "reference_image": reference_image,
        "prompt": prompt,
        "options": list(options),
        "categories": list(categories),
        "answer": answer,
        **extras,
    }


class Scene(Protocol):
    """The random parameters of one record, able to draw any of its views."""

    def draw(self, view: Any) -> Image.Image: ...

    def visible(self, view: Any, crop: Box | None) -> bool:
        """Ground truth: whether ``view`` (cropped to ``crop``) lets one recognise the answer."""
        ...


@dataclass
class Sample:
    """One generated record: its JSONL line, and ``views`` mapping every image path the record may show
    to what that image depicts in ``scene`` (a frame index, a severity level, ...).

    All randomness is drawn when the sample is made, so drawing is a pure function of the view.
    """

    line: dict[str, Any]
    views: dict[str, Hashable]
    scene: Scene

    def render(self, image: str) -> Image.Image:
        return self.scene.draw(self.views[image])

    def shows_object(self, image: str, crop: Box | None) -> bool:
        return self.scene.visible(self.views[image], crop)
