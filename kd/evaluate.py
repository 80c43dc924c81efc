"""Entity-level scoring (seqeval, strict IOB2) and the Table-6-style report of several models.

Metrics JSON (the ``NER metrics`` contract): ``{"models": [{"model", "dataset", "max_length",
"stride", "n_truncated", "splits": {split: {PER|ORG|LOC|MISC|ALL: {precision, recall, f1, support}}}}]}``.
"""

from __future__ import annotations

from typing import Any, Sequence

from gonerd.label.evaluate import entity_scores as score
from gonerd.schema import ENTITY_TYPES

__all__ = ["markdown_table", "score"]


def markdown_table(results: Sequence[dict[str, Any]], *, teacher: str | None = None,
                   types: Sequence[str] = ENTITY_TYPES) -> str:
    """Table 6 layout: one row per model, per split a group of F1 columns (PER ORG LOC MISC ALL) ×100.

    With ``teacher`` (a model name among ``results``), a ``retention %`` column per split gives each
    model's ALL F1 as a percentage of the teacher's.
    """
    splits: list[str] = []
    for r in results:
        for s in r["splits"]:
            if s not in splits:
                splits.append(s)
    teacher_row = next((r for r in results if r["model"] == teacher), None) if teacher else None
    if teacher and teacher_row is None:
        raise ValueError(f"teacher {teacher!r} is not among the models: {', '.join(r['model'] for r in results)}")
    cols = [*types, "ALL"]
    head1, head2 = ["Model"], [""]
    for s in splits:
        group = cols + (["retention %"] if teacher_row else [])
        head1 += [s] + [""] * (len(group) - 1)
        head2 += group
    lines = ["| " + " | ".join(head1) + " |", "|" + "---|" * len(head1), "| " + " | ".join(head2) + " |"]
    for r in results:
        cells = [r["model"]]
        for s in splits:
            m = r["splits"].get(s)
            cells += [f"{100 * m[c]['f1']:.1f}" if m else "-" for c in cols]
            if teacher_row:
                t = teacher_row["splits"].get(s)
                ok = m is not None and t is not None and t["ALL"]["f1"] > 0
                cells.append(f"{100 * m['ALL']['f1'] / t['ALL']['f1']:.1f}" if ok else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
