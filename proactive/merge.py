"""Merge a LoRA adapter into its base model's weights (PEFT's ``merge_and_unload``) and save the result with
a processor: the quickstart's GRPO starting point and ``proactive release --merge``."""

from __future__ import annotations

from pathlib import Path


def merge_adapter(
    base_model: str | Path, adapter: str | Path, out: Path, processor_from: str | Path, dtype: str = "auto"
) -> Path:
    """``base_model`` with ``adapter`` merged in, saved into ``out`` with the processor of ``processor_from``;
    ``dtype`` is the weights' dtype (``auto``: as the base's config says)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    base = AutoModelForImageTextToText.from_pretrained(
        base_model, dtype=dtype if dtype == "auto" else getattr(torch, dtype)
    )
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(out)
    AutoProcessor.from_pretrained(processor_from).save_pretrained(out)
    return out
