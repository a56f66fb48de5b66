"""What the SFT and GRPO recipes share, in the order a run uses it:

1. inputs: the benchmark folder (a synthetic one generated when asked), the tiny model (built when asked), the
   episodes split by scenario and by episode;
2. the model, loaded by the trainer itself from ``model_name_or_path`` as trl's own scripts do
   (``model_init_kwargs``, ``get_quantization_config``, ``get_peft_config``); here only what trl leaves to
   us: vision modules kept out of 4-bit quantization, LoRA on the language model by default, and a model that
   cannot be loaded reported in one line;
3. training (resumed when asked), the saved outputs, the evaluation after training;
4. ``run_recipe``, a recipe's ``main``: parse, set up logging, build the trainer, train and save.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from datasets import Dataset
from peft import PeftConfig
from safetensors.torch import load_file
from transformers import AutoConfig, BitsAndBytesConfig, PretrainedConfig, Trainer, set_seed
from transformers.trainer_utils import get_last_checkpoint
from trl import ModelConfig, get_peft_config, get_quantization_config

from data.builders import build_grpo_dataset
from data.official_rows import OfficialTrainError
from data.official_train import load_official_train
from data.records import BenchmarkFormatError, Record, load_benchmark, resolve_id_filter
from data.splits import split_by_scenario, split_episodes
from proactive.logs import recipe_log_level, setup_logging
from proactive.recipe_args import (
    OFFICIAL_TRAIN,
    ProactiveScriptArguments,
    RecipeConfigError,
    parse_recipe_args,
)
from proactive.recipe_checks import check_before_loading
from proactive.vision_modules import quantization_skip_modules

logger = logging.getLogger(__name__)

# Default LoRA targets: the attention projections of the language model only (a regex, fully matched
# against module names): a plain list of names would also reach vision blocks that reuse them.
LANGUAGE_MODEL_ATTENTION = r".*(language_model|text_model)\..*\.(q_proj|k_proj|v_proj|o_proj)"
VERSIONED_PACKAGES = (
    "proactive-recipes",
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "accelerate",
    "deepspeed",
    "bitsandbytes",
)
RESOLVED_CONFIG = "resolved_config.yaml"
ADAPTER_FILE = "adapter_model.safetensors"


class RecipeInputError(FileNotFoundError):
    """A benchmark folder or model path the recipe needs is missing and cannot be created."""


# Errors caused by the configuration or the data, reported as one line rather than a traceback.
USER_ERRORS = (RecipeConfigError, BenchmarkFormatError, OfficialTrainError, FileNotFoundError)


# --- inputs ---------------------------------------------------------------------------------------
def ensure_benchmark(script_args: ProactiveScriptArguments) -> Path:
    """The benchmark folder; a synthetic one is generated first when it is missing and asked for."""
    folder = Path(script_args.benchmark_dir)
    if folder.is_dir():
        return folder
    if script_args.synthetic_per_scenario <= 0:
        raise RecipeInputError(
            f"benchmark_dir {str(folder)!r}: no such folder. Point benchmark_dir at a ProactiveBench folder, "
            "or set synthetic_per_scenario > 0 to generate a synthetic benchmark there."
        )
    from data.synth import generate_benchmark

    logger.info(
        "generating a synthetic benchmark in %s (%d per scenario)", folder, script_args.synthetic_per_scenario
    )
    generate_benchmark(
        folder,
        per_scenario=script_args.synthetic_per_scenario,
        seed=script_args.synthetic_seed,
        size=script_args.synthetic_image_size,
    )
    return folder


def ensure_model(script_args: ProactiveScriptArguments, model_args: ModelConfig) -> None:
    """Build the tiny model at ``model_name_or_path`` when it is missing and ``tiny_model_arch`` is set."""
    path = model_args.model_name_or_path
    if script_args.tiny_model_arch is None or path is None or Path(path).exists():
        return
    from proactive.tiny_models import build_tiny_model

    logger.info("building a tiny %s model in %s", script_args.tiny_model_arch, path)
    try:
        build_tiny_model(script_args.tiny_model_arch, path)
    except ValueError as err:
        raise RecipeConfigError(f"tiny_model_arch: {err}") from None


@dataclass
class RecipeRecords:
    """The episodes a recipe trains on and the ones kept for evaluation."""

    benchmark_dir: Path
    train: list[Record]  # train scenarios, minus the held-out episodes
    eval_episodes: list[Record]  # held-out episodes of the train scenarios
    held_out: list[Record]  # every episode of the held-out scenarios

    def summary(self) -> dict[str, Any]:
        return {
            "train_episodes": len(self.train),
            "eval_episodes": len(self.eval_episodes),
            "held_out_episodes": len(self.held_out),
        }


def load_recipe_records(script_args: ProactiveScriptArguments) -> RecipeRecords:
    """Load the benchmark (generating it if asked) and split it by scenario, then by episode."""
    folder = ensure_benchmark(script_args)
    scenarios = script_args.train_scenarios + script_args.held_out_scenarios
    id_filter = resolve_id_filter(folder, script_args.id_filter, script_args.filter_threshold)
    benchmark = load_benchmark(folder, scenarios, id_filter=id_filter)
    for data in benchmark.values():
        logger.info("%s", data.report.summary())
    train_scenarios, held_out = split_by_scenario(
        benchmark, script_args.train_scenarios, script_args.held_out_scenarios
    )
    if script_args.train_source == OFFICIAL_TRAIN:  # trained on the train split: every test episode is unseen
        return RecipeRecords(folder, [], train_scenarios, held_out)
    train, eval_episodes = split_episodes(train_scenarios, script_args.eval_fraction, script_args.split_seed)
    if not train:
        raise RecipeInputError(f"{folder}: no training episodes in {', '.join(script_args.train_scenarios)}")
    return RecipeRecords(folder, train, eval_episodes, held_out)


def limit_rows(dataset: Dataset, max_samples: int | None, seed: int) -> Dataset:
    """At most ``max_samples`` rows, sampled with ``seed`` (all rows when None)."""
    if max_samples is None or max_samples >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(max_samples))


# --- model ----------------------------------------------------------------------------------------
def set_model_init_kwargs(training_args: Any, model_args: ModelConfig) -> None:
    """How the trainer loads ``model_name_or_path`` (as trl's scripts set it): revision, remote code, attention
    and dtype from ``ModelConfig``, under any ``model_init_kwargs`` given in the config."""
    kwargs = {
        "revision": model_args.model_revision,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": model_args.attn_implementation,
        "dtype": model_args.dtype,
    }
    training_args.model_init_kwargs = {**kwargs, **(training_args.model_init_kwargs or {})}


def load_model_config(model_args: ModelConfig, trust_remote_code: bool = False) -> PretrainedConfig:
    """The model's config; reading it first turns a model that cannot be loaded into one line."""
    path = model_args.model_name_or_path
    if path is None:
        raise RecipeInputError("model_name_or_path is not set")
    try:
        return AutoConfig.from_pretrained(
            path, revision=model_args.model_revision, trust_remote_code=trust_remote_code
        )
    except OSError as err:
        raise RecipeInputError(
            f"model_name_or_path {path!r}: cannot load it ({err}). Point it at a model folder or hub id, or set "
            "tiny_model_arch to build a tiny model there."
        ) from err


def quantization_config(model_args: ModelConfig) -> BitsAndBytesConfig | None:
    """TRL's bitsandbytes config (4-bit nf4 or 8-bit), keeping vision modules and lm_head unquantized."""
    config = get_quantization_config(model_args)
    if config is not None:
        config.llm_int8_skip_modules = quantization_skip_modules()
    return config


def peft_config(model_args: ModelConfig) -> PeftConfig | None:
    """TRL's LoRA config from ``ModelConfig``; without ``lora_target_modules``, the language model's attention."""
    if model_args.use_peft and model_args.lora_target_modules is None:
        model_args = dataclasses.replace(model_args, lora_target_modules=LANGUAGE_MODEL_ATTENTION)
    return get_peft_config(model_args)


# --- resume and outputs ---------------------------------------------------------------------------
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}


