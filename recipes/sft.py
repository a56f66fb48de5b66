"""SFT recipe: imitate the oracle (ask while the view is uninformative, then answer) on ProactiveBench.

usage: accelerate launch recipes/sft.py --config recipes/tiny/sft.yaml [--<argument> <value> ...]  (a clone)
   or: accelerate launch -m recipes.sft --config tiny/sft [--<argument> <value> ...]  (any folder, installed)
   or: python -m recipes.sft --config tiny/sft [--<argument> <value> ...]

Rows are the oracle's turns (``sft_turns: single``) or whole episodes (``multi``) of the train
scenarios' episodes, held-out episodes and scenarios excluded; targets follow ``answer_format``.
Single turns train on the reply only (prompt/completion rows) unless ``completion_only_loss: false``;
multi-turn conversations train on every token unless ``assistant_only_loss: true`` (needs a chat
template with generation markers).
The trainer loads the model from ``model_name_or_path`` (LoRA, or QLoRA with ``load_in_4bit``).
Arguments: ``ProactiveScriptArguments`` (proactive/recipe_args.py), ``trl.SFTConfig``, ``trl.ModelConfig``;
``--config`` takes a path or the name of a shipped config (proactive/configs.py).
Vision SFT needs ``max_length: null`` (truncation would cut image tokens), no packing, no padding_free.
"""

from __future__ import annotations

import sys

import proactive  # noqa: F401 (first: it quiets library warnings printed while they are imported)

# isort: split
from trl import ModelConfig, SFTConfig, SFTTrainer

from data.builders import build_sft_dataset, to_prompt_completion
from proactive.recipe_args import BENCHMARK, ProactiveScriptArguments, RecipeConfigError
from proactive.training import RecipeRun, peft_config, prepare_run, quantization_config, run_recipe


def check_vision_sft(training_args: SFTConfig) -> None:
    """Refuse the SFT settings that break on image data."""
    if training_args.max_length is not None:
        raise RecipeConfigError(
            f"max_length={training_args.max_length}: vision SFT needs max_length: null "
            "(truncation would cut image tokens)"
        )
    if training_args.packing or training_args.padding_free:
        raise RecipeConfigError("packing and padding_free are not supported with images; set both to false")


def build_trainer(
    script_args: ProactiveScriptArguments, training_args: SFTConfig, model_args: ModelConfig
) -> tuple[SFTTrainer, RecipeRun]:
    """The SFT trainer on the oracle's conversations, ready to train."""
    check_vision_sft(training_args)
    if script_args.train_source != BENCHMARK:
        raise RecipeConfigError(
            f"train_source {script_args.train_source}: SFT imitates the oracle, which asks on uninformative views "
            "and answers on informative ones; the official train split does not say which views are informative. "
            "Use train_source: benchmark."
        )
    run = prepare_run(script_args, training_args, model_args)
    dataset = build_sft_dataset(
        run.records.train,
        run.records.benchmark_dir,
        turns=script_args.sft_turns,
        answer_format=script_args.answer_format,
    )
    if script_args.sft_turns == "single" and training_args.completion_only_loss is not False:
        dataset = to_prompt_completion(dataset)
    trainer = SFTTrainer(
        model=model_args.model_name_or_path,  # with training_args.model_init_kwargs
        args=training_args,
        train_dataset=run.limit(dataset),
        quantization_config=quantization_config(model_args),
        peft_config=peft_config(model_args),
    )
    return trainer, run


def main(argv: list[str] | None = None) -> int:
    return run_recipe(SFTConfig, build_trainer, argv)


if __name__ == "__main__":
    sys.exit(main())
