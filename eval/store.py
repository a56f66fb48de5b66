"""A run folder: its configuration, the append-only ``episodes.jsonl`` that makes runs resumable, and
``summary.json`` once the run has finished; the one reader of those files.

Each finished episode is written as one line and flushed, so a killed run loses at most the episodes
in flight. Re-opening the folder reads what is there, cuts a half-written last line, and refuses to
continue under a different configuration, or on records whose content changed (a run's identity holds
the fingerprint of its records, ``DATA_FINGERPRINT``, not only the benchmark's path), or when the run
would summarise fewer episodes than the folder holds (a smaller ``--limit``).

Reading a run folder (reports, release, studies, the episode viewer): ``read_summary(run_dir)``,
``read_episodes(run_dir)`` (typed results) and ``read_episode_lines(run_dir)`` (the decoded lines, for
readers that show fields the results do not hold). They name the file (and line) of anything they cannot
read, and leave out a half-written last line (a run killed, or still writing), saying so on stderr.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

from data.jsonl import decode_lines
from data.stage import pin_inputs
from eval.results import EpisodeKey, EpisodeResult, ResultFormatError

EPISODES_FILE = "episodes.jsonl"
CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"

# Settings that do not change any episode's outcome; a run may resume with other values for them.
NON_IDENTITY_KEYS = frozenset({"limit", "batch_size", "max_live", "progress", "device", "threads", "out"})
DATA_FINGERPRINT = "data_fingerprint"  # scenario -> data.records.records_fingerprint of its records


class ConfigMismatchError(ValueError):
    """The run folder holds episodes produced under another configuration."""


def identity(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that define a run's episodes (two runs with equal identities may share a folder); the
    records' fingerprints count one scenario at a time (``data_fingerprint.QuickDraw``)."""
    kept = {k: v for k, v in config.items() if k not in NON_IDENTITY_KEYS and k != DATA_FINGERPRINT}
    fingerprints = config.get(DATA_FINGERPRINT)
    if isinstance(fingerprints, dict):
        kept.update({f"{DATA_FINGERPRINT}.{name}": value for name, value in fingerprints.items()})
    elif DATA_FINGERPRINT in config:
        kept[DATA_FINGERPRINT] = fingerprints
    return kept


def _mismatch(path: Path, differences: list[str]) -> str:
    """Why a run folder cannot be resumed: other settings, or other records under the same settings."""
    settings = [d for d in differences if not d.startswith(DATA_FINGERPRINT)]
    if settings:  # other scenarios or filter also change the fingerprints: name the settings only
        return (
            f"{path}: this run folder was started with another configuration ({'; '.join(settings)}); "
            "resume with the same settings or choose another --out"
        )
    if all(" None there, " in d for d in differences):
        return (
            f"{path}: this run folder holds no fingerprint of its records (it was started by an older "
            "version), so its episodes cannot be checked against the data; choose another --out"
        )
    return (
        f"{path}: the records differ from those this run was started on ({'; '.join(differences)}); the "
        "benchmark was edited or regenerated since, or the id filter keeps other records: choose another "
        "--out, or restore the data"
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
        self._check_config()
        self.results: dict[EpisodeKey, EpisodeResult] = {}
        if self.episodes_path.is_file():
            self.results = {r.key: r for r in read_episodes(self.run_dir, cut_partial_line=True)}
        if selection is not None:
            self._refuse_unselected(selection)
        self._handle = None

    def _check_config(self) -> None:
        """Pin the configuration the folder's episodes come from (data/stage.py's ``pin_inputs``)."""
        path = self.run_dir / CONFIG_FILE
        if not path.is_file() and self.episodes_path.is_file() and self.episodes_path.stat().st_size > 0:
            raise ConfigMismatchError(
                f"{self.episodes_path}: episodes exist but {path} is missing; choose another --out"
            )
        try:
            differences = pin_inputs(path, self.config, identity)
        except ValueError as err:  # config.json is not a JSON object
            raise ResultFormatError(str(err)) from None
        if differences:
            raise ConfigMismatchError(_mismatch(path, differences))

    def _refuse_unselected(self, selection: Collection[EpisodeKey]) -> None:
        extra = Counter(key[1] for key in self.results if key not in selection)
        if extra:
            counts = ", ".join(f"{scenario}: {n}" for scenario, n in extra.items())
            raise ConfigMismatchError(
                f"{self.episodes_path}: holds {sum(extra.values())} episode(s) that this run would leave out "
                f"of its summary ({counts}); a summary covers every episode of its folder, so resume without "
                "--limit or with the one it was run with (or a larger one), or choose another --out"
            )

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


# --- reading a run folder ------------------------------------------------------------------------------
def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """The run's ``summary.json`` (FileNotFoundError when the run has not finished; ValueError naming the
    file, and the line for invalid JSON, when it is not a summary)."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: not found (not a 'proactive eval' run folder, or its run has not finished)"
        )
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
    for key in ("scenarios", "average"):
        if not isinstance(summary, dict) or not isinstance(summary.get(key), dict):
            raise ValueError(f"{path}: field {key!r}: missing or not an object; not an eval summary")
    return summary


def read_episode_lines(run_dir: str | Path, *, cut_partial_line: bool = False) -> list[tuple[str, Any]]:
    """``("file:line", decoded JSON)`` for every complete line of the run's ``episodes.jsonl``.

    A last line without its newline is an episode being written when the run was killed (or still running):
    it is left out with a note on stderr, and cut from the file when ``cut_partial_line`` (the run resumes
    there). A line that is not JSON raises :class:`ResultFormatError` naming the file and line.
    """
    path = Path(run_dir) / EPISODES_FILE
    data = path.read_bytes()
    complete_end = data.rfind(b"\n") + 1
    if complete_end < len(data):
        if cut_partial_line:
            print(f"{path}: dropping a half-written last line (the run was interrupted)", file=sys.stderr)
            with open(path, "r+b") as handle:
                handle.truncate(complete_end)
        else:
            print(
                f"{path}: leaving out a half-written last line (the run was interrupted or is still writing)",
                file=sys.stderr,
            )
    lines = data[:complete_end].splitlines()  # bytes: decode_lines names a line that is not UTF-8
    return list(decode_lines(lines, str(path), ResultFormatError))


def read_episodes(run_dir: str | Path, *, cut_partial_line: bool = False) -> list[EpisodeResult]:
    """The run's finished episodes, in the order they were written (:func:`read_episode_lines`); a bad line
    raises :class:`ResultFormatError` naming the file, line and field, and an episode recorded twice is
    refused."""
    results: dict[EpisodeKey, EpisodeResult] = {}
    for where, raw in read_episode_lines(run_dir, cut_partial_line=cut_partial_line):
        result = EpisodeResult.from_json(raw, where)
        if result.key in results:
            raise ResultFormatError(f"{where}: episode {result.key} is already recorded in an earlier line")
        results[result.key] = result
    return list(results.values())
