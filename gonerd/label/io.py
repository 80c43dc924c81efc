"""Reading documents to label, and writing/reading labeled-document parquet files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gonerd.errors import InputError

LABELED_FILE = "labeled.parquet"
REQUIRED_LABEL_FIELDS = ("id", "text", "tokens", "whitespace", "ner_tags", "spans", "label_source")


def _arrow_types() -> dict[str, Any]:
    import pyarrow as pa

    span = pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.string())])
    return {
        "id": pa.string(), "url": pa.string(), "domain": pa.string(), "source": pa.string(),
        "fetched_at": pa.string(), "title": pa.string(), "author": pa.string(), "date": pa.string(),
        "text": pa.string(), "n_tokens": pa.int32(), "filters": pa.list_(pa.string()),
        "tokens": pa.list_(pa.string()), "whitespace": pa.list_(pa.string()), "ner_tags": pa.list_(pa.string()),
        "spans": pa.list_(span), "label_source": pa.string(), "sentence_starts": pa.list_(pa.int32()),
    }


def read_documents(path: str | Path) -> list[dict[str, Any]]:
    """Documents to label: a ``gonerd docs`` output dir or documents parquet, or a JSONL file.

    Every document needs a string ``id`` and ``text``; a JSONL line without them raises
    :class:`InputError` naming the file, line and field.
    """
    path = Path(path)
    if path.suffix != ".jsonl":
        from gonerd.pipeline.io import read_documents as read_parquet_documents

        return read_parquet_documents(path)
    from gonerd.pipeline.io import iter_jsonl

    docs = []
    for lineno, record in iter_jsonl(path):
        for name in ("id", "text"):
            if not isinstance(record, dict) or not isinstance(record.get(name), str):
                raise InputError("missing or not a string", str(path), line=lineno, field=name)
        docs.append(record)
    return docs


def write_labeled(records: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write labeled-document records to parquet at ``path`` (atomically); returns the path.

    Contract fields get fixed arrow types; any extra fields are kept with inferred types.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = list(records)
    path = Path(path)
    types = _arrow_types()
    names = list(dict.fromkeys(k for r in records for k in r))
    columns = {n: pa.array([r.get(n) for r in records], type=types.get(n)) for n in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.table(columns) if records else pa.table({}), tmp)
    os.replace(tmp, path)
    return path


def read_labeled(path: str | Path) -> list[dict[str, Any]]:
    """Labeled-document records from a parquet file or a ``gonerd label`` output dir."""
    from gonerd.pipeline.io import read_parquet_records

    return read_parquet_records(path, LABELED_FILE, REQUIRED_LABEL_FIELDS, "gonerd label")
