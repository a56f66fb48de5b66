"""GRPO recipe: teach a vision-language model to ask for interventions on ProactiveBench.

usage: accelerate launch recipes/grpo.py --config recipes/tiny/grpo.yaml [--<argument> <value> ...]  (a clone)
   or: accelerate launch -m recipes.grpo --config tiny/grpo [--<argument> <value> ...]  (any folder, installed)
   or: python -m recipes.grpo --config tiny/grpo [--<argument> <value> ...]

Single-turn rows (``train_source``): the paper's GRPO train split (``official_train``, read from ``train_data``),
or one row per reachable state of the benchmark's train-scenario episodes (``benchmark``; held-out episodes and
scenarios excluded), rewarded by ``reward.build_reward_funcs(reward_preset, **reward_kwargs)``; the trainer
loads the model from ``model_name_or_path`` (LoRA, or QLoRA with ``load_in_4bit``). ``rollout: episode`` /
``tools``: whole episodes of the benchmark, MCQA or with interventions as tool calls, rewarded by
``reward.episode.episode_reward`` (proactive/episode_grpo.py).
Arguments: ``ProactiveScriptArguments`` (proactive/recipe_args.py), ``trl.GRPOConfig``, ``trl.ModelConfig``;
``--config`` takes a path or the name of a shipped config (proactive/configs.py).
"""

from __future__ import annotations

import sys

import proactive  # noqa: F401 (first: it quiets library warnings printed while they are imported)

# isort: split
from transformers import PretrainedConfig
from trl import GRPOConfig, GRPOTrainer, ModelConfig

from proactive.episode_grpo import episode_trainer_kwargs
from proactive.recipe_args import ProactiveScriptArguments
from proactive.training import RecipeRun, grpo_rows, peft_config, prepare_run, quantization_config, run_recipe
from proactive.view.callback import CompletionImages
from reward import build_reward_funcs

VISION_TOKEN_FIELDS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")


def suppress_vision_tokens(training_args: GRPOConfig, model_config: PretrainedConfig) -> None:
    """Never sample the model's vision placeholder tokens: a completion holding one (a tiny or barely trained
    model can sample them at temperature 1) breaks the next forward, whose image positions count it."""
    ids = [getattr(model_config, name, None) for name in VISION_TOKEN_FIELDS]
    ids = sorted({i for i in ids if isinstance(i, int)})
    kwargs = dict(training_args.generation_kwargs or {})
    kwargs["suppress_tokens"] = sorted(set(kwargs.get("suppress_tokens") or []) | set(ids))
    training_args.generation_kwargs = kwargs


def build_trainer(
    script_args: ProactiveScriptArguments, training_args: GRPOConfig, model_args: ModelConfig
) -> tuple[GRPOTrainer, RecipeRun]:
    """The GRPO trainer on the recipe's data, model and reward, ready to train."""
    run = prepare_run(script_args, training_args, model_args)
    suppress_vision_tokens(training_args, run.model_config)
    if script_args.rollout == "single_turn":
        rollout = {
            "train_dataset": run.limit(grpo_rows(run)),
            "reward_funcs": build_reward_funcs(script_args.reward_preset, **script_args.reward_kwargs),
        }
    else:  # whole episodes (MCQA or tool calls) through TRL's environment_factory / rollout_func
        rollout = episode_trainer_kwargs(script_args, run)
    trainer = GRPOTrainer(
        model=model_args.model_name_or_path,  # with training_args.model_init_kwargs; the processor pads left
        args=training_args,
        quantization_config=quantization_config(model_args),
        peft_config=peft_config(model_args),
        **rollout,
    )
    trainer.add_callback(CompletionImages(trainer))  # log_completions' prompt images, for `proactive view`
    return trainer, run


def main(argv: list[str] | None = None) -> int:
    return run_recipe(GRPOConfig, build_trainer, argv)


if __name__ == "__main__":
    sys.exit(main())
