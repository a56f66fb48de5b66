"""The ``proactive`` command: one entry point, one module per subcommand (each with its own ``--help``)."""

from __future__ import annotations

import argparse
import importlib
import sys

from proactive.logs import LEVELS, setup_logging

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": ("proactive.quickstart", "run the main job end to end on the embedded default"),
    "synth": ("data.synth.cli", "write the synthetic ProactiveBench"),
    "tiny-model": ("proactive.tiny_models", "build (and optionally pretrain) a tiny offline model"),
    "eval": ("eval.cli", "run ProactiveBench episodes and score acc / psr"),
    "report": ("eval.report_cli", "put several evaluation runs side by side"),
    "view": ("proactive.view.cli", "browse episodes or GRPO samples turn by turn in a static page"),
    "release": ("proactive.release", "package an adapter as a model repository"),
    "study": ("proactive.study", "run a cross-scenario generalization study"),
    "check-lora": ("proactive.lora_targets", "check that a recipe's LoRA stays in the language model"),
    "configs": ("proactive.configs", "list the shipped configs, or print the path of one by name"),
}


def command_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """A subcommand's parser: its module docstring's first paragraph as the description and the rest, kept as
    written, as the epilog; the usage line is the one argparse generates from the arguments."""
    title, _, details = doc.partition("\n\n")
    return argparse.ArgumentParser(
        prog=prog, description=title, epilog=details, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def build_parser() -> argparse.ArgumentParser:
    width = max(map(len, SUBCOMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {help_}" for name, (_, help_) in SUBCOMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="proactive",
        description=__doc__,
        epilog=f"commands:\n{rows}\n\n'proactive COMMAND --help' for a command's arguments.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level", choices=list(LEVELS), default="info", help="level of this package's log lines"
    )
    parser.add_argument("command", choices=list(SUBCOMMANDS), metavar="COMMAND")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the command's arguments")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        parser.print_help()
        return 0
    parsed = parser.parse_args(args)
    setup_logging(LEVELS[parsed.log_level])
    module = importlib.import_module(SUBCOMMANDS[parsed.command][0])
    return int(module.main(parsed.args) or 0)


if __name__ == "__main__":
    sys.exit(main())
