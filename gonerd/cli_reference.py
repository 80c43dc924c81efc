"""The CLI reference in the README, generated from the argument parser so it cannot drift.

``python -m gonerd.cli_reference`` rewrites the block between the README's markers; a test
checks that the committed README matches.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

BEGIN, END = "<!-- cli-reference:begin -->", "<!-- cli-reference:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def _walk(parser: argparse.ArgumentParser, name: str) -> list[tuple[str, str]]:
    sections = [(name, parser.format_help())]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                sections += _walk(sub, f"{name} {sub_name}")
    return sections


def render_reference() -> str:
    """Markdown: one section per command with its ``--help`` text (fixed 100-column width)."""
    from gonerd.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; fix it so output is stable
    parts = []
    for name, text in _walk(build_parser(), "gonerd"):
        parts.append(f"#### `{name}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def update_readme(readme: Path = README) -> bool:
    """Replace the generated block in ``readme``; returns whether the file changed."""
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: markers {BEGIN} / {END} not found")
    new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END),
                 lambda _: f"{BEGIN}\n{render_reference()}\n{END}", text, flags=re.S)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    changed = update_readme()
    print(f"{README}: {'updated' if changed else 'already up to date'}", file=sys.stderr)
