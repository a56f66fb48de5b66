"""Opening the view a turn shows: the image file, cropped where the scenario crops it."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from data.records import ImageNotFoundError

Box = tuple[float, float, float, float]


def open_view(data_dir: str | Path, image: str, crop: Box | None = None) -> Image.Image:
    """The RGB image at ``data_dir/image``, cropped to ``crop`` (left, top, right, bottom) if given."""
    path = Path(data_dir) / image
    try:
        with Image.open(path) as handle:
            view = handle.convert("RGB")
    except FileNotFoundError:
        raise ImageNotFoundError(f"{path}: image not found") from None
    return view.crop(crop) if crop is not None else view
