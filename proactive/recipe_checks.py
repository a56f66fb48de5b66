"""A recipe's arguments checked before anything loads, each mistake one line naming the file, line and key.

Two moments:

1. While parsing (:class:`CheckedParser`), on the values argparse hands over and before the argument
   dataclasses are built (their ``__post_init__`` may already fail on a bad number: ``GRPOConfig`` divides by
   ``num_generations``). A YAML value reaches a field as written, so each must have its field's type
   (``lora_r: [8]`` is refused); a single name where a list of names is expected is that one-item list
   (``train_scenarios: QuickDraw``), except where PEFT reads a string itself (``lora_target_modules``: a
   regex); numbers must lie in range (``max_steps: -3`` would train for the epochs instead). Ranges are ours
   only where transformers and TRL do not already refuse a value while parsing (``warmup_steps < 0``,
   ``num_generations < 2`` apart from 0, ``logging_steps: 0``).
2. Before the benchmark and the model load (:func:`check_before_loading`): the reward preset and weights
   resolve, ``output_dir`` can be written, and the checkpoint a run resumes from is intact (a damaged file
   is named).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import UnionType
from typing import Any, NoReturn, Union, get_args, get_origin, get_type_hints

from safetensors import SafetensorError, safe_open
from trl import TrlParser

from data.outdir import OutputFolderError, check_output_folder
from data.synth.generate import MIN_SIZE
from proactive.yaml_types import fits, hint_text, key_lines


class RecipeConfigError(ValueError):
    """A recipe configuration that cannot be used; the message names the file and key."""


# Fields PEFT also takes as one string (a regex): a string is kept as it is.
STRING_AS_IS = frozenset({"lora_target_modules", "lora_target_parameters"})
CRC_LIMIT = 2**31  # torch archives up to this size have every member's checksum verified before a resume


def _at_least(low: float) -> tuple[Callable[[Any], bool], str]:
    return (lambda value: value >= low), f"at least {low}"


def _above(low: float) -> tuple[Callable[[Any], bool], str]:
    return (lambda value: value > low), f"more than {low}"


def _between(low: float, high: float, high_open: bool = False) -> tuple[Callable[[Any], bool], str]:
    if high_open:
        return (lambda value: low <= value < high), f"in [{low}, {high})"
    return (lambda value: low <= value <= high), f"in [{low}, {high}]"


# Every number a recipe takes whose bad values neither transformers nor TRL refuse while parsing (checked by
# tests/test_recipe_checks.py; eval_fraction is checked by ProactiveScriptArguments itself); None stays
# allowed where the field allows it.
RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    # TrainingArguments
    "max_steps": (lambda v: v == -1 or v >= 1, "-1 (train for num_train_epochs) or at least 1"),
    "num_train_epochs": _above(0),
    "per_device_train_batch_size": _at_least(1),
    "per_device_eval_batch_size": _at_least(1),
    "gradient_accumulation_steps": _at_least(1),
    "learning_rate": _at_least(0),
    "weight_decay": _at_least(0),
    "max_grad_norm": _at_least(0),
    "logging_steps": _above(0),
    "save_steps": _above(0),
    "eval_steps": _above(0),
    "save_total_limit": _at_least(0),
    "seed": _at_least(0),
    "data_seed": _at_least(0),
    "dataloader_num_workers": _at_least(0),
    # GRPOConfig
    "num_generations": _at_least(2),
    "num_generations_eval": _at_least(1),
    "max_completion_length": _at_least(1),
    "temperature": _above(0),
    "top_p": ((lambda v: 0 < v <= 1), "in (0, 1]"),
    "top_k": _at_least(0),
    "min_p": _between(0, 1),
    "repetition_penalty": _above(0),
    "beta": _at_least(0),
    "epsilon": _at_least(0),
    "epsilon_high": _at_least(0),
    "num_iterations": _at_least(1),
    "steps_per_generation": _at_least(1),
    "generation_batch_size": _at_least(1),
    # ModelConfig
    "lora_r": _at_least(1),
    "lora_alpha": _above(0),
    "lora_dropout": _between(0, 1, high_open=True),
    # ProactiveScriptArguments
    "synthetic_per_scenario": _at_least(0),
    "synthetic_image_size": _at_least(MIN_SIZE),
    "synthetic_seed": _at_least(0),
    "filter_threshold": _between(0, 1),
    "split_seed": _at_least(0),
    "max_train_samples": _at_least(1),
    "eval_limit": _at_least(1),
    "eval_batch_size": _at_least(1),
}


def _list_item(hint: Any) -> Any:
    """``X`` when ``hint`` admits ``list[X]`` (alone or in a union), else None."""
    arms = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    return next((get_args(arm)[0] for arm in arms if get_origin(arm) is list and get_args(arm)), None)


def check_values(
    values: dict[str, Any], hints: dict[str, Any], as_written: set[str], where: Callable[[str], str]
) -> dict[str, Any]:
    """``values`` (field name -> parsed value) with the single items of list fields made lists; raises
    :class:`RecipeConfigError` (``where(key): ...``) on a value out of range, or one of the keys
    ``as_written`` (YAML values argparse did not convert) whose type is not its field's."""
    checked = dict(values)
    for key in as_written & set(values):
        value, hint = values[key], hints.get(key)
        if hint is None or (key in STRING_AS_IS and isinstance(value, str)):
            continue
        item = _list_item(hint)
        if item is not None and not fits(value, hint) and fits(value, item):
            value = checked[key] = [value]  # one name where a list of names is expected
        if not fits(value, hint):
            raise RecipeConfigError(f"{where(key)}: expected {hint_text(hint)}, got {value!r}")
    for key, (ok, expected) in RANGES.items():
        value = checked.get(key)
        if value is None or (key == "num_train_epochs" and checked.get("max_steps", -1) >= 1):
            continue
        if (isinstance(value, float) and not math.isfinite(value)) or not ok(value):
            raise RecipeConfigError(f"{where(key)}: {value!r} is out of range, expected {expected}")
    return checked


