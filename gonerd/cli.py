"""The ``gonerd`` command line: one subcommand per stage, each a thin wrapper of a Python function.

Command modules register themselves through ``register(subparsers)`` and import heavy libraries
inside their handlers, so ``gonerd --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from gonerd import __version__
from gonerd.errors import GonerdError

COMMAND_MODULES = (
    "gonerd.commands.crawl",
    "gonerd.commands.docs",
    "gonerd.commands.eval_extract",
    "gonerd.commands.label",
    "gonerd.commands.build",
    "gonerd.commands.stats",
    "gonerd.commands.push",
    "gonerd.commands.eval_labels",
    "kd.cli",
    "annotation.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="gonerd",
        description="Build, label, publish and benchmark a long-context NER dataset; train efficient students.",
    )
    parser.add_argument("--version", action="version", version=f"gonerd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line naming the problem and exit with status 2 (1 for a full disk)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GonerdError as e:
        print(f"gonerd {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"gonerd {args.command}: interrupted; finished work is kept, re-run to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
