"""Arguments of the SFT and GRPO recipes, and the parser that reads them from YAML and the command line."""

from __future__ import annotations

import dataclasses
import difflib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from trl import ModelConfig, TrlParser

from data.builders import ANSWER_FORMATS, SFT_TURNS
from data.scenarios import SCENARIO_NAMES, resolve_scenario
from eval.rollout import Modes

DEFAULT_TRAIN_SCENARIOS = ["QuickDraw", "coco2014"]
ID_FILTER_KEYWORDS = ("auto", "official", "none")
ROLLOUTS = ("single_turn", "episode", "tools")


class RecipeConfigError(ValueError):
    """A recipe configuration that cannot be used; the message names the file and key."""


@dataclass
class ProactiveScriptArguments:
    """Data, split, model-bootstrap, reward and evaluation settings shared by the recipes."""

    benchmark_dir: str = field(
        default="outputs/synthetic-benchmark",
        metadata={"help": "ProactiveBench folder (official or synthetic)."},
    )
    synthetic_per_scenario: int = field(
        default=0,
        metadata={
            "help": "When > 0 and benchmark_dir is missing, generate a synthetic benchmark there first."
        },
    )
    synthetic_seed: int = field(default=0, metadata={"help": "Seed of the generated synthetic benchmark."})
    synthetic_image_size: int = field(
        default=112, metadata={"help": "Image side of the synthetic benchmark."}
    )
    train_scenarios: list[str] = field(
        default_factory=lambda: list(DEFAULT_TRAIN_SCENARIOS),
        metadata={"help": "Scenarios to train on (names or acronyms)."},
    )
    held_out_scenarios: list[str] = field(
        default_factory=lambda: [s for s in SCENARIO_NAMES if s not in DEFAULT_TRAIN_SCENARIOS],
        metadata={"help": "Scenarios never trained on (evaluated after training)."},
    )
    id_filter: str = field(
        default="auto",
        metadata={"help": "auto | official | none | path of a first-turn correctness JSONL file."},
    )
    filter_threshold: float = field(
        default=0.25, metadata={"help": "Threshold of a filter recomputed from a correctness file."}
    )
    eval_fraction: float = field(
        default=0.2, metadata={"help": "Fraction of the train scenarios' episodes held out for evaluation."}
    )
    split_seed: int = field(default=0, metadata={"help": "Seed of the episode split and of row sampling."})
    tiny_model_arch: str | None = field(
        default=None,
        metadata={
            "help": "When set and model_name_or_path does not exist, build this tiny model there first."
        },
    )
    answer_format: str = field(
        default="text", metadata={"help": f"SFT target format: {' | '.join(ANSWER_FORMATS)}."}
    )
    sft_turns: str = field(default="single", metadata={"help": f"SFT rows: {' | '.join(SFT_TURNS)}."})
    reward_preset: str = field(
        default="proactive", metadata={"help": "Reward preset of reward.build_reward_funcs."}
    )
    reward_kwargs: dict[str, Any] | str | None = field(
        default_factory=dict,
        metadata={
            "help": "Keyword arguments of reward.build_reward_funcs, e.g. the reward weights (YAML mapping or "
            "JSON string). Not `reward_weights`: that is GRPOConfig's list of per-function weights."
        },
    )
    rollout: str = field(
        default="single_turn",
        metadata={
            "help": f"GRPO rollout: {' | '.join(ROLLOUTS)} (one turn; the rest of the MCQA episode; a whole "
            "episode with interventions as tool calls)."
        },
    )
    history: bool = field(
        default=False, metadata={"help": "rollout episode: earlier turns and their images in the prompt."}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Keep at most this many training rows (sampled with split_seed)."}
    )
    eval_after_training: bool = field(
        default=False, metadata={"help": "Run ProactiveBench episodes on the trained model at the end."}
    )
    eval_limit: int | None = field(
        default=None, metadata={"help": "Episodes per scenario in that evaluation."}
    )
    eval_batch_size: int = field(default=32, metadata={"help": "Batch size of that evaluation."})
    eval_resize: bool = field(
        default=False, metadata={"help": "That evaluation in the official resize mode (224-px short side)."}
    )
    eval_icl: bool = field(
        default=False,
        metadata={"help": "That evaluation with the official in-context examples (ROD and MVP-N episodes)."},
    )
    eval_cot: bool = field(
        default=False,
        metadata={"help": "With eval_icl: the examples reason first (official chain of thought)."},
    )
    eval_reduce_icl_steps: bool = field(
        default=False, metadata={"help": "With eval_icl: the examples keep their first and last turns only."}
    )

    def __post_init__(self) -> None:
        self.tiny_model_arch = self.tiny_model_arch or None  # "" on the command line switches it off
        if isinstance(self.reward_kwargs, str):
            try:
                self.reward_kwargs = json.loads(self.reward_kwargs) if self.reward_kwargs.strip() else {}
            except json.JSONDecodeError as err:
                raise RecipeConfigError(
                    f"reward_kwargs: not a JSON object ({err.msg}): {self.reward_kwargs!r}"
                ) from None
        if self.reward_kwargs is None:
            self.reward_kwargs = {}
        if not isinstance(self.reward_kwargs, dict):
            raise RecipeConfigError(f"reward_kwargs: expected a mapping, got {self.reward_kwargs!r}")
        try:
            self.train_scenarios = [resolve_scenario(s) for s in self.train_scenarios]
            self.held_out_scenarios = [resolve_scenario(s) for s in self.held_out_scenarios]
        except ValueError as err:
            raise RecipeConfigError(f"train_scenarios / held_out_scenarios: {err}") from None
        both = sorted(set(self.train_scenarios) & set(self.held_out_scenarios))
        if both:
            raise RecipeConfigError(f"train_scenarios and held_out_scenarios share {', '.join(both)}")
        if self.answer_format not in ANSWER_FORMATS:
            raise RecipeConfigError(
                f"answer_format {self.answer_format!r}: expected one of {', '.join(ANSWER_FORMATS)}"
            )
        if self.sft_turns not in SFT_TURNS:
            raise RecipeConfigError(f"sft_turns {self.sft_turns!r}: expected one of {', '.join(SFT_TURNS)}")
        if self.rollout not in ROLLOUTS:
            raise RecipeConfigError(f"rollout {self.rollout!r}: expected one of {', '.join(ROLLOUTS)}")
        if self.history and self.rollout != "episode":
            raise RecipeConfigError(
                f"history: true needs rollout: episode (rollout {self.rollout!r}: single turns have no history, "
                "tool episodes always keep the conversation)"
            )
        try:
            Modes(icl=self.eval_icl, cot=self.eval_cot, reduce_icl_steps=self.eval_reduce_icl_steps)
        except ValueError as err:
            raise RecipeConfigError(f"eval_cot / eval_reduce_icl_steps: {err}") from None
        if not 0.0 <= self.eval_fraction < 1.0:
            raise RecipeConfigError(f"eval_fraction must be in [0, 1), got {self.eval_fraction}")
        if self.id_filter not in ID_FILTER_KEYWORDS and not Path(self.id_filter).is_file():
            raise RecipeConfigError(
                f"id_filter {self.id_filter!r}: expected {', '.join(ID_FILTER_KEYWORDS)} or an existing correctness JSONL file"
            )


