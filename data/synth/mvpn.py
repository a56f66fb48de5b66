"""MVP-N: a product turned on a stand; only its front shows the label that tells similar products apart.

The products of one kind share body, size and back; their labels differ in colour, so every view but
the front looks the same across the four categories. View ids are 45-degree turns.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image

from data.synth.drawing import BACKGROUNDS, COLOURS, OUTLINE, RGB, WHITE, Box, canvas, stroke_width
from data.synth.sample import ABSTAIN, Sample, record_line, shuffled

NAME = "MVP-N"
NUM_VIEWS = 8  # view ids 0..7, one every 45 degrees
LABELS = ("red", "green", "blue", "yellow")
KINDS: dict[
    str, tuple[RGB, float, float, float]
] = {  # body colour, width, depth, height (fractions of the image)
    "soda can": ((196, 198, 206), 0.34, 0.34, 0.56),
    "cereal box": ((222, 200, 156), 0.5, 0.2, 0.7),
    "juice bottle": ((176, 206, 220), 0.3, 0.3, 0.5),
}
ROTATE_OPTIONS = (
    "Rotate the object.",
    "Show me a different view of the object.",
    "Change the viewing angle.",
    "Turn the product to another angle.",
    "Rotate the product to show its front.",
    "Look at the object from a different side.",
    "Change the orientation of the object.",
    "Show the object from another view.",
    "Rotate the item.",
    "Try a different angle.",
    "View the item from another side.",
)
PROMPTS = ("Which product is shown in the image?", "What product is this?", "Which item is on display?")


@dataclass(eq=False)
class TurnedProduct:
    size: int
    kind: str
    label: RGB
    front: int  # the view id that faces the camera
    centre: tuple[float, float]
    scale: float
    background: RGB

    def draw(self, view: int) -> Image.Image:
        body, width, depth, height = KINDS[self.kind]
        angle = math.radians((view - self.front) * 45)
        front_part, side_part = round(abs(math.cos(angle)), 6) * width, round(abs(math.sin(angle)), 6) * depth
        s = self.size * self.scale
        cx, cy = self.centre[0] * self.size, self.centre[1] * self.size
        half_w, half_h = (front_part + side_part) * s / 2, height * s / 2
        left, top, right, bottom = cx - half_w, cy - half_h, cx + half_w, cy + half_h
        image, draw = canvas(self.size, self.background)
        line = stroke_width(self.size, 1 / 60)
        if self.kind == "juice bottle":
            draw.rectangle(
                (cx - 0.05 * s, top - 0.12 * s, cx + 0.05 * s, top), fill=body, outline=OUTLINE, width=line
            )
            draw.rectangle((cx - 0.06 * s, top - 0.16 * s, cx + 0.06 * s, top - 0.12 * s), fill=OUTLINE)
        radius = 0.06 * s if self.kind != "cereal box" else 0
        draw.rounded_rectangle(
            (left, top, right, bottom), radius=radius, fill=body, outline=OUTLINE, width=line
        )
        if self.kind == "cereal box" and front_part and side_part:  # the edge between two faces
            edge = left + front_part * s if math.sin(angle) > 0 else right - front_part * s
            draw.line((edge, top, edge, bottom), fill=OUTLINE, width=line)
        if view == self.front:
            label = (
                left + 0.1 * width * s,
                cy - 0.2 * height * s,
                right - 0.1 * width * s,
                cy + 0.2 * height * s,
            )
            draw.rectangle(label, fill=self.label, outline=OUTLINE, width=line)
            r = 0.08 * height * s
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=WHITE)
        elif (view - self.front) % NUM_VIEWS == NUM_VIEWS // 2:  # the back: a barcode
            code = (
                cx - 0.25 * width * s,
                cy + 0.05 * height * s,
                cx + 0.25 * width * s,
                cy + 0.25 * height * s,
            )
            draw.rectangle(code, fill=WHITE)
            for k in range(7):
                x = code[0] + (code[2] - code[0]) * (k + 0.5) / 7
                draw.line((x, code[1] + 2, x, code[3] - 2), fill=OUTLINE, width=max(1, line - k % 2))
        return image

    def visible(self, view: int, crop: Box | None) -> bool:
        return view == self.front


def make_sample(index: int, rng: random.Random, size: int) -> Sample:
    kind = rng.choice(tuple(KINDS))
    label = rng.choice(LABELS)
    num_images = rng.randint(3, 5)
    front = rng.randrange(NUM_VIEWS)
    valid = rng.sample([v for v in range(NUM_VIEWS) if v != front], num_images - 1) + [front]
    centre = (rng.uniform(0.46, 0.54), rng.uniform(0.52, 0.58))
    scene = TurnedProduct(
        size, kind, COLOURS[label], front, centre, rng.uniform(0.95, 1.1), rng.choice(BACKGROUNDS)
    )
    template = f"{NAME}/item{index:05d}/{{image}}_{{informative}}.png"
    answer = f"{label} {kind}"
    categories = shuffled(rng, [f"{colour} {kind}" for colour in LABELS])
    options = shuffled(rng, [*rng.sample(ROTATE_OPTIONS, rng.randint(2, 3)), ABSTAIN])
    line = record_line(
        index,
        template,
        valid[0],
        num_images,
        front,
        rng.choice(PROMPTS),
        options,
        categories,
        answer,
        valid_images=valid,
    )
    views = {
        template.format(image=str(v).zfill(4), informative=int(turn == num_images - 1)): v
        for turn, v in enumerate(valid)
    }
    return Sample(line, views, scene)
