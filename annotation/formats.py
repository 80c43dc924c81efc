"""Reading documents with pre-labels into the annotation store, and writing labels back out.

Inputs (chosen by suffix):

* a ``gonerd label``/``gonerd build`` output dir or ``labeled.parquet``: labeled-document records;
* ``.jsonl``: document JSONL, one document a line: ``id``, ``text``, ``tokens``, ``whitespace``,
  optional ``spans`` (character offsets on token boundaries), ``annotator``/``label_source``/``meta``;
* anything else: CoNLL IOB2 (``-DOCSTART- <id> [<annotator>]`` per document, ``token tag`` lines, a
  blank line between sentences) — what :func:`write_conll` writes. CoNLL has no text: it becomes the
  tokens joined by a space, each sentence on its own line;
* with ``base`` (labeled documents, as above): a correction file — span JSONL as :func:`write_jsonl`
  writes it, or CoNLL — applied to ``base`` by :func:`gonerd.label.import_corrections`.

Both outputs are the correction formats ``gonerd build --import-corrections`` reads. Reading an
export back (span JSONL with its ``base``) gives the same documents, tokens and spans (round trip).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gonerd.conll import DOCSTART, read_conll
from gonerd.errors import InputError
from gonerd.label.core import HUMAN_PREFIX
from gonerd.label.io import read_labeled
from gonerd.label.merge import iob2_to_spans, record_offsets, spans_to_iob2
from gonerd.schema import ENTITY_TYPES

LABELED_FIELDS = ("id", "text", "tokens", "whitespace", "ner_tags", "spans", "label_source")
FORMATS = ("jsonl", "conll")


def _document(record: dict[str, Any], prelabels: list[tuple[int, int, str]], label_source: str | None,
              meta: dict[str, Any]) -> dict[str, Any]:
    return {"id": record["id"], "text": record["text"], "tokens": list(record["tokens"]),
            "whitespace": list(record["whitespace"]), "prelabels": prelabels, "label_source": label_source,
            "meta": meta}


def _source(annotator: str | None) -> str | None:
    return f"{HUMAN_PREFIX}{annotator}" if annotator else None


def read_parquet(path: Path) -> list[dict[str, Any]]:
    """Documents of a labeled-document parquet file (or ``gonerd label`` output dir)."""
    docs = []
    for row, record in enumerate(read_labeled(path)):
        try:
            spans = iob2_to_spans(record["ner_tags"])
        except ValueError as e:
            raise InputError(str(e), str(path), offset=row, field="ner_tags") from e
        meta = {k: v for k, v in record.items() if k not in LABELED_FIELDS and v is not None}
        docs.append(_document(record, spans, record.get("label_source"), meta))
    return docs


def _token_spans(record: dict[str, Any], spans: list[Any], where: dict[str, Any]) -> list[tuple[int, int, str]]:
    offsets = record_offsets(record)
    starts = {s: i for i, (s, _) in enumerate(offsets)}
    ends = {e: i + 1 for i, (_, e) in enumerate(offsets)}
    out = []
    for k, span in enumerate(spans):
        field = f"spans[{k}]"
        if not isinstance(span, dict) or span.get("label") not in ENTITY_TYPES:
            raise InputError(f"a span needs start, end and a label in {', '.join(ENTITY_TYPES)}", **where, field=field)
        if span.get("start") not in starts or span.get("end") not in ends:
            raise InputError(f"offsets {span.get('start')!r}-{span.get('end')!r} are not on token boundaries",
                             **where, field=field)
        out.append((starts[span["start"]], ends[span["end"]], span["label"]))
    out.sort()
    try:
        spans_to_iob2(len(record["tokens"]), out)
    except ValueError as e:
        raise InputError(str(e), **where, field="spans") from e
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Documents of a document JSONL file (see the module docstring)."""
    from gonerd.pipeline.io import iter_jsonl

    docs = []
    for lineno, row in iter_jsonl(path):
        where = {"path": str(path), "line": lineno}
        if not isinstance(row, dict):
            raise InputError("a line must be a JSON object", **where)
        for name, kind in (("id", str), ("text", str), ("tokens", list), ("whitespace", list)):
            if not isinstance(row.get(name), kind):
                raise InputError(f"missing or not a {kind.__name__}", **where, field=name)
        if len(row["tokens"]) != len(row["whitespace"]):
            raise InputError("tokens and whitespace differ in length", **where, field="whitespace")
        rebuilt = "".join(t + w for t, w in zip(row["tokens"], row["whitespace"]))
        if not row["text"].endswith(rebuilt) or row["text"][:len(row["text"]) - len(rebuilt)].strip():
            raise InputError("tokens and whitespace do not rebuild the text", **where, field="tokens")
        spans = _token_spans(row, row.get("spans") or [], where)
        source = row.get("label_source") or _source(row.get("annotator"))
        docs.append(_document(row, spans, source, row.get("meta") or {}))
    return docs


