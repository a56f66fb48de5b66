"""A study's YAML file, its cells (split x method x reward preset x seed) and the commands each cell runs.

Paths in the file (data, out) are relative to the working directory. ``recipes`` and ``accelerate_config``
take a path or the name of a config the package ships (proactive/configs.py), so the ready-made studies run
from a clone's root and from a wheel install alike.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from data.scenarios import SCENARIO_NAMES, resolve_scenario
from eval.store import SUMMARY_FILE
from proactive.configs import accelerate_config as find_accelerate_config
from proactive.configs import recipe_config, study_config
from proactive.launch import recipe_launch
from proactive.yaml_types import fits, key_lines
from reward import PRESETS

METHODS = ("sft", "grpo")
TRAIN_LOG, EVAL_LOG = "train.log", "eval.log"

# What may reach a file name or a generated shell script unquoted: names of files and folders (the study,
# its splits), environment variables and recipe flags. Values are always quoted (shlex).
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FILE_NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit (it names files)"

# Flags a study sets per cell; overriding them in train_overrides would break the study's bookkeeping.
CELL_FLAGS = ("train_scenarios", "held_out_scenarios", "reward_preset", "seed", "output_dir")


class StudyConfigError(ValueError):
    """A study file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Cell:
    """One training run and its evaluation."""

    split: str
    train_scenarios: tuple[str, ...]
    held_out: tuple[str, ...]
    method: str
    reward_preset: str | None  # None for SFT
    seed: int

    @property
    def row(self) -> tuple[str, str, str | None]:
        """The matrix row the cell averages into (seeds are pooled)."""
        return (self.split, self.method, self.reward_preset)

    @property
    def name(self) -> str:
        reward = f"-{self.reward_preset}" if self.reward_preset else ""
        return f"{self.split}-{self.method}{reward}-seed{self.seed}"


@dataclass
class Study:
    """A parsed, validated study file."""

    path: Path
    name: str
    methods: list[str]
    recipes: dict[str, str]
    accelerate_config: str
    splits: dict[str, list[str]]
    reward_presets: list[str]
    seeds: list[int]
    train_overrides: dict[str, Any]
    eval_data: str
    eval_synthetic: dict[str, int] | None
    eval_scenarios: list[str]
    eval_limit: int | None
    eval_batch_size: int
    eval_args: list[str]
    env: dict[str, str]
    out: Path
    description: str = ""
    base_configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        """Every cell, split by split (then method, reward preset, seed)."""
        cells = []
        for split, train in self.splits.items():
            held_out = tuple(s for s in SCENARIO_NAMES if s not in train)
            for method in self.methods:
                presets = self.reward_presets if method == "grpo" else [None]
                for preset in presets:
                    for seed in self.seeds:
                        cells.append(Cell(split, tuple(train), held_out, method, preset, seed))
        return cells

    def cell_dir(self, cell: Cell) -> Path:
        return self.out / "cells" / cell.name

    def adapter_dir(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "adapter"

    def eval_dir(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "eval"

    def finished_file(self, cell: Cell, stage: str) -> Path:
        """The file whose presence says the cell's ``train`` or ``eval`` stage has finished: the last one the
        stage writes (the recipe's train_results.json, after the weights; the eval's summary.json, after
        every episode). The runner, the dry run and the job scripts all ask this one file."""
        return (
            self.adapter_dir(cell) / "train_results.json"
            if stage == "train"
            else self.eval_dir(cell) / SUMMARY_FILE
        )

    def setting(self, method: str, key: str) -> Any:
        """A recipe argument as the cells get it: the study's override, else the base recipe's value."""
        if key in self.train_overrides:
            return self.train_overrides[key]
        return self.base_configs[method].get(key)

    def train_command(self, cell: Cell) -> list[str]:
        """``accelerate launch ... recipes/<method>.py --config BASE`` with the cell's flags."""
        command = recipe_launch(cell.method, self.accelerate_config, self.recipes[cell.method])
        command += ["--train_scenarios", *cell.train_scenarios, "--held_out_scenarios", *cell.held_out]
        if cell.reward_preset is not None:
            command += ["--reward_preset", cell.reward_preset]
        command += ["--seed", str(cell.seed), "--output_dir", str(self.adapter_dir(cell))]
        for key, value in self.train_overrides.items():
            command += [f"--{key}", *flag_values(value)]
        return command

    def eval_command(self, cell: Cell) -> list[str]:
        """``proactive eval`` of the cell's adapter (or full model) on every evaluated scenario."""
        adapter = str(self.adapter_dir(cell))
        if self.setting(cell.method, "use_peft"):
            who = ["--model", str(self.setting(cell.method, "model_name_or_path")), "--adapter", adapter]
        else:
            who = ["--model", adapter]
        command = ["proactive", "eval", *who, "--data", self.eval_data, "--scenarios", *self.eval_scenarios]
        command += ["--out", str(self.eval_dir(cell)), "--batch-size", str(self.eval_batch_size)]
        if self.eval_limit is not None:
            command += ["--limit", str(self.eval_limit)]
        return [*command, "--no-progress", *self.eval_args]

    def setup_commands(self) -> list[list[str]]:
        """Commands run once before the cells: the synthetic eval benchmark when it is asked for and missing."""
        if self.eval_synthetic is None or Path(self.eval_data).is_dir():
            return []
        synth = self.eval_synthetic
        return [
            ["proactive", "synth", "--out", self.eval_data, "--per-scenario", str(synth["per_scenario"])]
            + ["--seed", str(synth.get("seed", 1)), "--size", str(synth.get("size", 112))]
        ]


def flag_values(value: Any) -> list[str]:
    """A recipe argument's command-line values: lists spread, mappings as JSON, booleans lower-case."""
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [json.dumps(value)]
    return [str(value)]


# --- the file ------------------------------------------------------------------------------------------
@dataclass
class StudyFile:
    """A study file's keys, as written (read with ``HfArgumentParser``; checked by :func:`load_study`)."""

    methods: list[str] | None = field(default=None, metadata={"help": "sft and/or grpo"})
    recipes: dict[str, str] | None = field(default=None, metadata={"help": "method -> base recipe YAML"})
    accelerate_config: str | None = field(
        default=None, metadata={"help": "accelerate config file of the training launches"}
    )
    splits: dict[str, list[str]] | None = field(
        default=None, metadata={"help": "split name -> training scenarios (the other scenarios are held out)"}
    )
    eval: dict[str, Any] | None = field(default=None, metadata={"help": "evaluation settings (EvalSettings)"})
    name: str | None = field(default=None, metadata={"help": "study name (default: the file name)"})
    description: str = field(default="", metadata={"help": "free text"})
    reward_presets: list[str] = field(
        default_factory=lambda: ["proactive"], metadata={"help": "GRPO reward presets (SFT cells have none)"}
    )
    seeds: list[int] = field(default_factory=lambda: [0], metadata={"help": "training seeds"})
    train_overrides: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "recipe arguments set for every cell (flag name -> value)"}
    )
    env: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "environment variables of every command (values as text)"}
    )
    out: str | None = field(default=None, metadata={"help": "study folder (default outputs/studies/<name>)"})


