"""Paths named by a benchmark file, resolved inside the benchmark folder (symlinks included) or refused.

A record names its images relative to the benchmark folder. An absolute path, a ``..`` part or a
symlink whose target lies outside the folder would let a benchmark file make the loader, the
evaluation or a dataset builder read any file on the machine; :func:`inside_folder` refuses them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path


class OutsideFolderError(ValueError):
    """A path that is absolute, climbs with ``..`` or resolves outside its folder; the message says which."""


@lru_cache(maxsize=1 << 16)
def _real_dir(directory: str) -> str:
    return os.path.realpath(directory)


def inside_folder(folder: str | Path, relative: str) -> str:
    """``folder/relative`` with every symlink resolved; :class:`OutsideFolderError` unless it stays inside.

    The check is by name and by symlink target only: the file need not exist (a missing image is
    reported where it is opened). The real paths of directories are cached per process, so a load
    of the whole benchmark costs one ``lstat`` per image.
    """
    if not relative:
        raise OutsideFolderError("empty path")
    if "\0" in relative:
        raise OutsideFolderError(f"{relative!r}: NUL byte in path")
    if relative.startswith("/"):
        raise OutsideFolderError(f"{relative!r}: absolute path (paths are relative to the benchmark folder)")
    if ".." in relative.split("/"):
        raise OutsideFolderError(f"{relative!r}: '..' in path (paths must stay inside the benchmark folder)")
    root = _real_dir(os.fspath(folder))
    directory, name = os.path.split(relative)
    real = os.path.join(_real_dir(os.path.join(root, directory)) if directory else root, name)
    if os.path.islink(real):
        real = os.path.realpath(real)
    if not real.startswith(root.rstrip("/") + "/"):
        raise OutsideFolderError(
            f"{relative!r}: resolves to {real}, outside the benchmark folder (a symlink)"
        )
    return real
