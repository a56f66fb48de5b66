"""The one list of vision modules (proactive/vision_modules.py): a real 4-bit QLoRA load of every tiny twin, as
the trainers load it, quantizes the language model and leaves every vision-tower and projector module (and
the output layer) in full precision."""

from __future__ import annotations

import pytest
import torch
from bitsandbytes.nn import Linear4bit
from trl import ModelConfig
from trl.trainer.utils import create_model_from_path

from proactive.tiny.archs import ARCHS
from proactive.tiny_models import build_tiny_model
from proactive.training import quantization_config
from proactive.vision_modules import VISION_COMPONENTS, is_vision_module, quantization_skip_modules


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("qlora_twins")
    return lambda arch: build_tiny_model(arch, root / arch)


def test_every_component_is_a_skip_pattern_and_lm_head_too() -> None:
    patterns = quantization_skip_modules()
    assert len(patterns) == len(VISION_COMPONENTS) + 1 and patterns[-1] == "lm_head"
    assert is_vision_module("model.connector.modality_projection.proj")  # SmolVLM's projector
    assert not is_vision_module("model.text_model.layers.0.mlp.up_proj")


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_qlora_keeps_every_vision_module_unquantized(arch: str, twins) -> None:
    config = quantization_config(ModelConfig(load_in_4bit=True, dtype="float32"))
    model = create_model_from_path(str(twins(arch)), dtype="float32", quantization_config=config)
    linear = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    quantized = {n for n, m in linear.items() if isinstance(m, Linear4bit)}
    vision = {n for n in linear if is_vision_module(n)}
    assert vision, f"{arch}: no vision module found"
    assert not vision & quantized, f"{arch}: quantized vision modules {sorted(vision & quantized)[:3]}"
    language = set(linear) - vision - {"lm_head"}
    assert language and language <= quantized  # every language-model linear layer is 4-bit
    assert type(model.get_output_embeddings()) is torch.nn.Linear
