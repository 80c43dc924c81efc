"""Reading and writing the pipeline's outputs: documents parquet, exclusion log, run report.

Every file is written to a temporary name unique to the process and renamed into place, so an
interrupted run never leaves a half-written output behind and two processes never share a name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gonerd.errors import InputError
from gonerd.pipeline.outdir import write_atomically
from gonerd.records import DOCUMENT_FIELDS

DOCUMENTS_FILE = "documents.parquet"
EXCLUSIONS_FILE = "exclusions.jsonl"
REPORT_FILE = "report.json"
REPORT_MD_FILE = "report.md"
RUN_FILE = "run.json"


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename; failures are one line."""
    write_atomically(path, lambda tmp: tmp.write_bytes(data.encode() if isinstance(data, str) else data))


def _features() -> Any:
    from datasets import Features, List, Value

    return Features({
        "id": Value("string"), "url": Value("string"), "domain": Value("string"), "source": Value("string"),
        "fetched_at": Value("string"), "title": Value("string"), "author": Value("string"),
        "date": Value("string"), "text": Value("string"), "n_tokens": Value("int32"),
        "filters": List(Value("string")),
    })


def write_documents(docs: list[dict[str, Any]], path: Path) -> None:
    """Write documents (the ``document`` record contract) as one parquet file via ``datasets``."""
    import pyarrow.parquet as pq
    from datasets import Dataset

    rows = {f: [d.get(f) for d in docs] for f in DOCUMENT_FIELDS}
    rows["filters"] = [list(d.get("filters") or []) for d in docs]
    # The arrow table of a Dataset carries the HF feature metadata, so load_dataset("parquet")
    # restores the same features; writing it directly skips datasets' progress bar.
    table = Dataset.from_dict(rows, features=_features()).data.table
    write_atomically(path, lambda tmp: pq.write_table(table, tmp))


def read_parquet_records(path: str | Path, default_file: str, required: tuple[str, ...], made_by: str
                         ) -> list[dict[str, Any]]:
    """Rows of a parquet file (or of ``default_file`` in a directory) as dicts, checked for columns.

    ``made_by`` names the command whose output directory is expected, for the error message.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_dir():
        path = path / default_file
    if not path.is_file():
        raise InputError(f"no {default_file} here (expected a parquet file or a `{made_by}` output dir)", str(path))
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several unrelated types for a non-parquet file
        raise InputError(f"not a readable parquet file ({e})", str(path)) from e
    missing = [f for f in required if f not in table.column_names]
    if missing and table.num_rows:
        raise InputError(f"missing column(s) {', '.join(missing)}", str(path))
    return table.to_pylist()


def read_documents(path: str | Path) -> list[dict[str, Any]]:
    """Documents from a parquet file or a ``gonerd docs`` output directory, as dicts."""
    return read_parquet_records(path, DOCUMENTS_FILE, ("id", "text"), "gonerd docs")


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of a JSONL file; bad JSON names file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"not valid JSON ({e.msg})", str(path), line=lineno) from e


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> None:
    """Write rows as JSON lines (UTF-8, keys in record order)."""
    atomic_write(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))
