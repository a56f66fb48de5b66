"""Logging, set up once at each entry point (the ``proactive`` command, the recipes), so that this package's
INFO lines (synthetic benchmark generation, the episodes kept and dropped per scenario) reach the user; and
the library warnings no user of this package can act on, kept quiet.

Only this package's loggers get a level; the libraries keep theirs (the trainers set transformers' own from
``TrainingArguments.log_level``).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

OWN_PACKAGES = ("data", "reward", "eval", "proactive", "recipes")
FORMAT, DATE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
# Printed at import time, about nothing this package does wrong:
QUIET_LOGGERS = {
    # "Failed to load CPU gemm_4bit_forward from kernels-community": the optional `kernels` package (a Hub
    # download) is missing, and bitsandbytes falls back to its own CPU 4-bit kernel.
    "bitsandbytes.backends.cpu.ops": logging.ERROR,
}
# Deprecations raised inside the libraries (peft and trl call transformers' old checkpointing method names);
# the deprecated *argument* `gradient_checkpointing` still warns: a config can act on that one.
QUIET_DEPRECATIONS = r"`(is_gradient_checkpointing|gradient_checkpointing_enable|gradient_checkpointing_disable)` is deprecated"


def quiet_library_warnings() -> None:
    """Raise the level of the loggers in ``QUIET_LOGGERS`` (before those libraries are imported) and ignore the
    library-internal deprecations ``QUIET_DEPRECATIONS`` matches."""
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    warnings.filterwarnings("ignore", message=QUIET_DEPRECATIONS, category=FutureWarning)


def setup_logging(level: int = logging.INFO) -> None:
    """This package's records at ``level`` and above, through the root logger's handler (a stderr handler with
    time, level and logger name, unless the application, e.g. pytest, installed one already)."""
    logging.basicConfig(format=FORMAT, datefmt=DATE_FORMAT)
    for name in OWN_PACKAGES:
        logging.getLogger(name).setLevel(level)


def recipe_log_level(training_args: Any) -> int:
    """The level of a recipe process, from its ``TrainingArguments``: ``log_level`` on the main process,
    ``log_level_replica`` on the others; with the default ``log_level: passive``, INFO on the main process."""
    if training_args.should_log and training_args.log_level == "passive":
        return logging.INFO
    return training_args.get_process_log_level()