def resume_checkpoint(resume_from_checkpoint: Any, output_dir: str) -> str | None:
    """The checkpoint to resume from: True -> the last one in ``output_dir`` (None if there is none); a path."""
    value = resume_from_checkpoint
    if value is None or value is False or (isinstance(value, str) and value.lower() in _FALSE):
        return None
    if value is True or (isinstance(value, str) and value.lower() in _TRUE):
        last = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
        if last is None:
            logger.info("resume_from_checkpoint: no checkpoint in %s yet, starting from scratch", output_dir)
        return last
    if not Path(value).is_dir():
        raise RecipeInputError(f"resume_from_checkpoint {value!r}: no such checkpoint folder")
    return str(value)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _plain(value: Any) -> Any:
    """``value`` as YAML-safe builtins (enums and other objects become strings)."""
    return json.loads(json.dumps(value, default=str))


def distributed_setup(trainer: Trainer) -> dict[str, Any]:
    """How the run was launched: backend, process count, DeepSpeed ZeRO stage, mixed precision."""
    state = trainer.accelerator.state
    plugin = getattr(state, "deepspeed_plugin", None)
    return {
        "distributed_type": str(state.distributed_type.value),
        "num_processes": state.num_processes,
        "zero_stage": plugin.zero_stage if plugin is not None else None,
        "mixed_precision": str(state.mixed_precision),
    }


