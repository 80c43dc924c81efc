"""Who imports whom inside ``kd``: no cycles, attention implementations at the bottom, one job per module."""

from __future__ import annotations

import ast
from pathlib import Path

KD = Path(__file__).resolve().parent.parent / "kd"
# Attention implementations import nothing from the modules that use them; leaves they may use:
ATTENTION = {"lsg", "nystrom"}
LEAVES = {"windows", "config"}


def kd_imports(path: Path) -> set[str]:
    """The ``kd`` modules ``path`` imports anywhere in its body (function-level imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "kd":
                out |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("kd.")}
    return out - {path.stem}


def import_graph() -> dict[str, set[str]]:
    """``{module: kd modules it imports}`` for every ``kd/*.py``."""
    return {p.stem: kd_imports(p) for p in sorted(KD.glob("*.py"))}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path ``[a, b, ..., a]``, or ``None`` when it has none."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_find_cycle_reports_a_cycle_and_accepts_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_kd_imports_reads_function_level_imports(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("import kd.lsg\nfrom kd import windows\n\ndef f():\n    from kd.model import load_model\n")
    assert kd_imports(src) == {"lsg", "windows", "model"}


def test_kd_modules_import_each_other_without_cycles():
    graph = import_graph()
    assert {"convert", "evaluate", "train", "predict", "lsg", "nystrom", "model"} <= set(graph)
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_attention_implementations_import_no_module_that_uses_them():
    graph = import_graph()
    for name in ATTENTION:
        assert graph[name] <= LEAVES, f"kd/{name}.py imports {sorted(graph[name] - LEAVES)}"


def test_each_command_lives_in_the_module_named_after_it():
    """train-ner → train, eval → evaluate, predict → predict, convert → convert (kd/cli.py dispatch)."""
    cli = import_graph()["cli"]
    assert {"train", "evaluate", "predict", "convert"} <= cli and "score" not in cli and "lsg" not in cli
    assert not (KD / "score.py").exists()


def test_train_ner_reads_as_setup_epoch_evaluate_finish():
    """The training command's main function is a short sequence of named steps (nanoGPT / run_ner.py style)."""
    tree = ast.parse((KD / "train.py").read_text(encoding="utf-8"))
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "train_ner")
    calls = [n.func.id for n in sorted((n for n in ast.walk(fn) if isinstance(n, ast.Call)
                                        and isinstance(n.func, ast.Name)), key=lambda n: (n.lineno, n.col_offset))]
    steps = [c for c in calls if c in ("_setup", "_train_epoch", "_evaluate_and_checkpoint", "_finish")]
    assert steps == ["_setup", "_train_epoch", "_evaluate_and_checkpoint", "_finish"]
    assert fn.end_lineno - fn.lineno < 25
    long_ = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.end_lineno - n.lineno > 45]
    assert not long_, f"functions over 45 lines in kd/train.py: {long_}"
