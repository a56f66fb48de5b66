"""A study's YAML file, its cells (split x method x reward preset x seed) and the commands each cell runs.

Paths in the file (data, out) are relative to the working directory. ``recipes`` and ``accelerate_config``
take a path or the name of a config the package ships (proactive/configs.py), so the ready-made studies run
from a clone's root and from a wheel install alike.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from data.scenarios import SCENARIO_NAMES, resolve_scenario
from proactive.configs import accelerate_config as find_accelerate_config
from proactive.configs import recipe_config, study_config
from proactive.launch import recipe_launch

METHODS = ("sft", "grpo")
TRAIN_LOG, EVAL_LOG = "train.log", "eval.log"

# Top-level keys of a study file and what they hold (also the error message's list).
STUDY_KEYS = {
    "name": "study name (default: the file name)",
    "description": "free text",
    "methods": "sft and/or grpo",
    "recipes": "method -> base recipe YAML",
    "accelerate_config": "accelerate config file of the training launches",
    "splits": "split name -> training scenarios (the other scenarios are held out)",
    "reward_presets": "GRPO reward presets (SFT cells have none)",
    "seeds": "training seeds",
    "train_overrides": "recipe arguments set for every cell (flag name -> value)",
    "eval": "evaluation settings (data, synthetic, scenarios, limit, batch_size, args)",
    "env": "environment variables of every command",
    "out": "study folder (default outputs/studies/<name>)",
}
EVAL_KEYS = {
    "data": "benchmark folder evaluated (episodes never trained on)",
    "synthetic": "generate eval.data when missing: {per_scenario, seed, size}",
    "scenarios": "evaluated scenarios (default: all seven)",
    "limit": "episodes per scenario (default: all)",
    "batch_size": "episodes in flight (default 32)",
    "args": "extra `proactive eval` flags",
}
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


# --- loading --------------------------------------------------------------------------------------------
def _fail(path: Path, key: str, message: str) -> StudyConfigError:
    return StudyConfigError(f"{path}: {key}: {message}")


def _check_keys(path: Path, mapping: dict[str, Any], known: dict[str, str], prefix: str = "") -> None:
    for key in mapping:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
            raise _fail(path, f"{prefix}{key}", f"unknown key{hint}")


def _list(path: Path, raw: dict[str, Any], key: str, default: list[Any] | None = None) -> list[Any]:
    value = raw.get(key, default)
    if value is None:
        raise _fail(path, key, "missing")
    if not isinstance(value, list) or not value:
        raise _fail(path, key, f"expected a non-empty list, got {value!r}")
    return value


def _scenarios(path: Path, key: str, names: Any) -> list[str]:
    if not isinstance(names, list) or not names:
        raise _fail(path, key, f"expected a non-empty list of scenarios, got {names!r}")
    try:
        resolved = [resolve_scenario(str(name)) for name in names]
    except ValueError as err:
        raise _fail(path, key, str(err)) from None
    if len(set(resolved)) != len(resolved):
        raise _fail(path, key, f"a scenario is listed twice: {names}")
    return [s for s in SCENARIO_NAMES if s in resolved]


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise StudyConfigError(f"{path}: {what} not found")
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise StudyConfigError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(value, dict):
        raise StudyConfigError(f"{path}: expected a YAML mapping")
    return value


def load_study(path: str | Path, out: str | Path | None = None) -> Study:
    """Read and validate a study file (``out`` replaces its ``out``)."""
    try:
        path = study_config(path)
    except FileNotFoundError as err:
        raise StudyConfigError(str(err)) from None
    raw = _read_yaml(path, "study file")
    _check_keys(path, raw, STUDY_KEYS)
    name = str(raw.get("name", path.stem))
    methods = _list(path, raw, "methods")
    for method in methods:
        if method not in METHODS:
            raise _fail(path, "methods", f"{method!r} is not one of {', '.join(METHODS)}")
    recipes = raw.get("recipes")
    if not isinstance(recipes, dict):
        raise _fail(path, "recipes", "expected a mapping of method -> base recipe YAML")
    base_configs = {}
    for method in methods:
        if method not in recipes:
            raise _fail(path, f"recipes.{method}", "missing: every method needs a base recipe config")
        try:
            base_configs[method] = _read_yaml(recipe_config(recipes[method]), f"recipes.{method} config")
        except FileNotFoundError as err:
            raise _fail(path, f"recipes.{method}", str(err)) from None
    if not raw.get("accelerate_config"):
        raise _fail(path, "accelerate_config", "missing: the accelerate config of the training launches")
    try:
        accelerate_config = find_accelerate_config(raw["accelerate_config"])
    except FileNotFoundError as err:
        raise _fail(path, "accelerate_config", str(err)) from None
    splits_raw = raw.get("splits")
    if not isinstance(splits_raw, dict) or not splits_raw:
        raise _fail(path, "splits", "expected a mapping of split name -> training scenarios")
    splits = {}
    for split, names in splits_raw.items():
        train = _scenarios(path, f"splits.{split}", names)
        if len(train) == len(SCENARIO_NAMES):
            raise _fail(path, f"splits.{split}", "trains on all seven scenarios; a split must hold one out")
        splits[str(split)] = train
    presets = [str(p) for p in _list(path, raw, "reward_presets", ["proactive"])]
    seeds = _list(path, raw, "seeds", [0])
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise _fail(path, "seeds", f"expected integers, got {seeds!r}")
    overrides = raw.get("train_overrides") or {}
    if not isinstance(overrides, dict):
        raise _fail(path, "train_overrides", "expected a mapping of recipe argument -> value")
    for key in overrides:
        if key in CELL_FLAGS:
            raise _fail(path, f"train_overrides.{key}", "set by the study for each cell; remove it")
        if overrides[key] is None:
            raise _fail(
                path, f"train_overrides.{key}", "null cannot be passed as a flag; set it in the recipe"
            )
    evaluation = raw.get("eval") or {}
    if not isinstance(evaluation, dict):
        raise _fail(path, "eval", "expected a mapping")
    _check_keys(path, evaluation, EVAL_KEYS, "eval.")
    if not evaluation.get("data"):
        raise _fail(
            path, "eval.data", "missing: the benchmark folder to evaluate on (episodes never trained on)"
        )
    synthetic = evaluation.get("synthetic")
    if synthetic is not None and (not isinstance(synthetic, dict) or "per_scenario" not in synthetic):
        raise _fail(path, "eval.synthetic", "expected a mapping with per_scenario (and seed, size)")
    limit = evaluation.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise _fail(path, "eval.limit", f"expected a positive integer, got {limit!r}")
    eval_args = evaluation.get("args") or []
    if not isinstance(eval_args, list):
        raise _fail(path, "eval.args", "expected a list of flags")
    env = raw.get("env") or {}
    if not isinstance(env, dict):
        raise _fail(path, "env", "expected a mapping of variable -> value")
    study = Study(
        path=path,
        name=name,
        description=str(raw.get("description", "")),
        methods=list(methods),
        recipes={m: str(recipes[m]) for m in methods},
        accelerate_config=str(accelerate_config),
        splits=splits,
        reward_presets=presets,
        seeds=list(seeds),
        train_overrides=dict(overrides),
        eval_data=str(evaluation["data"]),
        eval_synthetic=synthetic,
        eval_scenarios=_scenarios(path, "eval.scenarios", evaluation.get("scenarios", list(SCENARIO_NAMES))),
        eval_limit=limit,
        eval_batch_size=int(evaluation.get("batch_size", 32)),
        eval_args=[str(a) for a in eval_args],
        env={str(k): str(v) for k, v in env.items()},
        out=Path(out if out is not None else raw.get("out", f"outputs/studies/{name}")),
        base_configs=base_configs,
    )
    for method in methods:
        if not study.setting(method, "model_name_or_path"):
            raise _fail(path, f"recipes.{method}", "the base recipe sets no model_name_or_path")
    return study