def _config_path(argv: list[str]) -> str | None:
    if "--config" not in argv:
        return None
    index = argv.index("--config")
    if index + 1 >= len(argv):
        raise RecipeConfigError("--config needs the path of a YAML file")
    return argv[index + 1]


def check_config_keys(path: str, dataclass_types: tuple[type, ...]) -> None:
    """Refuse a YAML file that is missing, not a mapping, or has a key no dataclass knows (named, with a suggestion)."""
    config_file = Path(path)
    if not config_file.is_file():
        raise RecipeConfigError(f"{path}: config file not found")
    text = config_file.read_text(encoding="utf-8")
    try:
        config = yaml.safe_load(text)
        lines = {node.value: node.start_mark.line + 1 for node, _ in getattr(yaml.compose(text), "value", [])}
    except yaml.YAMLError as err:
        raise RecipeConfigError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(config, dict):
        raise RecipeConfigError(f"{path}: expected a YAML mapping of argument names to values")
    if isinstance(config.get("reward_weights"), dict):
        raise RecipeConfigError(
            f"{path}:{lines['reward_weights']}: key 'reward_weights' is GRPOConfig's list of per-function "
            "weights; put the keyword arguments of reward.build_reward_funcs (a mapping) under 'reward_kwargs'"
        )
    known = {f.name for cls in dataclass_types for f in dataclasses.fields(cls)} | {"env"}
    for key in config:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            owners = ", ".join(cls.__name__ for cls in dataclass_types)
            where = f"{path}:{lines[key]}" if key in lines else path
            raise RecipeConfigError(f"{where}: unknown key {key!r} (not a field of {owners}){hint}")


def parse_recipe_args(
    training_config_class: type, argv: list[str] | None = None
) -> tuple[ProactiveScriptArguments, object, ModelConfig]:
    """(script args, SFTConfig / GRPOConfig, ModelConfig) from ``--config file.yaml`` and flags (flags win)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    dataclass_types = (ProactiveScriptArguments, training_config_class, ModelConfig)
    path = _config_path(argv)
    if path is not None:
        check_config_keys(path, dataclass_types)
    parser = TrlParser(dataclass_types)
    try:
        script_args, training_args, model_args = parser.parse_args_and_config(argv)
    except RecipeConfigError:
        raise
    except ValueError as err:  # e.g. TrainingArguments' own checks (bf16 without a GPU, ...)
        raise RecipeConfigError(f"{path or 'command line'}: {err}") from None
    return script_args, training_args, model_args
