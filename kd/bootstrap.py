"""Paired bootstrap of entity F1 over the scoring units (sentences or documents) of a ``kd eval`` report.

How far apart two models' F1 on a few hundred documents — or on six — may be by the draw of the documents
alone: every replicate resamples the units with replacement, the same draw for every model, and recomputes
micro F1 from the units' entity counts (strict IOB2, as seqeval's ``mode="strict"``, whose point estimate it
equals). Reported: each model's 95% percentile interval, and for each pair the difference, its interval
and the share of replicates in which the first model is not above the second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def unit_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> list[tuple[int, int, int]]:
    """Per unit: entities found exactly (span and type), entities predicted, gold entities (strict IOB2)."""
    from seqeval.scheme import IOB2, Entities

    gold_entities = Entities([list(g) for g in gold], IOB2).entities
    pred_entities = Entities([list(p) for p in pred], IOB2).entities
    out = []
    for g, p in zip(gold_entities, pred_entities, strict=True):
        g_set, p_set = {e.to_tuple() for e in g}, {e.to_tuple() for e in p}
        out.append((len(g_set & p_set), len(p_set), len(g_set)))
    return out


def micro_f1(tp, n_pred, n_gold):
    """Micro F1 from summed counts (scalars or numpy arrays); 0 where nothing is predicted or gold."""
    import numpy as np

    denominator = np.asarray(n_pred + n_gold, dtype=float)
    return np.divide(2.0 * np.asarray(tp, dtype=float), denominator, out=np.zeros_like(denominator),
                     where=denominator > 0)


def paired_bootstrap(counts: dict[str, list[tuple[int, int, int]]], replicates: int = 1000,
                     seed: int = 0) -> dict[str, Any]:
    """Intervals of every model's micro F1 and of every pair's difference (models in the order given), from
    ``counts`` (model name → :func:`unit_counts` over the same units)."""
    import numpy as np

    names = list(counts)
    n_units = {len(c) for c in counts.values()}
    if len(n_units) != 1:
        raise ValueError(f"the models were scored on different numbers of units: {sorted(n_units)}")
    n = n_units.pop()
    draws = np.random.default_rng(seed).integers(0, n, size=(replicates, n)) if n else np.zeros((replicates, 0), int)
    f1 = {}
    for name in names:
        table = np.asarray(counts[name], dtype=np.int64).reshape(n, 3)
        sums = table[draws].sum(axis=1)  # replicates × (tp, n_pred, n_gold)
        f1[name] = (float(micro_f1(*table.sum(axis=0))), micro_f1(sums[:, 0], sums[:, 1], sums[:, 2]))

    def interval(values) -> list[float]:
        return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]

    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            diff = f1[a][1] - f1[b][1]
            pairs.append({"a": a, "b": b, "diff": f1[a][0] - f1[b][0], "ci95": interval(diff),
                          "share_a_not_above_b": float(np.mean(diff <= 0))})
    return {"replicates": replicates, "seed": seed, "units": n,
            "models": {name: {"f1": f1[name][0], "ci95": interval(f1[name][1])} for name in names}, "pairs": pairs}


def bootstrap_report(results: Sequence[dict[str, Any]], replicates: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Split → :func:`paired_bootstrap` of the models of ``results`` (``kd eval`` results that kept their
    ``unit_counts``), in their order."""
    splits = list(results[0]["unit_counts"]) if results else []
    return {split: paired_bootstrap({r["model"]: r["unit_counts"][split] for r in results}, replicates, seed)
            for split in splits}


def bootstrap_table(bootstrap: dict[str, dict[str, Any]]) -> str:
    """Markdown: per split, each pair's ALL F1 difference × 100, its 95% interval and the share of replicates
    in which the first model is not above the second."""
    lines = ["| split | a − b | ALL F1 difference | 95% interval | replicates with a ≤ b |", "|---|---|---:|---|---:|"]
    for split, result in bootstrap.items():
        for p in result["pairs"]:
            lo, hi = p["ci95"]
            lines.append(f"| {split} | {p['a']} − {p['b']} | {100 * p['diff']:+.1f} | [{100 * lo:+.1f}, {100 * hi:+.1f}] "
                         f"| {100 * p['share_a_not_above_b']:.1f}% |")
    first = next(iter(bootstrap.values()), None)
    note = (f"\nPaired bootstrap: {first['replicates']} replicates of the scoring units (seed {first['seed']}).\n"
            if first else "")
    return "\n".join(lines) + "\n" + note
