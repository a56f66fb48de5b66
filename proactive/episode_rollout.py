"""The episode rollout of GRPO's ``rollout_func`` (``rollout: episode``): each row's answer, then the rest
of its episode, on the official MCQA protocol.

A row is one reachable state of a training episode (proactive/episode_data.py); its
:class:`~proactive.episode_envs.EpisodeEnvironment` holds the episode at that state. The rollout samples
the row's answer with the trainer's own generation (TRL's ``_generate_single_turn``: same sampling
settings, vLLM when enabled), applies it, and keeps answering every live episode's next turn, batch by
batch, until each ends (category, abstain, invalid answer or step limit), as ``proactive eval`` plays
them. The environment's ``get_reward`` then scores the whole rollout, so the row's answer is credited
with the outcome it led to.

Only the row's own turn is in the loss. TRL 1.16's ``rollout_func`` returns one prompt / completion pair
per row, and the forward pass sees only the row's images (the dataset's), so a later view cannot enter
the same sequence; the later turns are trained as rows of their own states, which the dataset holds for
every reachable state. (``rollout: tools`` has every turn in one sequence: TRL's tool loop carries the
new views as tool responses.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from trl.data_utils import prepare_multimodal_messages

from eval.rollout import conversation
from proactive.episode_envs import EpisodeEnvironment

RolloutFunc = Callable[[list, Any], dict[str, Any]]


def sample_answers(trainer: Any, prompts: Sequence[list[dict[str, Any]]]) -> tuple[list, list, Any]:
    """(prompt ids, completion ids, sampling logprobs) of one sampled answer per multimodal prompt."""
    processor = trainer.processing_class
    tokenized = processor.apply_chat_template(
        conversation=list(prompts),
        chat_template=trainer.chat_template,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        **trainer.chat_template_kwargs,
    )
    fields = {k: v for k, v in tokenized.items() if k not in ("input_ids", "attention_mask")}
    images = [
        [part["image"] for message in prompt for part in message["content"] if part.get("type") == "image"]
        for prompt in prompts
    ]
    completion_ids, logprobs = trainer._generate_single_turn(tokenized["input_ids"], images, fields, 1)
    return list(tokenized["input_ids"]), completion_ids, logprobs


def decode(trainer: Any, completion_ids: Sequence[Sequence[int]]) -> list[str]:
    """Answers as TRL decodes completions for the reward functions."""
    return trainer.processing_class.batch_decode(completion_ids, skip_special_tokens=True)


def any_process_has(trainer: Any, live: Sequence[Any]) -> bool:
    """Whether any process still has a live episode: every process then generates this round, as
    DeepSpeed ZeRO-3 gathers the weights for generation collectively."""
    count = torch.tensor([len(live)], device=trainer.accelerator.device)
    return bool(trainer.accelerator.gather(count).sum().item())


def make_episode_rollout(data_dir: str | Path, history: bool) -> RolloutFunc:
    """The ``rollout_func``: ``history`` keeps earlier turns (and their images) in every prompt."""

    def rollout(prompts: list, trainer: Any) -> dict[str, Any]:
        environments: list[EpisodeEnvironment] = trainer.environments
        prompt_ids, completion_ids, logprobs = sample_answers(trainer, prompts)
        for environment, answer in zip(environments, decode(trainer, completion_ids), strict=True):
            environment.episode.step(answer)
        live = [e.episode for e in environments if not e.episode.done]
        while any_process_has(trainer, live):
            turns = [conversation(e, e.state(), data_dir, history) for e in live]
            batch = [prepare_multimodal_messages(t.messages, t.images) for t in turns] or prompts[:1]
            _, ids, _ = sample_answers(trainer, batch)  # a process with no live episode answers a stand-in
            for episode, answer in zip(live, decode(trainer, ids), strict=False):
                episode.step(answer)
            live = [e for e in live if not e.done]
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": logprobs}

    return rollout
