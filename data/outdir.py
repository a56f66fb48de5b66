"""Output folders: refused in one line, before any work, when they cannot be written.

Every command that writes a folder (``--out``, a recipe's ``output_dir``) checks it first: a path held by a
file, or one whose nearest existing folder cannot be written, would otherwise fail with a traceback after
the work (or the model loading) was done. The check leaves nothing behind and opens no file: it makes and
removes an empty folder in the nearest existing folder, as making the output folder will.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any


class OutputFolderError(ValueError):
    """An output folder that cannot be written; the message names it and why."""


def check_output_folder(path: str | Path) -> None:
    """Refuse ``path`` when it is a file (or a link to one), lies below a file, or cannot be created or
    written (permission, read-only file system)."""
    folder = Path(path).expanduser()
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputFolderError(f"{folder}: exists and is not a folder; choose another output folder")
    existing = folder
    while not os.path.lexists(existing):
        existing = existing.parent
    if not existing.is_dir():
        raise OutputFolderError(f"{folder}: cannot be created, {existing} is a file")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=existing))  # what making the folder will need
    except OSError as err:
        raise OutputFolderError(
            f"{folder}: cannot write in {existing} ({err.strerror or err}); choose another output folder"
        ) from None


class OutputFolder(argparse.Action):
    """An argparse action for ``--out DIR``: :func:`check_output_folder` when the option is parsed; a
    refused folder ends the command with status 2 and one line, ``PROG: DIR: why``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        try:
            check_output_folder(values)
        except OutputFolderError as err:
            parser.exit(2, f"{parser.prog}: {err}\n")
        setattr(namespace, self.dest, values)
