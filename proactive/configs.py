"""The files the package ships for running recipes (recipe, study and accelerate configs, the recipe scripts),
found by path or by name, so that the same command works from a clone and from a wheel install.

A path to an existing file is used as given. Anything else names a shipped file, with or without its
``.yaml`` suffix and with or without the folder a clone keeps it in:
- recipe configs (``recipes/``): ``qwen2.5-vl-3b/grpo``, ``tiny/sft.yaml``, ``recipes/quickstart/grpo.yaml``;
- studies (``recipes/studies/``): ``tiny_leave_one_out``, ``recipes/studies/paper_split.yaml``;
- accelerate configs (``accelerate_configs/``): ``cpu``, ``accelerate_configs/deepspeed_zero3.yaml``.
Files are read through ``importlib.resources``, never through paths relative to this module.
``proactive configs`` lists the shipped configs; ``proactive configs NAME`` prints the path of one, e.g. for
``accelerate launch --config_file "$(proactive configs deepspeed_zero3)" -m recipes.grpo --config ...``.
"""

from __future__ import annotations

import difflib
import os
import sys
from importlib import resources
from pathlib import Path

from proactive.cli import command_parser

RECIPES, ACCELERATE_CONFIGS = "recipes", "accelerate_configs"
STUDIES = "studies"
SLURM_TEMPLATE = "studies/slurm/cell.sbatch"
SUFFIX = ".yaml"


def shipped(package: str, name: str) -> Path:
    """The file ``name`` (a ``/``-separated path) inside ``package``, as a filesystem path."""
    return Path(str(resources.files(package).joinpath(*name.split("/"))))


def shipped_names(package: str, folder: str = "") -> list[str]:
    """The YAML files shipped in ``package``/``folder`` (one level of subfolders), named without the suffix."""
    root = shipped(package, folder) if folder else shipped(package, ".")
    found = [p.relative_to(root) for p in [*root.glob(f"*{SUFFIX}"), *root.glob(f"*/*{SUFFIX}")]]
    return sorted(p.with_suffix("").as_posix() for p in found)


def find_config(name: str | os.PathLike[str], package: str, folder: str = "", what: str = "config") -> Path:
    """``name`` if it is a file, else the shipped file it names in ``package``/``folder``; raises
    ``FileNotFoundError`` naming it (with the closest shipped name) when there is neither."""
    path = Path(name)
    if path.is_file():
        return path
    key = path.as_posix().removeprefix(f"{package}/").removeprefix(f"{folder}/" if folder else "")
    key = key.removesuffix(SUFFIX)
    candidate = shipped(package, f"{folder}/{key}{SUFFIX}" if folder else f"{key}{SUFFIX}")
    if key and candidate.is_file():
        return candidate
    close = difflib.get_close_matches(key, shipped_names(package, folder), n=1)
    hint = f"; did you mean the shipped {what} {close[0]!r}?" if close else ""
    raise FileNotFoundError(f"{name}: {what} file not found{hint}")


def recipe_config(name: str | os.PathLike[str]) -> Path:
    """A recipe YAML: a path, or a shipped name such as ``qwen2.5-vl-3b/grpo``."""
    return find_config(name, RECIPES, what="config")


def study_config(name: str | os.PathLike[str]) -> Path:
    """A study YAML: a path, or a shipped name such as ``tiny_leave_one_out``."""
    return find_config(name, RECIPES, STUDIES, what="study")


def accelerate_config(name: str | os.PathLike[str]) -> Path:
    """An accelerate config: a path, or a shipped name such as ``cpu`` or ``deepspeed_zero3``."""
    return find_config(name, ACCELERATE_CONFIGS, what="accelerate config")


def recipe_script(method: str) -> Path:
    """The recipe script of ``method`` (``sft`` or ``grpo``), to hand to ``accelerate launch``."""
    return shipped(RECIPES, f"{method}.py")


def slurm_template() -> Path:
    """The Slurm job-array template that runs one study cell per job."""
    return shipped(RECIPES, SLURM_TEMPLATE)


FINDERS = {"recipe": recipe_config, "study": study_config, "accelerate": accelerate_config}


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("proactive configs", __doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help="print the path of these configs")
    args = parser.parse_args(argv)
    if not args.names:
        listed = {
            "recipe": [n for n in shipped_names(RECIPES) if not n.startswith(f"{STUDIES}/")],
            "study": shipped_names(RECIPES, STUDIES),
            "accelerate": shipped_names(ACCELERATE_CONFIGS),
        }
        for kind, names in listed.items():
            print(f"{kind} configs: {' '.join(names)}")
        return 0
    for name in args.names:
        paths, errors = [], []
        for find in FINDERS.values():
            try:
                paths.append(find(name))
            except FileNotFoundError as err:
                errors.append(str(err))
        if not paths:  # the message with a suggestion, when one kind has a close name
            print(f"proactive configs: {max(errors, key=lambda e: 'did you mean' in e)}", file=sys.stderr)
            return 2
        print(paths[0])
    return 0
