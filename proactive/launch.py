"""Commands that launch a recipe or a ``proactive`` subcommand: as a user types them (printed, written to job
scripts), and as this interpreter runs them (``accelerate`` and ``proactive`` as modules of this environment)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from proactive.configs import recipe_script


def display(path: str | Path) -> str:
    """``path`` relative to the working directory when it lies below it, else as given."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def recipe_launch(
    method: str, accelerate_config: str | Path, config: str | Path, flags: Sequence[str] = ()
) -> list[str]:
    """``accelerate launch --config_file ACC recipes/<method>.py --config CONFIG FLAGS...``, the recipe script
    being the one this package ships."""
    return [
        "accelerate", "launch", "--config_file", display(accelerate_config), display(recipe_script(method)),
        "--config", display(config), *flags,
    ]  # fmt: skip


def runnable(command: Sequence[str]) -> list[str]:
    """The printed command as this interpreter runs it (``accelerate`` and ``proactive`` as modules)."""
    if list(command[:2]) == ["accelerate", "launch"]:
        return [sys.executable, "-m", "accelerate.commands.launch", *command[2:]]
    if command[0] == "proactive":
        return [sys.executable, "-m", "proactive.cli", *command[1:]]
    return list(command)
