"""GRPO recipe: teach a vision-language model to ask for interventions on ProactiveBench.

usage: accelerate launch recipes/grpo.py --config recipes/tiny/grpo.yaml [--<argument> <value> ...]
   or: python recipes/grpo.py --config recipes/tiny/grpo.yaml [--<argument> <value> ...]

``rollout: single_turn`` (default): one single-turn row per reachable state of the train scenarios' episodes
(held-out episodes and scenarios excluded), rewarded by ``reward.build_reward_funcs(reward_preset,
**reward_kwargs)``. ``rollout: episode`` / ``tools``: whole episodes, MCQA or with interventions as tool calls,
rewarded by ``reward.episode.episode_reward`` (proactive/episode_grpo.py).
Arguments: ``ProactiveScriptArguments`` (proactive/recipe_args.py), ``trl.GRPOConfig``, ``trl.ModelConfig``.
"""

from __future__ import annotations

import sys

from trl import GRPOConfig, GRPOTrainer, ModelConfig

from data.builders import build_grpo_dataset
from proactive.episode_grpo import episode_trainer_kwargs
from proactive.recipe_args import ProactiveScriptArguments
from proactive.training import RecipeRun, prepare_run, run_recipe
from proactive.view.callback import CompletionImages
from reward import build_reward_funcs

VISION_TOKEN_FIELDS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")


def suppress_vision_tokens(training_args: GRPOConfig, model_config: object) -> None:
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
    suppress_vision_tokens(training_args, run.model.config)
    run.processor.tokenizer.padding_side = "left"  # as TRL loads it: the prompts' per-token fields align left
    if script_args.rollout == "single_turn":
        rollout = {
            "train_dataset": run.limit(build_grpo_dataset(run.records.train, run.records.benchmark_dir)),
            "reward_funcs": build_reward_funcs(script_args.reward_preset, **script_args.reward_kwargs),
        }
    else:  # whole episodes (MCQA or tool calls) through TRL's environment_factory / rollout_func
        rollout = episode_trainer_kwargs(script_args, run)
    trainer = GRPOTrainer(
        model=run.model,
        args=training_args,
        processing_class=run.processor,
        peft_config=run.peft_config,
        **rollout,
    )
    trainer.add_callback(CompletionImages(trainer))  # log_completions' prompt images, for `proactive view`
    return trainer, run


def main(argv: list[str] | None = None) -> int:
    return run_recipe(GRPOConfig, build_trainer, argv)


if __name__ == "__main__":
    sys.exit(main())
