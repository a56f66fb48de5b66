"""Where vision-language models keep their vision tower and vision-to-text projector: one list of module-name
components, which keeps those modules out of 4-bit quantization (QLoRA, proactive/training.py) and out of
LoRA (``proactive check-lora``, proactive/lora_targets.py)."""

from __future__ import annotations

# A dotted module-name component that marks the vision tower or the projector, per family.
VISION_COMPONENTS = (
    "visual",  # Qwen2-VL, Qwen2.5-VL, Qwen3-VL (their merger and deepstack mergers live inside)
    "vision_tower",  # LLaVA, LLaVA-NeXT, LLaVA-OneVision, InternVL (-hf)
    "vision_model",  # SmolVLM / Idefics3, older LLaVA layouts
    "multi_modal_projector",  # LLaVA family, InternVL (-hf)
    "connector",  # SmolVLM / Idefics3 projector
    "merger",  # Qwen-VL mergers, wherever a layout puts them
    "mlp1",  # InternVL (original remote-code layout) projector
    "image_newline",  # LLaVA-NeXT / OneVision row separator
)
OUTPUT_LAYER = "lm_head"


def is_vision_module(name: str) -> bool:
    """Whether a module name lies in the vision tower or the multimodal projector."""
    return any(part in VISION_COMPONENTS for part in name.split("."))


def quantization_skip_modules() -> list[str]:
    """``BitsAndBytesConfig.llm_int8_skip_modules``: every module under a vision component (transformers
    matches each pattern from the start of a module name up to a ``.`` boundary) and the output layer."""
    return [rf"(.*\.)?{component}" for component in VISION_COMPONENTS] + [OUTPUT_LAYER]
