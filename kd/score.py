"""``gonerd kd eval``: score one or more trained models on dataset splits or CoNLL files."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from gonerd.errors import InputError
from kd.data import NerSplit, load_split
from kd.model import LoadedModel, load_model


def model_max_length(loaded: LoadedModel) -> int:
    """The longest input the model accepts, in sub-tokens (specials included)."""
    n = getattr(loaded.tokenizer, "model_max_length", None)
    if isinstance(n, int) and 0 < n < 1_000_000:
        return n
    return int(getattr(loaded.model.config, "max_position_embeddings", 512))


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
                    limit: int | None = None) -> list[dict[str, Any]]:
    """Metrics per model and split in the ``NER metrics`` contract (see :mod:`kd.evaluate`).

    ``max_length`` is capped at what each model accepts; the value used is reported.
    """
    import torch

    from kd.train import evaluate_split

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
        per_split, truncated = {}, {}
        for name, split in loaded_splits.items():
            ev = evaluate_split(loaded, split, max_length=length, stride=min(stride, length // 2), truncate=truncate,
                                batch_size=batch_size, progress=progress)
            per_split[name] = ev["scores"]
            truncated[name] = ev["n_truncated"]
        results.append({"model": names[i] if names else Path(path).name if Path(path).name != "best"
                        else Path(path).parent.name, "path": str(loaded.path), "dataset": data,
                        "unit": unit, "max_length": length, "stride": min(stride, length // 2),
                        "n_truncated": sum(truncated.values()), "n_truncated_by_split": truncated,
                        "splits": per_split})
    return results
