"""The ``proactive`` command: one entry point, one module per subcommand.

usage: proactive {quickstart,synth,tiny-model,eval,report,view,release,study} [args...]
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": ("proactive.quickstart", "run the main job end to end on the embedded default"),
    "synth": ("data.synth.cli", "write the synthetic ProactiveBench"),
    "tiny-model": ("proactive.tiny_models", "build (and optionally pretrain) a tiny offline model"),
    "eval": ("eval.cli", "run ProactiveBench episodes and score acc / psr"),
    "report": ("eval.report_cli", "put several evaluation runs side by side"),
    "view": ("proactive.view.cli", "browse episodes or GRPO samples turn by turn in a static page"),
    "release": ("proactive.release", "package an adapter as a model repository"),
    "study": ("proactive.study", "run a cross-scenario generalization study"),
}


def _usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {help_}" for name, (_, help_) in SUBCOMMANDS.items())
    return f"usage: proactive <command> [args...]\n\ncommands:\n{rows}\n\n'proactive <command> --help' for details."


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"proactive: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
