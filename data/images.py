"""Opening the view a turn shows: the image file, cropped where the scenario crops it, resized under the
resize mode.

Every image of the benchmark is opened here, through :func:`image_file`, so no path a benchmark
file names can make the evaluation or a dataset builder read outside the benchmark folder.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from data.paths import OutsideFolderError, inside_folder
from data.records import BadImageError, BenchmarkFormatError, ImageNotFoundError

Box = tuple[float, float, float, float]

# What PIL raises on a file that is not an image, or a truncated or corrupt one.
_UNREADABLE = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)


def short_edge_size(size: tuple[int, int], short_edge: int) -> tuple[int, int]:
    """The official resize target: both sides scaled so the shorter one becomes ``short_edge``, then
    truncated to integers (the same float arithmetic as the official transform, so sizes match exactly)."""
    scale = short_edge / min(size)
    return int(size[0] * scale), int(size[1] * scale)


def image_file(data_dir: str | Path, image: str, owner: str = "") -> str:
    """The file of ``image`` (a path relative to ``data_dir``), refused unless it lies inside ``data_dir``."""
    try:
        return inside_folder(data_dir, image)
    except OutsideFolderError as err:
        raise BenchmarkFormatError(f"{data_dir}: image{_of(owner)}: {err}") from None


def _of(owner: str) -> str:
    return f" of {owner}" if owner else ""


@contextmanager
def _image_errors(shown: Path, owner: str) -> Iterator[None]:
    """Turn PIL's errors on a missing, truncated or foreign file into one line naming the path and record."""
    try:
        yield
    except FileNotFoundError:
        raise ImageNotFoundError(f"{shown}: image{_of(owner)} not found") from None
    except _UNREADABLE as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise BadImageError(f"{shown}: image{_of(owner)} is not a readable image ({reason})") from None


def check_image(data_dir: str | Path, image: str, owner: str = "") -> None:
    """Raise unless ``image`` lies inside ``data_dir``, exists, and has a valid header and structure."""
    path = image_file(data_dir, image, owner)
    with _image_errors(Path(data_dir) / image, owner), Image.open(path) as handle:
        handle.verify()


def open_view(
    data_dir: str | Path,
    image: str,
    crop: Box | None = None,
    short_edge: int | None = None,
    *,
    owner: str = "",
) -> Image.Image:
    """The RGB image at ``data_dir/image``, cropped to ``crop`` (left, top, right, bottom) if given, and
    resized to ``short_edge`` pixels on its short side if given (PIL's default filter, as the official
    transform calls it).

    ``owner`` names the record in error messages. A path outside ``data_dir`` is a
    :class:`BenchmarkFormatError`, a missing file an :class:`ImageNotFoundError`, a file that is not
    a readable image a :class:`BadImageError`.
    """
    path = image_file(data_dir, image, owner)
    with _image_errors(Path(data_dir) / image, owner), Image.open(path) as handle:
        view = handle.convert("RGB")
    if crop is not None:
        view = view.crop(crop)
    if short_edge is not None:
        view = view.resize(short_edge_size(view.size, short_edge))
    return view
