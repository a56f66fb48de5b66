"""The evaluation batch chosen from the free memory (``proactive eval --batch-size auto``).

A batched greedy ``generate`` holds, for each sequence, a key-value cache over its prompt and new tokens and,
while the prompt runs through the model, one decoder layer's activations at a time. Per token:

    cache       2 x layers x key-value heads x head size x bytes
    activations (4 x hidden size + 3 x MLP width) x bytes
    counted twice: the cache is copied as it grows, and the MLP holds several activations at once,

plus the last position's logits in float32 (twice the vocabulary x 4 bytes). For Qwen2.5-VL-3B in bf16 that is
239 kB per token, 56 MB for a 230-token sequence; on one H200 its eval at batch 32 on the synthetic benchmark
peaked 1.4 GiB above the weights, 47 MB per sequence (docs/gpu.md). The batch is the largest whose sequences
fit in ``MEMORY_SHARE`` of the memory free once the model is loaded, at most ``MAX_AUTO_BATCH``; the live
episodes follow the batch (``--max-live`` defaults to it). A batch that still runs out of memory is halved
(eval/backends.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

DEFAULT_BATCH = 32
MAX_AUTO_BATCH = 1024
MEMORY_SHARE = 0.6  # of the free memory: room for the allocator's slack and the vision tower's activations
AUTO = "auto"


def free_memory(device: str | torch.device) -> int:
    """Bytes free on ``device``: the CUDA card's free memory, or the machine's available RAM for the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def bytes_per_token(text_config: Any, dtype_bytes: int) -> int:
    """Cache plus one layer's activations for one token, counted twice (see the module docstring)."""
    heads = text_config.num_attention_heads
    head_dim = getattr(text_config, "head_dim", None) or text_config.hidden_size // heads
    kv_heads = getattr(text_config, "num_key_value_heads", None) or heads
    cache = 2 * text_config.num_hidden_layers * kv_heads * head_dim * dtype_bytes
    activations = (4 * text_config.hidden_size + 3 * text_config.intermediate_size) * dtype_bytes
    return 2 * (cache + activations)


def sequence_bytes(model_config: Any, tokens: int, dtype_bytes: int = 2) -> int:
    """Memory one sequence of ``tokens`` (prompt + new tokens) takes in a batched generate call."""
    text_config = model_config.get_text_config()
    return tokens * bytes_per_token(text_config, dtype_bytes) + 2 * text_config.vocab_size * 4


def auto_batch_size(
    free_bytes: int, per_sequence_bytes: int, share: float = MEMORY_SHARE, cap: int = MAX_AUTO_BATCH
) -> int:
    """The largest batch whose sequences fit in ``share`` of ``free_bytes`` (at least 1, at most ``cap``)."""
    if per_sequence_bytes <= 0:
        raise ValueError(f"per_sequence_bytes must be positive, got {per_sequence_bytes}")
    return max(1, min(cap, int(free_bytes * share) // per_sequence_bytes))


def choose_batch_size(generator: Any, prompts: Sequence[Any], free_bytes: int) -> tuple[int, dict[str, Any]]:
    """The batch for an HF generator whose longest sample prompt (plus its new tokens) sets the sequence length.

    Returns the batch and how it was chosen (free memory, tokens and bytes per sequence).
    """
    tokens = max(generator.encode([prompt])["input_ids"].shape[1] for prompt in prompts)
    tokens += generator.max_new_tokens
    per_sequence = sequence_bytes(generator.model.config, tokens, generator.model.dtype.itemsize)
    batch = auto_batch_size(free_bytes, per_sequence)
    return batch, {
        "free_gib": round(free_bytes / 2**30, 1),
        "tokens": tokens,
        "sequence_mib": round(per_sequence / 2**20, 1),
    }
