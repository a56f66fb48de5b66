"""QuickDraw: a sketch drawn stroke by stroke; the classes of a family share their first three strokes.

Frame k shows strokes 0..k. A frame shows the answer once its strokes differ from every distractor's
first strokes, which for these families happens at the fourth stroke.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image

from data.synth.drawing import Box, canvas, stroke_width
from data.synth.sample import ABSTAIN, Sample, pick_categories, record_line, shuffled

NAME = "QuickDraw"
Points = list[tuple[float, float]]


def _ring(
    cx: float, cy: float, rx: float, ry: float, start: float = 0, end: float = 360, corners: int = 20
) -> Points:
    steps = [math.radians(start + (end - start) * k / corners) for k in range(corners + 1)]
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in steps]


def _rect(left: float, top: float, right: float, bottom: float) -> Points:
    return [(left, top), (right, top), (right, bottom), (left, bottom), (left, top)]


# Named strokes in a unit square (y down).
STROKES: dict[str, Points] = {
    "head": _ring(0.5, 0.55, 0.32, 0.32),
    "left eye": _ring(0.38, 0.48, 0.04, 0.04, corners=8),
    "right eye": _ring(0.62, 0.48, 0.04, 0.04, corners=8),
    "smile": _ring(0.5, 0.62, 0.14, 0.1, 20, 160, 10),
    "nose": [(0.5, 0.5), (0.5, 0.6)],
    "cat left ear": [(0.24, 0.4), (0.24, 0.12), (0.42, 0.25)],
    "cat right ear": [(0.76, 0.4), (0.76, 0.12), (0.58, 0.25)],
    "whiskers": [(0.08, 0.56), (0.38, 0.62), (0.08, 0.7)],
    "snout": _ring(0.5, 0.64, 0.11, 0.07, corners=12),
    "bear left ear": _ring(0.27, 0.27, 0.1, 0.1, 135, 360, 10),
    "bear right ear": _ring(0.73, 0.27, 0.1, 0.1, 180, 405, 10),
    "beak": [(0.45, 0.57), (0.55, 0.57), (0.5, 0.68), (0.45, 0.57)],
    "tufts": [(0.26, 0.3), (0.28, 0.08), (0.42, 0.24), (0.58, 0.24), (0.72, 0.08), (0.74, 0.3)],
    "body": _rect(0.1, 0.45, 0.9, 0.7),
    "left wheel": _ring(0.3, 0.74, 0.08, 0.08, corners=12),
    "right wheel": _ring(0.7, 0.74, 0.08, 0.08, corners=12),
    "cabin": [(0.26, 0.45), (0.36, 0.28), (0.66, 0.28), (0.76, 0.45)],
    "windows": _rect(0.2, 0.5, 0.8, 0.58),
    "door": _rect(0.12, 0.5, 0.18, 0.68),
    "cab": _rect(0.66, 0.26, 0.9, 0.45),
    "cab window": _rect(0.72, 0.3, 0.84, 0.38),
    "chimney": _rect(0.2, 0.3, 0.28, 0.45),
    "smoke": _ring(0.24, 0.16, 0.08, 0.06, corners=12),
    "cross": [
        (0.45, 0.5),
        (0.55, 0.5),
        (0.55, 0.55),
        (0.6, 0.55),
        (0.6, 0.62),
        (0.55, 0.62),
        (0.55, 0.67),
        (0.45, 0.67),
        (0.45, 0.62),
        (0.4, 0.62),
        (0.4, 0.55),
        (0.45, 0.55),
        (0.45, 0.5),
    ],
    "siren": _rect(0.46, 0.38, 0.54, 0.45),
}
FACE_BASE = ("head", "left eye", "right eye")
VEHICLE_BASE = ("body", "left wheel", "right wheel")
FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "faces": {
        "face": (*FACE_BASE, "smile", "nose"),
        "cat": (*FACE_BASE, "cat left ear", "cat right ear", "whiskers"),
        "pig": (*FACE_BASE, "snout"),
        "bear": (*FACE_BASE, "bear left ear", "bear right ear"),
        "owl": (*FACE_BASE, "beak", "tufts"),
    },
    "vehicles": {
        "car": (*VEHICLE_BASE, "cabin"),
        "bus": (*VEHICLE_BASE, "windows", "door"),
        "truck": (*VEHICLE_BASE, "cab", "cab window"),
        "train": (*VEHICLE_BASE, "chimney", "cab", "smoke"),
        "ambulance": (*VEHICLE_BASE, "cross", "siren"),
    },
}
DETAIL_OPTIONS = (
    "Add more details.",
    "Keep drawing.",
    "Continue the sketch.",
    "Finish the quickdraw.",
    "Add more details to the picture.",
    "Please keep drawing.",
    "Complete the sketch.",
    "Add the missing details.",
    "Continue the quickdraw.",
    "Let the artist keep drawing.",
    "Extend the sketch.",
    "Show more of the quickdraw.",
    "Add further details.",
)
PROMPTS = (
    "What is being drawn in this sketch?",
    "Which object does this drawing show?",
    "What does this quick sketch represent?",
)


@dataclass(eq=False)
class Sketch:
    size: int
    strokes: list[Points]  # in pixels, already jittered
    names: tuple[str, ...]  # the answer's stroke names
    rivals: list[tuple[str, ...]]  # the distractors' stroke names

    def draw(self, last: int) -> Image.Image:
        image, draw = canvas(self.size, (255, 255, 255))
        for points in self.strokes[: last + 1]:
            draw.line(points, fill=(0, 0, 0), width=stroke_width(self.size, 1 / 30), joint="curve")
        return image

    def visible(self, last: int, crop: Box | None) -> bool:
        drawn = self.names[: last + 1]
        return all(rival[: last + 1] != drawn for rival in self.rivals)


def _jittered(rng: random.Random, size: int, names: tuple[str, ...]) -> list[Points]:
    """The strokes placed with a random scale, turn and shift, each point nudged as a hand would."""
    scale, turn = size * rng.uniform(0.85, 1.0), math.radians(rng.uniform(-8, 8))
    dx, dy = size * rng.uniform(-0.05, 0.05), size * rng.uniform(-0.05, 0.05)
    cos, sin = math.cos(turn), math.sin(turn)
    strokes = []
    for name in names:
        points = []
        for x, y in STROKES[name]:
            x, y = x - 0.5 + rng.uniform(-0.012, 0.012), y - 0.5 + rng.uniform(-0.012, 0.012)
            points.append(
                (size / 2 + dx + scale * (cos * x - sin * y), size / 2 + dy + scale * (sin * x + cos * y))
            )
        strokes.append(points)
    return strokes


def make_sample(index: int, rng: random.Random, size: int) -> Sample:
    family = FAMILIES[rng.choice(tuple(FAMILIES))]
    answer = rng.choice(tuple(family))
    categories = pick_categories(rng, answer, tuple(family))
    names = family[answer]
    scene = Sketch(size, _jittered(rng, size, names), names, [family[c] for c in categories if c != answer])
    template = f"{NAME}/sketch{index:05d}/{{image}}.png"
    options = shuffled(rng, [rng.choice(DETAIL_OPTIONS), ABSTAIN])
    n = len(names)
    line = record_line(index, template, 0, n, n - 1, rng.choice(PROMPTS), options, categories, answer)
    return Sample(line, {template.format(image=str(k).zfill(4)): k for k in range(n)}, scene)
