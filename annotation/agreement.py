"""Agreement between annotators: token-level Cohen's kappa and span-level F1, per pair and label.

Only documents that both annotators of a pair marked done count. Kappa compares the IOB2 tag of
every token (overall) or whether each token is inside a span of one label (per label); span F1
counts exact matches of ``(start, end, label)``, so it is symmetric in the pair.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from gonerd.label.merge import spans_to_iob2
from gonerd.schema import ENTITY_TYPES

OVERALL = "ALL"


def _kappa(a: list[str], b: list[str]) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if not a:
        return None
    if len(set(a) | set(b)) == 1:
        # one class only: the annotators agree perfectly, yet kappa is 0/0
        return 1.0
    value = float(cohen_kappa_score(a, b))
    return None if math.isnan(value) else round(value, 4)


def _f1(a: set[tuple], b: set[tuple]) -> dict[str, Any]:
    tp = len(a & b)
    f1 = 2 * tp / (len(a) + len(b)) if a or b else None
    return {"f1": None if f1 is None else round(f1, 4), "matched": tp, "spans_a": len(a), "spans_b": len(b)}


def pair_agreement(docs: Sequence[dict[str, Any]], a: str, b: str) -> dict[str, Any]:
    """Kappa and span F1 of annotators ``a`` and ``b`` over documents both marked done."""
    tags_a: list[str] = []
    tags_b: list[str] = []
    spans_a: set[tuple] = set()
    spans_b: set[tuple] = set()
    n_docs = 0
    for doc in docs:
        work = doc["annotators"]
        if work.get(a, {}).get("status") != "done" or work.get(b, {}).get("status") != "done":
            continue
        n_docs += 1
        n = len(doc["tokens"])
        tags_a += spans_to_iob2(n, work[a]["spans"])
        tags_b += spans_to_iob2(n, work[b]["spans"])
        spans_a |= {(doc["id"], *s) for s in work[a]["spans"]}
        spans_b |= {(doc["id"], *s) for s in work[b]["spans"]}
    result: dict[str, Any] = {"a": a, "b": b, "documents": n_docs, "tokens": len(tags_a), "labels": {}}
    for label in ENTITY_TYPES:
        inside_a = [str(t[2:] == label) for t in tags_a]
        inside_b = [str(t[2:] == label) for t in tags_b]
        result["labels"][label] = {"kappa": _kappa(inside_a, inside_b),
                                   **_f1({s for s in spans_a if s[3] == label}, {s for s in spans_b if s[3] == label})}
    result["labels"][OVERALL] = {"kappa": _kappa(tags_a, tags_b), **_f1(spans_a, spans_b)}
    return result


def agreement(docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`pair_agreement` for every pair of annotators of ``docs`` (``Store.project_work``)."""
    names = sorted({name for doc in docs for name in doc["annotators"]})
    return [pair_agreement(docs, a, b) for a, b in itertools.combinations(names, 2)]


def agreement_table(pairs: Sequence[dict[str, Any]]) -> str:
    """A plain-text table: one row per pair and label."""
    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [f"{'pair':<24} {'label':<5} {'docs':>5} {'kappa':>6} {'span F1':>8} {'matched':>8}"]
    for p in pairs:
        for label, m in p["labels"].items():
            lines.append(f"{p['a'] + ' / ' + p['b']:<24} {label:<5} {p['documents']:>5} {show(m['kappa']):>6} "
                         f"{show(m['f1']):>8} {m['matched']:>8}")
    return "\n".join(lines)
