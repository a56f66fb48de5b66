"""A run folder: its configuration and the append-only ``episodes.jsonl`` that makes runs resumable.

Each finished episode is written as one line and flushed, so a killed run loses at most the episodes
in flight. Re-opening the folder reads what is there, cuts a half-written last line, and refuses to
continue under a different configuration.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from data.jsonl import decode_lines
from eval.results import EpisodeKey, EpisodeResult, ResultFormatError

EPISODES_FILE = "episodes.jsonl"
CONFIG_FILE = "config.json"

# Settings that do not change any episode's outcome; a run may resume with other values for them.
NON_IDENTITY_KEYS = frozenset({"limit", "batch_size", "max_live", "progress", "device", "threads", "out"})


class ConfigMismatchError(ValueError):
    """The run folder holds episodes produced under another configuration."""


def identity(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that define a run's episodes (two runs with equal identities may share a folder)."""
    return {k: v for k, v in config.items() if k not in NON_IDENTITY_KEYS}


class RunStore:
    """Episodes already finished in ``run_dir`` and the writer for new ones."""

    def __init__(self, run_dir: str | Path, config: dict[str, Any]) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.episodes_path = self.run_dir / EPISODES_FILE
        self._check_config()
        self.results: dict[EpisodeKey, EpisodeResult] = {}
        self._read_existing()
        self._handle = None

    def _check_config(self) -> None:
        path = self.run_dir / CONFIG_FILE
        if path.is_file():
            previous = json.loads(path.read_text(encoding="utf-8"))
            old, new = identity(previous), identity(json.loads(json.dumps(self.config)))
            diffs = [
                f"{k}: {old.get(k)!r} there, {new.get(k)!r} now"
                for k in sorted(old.keys() | new.keys())
                if old.get(k) != new.get(k)
            ]
            if diffs:
                raise ConfigMismatchError(
                    f"{path}: this run folder was started with another configuration ({'; '.join(diffs)}); "
                    "resume with the same settings or choose another --out"
                )
        elif self.episodes_path.is_file() and self.episodes_path.stat().st_size > 0:
            raise ConfigMismatchError(
                f"{self.episodes_path}: episodes exist but {path} is missing; choose another --out"
            )
        path.write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n", encoding="utf-8")

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
        lines = data[:complete_end].decode("utf-8").splitlines()
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