def resolved_config(
    script_args: ProactiveScriptArguments,
    training_args: Any,
    model_args: ModelConfig,
    data: dict[str, Any],
    distributed: dict[str, Any],
) -> dict[str, Any]:
    """All three argument sets as dicts, the data sizes, the launch setup and the package versions."""
    return {
        "script_args": _plain(dataclasses.asdict(script_args)),
        "training_args": _plain(training_args.to_dict()),
        "model_args": _plain(dataclasses.asdict(model_args)),
        "data": data,
        "distributed": distributed,
        "versions": package_versions(),
    }


def check_saved_adapter(output_dir: Path) -> None:
    """Refuse an adapter file without weights (the known ZeRO-3 failure when weights are not gathered)."""
    path = output_dir / ADAPTER_FILE
    if not path.is_file():
        return
    tensors = load_file(str(path))
    empty = [name for name, tensor in tensors.items() if tensor.numel() == 0]
    if not tensors or empty:
        raise RuntimeError(
            f"{path}: the saved adapter is empty ({len(tensors)} tensors, {len(empty)} without elements); "
            "under DeepSpeed ZeRO-3 the sharded weights must be gathered on save (zero3_save_16bit_model: true)"
        )


def save_outputs(trainer: Trainer, metrics: dict[str, Any], config: dict[str, Any]) -> Path:
    """Save the adapter (or model) with the processor, ``resolved_config.yaml`` and ``train_results.json``."""
    output_dir = Path(trainer.args.output_dir)
    trainer.save_model(str(output_dir))  # also saves trainer.processing_class
    if trainer.is_world_process_zero():
        check_saved_adapter(output_dir)
        (output_dir / RESOLVED_CONFIG).write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    # printed without the metrics TRL leaves None (a reward function that scores nothing, as the episode
    # rollouts' finish_episodes); train_results.json keeps them, as null
    trainer.log_metrics("train", {name: value for name, value in metrics.items() if value is not None})
    trainer.save_metrics("train", metrics)
    trainer.save_state()
    return output_dir


# --- the run ----------------------------------------------------------------------------------------
@dataclass
class RecipeRun:
    """A recipe's arguments, its episodes and its model's config: what the trainer is built from and what
    training, saving and the evaluation after training read."""

    script_args: ProactiveScriptArguments
    training_args: Any  # SFTConfig or GRPOConfig
    model_args: ModelConfig
    records: RecipeRecords
    model_config: PretrainedConfig
    train_data: dict[str, Any] = dataclasses.field(default_factory=dict)  # recorded in resolved_config.yaml

    def limit(self, dataset: Dataset) -> Dataset:
        return limit_rows(dataset, self.script_args.max_train_samples, self.script_args.split_seed)


