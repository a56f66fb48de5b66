"""Check that a recipe's LoRA adapter wraps only the language model, on the tiny twin of its model (offline).

Names such as ``q_proj`` or ``gate_proj`` also occur in vision towers (CLIP/SigLIP attention, Qwen2.5-VL's
vision MLP), so a plain list of names, or ``all-linear``, puts LoRA on the vision encoder too; the check
names the modules it would reach and suggests a regex that selects the language model only
(``LANGUAGE_ONLY_TARGETS``). Matching is PEFT's own: ``check_target_module_exists`` (a list entry matches a
module whose name equals it or ends with ``.entry``; a string is a fully matched regex), and ``all-linear``
is resolved by letting ``get_peft_model`` wrap a copy of the twin.

Run it before launching a recipe on GPUs, with a config path or a shipped name:
``proactive check-lora qwen2.5-vl-3b/grpo recipes/my-model/grpo.yaml``.
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml
from peft import LoraConfig, get_peft_model
from peft.tuners.lora import LoraLayer
from peft.tuners.tuners_utils import check_target_module_exists
from peft.utils import INCLUDE_LINEAR_LAYERS_SHORTHAND

from proactive.cli import command_parser
from proactive.configs import recipe_config
from proactive.tiny.archs import ARCHS
from proactive.tiny_models import build_tiny_model, twin_arch_for
from proactive.vision_modules import is_vision_module
from proactive.yaml_types import key_lines

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


def _all_linear(target_modules: TargetModules) -> bool:
    return isinstance(target_modules, str) and target_modules.lower() == INCLUDE_LINEAR_LAYERS_SHORTHAND


def resolve_lora_targets(model: torch.nn.Module, target_modules: TargetModules) -> list[str]:
    """The names of the modules PEFT would wrap for ``target_modules`` (a list, a regex string or ``all-linear``)."""
    targets = target_modules if isinstance(target_modules, str) else list(target_modules)
    if _all_linear(targets):  # PEFT expands it while wrapping: wrap a copy and read the wrapped names
        wrapped = get_peft_model(copy.deepcopy(model), LoraConfig(target_modules=targets, r=1))
        names = (n for n, m in wrapped.base_model.model.named_modules() if isinstance(m, LoraLayer))
        return list(names)
    config = LoraConfig(target_modules=targets)
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


def check_recipe_config(
    config: str | os.PathLike, cache_dir: str | os.PathLike | None = None, allow_vision: bool = False
) -> list[str]:
    """Check a recipe YAML's ``lora_target_modules`` (a path or a shipped name) on the tiny twin of its
    ``model_name_or_path``. Returns the module names the adapter would wrap ([] when the recipe does not
    use PEFT); raises ``ValueError`` naming the file, line and field."""
    from transformers import AutoModelForImageTextToText

    try:
        path = recipe_config(config)
    except FileNotFoundError as err:
        raise ValueError(str(err)) from None
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
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
    line = key_lines(path).get("lora_target_modules")
    where = f"{path}{f':{line}' if line else ''}: field 'lora_target_modules' (tiny twin {arch})"
    return check_lora_targets(model, recipe.get("lora_target_modules"), allow_vision, where)


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("proactive check-lora", __doc__)
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="recipe YAML: a path or a shipped name")
    parser.add_argument(
        "--allow-vision", action="store_true", help="accept LoRA on the vision tower or projector"
    )
    parser.add_argument("--cache", type=Path, help="folder of the tiny twins (default: a temp folder)")
    args = parser.parse_args(argv)
    failed = 0
    for config in args.configs:
        try:
            matched = check_recipe_config(config, args.cache, args.allow_vision)
        except ValueError as err:
            print(f"proactive check-lora: {err}", file=sys.stderr)
            failed += 1
            continue
        if not matched:
            print(f"{config}: no LoRA (use_peft is false)")
            continue
        kinds = sorted({name.rsplit(".", 1)[-1] for name in matched})
        vision = sum(is_vision_module(name) for name in matched)
        print(
            f"{config}: LoRA on {len(matched)} modules ({', '.join(kinds)}), {vision} in the vision tower or projector"
        )
    return 1 if failed else 0
