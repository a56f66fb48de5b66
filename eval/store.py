"""A run folder: its configuration and the append-only ``episodes.jsonl`` that makes runs resumable.

Each finished episode is written as one line and flushed, so a killed run loses at most the episodes
in flight. Re-opening the folder reads what is there, cuts a half-written last line, and refuses to
continue under a different configuration, or on records whose content changed: a run's identity holds
the fingerprint of its records (``DATA_FINGERPRINT``), not only the benchmark's path.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

from data.jsonl import decode_lines, decode_utf8
from eval.results import EpisodeKey, EpisodeResult, ResultFormatError

EPISODES_FILE = "episodes.jsonl"
CONFIG_FILE = "config.json"

# Settings that do not change any episode's outcome; a run may resume with other values for them.
NON_IDENTITY_KEYS = frozenset({"limit", "batch_size", "max_live", "progress", "device", "threads", "out"})
DATA_FINGERPRINT = "data_fingerprint"  # scenario -> data.records.records_fingerprint of its records


class ConfigMismatchError(ValueError):
    """The run folder holds episodes produced under another configuration."""


def identity(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that define a run's episodes (two runs with equal identities may share a folder)."""
    return {k: v for k, v in config.items() if k not in NON_IDENTITY_KEYS}


def _data_change(old: dict[str, str] | None, new: dict[str, Any]) -> str:
    """Why the records differ from those the run started on, scenario by scenario."""
    if old is None:
        return (
            "this run folder holds no fingerprint of its records (it was started by an older version), "
            "so its episodes cannot be checked against the data; choose another --out"
        )
    fingerprints = new[DATA_FINGERPRINT]
    changed = [
        f"{name}: {old.get(name)} there, {fingerprints.get(name)} now"
        for name in sorted(old.keys() | fingerprints.keys())
        if old.get(name) != fingerprints.get(name)
    ]
    return (
        f"the records of {new.get('data', 'the benchmark')} differ from those this run was started on "
        f"(fingerprints: {'; '.join(changed)}); the benchmark was edited or regenerated since, or the "
        "id filter changed: choose another --out, or restore the data"
    )


class RunStore:
    """Episodes already finished in ``run_dir`` and the writer for new ones."""

    def __init__(
        self, run_dir: str | Path, config: dict[str, Any], selection: Collection[EpisodeKey] | None = None
    ) -> None:
        """Open ``run_dir`` for a run of ``config``; with ``selection`` (the episodes the run plays), refuse a
        folder holding episodes outside it, so that a summary of the selection covers every episode on disk."""
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.episodes_path = self.run_dir / EPISODES_FILE
        previous = self._check_config()
        self.results: dict[EpisodeKey, EpisodeResult] = {}
        self._read_existing()
        if selection is not None:
            self._refuse_unselected(selection, previous)
        (self.run_dir / CONFIG_FILE).write_text(
            json.dumps(self.config, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        self._handle = None

    def _check_config(self) -> dict[str, Any] | None:
        """The configuration the folder was started with (None for a new folder), if it matches ours."""
        path = self.run_dir / CONFIG_FILE
        if path.is_file():
            try:
                previous = json.loads(decode_utf8(path.read_bytes(), str(path), ResultFormatError))
            except json.JSONDecodeError as err:
                raise ResultFormatError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
            if not isinstance(previous, dict):
                raise ResultFormatError(f"{path}: expected a JSON object, got {type(previous).__name__}")
            old, new = identity(previous), identity(json.loads(json.dumps(self.config)))
            diffs = [
                f"{k}: {old.get(k)!r} there, {new.get(k)!r} now"
                for k in sorted(old.keys() | new.keys())
                if old.get(k) != new.get(k) and k != DATA_FINGERPRINT
            ]
            if diffs:
                raise ConfigMismatchError(
                    f"{path}: this run folder was started with another configuration ({'; '.join(diffs)}); "
                    "resume with the same settings or choose another --out"
                )
            if DATA_FINGERPRINT in new and old.get(DATA_FINGERPRINT) != new[DATA_FINGERPRINT]:
                raise ConfigMismatchError(f"{path}: {_data_change(old.get(DATA_FINGERPRINT), new)}")
            return previous
        if self.episodes_path.is_file() and self.episodes_path.stat().st_size > 0:
            raise ConfigMismatchError(
                f"{self.episodes_path}: episodes exist but {path} is missing; choose another --out"
            )
        return None

    def _refuse_unselected(self, selection: Collection[EpisodeKey], previous: dict[str, Any] | None) -> None:
        extra = Counter(key[1] for key in self.results if key not in selection)
        if not extra:
            return
        counts = ", ".join(f"{scenario}: {n}" for scenario, n in extra.items())
        last = previous.get("limit") if previous else None
        raise ConfigMismatchError(
            f"{self.episodes_path}: holds {sum(extra.values())} episode(s) that this run would leave out of "
            f"its summary ({counts}); a summary covers every episode of its folder, so resume without --limit "
            f"or with one that covers them{f' (last run: --limit {last})' if last else ''}, or choose another --out"
        )

    def _read_existing(self) -> None:
        if not self.episodes_path.is_file():
            return
        data = self.episodes_path.read_bytes()
        complete_end = data.rfind(b"\n") + 1
        if complete_end < len(data):
            print(
                f"{self.episodes_path}: dropping a half-written last line (the run was interrupted)",
                file=sys.stderr,
            )
            with open(self.episodes_path, "r+b") as handle:
                handle.truncate(complete_end)
        lines = data[:complete_end].splitlines()  # bytes: decode_lines names a line that is not UTF-8
        for where, raw in decode_lines(lines, str(self.episodes_path), ResultFormatError):
            result = EpisodeResult.from_json(raw, where)
            if result.key in self.results:
                raise ResultFormatError(
                    f"{where}: episode {result.key} is already recorded in an earlier line"
                )
            self.results[result.key] = result

    def done(self, key: EpisodeKey) -> bool:
        return key in self.results

    def append(self, result: EpisodeResult) -> None:
        """Write one finished episode (one line, flushed); an episode is never written twice."""
        if result.key in self.results:
            raise ValueError(f"{self.episodes_path}: episode {result.key} is already recorded")
        if self._handle is None:
            self._handle = open(self.episodes_path, "a", encoding="utf-8")
        self._handle.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        self._handle.flush()
        self.results[result.key] = result

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
