"""Import of hand-corrected labels, which replace pre-labels per document (matched by ``id``).

Two formats:

* **span JSONL** (``.jsonl``): one line per document,
  ``{"id": ..., "spans": [{"start": 0, "end": 5, "label": "PER"}, ...], "annotator": "alice"}``
  with character offsets into the document's ``text``; each offset must fall on a token boundary.
* **CoNLL IOB2** (any other suffix): ``-DOCSTART- <id> [<annotator>]`` starts a document, then one
  ``token tag`` line per word (blank lines between sentences are allowed). The tokens must equal
  the record's tokens (its words: whitespace is never a token); :func:`export_conll` writes this
  format.

A corrected record gets ``label_source = "human:<annotator>"``, so later ``gonerd label`` runs pass
it through unchanged. Every problem raises :class:`InputError` naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gonerd.conll import DOCSTART
from gonerd.errors import InputError
from gonerd.label.core import HUMAN_PREFIX
from gonerd.label.merge import char_spans, iob2_to_spans, record_offsets, spans_to_iob2, token_span
from gonerd.schema import ENTITY_TYPES, LABELS


def _relabeled(record: dict[str, Any], spans: list[tuple[int, int, str]], annotator: str) -> dict[str, Any]:
    offsets = record_offsets(record)
    return {**record, "ner_tags": spans_to_iob2(len(record["tokens"]), spans),
            "spans": char_spans(spans, offsets), "label_source": f"{HUMAN_PREFIX}{annotator}"}


def _jsonl_corrections(path: Path, by_id: dict[str, dict], default_annotator: str | None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = {"path": str(path), "line": lineno}
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"not valid JSON ({e.msg})", **where) from e
            record = by_id.get(row.get("id"))
            if record is None:
                raise InputError(f"unknown document id {row.get('id')!r}", **where, field="id")
            annotator = row.get("annotator") or default_annotator
            if not annotator:
                raise InputError("no annotator (give one per line or as an option)", **where, field="annotator")
            if "text" in row and row["text"] != record["text"]:
                raise InputError("text differs from the labeled document's text", **where, field="text")
            offsets = record_offsets(record)
            spans, taken = [], set()
            for k, span in enumerate(row.get("spans") or []):
                field = f"spans[{k}]"
                label, start, end = span.get("label"), span.get("start"), span.get("end")
                if label not in ENTITY_TYPES:
                    raise InputError(f"unknown label {label!r} (known: {', '.join(ENTITY_TYPES)})", **where, field=field)
                if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(record["text"])):
                    raise InputError(f"offsets {start!r}-{end!r} outside the text (length {len(record['text'])})",
                                     **where, field=field)
                words = token_span(start, end, offsets)
                if words is None:
                    raise InputError(f"offsets {start}-{end} ({record['text'][start:end]!r}) are not on token boundaries",
                                     **where, field=field)
                tokens = set(range(*words))
                if tokens & taken:
                    raise InputError(f"span {start}-{end} overlaps another span", **where, field=field)
                taken |= tokens
                spans.append((*words, label))
            out[record["id"]] = _relabeled(record, sorted(spans), annotator)
    return out


def _conll_corrections(path: Path, by_id: dict[str, dict], default_annotator: str | None) -> dict[str, dict]:
    docs: list[tuple[int, str, str | None, list[tuple[int, str, str]]]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            cols = line.split()
            if not cols:
                continue
            if cols[0] == DOCSTART:
                if len(cols) < 2:
                    raise InputError(f"{DOCSTART} needs a document id", str(path), line=lineno)
                docs.append((lineno, cols[1], cols[2] if len(cols) > 2 else None, []))
                continue
            if not docs:
                raise InputError(f"token before the first '{DOCSTART} <id>' line", str(path), line=lineno)
            if len(cols) != 2:
                raise InputError(f"expected 'token tag', got {line.strip()!r}", str(path), line=lineno)
            if cols[1] not in LABELS:
                raise InputError(f"unknown tag {cols[1]!r}", str(path), line=lineno, field="tag")
            docs[-1][3].append((lineno, cols[0], cols[1]))
    out: dict[str, dict] = {}
    for lineno, doc_id, annotator, rows in docs:
        record = by_id.get(doc_id)
        if record is None:
            raise InputError(f"unknown document id {doc_id!r}", str(path), line=lineno, field="id")
        annotator = annotator or default_annotator
        if not annotator:
            raise InputError("no annotator (third column of the -DOCSTART- line, or as an option)",
                             str(path), line=lineno)
        if len(rows) != len(record["tokens"]):
            raise InputError(f"document {doc_id!r} has {len(record['tokens'])} tokens, the file gives {len(rows)}",
                             str(path), line=lineno)
        prev = "O"
        for (row_line, token, tag), own in zip(rows, record["tokens"]):
            if token != own:
                raise InputError(f"token {token!r} differs from the document's {own!r}", str(path), line=row_line)
            if tag.startswith("I-") and prev[2:] != tag[2:]:
                raise InputError(f"not strict IOB2: {tag!r} follows {prev!r}", str(path), line=row_line)
            prev = tag
        out[doc_id] = _relabeled(record, iob2_to_spans([r[2] for r in rows]), annotator)
    return out


def import_corrections(records: Sequence[dict[str, Any]], path: str | Path,
                       annotator: str | None = None) -> list[dict[str, Any]]:
    """``records`` with the documents corrected in ``path`` replaced (matched by ``id``).

    ``annotator`` is used where the file names none. Raises :class:`InputError` on an unknown id or
    label, a token/length mismatch, or offsets off token boundaries.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    by_id = {r["id"]: r for r in records}
    reader = _jsonl_corrections if path.suffix == ".jsonl" else _conll_corrections
    corrected = reader(path, by_id, annotator)
    return [corrected.get(r["id"], r) for r in records]


def export_conll(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write records as CoNLL IOB2 for hand correction (the format :func:`import_corrections` reads).

    A blank line separates sentences when ``sentence_starts`` is known.
    """
    path = Path(path)
    lines: list[str] = []
    for r in records:
        lines.append(f"{DOCSTART} {r['id']}")
        starts = set(r.get("sentence_starts") or [])
        for i, (token, tag) in enumerate(zip(r["tokens"], r["ner_tags"], strict=True)):
            if i in starts and i and lines[-1]:
                lines.append("")
            lines.append(f"{token} {tag}")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
