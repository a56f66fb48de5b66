"""Opening the view a turn shows: the image file, cropped where the scenario crops it, resized under the
resize mode."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from data.records import ImageNotFoundError

Box = tuple[float, float, float, float]


def short_edge_size(size: tuple[int, int], short_edge: int) -> tuple[int, int]:
    """The official resize target: both sides scaled so the shorter one becomes ``short_edge``, then
    truncated to integers (the same float arithmetic as the official transform, so sizes match exactly)."""
    scale = short_edge / min(size)
    return int(size[0] * scale), int(size[1] * scale)


def open_view(
    data_dir: str | Path, image: str, crop: Box | None = None, short_edge: int | None = None
) -> Image.Image:
    """The RGB image at ``data_dir/image``, cropped to ``crop`` (left, top, right, bottom) if given, and
    resized to ``short_edge`` pixels on its short side if given (PIL's default filter, as the official
    transform calls it)."""
    path = Path(data_dir) / image
    try:
        with Image.open(path) as handle:
            view = handle.convert("RGB")
    except FileNotFoundError:
        raise ImageNotFoundError(f"{path}: image not found") from None
    if crop is not None:
        view = view.crop(crop)
    if short_edge is not None:
        view = view.resize(short_edge_size(view.size, short_edge))
    return view
