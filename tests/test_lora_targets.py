"""LoRA target resolution and the language-model-only check, on the tiny twins and on the recipe YAMLs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from peft.tuners.lora import LoraLayer
from transformers import AutoModelForImageTextToText

from proactive.lora_targets import (
    LANGUAGE_ONLY_TARGETS,
    check_lora_targets,
    check_recipe_config,
    resolve_lora_targets,
)
from proactive.tiny.archs import ARCHS
from proactive.tiny_models import build_tiny_model
from proactive.vision_modules import is_vision_module

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted(
    p for p in REPO.glob("recipes/*/*.yaml") if p.parent.name not in ("tiny", "studies", "quickstart")
)
SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
NUM_LAYERS = 2  # the tiny default


@pytest.fixture(scope="session")
def twin_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("twins")


@pytest.fixture(scope="session")
def twin(twin_cache):
    models: dict[str, torch.nn.Module] = {}

    def load(arch: str) -> torch.nn.Module:
        if arch not in models:
            models[arch] = AutoModelForImageTextToText.from_pretrained(
                build_tiny_model(arch, twin_cache / arch)
            )
        return models[arch]

    return load


def test_unmatched_target_is_named(twin):
    with pytest.raises(
        ValueError, match=r"\['qproj'\] match no module of Qwen2_5_VLForConditionalGeneration"
    ):
        check_lora_targets(twin("qwen2_5_vl"), ["q_proj", "qproj"])
    with pytest.raises(ValueError, match="match no module"):
        check_lora_targets(twin("qwen2_5_vl"), r"^language_model\.q_proj$")
    with pytest.raises(ValueError, match="no LoRA target modules given"):
        check_lora_targets(twin("qwen2_5_vl"), [])


def test_seven_names_hit_the_qwen2_5_vl_vision_mlp(twin):
    with pytest.raises(ValueError, match="put adapters on 6 vision-tower/projector modules") as err:
        check_lora_targets(twin("qwen2_5_vl"), SEVEN)
    assert "model.visual.blocks.0.mlp.gate_proj" in str(err.value)
    assert LANGUAGE_ONLY_TARGETS["qwen2_5_vl"]["qk"] in str(err.value)  # the fix is suggested


def test_seven_names_stay_in_the_qwen2_vl_language_model(twin):
    matched = check_lora_targets(twin("qwen2_vl"), SEVEN)
    assert len(matched) == 7 * NUM_LAYERS
    assert all(name.startswith("model.language_model.layers.") for name in matched)


def test_q_and_k_names_hit_the_clip_tower_of_llava_next(twin):
    """The paper's GRPO targets (q_proj, k_proj) as a list also adapt LLaVA's CLIP attention."""
    with pytest.raises(ValueError, match="vision-tower/projector"):
        check_lora_targets(twin("llava_next"), ["q_proj", "k_proj"])
    assert (
        len(check_lora_targets(twin("llava_next"), ["q_proj", "k_proj"], allow_vision=True)) == 4 * NUM_LAYERS
    )


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_language_only_regexes_select_exactly_the_language_projections(arch, twin):
    model = twin(arch)
    everything = check_lora_targets(model, LANGUAGE_ONLY_TARGETS[arch]["attn_mlp"])
    qk = check_lora_targets(model, LANGUAGE_ONLY_TARGETS[arch]["qk"])
    assert len(everything) == 7 * NUM_LAYERS and len(qk) == 2 * NUM_LAYERS
    assert not any(is_vision_module(name) for name in everything)
    assert {name.rsplit(".", 1)[1] for name in everything} == set(SEVEN)
    assert {name.rsplit(".", 1)[1] for name in qk} == {"q_proj", "k_proj"}


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_all_linear_reaches_the_vision_tower(arch, twin):
    model = twin(arch)
    with pytest.raises(ValueError, match="vision-tower/projector"):
        check_lora_targets(model, "all-linear")
    matched = check_lora_targets(model, "all-linear", allow_vision=True)
    assert "lm_head" not in matched
    assert any(is_vision_module(name) for name in matched)


def test_brief_example_regex_works(twin):
    matched = check_lora_targets(twin("qwen2_5_vl"), r"^(model\.)?language_model.*\.(q_proj|k_proj)$")
    assert len(matched) == 2 * NUM_LAYERS


@pytest.mark.parametrize(
    "targets", [SEVEN, ["q_proj", "k_proj"], LANGUAGE_ONLY_TARGETS["qwen2_5_vl"]["qk"], "all-linear"]
)
def test_resolution_equals_what_peft_wraps(targets, twin):
    model = copy.deepcopy(twin("qwen2_5_vl"))
    peft_model = get_peft_model(model, LoraConfig(target_modules=targets, r=2))
    wrapped = sorted(
        name.removeprefix("base_model.model.")
        for name, module in peft_model.named_modules()
        if isinstance(module, LoraLayer)
    )
    assert sorted(resolve_lora_targets(twin("qwen2_5_vl"), targets)) == wrapped


def test_unwrappable_match_is_rejected(twin):
    with pytest.raises(ValueError, match="LoRA cannot wrap: .*input_layernorm"):
        check_lora_targets(twin("qwen2_vl"), ["input_layernorm"])


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_recipe_check_names_file_line_and_field(tmp_path, twin_cache):
    bad = _write(
        tmp_path / "grpo.yaml",
        "model_name_or_path: Qwen/Qwen2.5-VL-3B-Instruct\nuse_peft: true\nlora_r: 16\n"
        "lora_target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]\n",
    )
    with pytest.raises(ValueError, match=rf"{bad}:4: field 'lora_target_modules' \(tiny twin qwen2_5_vl\)"):
        check_recipe_config(bad, cache_dir=twin_cache)
    good = _write(
        tmp_path / "sft.yaml",
        "model_name_or_path: Qwen/Qwen2.5-VL-3B-Instruct\nuse_peft: true\n"
        "lora_target_modules: '^(model\\.)?language_model.*\\.(q_proj|k_proj)$'\n",
    )
    assert len(check_recipe_config(good, cache_dir=twin_cache)) == 2 * NUM_LAYERS


def test_recipe_without_peft_or_with_unknown_model(tmp_path, twin_cache):
    no_peft = _write(tmp_path / "full.yaml", "model_name_or_path: acme/unknown\nuse_peft: false\n")
    assert check_recipe_config(no_peft, cache_dir=twin_cache) == []
    unknown = _write(
        tmp_path / "u.yaml",
        "model_name_or_path: acme/unknown\nuse_peft: true\nlora_target_modules: [q_proj]\n",
    )
    with pytest.raises(
        ValueError, match=rf"{unknown}: field 'model_name_or_path': no tiny twin known for 'acme/unknown'"
    ):
        check_recipe_config(unknown, cache_dir=twin_cache)


@pytest.mark.parametrize("recipe", RECIPES or [None], ids=lambda p: str(p.relative_to(REPO)) if p else "none")
def test_recipe_lora_targets(recipe, twin_cache):
    if recipe is None:
        pytest.skip("no recipes/*/*.yaml outside recipes/tiny and recipes/studies yet")
    check_recipe_config(recipe, cache_dir=twin_cache)
