"""Which modules a LoRA ``target_modules`` setting wraps, and a check that it wraps only the language model.

Matching is PEFT's own (``check_target_module_exists``, ``all-linear`` expansion): a list entry matches a
module whose name equals it or ends with ``.entry``; a string is a full-match regular expression.
``check_recipe_config`` runs the check for a recipe YAML on the tiny twin of its model.

Names such as ``q_proj`` or ``gate_proj`` also occur in vision towers (CLIP/SigLIP attention, Qwen2.5-VL's
vision MLP), so the plain lists put LoRA on the vision encoder too; ``LANGUAGE_ONLY_TARGETS`` gives, per
architecture, regexes that select the language model only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml
from peft import LoraConfig
from peft.tuners.tuners_utils import _maybe_include_all_linear_layers, check_target_module_exists
from peft.utils import INCLUDE_LINEAR_LAYERS_SHORTHAND

from proactive.tiny.archs import ARCHS
from proactive.tiny_models import build_tiny_model, twin_arch_for

# A dotted name component that marks the vision tower or the vision-to-text projector.
VISION_COMPONENTS = frozenset(
    {
        "visual",  # Qwen2-VL, Qwen2.5-VL, Qwen3-VL (its merger and deepstack mergers live inside)
        "vision_tower",  # LLaVA, LLaVA-NeXT, LLaVA-OneVision, InternVL (-hf)
        "vision_model",  # SmolVLM / Idefics3, older LLaVA layouts
        "multi_modal_projector",  # LLaVA family, InternVL (-hf)
        "merger",
        "connector",  # SmolVLM / Idefics3 projector
        "mlp1",  # InternVL (original remote-code layout) projector
        "image_newline",
    }
)

# Where the language model's decoder layers live, per tiny architecture (optionally under "model.").
_LM_PREFIX = {
    "qwen2_vl": "language_model",
    "qwen2_5_vl": "language_model",
    "qwen3_vl": "language_model",
    "llava": "language_model",
    "llava_next": "language_model",
    "llava_onevision": "language_model",
    "internvl": "language_model",
    "smolvlm": "text_model",
}


def _language_regex(prefix: str, projections: str) -> str:
    return rf"^(model\.)?{prefix}(\.model)?\.layers\.\d+\.{projections}$"


ATTN_MLP = r"(self_attn\.(q_proj|k_proj|v_proj|o_proj)|mlp\.(gate_proj|up_proj|down_proj))"
QK = r"self_attn\.(q_proj|k_proj)"

# LANGUAGE_ONLY_TARGETS[arch]["attn_mlp"]: q/k/v/o + gate/up/down of the language model only;
# LANGUAGE_ONLY_TARGETS[arch]["qk"]: q_proj and k_proj of the language model only (the paper's GRPO setting).
LANGUAGE_ONLY_TARGETS: dict[str, dict[str, str]] = {
    arch: {"attn_mlp": _language_regex(prefix, ATTN_MLP), "qk": _language_regex(prefix, QK)}
    for arch, prefix in _LM_PREFIX.items()
}

# Module types LoRA can wrap (peft.tuners.lora dispatches on these).
_LORA_WRAPPABLE = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)

TargetModules = str | Sequence[str]


def is_vision_module(name: str) -> bool:
    """Whether a module name lies in the vision tower or the multimodal projector."""
    return any(part in VISION_COMPONENTS for part in name.split("."))


def _config(target_modules: TargetModules, model: torch.nn.Module) -> LoraConfig:
    targets = target_modules if isinstance(target_modules, str) else list(target_modules)
    config = LoraConfig(target_modules=targets)
    if isinstance(targets, str) and targets.lower() == INCLUDE_LINEAR_LAYERS_SHORTHAND:
        config = _maybe_include_all_linear_layers(config, model)
    return config


def resolve_lora_targets(model: torch.nn.Module, target_modules: TargetModules) -> list[str]:
    """The names of the modules PEFT would wrap for ``target_modules`` (a list, a regex string or ``all-linear``)."""
    config = _config(target_modules, model)
    return [name for name, _ in model.named_modules() if name and check_target_module_exists(config, name)]


def _unmatched_entries(model: torch.nn.Module, target_modules: TargetModules) -> list[str]:
    if isinstance(target_modules, str):
        return [] if resolve_lora_targets(model, target_modules) else [target_modules]
    return [entry for entry in target_modules if not resolve_lora_targets(model, [entry])]


def _leaf_names(model: torch.nn.Module) -> str:
    leaves = sorted(
        {name.rsplit(".", 1)[-1] for name, mod in model.named_modules() if isinstance(mod, _LORA_WRAPPABLE)}
    )
    return ", ".join(leaves)


def check_lora_targets(
    model: torch.nn.Module, target_modules: TargetModules | None, allow_vision: bool = False, where: str = ""
) -> list[str]:
    """Resolve ``target_modules`` on ``model`` and return the matched names; raise ``ValueError`` when

    - nothing is given, or a list entry (or the regex string) matches no module;
    - a matched module is of a type LoRA cannot wrap;
    - a matched module sits in the vision tower or projector and ``allow_vision`` is False.

    ``where`` (e.g. a recipe file and key) prefixes each message.
    """
    model_name = type(model).__name__
    prefix = f"{where}: " if where else ""
    if not target_modules:
        raise ValueError(f"{prefix}no LoRA target modules given")
    missing = _unmatched_entries(model, target_modules)
    if missing:
        raise ValueError(
            f"{prefix}LoRA target(s) {missing} match no module of {model_name}; "
            f"wrappable module names end with: {_leaf_names(model)}"
        )
    matched = resolve_lora_targets(model, target_modules)
    modules = dict(model.named_modules())
    unsupported = [
        f"{name} ({type(modules[name]).__name__})"
        for name in matched
        if not isinstance(modules[name], _LORA_WRAPPABLE)
    ]
    if unsupported:
        raise ValueError(f"{prefix}LoRA targets match modules LoRA cannot wrap: {', '.join(unsupported[:5])}")
    vision = [name for name in matched if is_vision_module(name)]
    if vision and not allow_vision:
        arch = next((a.name for a in ARCHS.values() if a.model_class == model_name), "qwen2_5_vl")
        raise ValueError(
            f"{prefix}LoRA targets {target_modules!r} put adapters on {len(vision)} vision-tower/projector modules of "
            f"{model_name} (e.g. {', '.join(vision[:3])}); to adapt only the language model use a regex such as "
            f"'{LANGUAGE_ONLY_TARGETS[arch]['qk']}' (LANGUAGE_ONLY_TARGETS[{arch!r}]), or pass allow_vision=True"
        )
    return matched


def default_twin_cache() -> Path:
    """Where ``check_recipe_config`` keeps the tiny twins it builds ($PROACTIVE_TINY_CACHE or a temp folder)."""
    return Path(
        os.environ.get("PROACTIVE_TINY_CACHE") or Path(tempfile.gettempdir()) / "proactive-tiny-twins"
    )


def check_recipe_config(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> list[str]:
    """Check a recipe YAML's ``lora_target_modules`` on the tiny twin of its ``model_name_or_path``.

    Returns the module names the adapter would wrap ([] when the recipe does not use PEFT).
    """
    from transformers import AutoModelForImageTextToText

    path = Path(path)
    text = path.read_text()
    try:
        recipe = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(recipe, dict):
        raise ValueError(f"{path}: expected a mapping of recipe keys, got {type(recipe).__name__}")
    if not recipe.get("use_peft", False):
        return []
    if "model_name_or_path" not in recipe:
        raise ValueError(f"{path}: field 'model_name_or_path' is missing")
    try:
        arch = twin_arch_for(recipe["model_name_or_path"])
    except KeyError as err:
        raise ValueError(f"{path}: field 'model_name_or_path': {err.args[0]}") from err
    folder = build_tiny_model(arch, Path(cache_dir or default_twin_cache()) / arch)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    where = f"{path}{_line_of(text, 'lora_target_modules')}: field 'lora_target_modules' (tiny twin {arch})"
    return check_lora_targets(model, recipe.get("lora_target_modules"), where=where)


def _line_of(text: str, key: str) -> str:
    """':LINE' of a top-level YAML key, or '' when it is absent."""
    root = yaml.compose(text)
    for key_node, _ in getattr(root, "value", []):
        if getattr(key_node, "value", None) == key:
            return f":{key_node.start_mark.line + 1}"
    return ""