def field_hints(dataclass_types: Iterable[type]) -> dict[str, Any]:
    """The type hint of every field the parser fills (name -> hint)."""
    hints: dict[str, Any] = {}
    for cls in dataclass_types:
        resolved = get_type_hints(cls)
        hints.update({f.name: resolved[f.name] for f in dataclasses.fields(cls) if f.init})
    return hints


class CheckedParser(TrlParser):
    """``TrlParser`` whose values pass :func:`check_values` before the dataclasses are built; a mistake names
    the YAML file and line of the key, or the command-line flag that set it."""

    def __init__(self, dataclass_types: Sequence[type]) -> None:
        super().__init__(dataclass_types)
        self.config_path: Path | None = None  # the --config file, once a subclass has found it
        self.config_keys: set[str] = set()
        self.flags: set[str] = set()

    def set_defaults_with_config(self, **kwargs: Any) -> list[str]:
        self.config_keys = set(kwargs)
        return super().set_defaults_with_config(**kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self.flags = {
            token[2:].split("=", 1)[0].replace("-", "_")
            for token in (args or [])
            if isinstance(token, str) and token.startswith("--")
        }
        namespace, remaining = super().parse_known_args(args, namespace)
        as_written = self.config_keys - self.flags
        checked = check_values(vars(namespace), field_hints(self.dataclass_types), as_written, self.where)
        return argparse.Namespace(**checked), remaining

    def where(self, key: str) -> str:
        """Where a key was set: ``FILE:LINE: key`` in the config file, ``--key`` on the command line."""
        if key in self.flags:
            return f"--{key}"
        if key not in self.config_keys:
            return f"{key} (default)"
        return f"{self.line_of(key)}: {key}"

    def line_of(self, key: str) -> str:
        """``FILE:LINE`` of a top-level key of the config file."""
        line = key_lines(self.config_path).get(key) if self.config_path else None
        return f"{self.config_path}:{line}" if line else str(self.config_path)

    def error(self, message: str) -> NoReturn:
        """argparse's refusals (an invalid choice or number) as one line, without the usage."""
        raise RecipeConfigError(f"{self.config_path or 'command line'}: {message}")


# --- before loading ---------------------------------------------------------------------------------------
def check_checkpoint(folder: Path) -> None:
    """Refuse a checkpoint folder holding a damaged file, naming it: JSON files parse, safetensors headers
    cover their files, torch archives (optimizer, scheduler, RNG state) open, and up to ``CRC_LIMIT`` bytes
    have every member's checksum verified."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".safetensors":
                with safe_open(str(path), "pt"):
                    pass
            elif path.suffix in (".pt", ".pth", ".bin"):
                with zipfile.ZipFile(path) as archive:
                    bad = archive.testzip() if path.stat().st_size <= CRC_LIMIT else None
                if bad is not None:
                    raise zipfile.BadZipFile(f"member {bad} fails its checksum")
        except (OSError, ValueError, zipfile.BadZipFile, SafetensorError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise RecipeConfigError(
                f"{path}: damaged checkpoint file ({reason}); delete {folder} to resume from an earlier "
                "checkpoint, or set resume_from_checkpoint: false to start over"
            ) from None


def check_before_loading(script_args: Any, training_args: Any) -> None:
    """What can be checked before the benchmark and the model load: the reward resolves, ``output_dir``
    can be written, and the checkpoint to resume from (if any) is intact."""
    from proactive.training import resume_checkpoint
    from reward import resolve_weights

    try:
        resolve_weights(script_args.reward_preset, **script_args.reward_kwargs)
    except (ValueError, TypeError) as err:
        raise RecipeConfigError(f"reward_preset / reward_kwargs: {err}") from None
    try:
        check_output_folder(training_args.output_dir)
    except OutputFolderError as err:
        raise RecipeConfigError(f"output_dir: {err}") from None
    checkpoint = resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)
    if checkpoint is not None:
        check_checkpoint(Path(checkpoint))
