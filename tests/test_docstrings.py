"""Every public function, method and class of the project has a docstring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gonerd", "kd", "annotation", "bench", "tools")


def undocumented(source: str) -> list[str]:
    """Names (with line numbers) of the public module-level functions and classes of ``source``, and the
    public methods of its classes, that have no docstring. Nested helpers are not public API."""
    missing: list[str] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if not node.name.startswith("_") and ast.get_docstring(node) is None:
                    missing.append(f"{node.lineno} {prefix}{node.name}")
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{node.name}.")

    visit(ast.parse(source).body, "")
    return missing


def test_the_check_finds_a_missing_docstring() -> None:
    source = 'def shown():\n    """Doc."""\n\ndef bare():\n    pass\n\nclass K:\n    def m(self):\n        pass\n' \
             '    def _private(self):\n        pass\n\ndef outer():\n    """Doc."""\n    def inner():\n        pass\n'
    assert undocumented(source) == ["4 bare", "7 K", "8 K.m"]


@pytest.mark.parametrize("package", PACKAGES)
def test_public_api_is_documented(package: str) -> None:
    missing = [f"{path.relative_to(ROOT)}:{name}" for path in sorted((ROOT / package).rglob("*.py"))
               for name in undocumented(path.read_text(encoding="utf-8"))]
    assert not missing, "no docstring: " + ", ".join(missing)