def grpo_rows(run: RecipeRun) -> Dataset:
    """The single-turn GRPO rows of ``train_source``: the paper's train split, or the benchmark's reachable states.

    What they came from (source, row count, content hash, the encodings the split was read in) goes to
    ``run.train_data`` and from there to resolved_config.yaml.
    """
    script_args = run.script_args
    if script_args.train_source != OFFICIAL_TRAIN:
        run.train_data = {"train_source": script_args.train_source}
        return build_grpo_dataset(run.records.train, run.records.benchmark_dir)
    with run.training_args.main_process_first(desc="loading the official train split"):
        split = load_official_train(script_args.train_data)
    logger.info("official train split: %s", split.provenance)
    run.train_data = {"train_source": OFFICIAL_TRAIN, "official_train": split.provenance}
    return split.rows


def prepare_run(
    script_args: ProactiveScriptArguments, training_args: Any, model_args: ModelConfig
) -> RecipeRun:
    """Seed; create missing inputs (main process first); load the episodes and the model's config; tell the
    trainer how to load the model."""
    set_seed(training_args.seed)
    with training_args.main_process_first(desc="preparing the benchmark and the model"):
        ensure_model(script_args, model_args)
        records = load_recipe_records(script_args)
    model_config = load_model_config(model_args, training_args.trust_remote_code)
    set_model_init_kwargs(training_args, model_args)
    return RecipeRun(script_args, training_args, model_args, records, model_config)


def train_and_save(trainer: Trainer, run: RecipeRun) -> dict[str, Any]:
    """Train (resuming when asked), then save everything :func:`save_outputs` saves; returns the metrics."""
    args = run.training_args
    train_dataset = trainer.train_dataset
    checkpoint = resume_checkpoint(args.resume_from_checkpoint, args.output_dir)
    result = trainer.train(resume_from_checkpoint=checkpoint)
    metrics = {**result.metrics, "train_samples": len(train_dataset)}
    data = {
        **run.records.summary(),
        **run.train_data,
        "train_rows": len(train_dataset),
        "resumed_from_checkpoint": checkpoint,
    }
    config = resolved_config(run.script_args, args, run.model_args, data, distributed_setup(trainer))
    save_outputs(trainer, metrics, config)
    if run.script_args.eval_after_training and trainer.is_world_process_zero():
        metrics.update(evaluate_after_training(trainer, run))
    return metrics


def evaluate_after_training(trainer: Trainer, run: RecipeRun) -> dict[str, float]:
    """Evaluate the saved model (base + adapter) on the episodes it never trained on; log and save the metrics."""
    from proactive.recipe_eval import EVAL_DIR, eval_modes, eval_records, evaluate_saved_model, flat_metrics

    output_dir = Path(run.training_args.output_dir)
    peft = run.model_args.use_peft
    summary = evaluate_saved_model(
        model_id=run.model_args.model_name_or_path if peft else str(output_dir),
        adapter=str(output_dir) if peft else None,
        benchmark_dir=run.records.benchmark_dir,
        records=eval_records(run.records.eval_episodes, run.records.held_out, run.script_args.eval_limit),
        out_dir=output_dir / EVAL_DIR,
        dtype=run.model_args.dtype,
        batch_size=run.script_args.eval_batch_size,
        seed=run.training_args.seed,
        modes=eval_modes(run.script_args),
        example_pool=run.records.eval_episodes + run.records.held_out,
        protocol="tools" if run.script_args.rollout == "tools" else "mcqa",  # eval's protocol names
        history=run.script_args.history,
    )
    metrics = flat_metrics(summary)
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    return metrics


def run_recipe(
    config_class: type, build_trainer: Callable[..., tuple[Trainer, RecipeRun]], argv: list[str] | None
) -> int:
    """A recipe's ``main``: parse its arguments, set up logging (level from its ``TrainingArguments``), build its
    trainer, train and save (then evaluate when asked); a configuration or input error exits 2 in one line."""
    try:
        script_args, training_args, model_args = parse_recipe_args(config_class, argv)
        check_before_loading(script_args, training_args)
        setup_logging(recipe_log_level(training_args))
        trainer, run = build_trainer(script_args, training_args, model_args)
    except USER_ERRORS as err:
        if os.environ.get("LOCAL_RANK", "0") == "0":  # once per machine under a multi-process launch
            print(f"error: {err}", file=sys.stderr)
        return 2
    train_and_save(trainer, run)
    return 0
