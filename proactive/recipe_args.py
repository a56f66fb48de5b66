"""Arguments of the SFT and GRPO recipes, and the parser that reads them from YAML and the command line."""

from __future__ import annotations

import dataclasses
import difflib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from trl import ModelConfig

from data.builders import ANSWER_FORMATS, SFT_TURNS
from data.official_train import OFFICIAL_TRAIN_REPO
from data.scenarios import SCENARIO_NAMES, resolve_scenario
from eval.rollout import Modes
from proactive.configs import recipe_config
from proactive.recipe_checks import CheckedParser, RecipeConfigError

DEFAULT_TRAIN_SCENARIOS = ["QuickDraw", "coco2014"]
ID_FILTER_KEYWORDS = ("auto", "official", "none")
ROLLOUTS = ("single_turn", "episode", "tools")
BENCHMARK = "benchmark"
OFFICIAL_TRAIN = "official_train"
TRAIN_SOURCES = (BENCHMARK, OFFICIAL_TRAIN)


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
    train_source: str = field(
        default=BENCHMARK,
        metadata={
            "help": "benchmark: single-turn rows from benchmark_dir's episodes of train_scenarios, minus "
            "eval_fraction of them | official_train: the paper's GRPO train split (train_data; QuickDraw + "
            "coco2014 rows, GRPO only), every benchmark episode then evaluated."
        },
    )
    train_data: str = field(
        default=OFFICIAL_TRAIN_REPO,
        metadata={
            "help": "official_train: hub dataset id (split train), folder of parquet files (data/train-*.parquet) "
            "or save_to_disk folder."
        },
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
        default=0.2,
        metadata={
            "help": "Fraction of the train scenarios' episodes held out for evaluation (train_source benchmark; "
            "with official_train every episode is held out)."
        },
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
        if self.train_source not in TRAIN_SOURCES:
            raise RecipeConfigError(
                f"train_source {self.train_source!r}: expected one of {', '.join(TRAIN_SOURCES)}"
            )
        if self.train_source == OFFICIAL_TRAIN and sorted(self.train_scenarios) != sorted(
            DEFAULT_TRAIN_SCENARIOS
        ):
            raise RecipeConfigError(
                f"train_source official_train holds {' and '.join(DEFAULT_TRAIN_SCENARIOS)} rows only; "
                f"train_scenarios {self.train_scenarios} needs train_source: benchmark"
            )
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
        if self.rollout != "single_turn" and self.train_source != BENCHMARK:
            raise RecipeConfigError(
                f"rollout {self.rollout!r} plays the benchmark's episodes: it needs train_source: benchmark "
                "(the official train split holds single turns)"
            )
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


class RecipeParser(CheckedParser):
    """TrlParser (YAML ``--config``, flags override it, ``env:`` exported, unknown keys refused), plus what it lacks:
    ``--config`` may name a shipped config (proactive/configs.py), and a YAML mistake is reported with its file
    and line (the closest field name for an unknown key; ``reward_kwargs`` for a mapping of reward weights);
    the values are checked as :class:`CheckedParser` checks them."""

    def parse_args_and_config(self, args: Sequence[str] | None = None, **kwargs: Any) -> tuple[Any, ...]:
        args = list(sys.argv[1:] if args is None else args)
        if "--config" in args:
            index = args.index("--config") + 1
            if index >= len(args):
                raise RecipeConfigError("--config needs the path or name of a recipe YAML file")
            try:
                self.config_path = recipe_config(args[index])
            except FileNotFoundError as err:
                raise RecipeConfigError(str(err)) from None
            args[index] = str(self.config_path)
        try:
            return super().parse_args_and_config(args, **kwargs)
        except yaml.YAMLError as err:
            raise RecipeConfigError(f"{self.config_path}: invalid YAML: {err}") from None

    def set_defaults_with_config(self, **kwargs: Any) -> list[str]:
        if isinstance(kwargs.get("reward_weights"), dict):
            raise RecipeConfigError(
                f"{self.line_of('reward_weights')}: key 'reward_weights' is GRPOConfig's list of per-function "
                "weights; put the keyword arguments of reward.build_reward_funcs (a mapping) under 'reward_kwargs'"
            )
        remaining = super().set_defaults_with_config(**kwargs)
        unknown = [key for key in kwargs if f"--{key}" in remaining[::2]]
        if unknown:
            known = sorted(f.name for cls in self.dataclass_types for f in dataclasses.fields(cls))
            close = difflib.get_close_matches(unknown[0], known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            owners = ", ".join(cls.__name__ for cls in self.dataclass_types)
            raise RecipeConfigError(
                f"{self.line_of(unknown[0])}: unknown key {unknown[0]!r} (not a field of {owners}){hint}"
            )
        return remaining


def parse_recipe_args(
    training_config_class: type, argv: Sequence[str] | None = None
) -> tuple[ProactiveScriptArguments, Any, ModelConfig]:
    """(script args, SFTConfig / GRPOConfig, ModelConfig) from ``--config PATH_OR_NAME`` and flags (flags win)."""
    parser = RecipeParser((ProactiveScriptArguments, training_config_class, ModelConfig))
    try:
        script_args, training_args, model_args = parser.parse_args_and_config(argv)
    except RecipeConfigError:
        raise
    except ValueError as err:  # e.g. TrainingArguments' own checks (bf16 without a GPU, ...)
        raise RecipeConfigError(f"{parser.config_path or 'command line'}: {err}") from None
    return script_args, training_args, model_args
