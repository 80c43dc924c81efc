"""``gonerd kd eval``: entity-level scoring (seqeval, strict IOB2) of trained models on dataset
splits or CoNLL files, and the Table-6-style report of several models.

Metrics JSON (the ``NER metrics`` contract): ``{"models": [{"model", "dataset", "max_length",
"stride", "n_truncated", "splits": {split: {PER|ORG|LOC|MISC|ALL: {precision, recall, f1, support}}},
"label_sources": {split: {label_source: rows}}}]}`` — ``label_sources`` only for splits of a dataset with a
``label_source`` column, so a reader can tell hand-labelled gold from pre-labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from gonerd.errors import InputError
from gonerd.label.core import machine_labelled
from gonerd.label.evaluate import entity_scores as score
from gonerd.schema import ENTITY_TYPES
from kd.config import portable_path
from kd.data import NerSplit, load_split
from kd.model import LoadedModel, load_model, model_max_length, tag_sequences

__all__ = ["evaluate_models", "evaluate_split", "gold_notes", "markdown_table", "resolve_splits", "score"]


def evaluate_split(loaded: LoadedModel, split: NerSplit, *, max_length: int, stride: int, truncate: bool = False,
                   batch_size: int = 64, progress: bool = False) -> dict[str, Any]:
    """Score ``loaded`` on a split: per-type metrics plus ``n_truncated`` and the words left unscored."""
    exs = split.examples
    tagged = tag_sequences(loaded, [e.tokens for e in exs], targets=[e.target for e in exs], max_length=max_length,
                           stride=stride, truncate=truncate, batch_size=batch_size, progress=progress)
    gold = [e.tags[slice(*e.span)] for e in exs]
    pred = [t[slice(*e.span)] for t, e in zip(tagged.tags, exs)]
    return {"scores": score(gold, pred), "n_truncated": tagged.n_truncated, "n_lost_words": tagged.n_lost_words,
            "n_windows": tagged.n_windows, "gold": gold, "pred": pred}


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


def gold_notes(results: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown lines naming each split whose gold is not all hand labels (``label_source`` not ``human:…``):
    its F1 measures agreement with the pre-labeler, not accuracy. Empty when every split is hand-labelled or
    has no ``label_source`` column."""
    sources: dict[str, dict[str, int]] = {}
    for r in results:
        for split, counts in r.get("label_sources", {}).items():
            sources.setdefault(split, counts)
    lines = []
    for split, counts in sources.items():
        machine = machine_labelled(counts)
        if machine:
            named = ", ".join(f"`{src}` ({n} of {sum(counts.values())} rows)" for src, n in machine.items())
            lines.append(f"Gold of `{split}` is machine pre-labels, {named}: its F1 is agreement with that "
                         "labeler, not accuracy.")
    return lines


def resolve_splits(data: str, splits: Sequence[str] | None) -> list[tuple[str, str]]:
    """``(split name, source)`` pairs: ``NAME=FILE`` entries, files inside ``data`` or dataset splits."""
    out = []
    for s in splits or ["test"]:
        name, sep, file = s.partition("=")
        if sep:
            out.append((name, file))
        elif Path(data).is_dir() and (Path(data) / s).is_file() and not s.endswith(".parquet"):
            out.append((s, str(Path(data) / s)))
        else:
            out.append((s, data))
    return out


def evaluate_models(models: Sequence[str], data: str, *, splits: Sequence[str] | None = None, unit: str = "sentence",
                    max_length: int = 512, stride: int = 128, truncate: bool = False, batch_size: int = 32,
                    names: Sequence[str] | None = None, torch_threads: int | None = None, progress: bool = False,
                    limit: int | None = None, unit_counts: bool = False) -> list[dict[str, Any]]:
    """Metrics per model and split in the ``NER metrics`` contract (see :mod:`kd.evaluate`).

    ``max_length`` is capped at what each model accepts; the value used is reported. With ``unit_counts``,
    each result also holds ``unit_counts``: split → :func:`kd.bootstrap.unit_counts` of its predictions.
    """
    from kd.bootstrap import unit_counts as count_units

    import torch

    if torch_threads:
        torch.set_num_threads(torch_threads)
    if names and len(names) != len(models):
        raise InputError(f"{len(names)} --name value(s) for {len(models)} --model value(s)", field="name")
    loaded_splits: dict[str, NerSplit] | None = None
    results = []
    for i, path in enumerate(models):
        loaded = load_model(path)
        if loaded_splits is None:
            loaded_splits = {name: load_split(src, name, labels=loaded.labels, unit=unit, limit=limit)
                             for name, src in resolve_splits(data, splits)}
        length = min(max_length, model_max_length(loaded))
        per_split, truncated, counts = {}, {}, {}
        label_sources = {name: split.label_sources for name, split in loaded_splits.items() if split.label_sources}
        for name, split in loaded_splits.items():
            ev = evaluate_split(loaded, split, max_length=length, stride=min(stride, length // 2), truncate=truncate,
                                batch_size=batch_size, progress=progress)
            per_split[name] = ev["scores"]
            truncated[name] = ev["n_truncated"]
            if unit_counts:
                counts[name] = count_units(ev["gold"], ev["pred"])
        results.append({"model": names[i] if names else Path(path).name if Path(path).name != "best"
                        else Path(path).parent.name, "path": portable_path(loaded.path), "dataset": portable_path(data),
                        "unit": unit, "max_length": length, "stride": min(stride, length // 2),
                        "n_truncated": sum(truncated.values()), "n_truncated_by_split": truncated,
                        "splits": per_split, **({"label_sources": label_sources} if label_sources else {}),
                        **({"unit_counts": counts} if unit_counts else {})})
    return results
