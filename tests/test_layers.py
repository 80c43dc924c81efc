"""Layering: the gonerd library never imports the packages above it (kd, annotation); only commands compose them."""

from __future__ import annotations

import ast
from pathlib import Path

GONERD = Path(__file__).resolve().parents[1] / "gonerd"
UPPER = ("kd", "annotation")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in ``path``, at any depth (function-local imports included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def library_files() -> list[Path]:
    """gonerd's modules below the command layer (gonerd/commands/ and gonerd/cli.py compose packages)."""
    return [p for p in sorted(GONERD.rglob("*.py"))
            if "commands" not in p.relative_to(GONERD).parts and p.relative_to(GONERD) != Path("cli.py")]


def test_the_library_never_imports_kd_or_annotation() -> None:
    files = library_files()
    assert GONERD / "label" / "core.py" in files and GONERD / "commands" / "label.py" not in files
    upward = [f"{p.relative_to(GONERD.parent)}:{line} imports {module}" for p in files
              for line, module in imported_modules(p) if module.split(".")[0] in UPPER]
    assert upward == []


def test_the_import_parser_sees_local_imports(tmp_path) -> None:
    path = tmp_path / "m.py"
    path.write_text("import os\n\ndef f():\n    from kd.labeler import ModelLabeler\n    import annotation.store\n")
    assert imported_modules(path) == [(1, "os"), (4, "kd.labeler"), (5, "annotation.store")]