def read_conll_documents(path: Path) -> list[dict[str, Any]]:
    """Documents of a CoNLL IOB2 file, ids and annotators from its ``-DOCSTART-`` lines."""
    heads = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            cols = line.split()
            if cols and cols[0] == DOCSTART:
                heads.append((cols[1] if len(cols) > 1 else None, cols[2] if len(cols) > 2 else None))
    docs = []
    for n, conll in enumerate(read_conll(path, convert_iob1=False)):
        doc_id, annotator = heads[n] if n < len(heads) and heads[n][0] else (conll.id, None)
        starts = set(conll.sentence_starts[1:])
        tokens = conll.tokens
        whitespace = ["\n" if i + 1 in starts else " " for i in range(len(tokens) - 1)] + ["\n"]
        record = {"id": doc_id, "text": "".join(t + w for t, w in zip(tokens, whitespace)), "tokens": tokens,
                  "whitespace": whitespace}
        try:
            spans = iob2_to_spans(conll.tags)
        except ValueError as e:
            raise InputError(f"document {doc_id!r}: {e}", str(path)) from e
        docs.append(_document(record, spans, _source(annotator), {"sentence_starts": conll.sentence_starts}))
    return docs


def read_corrected(base: str | Path, path: Path, annotator: str | None) -> list[dict[str, Any]]:
    """The labeled documents ``base`` with the corrections of ``path`` as their pre-labels."""
    import tempfile

    from gonerd.label.corrections import import_corrections
    from gonerd.label.io import write_labeled

    with tempfile.TemporaryDirectory() as tmp:
        records = import_corrections(read_labeled(base), path, annotator)
        # through the parquet writer, so corrected records read exactly as labeled ones do
        return read_parquet(write_labeled(records, Path(tmp) / "labeled.parquet"))


def read_input(path: str | Path, base: str | Path | None = None, annotator: str | None = None) -> list[dict[str, Any]]:
    """Documents with pre-labels from ``path`` (format by suffix; see the module docstring), or with
    ``base``, the labeled documents ``base`` corrected by the file ``path`` (``annotator`` where the
    file names none)."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", str(path))
    if base is not None:
        docs = read_corrected(base, path, annotator)
    elif path.is_dir() or path.suffix == ".parquet":
        docs = read_parquet(path)
    elif path.suffix == ".jsonl":
        docs = read_jsonl(path)
    else:
        docs = read_conll_documents(path)
    seen: set[str] = set()
    for doc in docs:
        if doc["id"] in seen:
            raise InputError(f"document id {doc['id']!r} appears twice", str(path), field="id")
        seen.add(doc["id"])
    return docs


def char_spans(doc: dict[str, Any], spans: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Token spans of ``doc`` as ``{start, end, label}`` character offsets into its text."""
    offsets = record_offsets(doc)
    return [{"start": offsets[s][0], "end": offsets[e - 1][1], "label": label} for s, e, label in spans]


def write_jsonl(docs: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write ``docs`` (each with ``spans`` and ``annotator``) as span JSONL: ``id``, ``annotator``,
    ``text`` and ``spans`` (character offsets), the corrections format."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as fh:
        for doc in docs:
            row = {"id": doc["key"], "annotator": doc["annotator"], "text": doc["text"],
                   "spans": char_spans(doc, doc["spans"])}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_conll(docs: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write ``docs`` as CoNLL IOB2 (``-DOCSTART- <id> [<annotator>]``, a blank line between sentences)."""
    lines: list[str] = []
    for doc in docs:
        lines.append(" ".join(filter(None, (DOCSTART, doc["key"], doc["annotator"]))))
        starts = set(doc["meta"].get("sentence_starts") or [])
        tags = spans_to_iob2(len(doc["tokens"]), doc["spans"])
        for i, (token, tag) in enumerate(zip(doc["tokens"], tags)):
            if i in starts and i:
                lines.append("")
            lines.append(f"{token} {tag}")
        lines.append("")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def labeled_documents(work: Sequence[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """The documents of a project's work (``Store.project_work``) with the ``spans`` of ``source``.

    ``source`` is ``final`` (adjudicated documents only), ``prelabels``, or an annotator's name (their
    documents marked done). Each gets ``annotator`` (for pre-labels: the person of a ``human:``
    ``label_source``, else ``None``) and its ``label_source``.
    """
    out = []
    for doc in work:
        if source == "final":
            if doc["final"] is None:
                continue
            spans, annotator = doc["final"]["spans"], doc["final"]["by"]
        elif source == "prelabels":
            source_name = doc["label_source"] or ""
            spans = doc["prelabels"]
            annotator = source_name.removeprefix(HUMAN_PREFIX) if source_name.startswith(HUMAN_PREFIX) else None
        else:
            mine = doc["annotators"].get(source)
            if mine is None or mine["status"] != "done":
                continue
            spans, annotator = mine["spans"], source
        out.append({**doc, "spans": spans, "annotator": annotator,
                    "label_source": _source(annotator) if annotator else doc["label_source"]})
    return out


def write_documents(docs: Sequence[dict[str, Any]], path: str | Path, fmt: str) -> Path:
    """Write ``docs`` in ``fmt`` (``jsonl`` or ``conll``)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", field="format")
    return (write_jsonl if fmt == "jsonl" else write_conll)(docs, path)
