"""The embedded tiny base: a pretrained Qwen2-VL twin shipped as package data in ``proactive/tiny/base/``.

It stands in for a real MLLM in the default run: it answers informative views right and does not ask.
Its ``manifest.json`` records the exact ``proactive tiny-model --pretrain`` command that made it, the code
version (git commit) it ran at, the data recipe, the steps, a sha256 of the weights and its measured
figures (perf/measure_base.py). :func:`rebuild` runs that command again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proactive.configs import shipped
from proactive.tiny_models import BUILD_FILE

BASE_DIR = shipped("proactive", "tiny/base")
MANIFEST_FILE = "manifest.json"
WEIGHTS_FILE = "model.safetensors"
COMMAND_PREFIX = ("proactive", "tiny-model")
SHIPPED_FILES = (
    WEIGHTS_FILE,
    "config.json",
    "generation_config.json",
    "chat_template.jinja",
    "processor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    BUILD_FILE,
)
MAX_SHIPPED_BYTES = 20 * 2**20


def weights_sha256(folder: Path) -> str:
    return hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()


def load_manifest(folder: Path = BASE_DIR) -> dict[str, Any]:
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no embedded base here (the package ships proactive/tiny/base/)")
    return json.loads(path.read_text(encoding="utf-8"))


def embedded_base(folder: Path = BASE_DIR) -> Path:
    """The embedded base's folder, after checking its weights against the manifest's sha256."""
    manifest = load_manifest(folder)
    if weights_sha256(folder) != manifest["weights_sha256"]:
        raise ValueError(f"{folder / WEIGHTS_FILE}: its sha256 differs from {folder / MANIFEST_FILE}'s")
    return folder


def command_argv(command: Sequence[str], **replace: str) -> list[str]:
    """The arguments after ``proactive tiny-model`` in ``command``, with flags replaced: ``out="DIR"``
    sets ``--out DIR``, ``steps="3"`` sets ``--steps 3`` (added when absent)."""
    if tuple(command[:2]) != COMMAND_PREFIX:
        raise ValueError(f"not a 'proactive tiny-model' command: {' '.join(command)}")
    argv = list(command[2:])
    for name, value in replace.items():
        flag = "--" + name.replace("_", "-")
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


def rebuild(out: Path, manifest: dict[str, Any] | None = None, **replace: str) -> Path:
    """Run the manifest's command again, writing to ``out`` (``replace``: flags to change, e.g. a short
    version with ``steps="3"``); returns ``out``."""
    from proactive.tiny_models import main as tiny_model_main

    manifest = manifest or load_manifest()
    argv = command_argv(manifest["command"], out=str(out), **replace)
    print("$ proactive tiny-model " + " ".join(argv), flush=True)
    if tiny_model_main(argv) != 0:
        raise RuntimeError(f"proactive tiny-model {' '.join(argv)} failed")
    return out


def git_commit(repo: Path) -> dict[str, Any] | None:
    """The commit checked out in ``repo`` and whether its tracked files differ from it (None: not a git tree)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": head, "dirty": bool(status)}


def ship(model_dir: Path, figures: dict[str, Any], dest: Path = BASE_DIR) -> Path:
    """Copy the model and processor files of ``model_dir`` (a ``proactive tiny-model --pretrain`` output)
    into ``dest`` and write its manifest with ``figures``; returns ``dest``."""
    record = json.loads((model_dir / BUILD_FILE).read_text(encoding="utf-8"))
    if "command" not in record or "pretrain" not in record.get("build", {}):
        raise ValueError(f"{model_dir}: not made by 'proactive tiny-model --pretrain' (no command recorded)")
    size = sum((model_dir / name).stat().st_size for name in SHIPPED_FILES)
    if size > MAX_SHIPPED_BYTES:
        raise ValueError(
            f"{model_dir}: {size / 2**20:.1f} MB, over the {MAX_SHIPPED_BYTES / 2**20:.0f} MB limit"
        )
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in SHIPPED_FILES:
        shutil.copy2(model_dir / name, dest / name)
    pretrain = record["build"]["pretrain"]
    manifest = {
        "command": record["command"],
        "code_version": record.get("code_version"),
        "seeds": {
            "weights": record["build"]["seed"],
            "pretraining": pretrain["seed"],
            "data": pretrain["data"].get("synthetic", {}).get("seed")
            if isinstance(pretrain["data"], dict)
            else None,
        },
        "data": {
            "source": pretrain["data"],
            **{k: v for k, v in record["pretrain_metrics"].items() if "rows" in k},
        },
        "steps": pretrain["steps"],
        "build": record["build"],
        "num_parameters": record["num_parameters"],
        "pretrain_metrics": record["pretrain_metrics"],
        "weights_sha256": weights_sha256(dest),
        "files_bytes": size,
        "figures": figures,
    }
    (dest / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return dest
