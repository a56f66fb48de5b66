"""What GRPO gets for the multi-turn rollouts (``rollout: episode | tools``): rows, environment, rollout and
reward functions, all through TRL's own hooks (``environment_factory``, ``rollout_func``).

- ``episode``: MCQA episodes (proactive/episode_rollout.py); each rollout is the rest of an episode from a
  reachable state, scored as a whole by :func:`reward.episode.episode_reward`.
- ``tools``: whole episodes whose interventions are calls of the ``intervene`` tool (data/tools.py);
  TRL's tool loop plays them, every turn in one sequence, the next view returned as the tool's image.
Both need a chat template that renders tools (TRL checks it for any ``environment_factory``); families
whose shipped one does not get an override that renders MCQA prompts unchanged (eval/tool_chat.py).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from transformers import AutoProcessor, ProcessorMixin
from trl import GRPOConfig, ModelConfig

from eval.tool_chat import enable_tool_calling
from proactive.episode_data import build_episode_dataset, build_tool_dataset
from proactive.episode_envs import EpisodeEnvironment, EpisodeSource, ToolEnvironment, finish_episodes
from proactive.episode_rollout import make_episode_rollout
from reward.weights import resolve_weights


def tool_processor(model_args: ModelConfig, training_args: GRPOConfig) -> ProcessorMixin:
    """The model's processor as GRPOTrainer would load it (left padding), given a chat template that renders
    tools: TRL checks the template for any ``environment_factory``, and parses calls with the tokenizer's
    response template (eval/tool_chat.py)."""
    processor = AutoProcessor.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        truncation_side="left",
        padding_side="left",
        trust_remote_code=training_args.trust_remote_code,
    )
    return enable_tool_calling(processor)


def episode_trainer_kwargs(script_args: Any, run: Any) -> dict[str, Any]:
    """``GRPOTrainer`` keyword arguments of ``script_args.rollout`` ("episode" or "tools") for ``run``."""
    weights = resolve_weights(script_args.reward_preset, **script_args.reward_kwargs)
    run.train_data = {"train_source": script_args.train_source, "rollout": script_args.rollout}
    data_dir = run.records.benchmark_dir
    source = EpisodeSource.of(run.records.train, data_dir, weights)
    processor = tool_processor(run.model_args, run.training_args)
    if script_args.rollout == "episode":
        return {
            "processing_class": processor,
            "train_dataset": run.limit(
                build_episode_dataset(run.records.train, data_dir, script_args.history)
            ),
            "environment_factory": partial(EpisodeEnvironment, source),
            "rollout_func": make_episode_rollout(data_dir, script_args.history),
            "reward_funcs": [finish_episodes],
        }
    return {
        "processing_class": processor,
        "train_dataset": run.limit(build_tool_dataset(run.records.train, data_dir)),
        "environment_factory": partial(ToolEnvironment, source),
        "reward_funcs": [finish_episodes],
    }
