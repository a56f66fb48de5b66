"""Cached stages: one rule for "this output is already up to date", for every step that caches a folder.

A stage makes one folder from some inputs. Its *key* is those inputs as plain JSON; its *stamp* is a JSON
file in the folder. The rule:

- the stage is done when its stamp holds exactly the key;
- the stamp is written last, after every output, so it never vouches for a half-made folder;
- a stage that is not done is rebuilt from empty;
- a non-empty folder holding neither the stamp nor the stage's ``<stamp>.unfinished`` marker was not made by
  the stage: it is refused, never emptied (unless the stage owns that place: ``owns_folder``).

It is rebuilt in place (``begin`` claims the folder with the marker and empties it; ``finish`` writes the
stamp and drops the marker; a killed build leaves the marker, so the next run redoes it) or staged
(``build_staged`` makes the outputs in a fresh sibling folder and swaps it in whole: readers never see a
half-made folder, and processes building the same key at once do not clash). When the stamp is also the
output's record (a tiny model's ``tiny_model.json``), the key sits under ``field`` beside facts about the
output.

Users: the synthetic benchmark (``synthetic.json``), tiny and pretrained tiny models (``tiny_model.json``),
the quickstart's training and evaluation stages (``quickstart_stage.json``).

Resumable folders are another thing: they keep what they hold and go on, so they pin the inputs they were
started with and refuse other ones (``pin_inputs``: an eval run folder's ``config.json``, a study cell's
``cell.json``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.jsonl import decode_utf8

STAMP_FILE = "stage.json"


def plain(value: Any) -> Any:
    """``value`` as plain JSON (paths and other objects as strings): the form keys are compared in."""
    return json.loads(json.dumps(value, default=str))


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` to ``path`` whole: into a temporary file beside it, then renamed over it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def unfinished_marker(stamp: str) -> str:
    """The name of the marker that claims a folder while a stage rebuilds it in place."""
    return f"{Path(stamp).stem}.unfinished"


@dataclass(frozen=True)
class Stage:
    """The folder ``folder`` made from the inputs ``key``, vouched for by its stamp file ``stamp``."""

    folder: Path
    key: Any
    stamp: str = STAMP_FILE
    field: str | None = None  # the stamp is a record holding the key under this field
    owns_folder: bool = (
        False  # whatever the folder holds may be replaced (a place below the run's own output)
    )

    @property
    def stamp_path(self) -> Path:
        return self.folder / self.stamp

    @property
    def marker_path(self) -> Path:
        return self.folder / unfinished_marker(self.stamp)

    def record(self) -> Any:
        """The stamp's content (None when there is none, or it is not JSON)."""
        try:
            return json.loads(self.stamp_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def done(self) -> bool:
        """Whether the stamp holds exactly the key."""
        record = self.record()
        if self.field is not None:
            record = record.get(self.field) if isinstance(record, dict) else None
        return record is not None and record == plain(self.key)

    def check_ours(self) -> None:
        """Refuse (FileExistsError) a non-empty folder holding neither the stamp nor the marker."""
        if not self.folder.exists():
            return
        if not self.folder.is_dir():
            raise FileExistsError(f"{self.folder}: exists and is not a folder")
        if self.owns_folder or self.stamp_path.exists() or self.marker_path.exists():
            return
        if any(self.folder.iterdir()):
            raise FileExistsError(
                f"{self.folder}: holds files but no {self.stamp}; refusing to replace a folder this step did not "
                "make (move it away or choose another folder)"
            )

    def begin(self) -> Path:
        """Claim the folder with the marker and empty it; returns the folder."""
        self.check_ours()
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.marker_path, plain(self.key))
        for child in self.folder.iterdir():
            if child == self.marker_path:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        return self.folder

    def finish(self, facts: Mapping[str, Any] | None = None) -> None:
        """Write the stamp (after every output), then drop the marker."""
        write_json(self.stamp_path, self._stamp_content(facts))
        self.marker_path.unlink(missing_ok=True)

    def build_staged(self, make: Callable[[Path], Mapping[str, Any] | None]) -> Path:
        """Rebuild by ``make(staging)`` in a fresh sibling folder (returning the facts a record stamp holds
        beside the key, or None), stamp it, then put it in place of the folder; returns the folder."""
        self.check_ours()
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", dir=self.folder.parent))
        try:
            facts = make(staging)
            write_json(staging / self.stamp, self._stamp_content(facts))
            if self.folder.exists():
                shutil.rmtree(self.folder)
            try:
                staging.rename(self.folder)
            except OSError:
                if not self.done():  # unless another process has just put the same build there
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.folder

    def _stamp_content(self, facts: Mapping[str, Any] | None) -> Any:
        if self.field is None:
            if facts:
                raise ValueError(f"{self.stamp_path}: a stamp without a key field records no facts")
            return plain(self.key)
        return plain({self.field: self.key, **(facts or {})})


def pin_inputs(
    path: Path, inputs: Mapping[str, Any], compared: Callable[[dict[str, Any]], dict[str, Any]] = dict
) -> list[str]:
    """A resumable folder's record of the inputs it was started with, in ``path``.

    Written when missing, or rewritten when the ``compared`` part of the recorded inputs equals that of
    ``inputs``; otherwise left as it is, and the differences are returned ("key: old there, new now").
    """
    new = plain(dict(inputs))
    if path.is_file():
        try:
            old = json.loads(decode_utf8(path.read_bytes(), str(path)))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
        if not isinstance(old, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(old).__name__}")
        before, now = compared(old), compared(new)
        differences = [
            f"{key}: {before.get(key)!r} there, {now.get(key)!r} now"
            for key in sorted(before.keys() | now.keys())
            if before.get(key) != now.get(key)
        ]
        if differences:
            return differences
    write_json(path, new)
    return []