@dataclass
class EvalSettings:
    """The ``eval`` mapping of a study file."""

    data: str | None = field(
        default=None, metadata={"help": "benchmark folder evaluated (episodes never trained on)"}
    )
    synthetic: dict[str, int] | None = field(
        default=None, metadata={"help": "generate eval.data when missing: {per_scenario, seed, size}"}
    )
    scenarios: list[str] = field(
        default_factory=lambda: list(SCENARIO_NAMES), metadata={"help": "evaluated scenarios (default: all)"}
    )
    limit: int | None = field(default=None, metadata={"help": "episodes per scenario (default: all)"})
    batch_size: int = field(default=32, metadata={"help": "episodes in flight"})
    args: list[Any] = field(default_factory=list, metadata={"help": "extra `proactive eval` flags (as text)"})


class _Checker:
    """Errors that name the file, the key and its line (``path:line: key: message``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = key_lines(path)

    def fail(self, key: str, message: str) -> StudyConfigError:
        line = self.lines.get(key) or self.lines.get(key.rsplit(".", 1)[0])
        return StudyConfigError(f"{self.path}{f':{line}' if line else ''}: {key}: {message}")

    def parse(self, cls: type, raw: dict[str, Any], prefix: str = "") -> Any:
        """``raw`` as a ``cls`` (unknown keys refused, with a suggestion), each value of its declared type."""
        from transformers import HfArgumentParser

        try:
            (parsed,) = HfArgumentParser(cls).parse_dict(raw, allow_extra_keys=False)
        except ValueError:
            known = [f.name for f in fields(cls)]
            key = next(str(k) for k in raw if k not in known)
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
            raise self.fail(f"{prefix}{key}", f"unknown key{hint}") from None
        hints = get_type_hints(cls)
        for name in raw:
            if not fits(raw[name], hints[name]):
                expected = cls.__annotations__[name]  # as written, e.g. "list[str] | None"
                raise self.fail(f"{prefix}{name}", f"expected {expected}, got {raw[name]!r}")
        return parsed

    def scenarios(self, key: str, names: list[str]) -> list[str]:
        """Official scenario names (in the official order) for a non-empty list of names or acronyms."""
        if not names:
            raise self.fail(key, "expected a non-empty list of scenarios")
        try:
            resolved = [resolve_scenario(name) for name in names]
        except ValueError as err:
            raise self.fail(key, str(err)) from None
        if len(set(resolved)) != len(resolved):
            raise self.fail(key, f"a scenario is listed twice: {names}")
        return [s for s in SCENARIO_NAMES if s in resolved]


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise StudyConfigError(f"{path}: {what} not found")
    text = path.read_text(encoding="utf-8")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise StudyConfigError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(value, dict):
        raise StudyConfigError(f"{path}: expected a YAML mapping")
    return value


def load_study(path: str | Path, out: str | Path | None = None) -> Study:
    """Read and check a study file, a path or a shipped name (``out`` replaces its ``out``)."""
    try:
        path = study_config(path)
    except FileNotFoundError as err:
        raise StudyConfigError(str(err)) from None
    raw = _read_yaml(path, "study file")
    check = _Checker(path)
    study_file: StudyFile = check.parse(StudyFile, raw)
    for key in ("methods", "recipes", "accelerate_config", "splits", "eval"):
        if not getattr(study_file, key):
            raise check.fail(key, f"missing: {StudyFile.__dataclass_fields__[key].metadata['help']}")
    evaluation: EvalSettings = check.parse(EvalSettings, study_file.eval, "eval.")
    for method in study_file.methods:
        if method not in METHODS:
            raise check.fail("methods", f"{method!r} is not one of {', '.join(METHODS)}")
    base_configs = {}
    for method in study_file.methods:
        if method not in study_file.recipes:
            raise check.fail(f"recipes.{method}", "missing: every method needs a base recipe config")
        try:
            recipe = recipe_config(study_file.recipes[method])
        except FileNotFoundError as err:
            raise check.fail(f"recipes.{method}", str(err)) from None
        base_configs[method] = _read_yaml(recipe, f"recipes.{method} config")
    try:
        accelerate_config = find_accelerate_config(study_file.accelerate_config)
    except FileNotFoundError as err:
        raise check.fail("accelerate_config", str(err)) from None
    splits = {}
    for split, names in study_file.splits.items():
        if not FILE_NAME.fullmatch(split):
            raise check.fail(f"splits.{split}", f"a split name may hold only {FILE_NAME_RULE}")
        splits[split] = check.scenarios(f"splits.{split}", names)
        if len(splits[split]) == len(SCENARIO_NAMES):
            raise check.fail(f"splits.{split}", "trains on all seven scenarios; a split must hold one out")
    for key in ("reward_presets", "seeds"):
        if not getattr(study_file, key):
            raise check.fail(key, "expected a non-empty list")
    for preset in study_file.reward_presets:
        if preset not in PRESETS:
            raise check.fail(
                "reward_presets", f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}"
            )
    for key, value in study_file.env.items():
        if not VARIABLE_NAME.fullmatch(key):
            raise check.fail(
                f"env.{key}",
                "not an environment variable name (letters, digits and '_', not starting with a digit)",
            )
        if "\0" in str(value):
            raise check.fail(f"env.{key}", "a value cannot hold a NUL character")
    for key, value in study_file.train_overrides.items():
        if not VARIABLE_NAME.fullmatch(key):
            raise check.fail(f"train_overrides.{key}", "not a recipe argument name (letters, digits and '_')")
        if key in CELL_FLAGS:
            raise check.fail(f"train_overrides.{key}", "set by the study for each cell; remove it")
        if value is None:
            raise check.fail(
                f"train_overrides.{key}", "null cannot be passed as a flag; set it in the recipe"
            )
    if not evaluation.data:
        raise check.fail(
            "eval.data", "missing: the benchmark folder to evaluate on (episodes never trained on)"
        )
    if evaluation.synthetic is not None and "per_scenario" not in evaluation.synthetic:
        raise check.fail("eval.synthetic", "expected a mapping with per_scenario (and seed, size)")
    if evaluation.limit is not None and evaluation.limit < 1:
        raise check.fail("eval.limit", f"expected a positive integer, got {evaluation.limit!r}")
    name = study_file.name or path.stem
    if not FILE_NAME.fullmatch(name):
        raise check.fail("name", f"{name!r}: a study name may hold only {FILE_NAME_RULE}")
    study = Study(
        path=path,
        name=name,
        description=study_file.description,
        methods=list(study_file.methods),
        recipes={m: study_file.recipes[m] for m in study_file.methods},
        accelerate_config=str(accelerate_config),
        splits=splits,
        reward_presets=list(study_file.reward_presets),
        seeds=list(study_file.seeds),
        train_overrides=dict(study_file.train_overrides),
        eval_data=evaluation.data,
        eval_synthetic=evaluation.synthetic,
        eval_scenarios=check.scenarios("eval.scenarios", evaluation.scenarios),
        eval_limit=evaluation.limit,
        eval_batch_size=evaluation.batch_size,
        eval_args=[str(a) for a in evaluation.args],
        env={k: str(v) for k, v in study_file.env.items()},
        out=Path(out if out is not None else study_file.out or f"outputs/studies/{name}"),
        base_configs=base_configs,
    )
    for method in study.methods:
        if not study.setting(method, "model_name_or_path"):
            raise check.fail(f"recipes.{method}", "the base recipe sets no model_name_or_path")
    return study
