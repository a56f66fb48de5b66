"""Cheap drawing primitives for the synthetic benchmark: palette, shapes and box geometry."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]  # left, top, right, bottom

# Object colours. Red, green, blue and purple share a luma of about 105, so a grey image cannot tell
# them apart (the desaturation corruption relies on it).
COLOURS: dict[str, RGB] = {
    "red": (230, 50, 50),
    "green": (40, 150, 40),
    "blue": (70, 100, 255),
    "purple": (170, 60, 200),
    "yellow": (245, 215, 30),
    "orange": (245, 135, 20),
}
BACKGROUNDS: tuple[RGB, ...] = ((236, 232, 222), (222, 228, 234), (230, 230, 230), (238, 228, 214))
OUTLINE: RGB = (25, 25, 25)
WHITE: RGB = (250, 250, 250)
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond", "cross", "hexagon")


def stroke_width(size: int, fraction: float = 1 / 40) -> int:
    """A line width that scales with the image size (at least one pixel)."""
    return max(1, round(size * fraction))


def canvas(size: int, colour: RGB) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A square picture filled with ``colour``, and a pen for it.

    The picture is a palette image: flat drawings need few colours, and a palette PNG is about three
    times quicker to write than an RGB one. Readers convert to RGB (``data.images.open_view`` does).
    """
    image = Image.new("P", (size, size), colour)
    return image, ImageDraw.Draw(image)


def _regular(cx: float, cy: float, radius: float, corners: int, turn: float) -> list[tuple[float, float]]:
    return [
        (
            cx + radius * math.cos(turn + 2 * math.pi * k / corners),
            cy + radius * math.sin(turn + 2 * math.pi * k / corners),
        )
        for k in range(corners)
    ]


def shape_polygon(shape: str, box: Box) -> list[tuple[float, float]]:
    """Corner points of ``shape`` fitted into ``box`` (every shape but the circle)."""
    left, top, right, bottom = box
    cx, cy, rx, ry = (left + right) / 2, (top + bottom) / 2, (right - left) / 2, (bottom - top) / 2
    if shape == "square":
        return [(left, top), (right, top), (right, bottom), (left, bottom)]
    if shape == "triangle":
        return [(cx, top), (right, bottom), (left, bottom)]
    if shape == "diamond":
        return [(cx, top), (right, cy), (cx, bottom), (left, cy)]
    if shape == "hexagon":
        return _regular(cx, cy, min(rx, ry), 6, 0.0)
    if shape == "star":
        outer = _regular(cx, cy + ry * 0.08, min(rx, ry), 5, -math.pi / 2)
        inner = _regular(cx, cy + ry * 0.08, min(rx, ry) * 0.45, 5, -math.pi / 2 + math.pi / 5)
        return [p for pair in zip(outer, inner, strict=True) for p in pair]
    if shape == "cross":
        a, b = rx / 3, ry / 3
        return [
            (cx - a, top), (cx + a, top), (cx + a, cy - b), (right, cy - b), (right, cy + b), (cx + a, cy + b),
            (cx + a, bottom), (cx - a, bottom), (cx - a, cy + b), (left, cy + b), (left, cy - b), (cx - a, cy - b),
        ]  # fmt: skip
    raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: Box, fill: RGB, width: int) -> None:
    """A filled ``shape`` with a dark outline, fitted into ``box``."""
    if shape == "circle":
        draw.ellipse(box, fill=fill, outline=OUTLINE, width=width)
    else:
        draw.polygon(shape_polygon(shape, box), fill=fill, outline=OUTLINE, width=width)


def square_box(cx: float, cy: float, side: float) -> Box:
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def shifted(box: Box, dx: float, dy: float = 0.0) -> Box:
    return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)


def intersects(a: Box, b: Box) -> bool:
    """Whether two boxes share some area (touching edges do not count)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def inside_fraction(inner: Box, outer: Box) -> float:
    """The fraction of ``inner``'s area that lies inside ``outer``."""
    width = min(inner[2], outer[2]) - max(inner[0], outer[0])
    height = min(inner[3], outer[3]) - max(inner[1], outer[1])
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return max(0.0, width) * max(0.0, height) / area
