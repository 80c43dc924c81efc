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
it through unchanged. A file is read in two steps: :func:`read_corrections` checks its form (so
``gonerd label`` refuses a bad file before any labeling) and :func:`apply_corrections` checks it
against the documents. Every problem raises :class:`InputError` naming the file, line and field;
nothing is skipped, so no label is dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gonerd.conll import DOCSTART
from gonerd.errors import InputError
from gonerd.label.core import HUMAN_PREFIX
from gonerd.label.merge import char_spans, iob2_to_spans, record_offsets, spans_to_iob2, token_span
from gonerd.schema import ENTITY_TYPES, LABELS


ROW_KEYS = ("id", "spans", "annotator", "text")
SPAN_KEYS = ("start", "end", "label", "text")


def _relabeled(record: dict[str, Any], spans: list[tuple[int, int, str]], annotator: str) -> dict[str, Any]:
    offsets = record_offsets(record)
    return {**record, "ner_tags": spans_to_iob2(len(record["tokens"]), spans),
            "spans": char_spans(spans, offsets), "label_source": f"{HUMAN_PREFIX}{annotator}"}


def _lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; any other encoding is an :class:`InputError` naming the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {data[e.start]:#04x} cannot be decoded); save the file as UTF-8",
                         str(path), line=data[:e.start].count(b"\n") + 1) from e


def _check_keys(value: Any, known: tuple[str, ...], what: str, where: dict[str, Any], field: str | None) -> None:
    """``value`` must be a JSON object whose keys are all in ``known`` (a typo such as "span" is an error)."""
    from difflib import get_close_matches

    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object, not {type(value).__name__}", **where, field=field)
    for key in value:
        if key not in known:
            close = get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"unknown key in {what} (known: {', '.join(known)}){hint}", **where,
                             field=f"{field}.{key}" if field else str(key))


def _first_seen(seen: dict[str, int], doc_id: str, lineno: int, where: dict[str, Any]) -> None:
    """Record that ``doc_id`` is corrected at ``lineno``; a second correction of it is an error naming both lines."""
    if doc_id in seen:
        raise InputError(f"document id {doc_id!r} is corrected twice, at lines {seen[doc_id]} and {lineno}",
                         **where, field="id")
    seen[doc_id] = lineno


@dataclass
class Correction:
    """One document's hand labels as read from a corrections file, checked for form but not yet
    against the document: JSONL ``spans`` (character offsets) or CoNLL ``rows`` (line, token, tag)."""

    path: str
    line: int
    id: str
    annotator: str | None
    text: str | None = None
    spans: list[dict[str, Any]] | None = None
    rows: list[tuple[int, str, str]] | None = None


def _jsonl_span(span: Any, where: dict[str, Any], field: str) -> dict[str, Any]:
    """One JSONL span, checked for keys and types."""
    _check_keys(span, SPAN_KEYS, "a span", where, field)
    for name in ("start", "end", "label"):
        if name not in span:
            raise InputError("missing", **where, field=f"{field}.{name}")
    for name in ("start", "end"):
        if type(span[name]) is not int:  # bool is an int subclass: false must not count as 0
            raise InputError(f"offset must be an integer, not {json.dumps(span[name])}", **where,
                             field=f"{field}.{name}")
    if span["label"] not in ENTITY_TYPES:
        raise InputError(f"unknown label {span['label']!r} (known: {', '.join(ENTITY_TYPES)})", **where,
                         field=f"{field}.label")
    return span


def _read_jsonl(path: Path) -> list[Correction]:
    out: list[Correction] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        where = {"path": str(path), "line": lineno}
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"not valid JSON ({e.msg})", **where) from e
        _check_keys(row, ROW_KEYS, "a line", where, None)
        for name in ("id", "spans"):
            if name not in row:
                raise InputError("missing", **where, field=name)
        for name in ("id", "annotator", "text"):
            if name in row and row[name] is not None and not isinstance(row[name], str):
                raise InputError(f"must be a string, not {json.dumps(row[name])}", **where, field=name)
        if not isinstance(row["spans"], list):
            raise InputError(f"must be a list of spans, not {type(row['spans']).__name__}", **where, field="spans")
        _first_seen(seen, row["id"], lineno, where)
        spans = [_jsonl_span(span, where, f"spans[{k}]") for k, span in enumerate(row["spans"])]
        out.append(Correction(str(path), lineno, row["id"], row.get("annotator"), row.get("text"), spans=spans))
    return out


def _read_conll(path: Path) -> list[Correction]:
    out: list[Correction] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(_lines(path), start=1):
        cols = line.split()
        where = {"path": str(path), "line": lineno}
        if not cols:
            continue
        if cols[0] == DOCSTART:
            if len(cols) < 2:
                raise InputError(f"{DOCSTART} needs a document id", **where)
            if len(cols) > 3:
                raise InputError(f"expected '{DOCSTART} <id> [<annotator>]', got {line.strip()!r}", **where)
            _first_seen(seen, cols[1], lineno, where)
            out.append(Correction(str(path), lineno, cols[1], cols[2] if len(cols) > 2 else None, rows=[]))
            continue
        if not out:
            raise InputError(f"token before the first '{DOCSTART} <id>' line", **where)
        if len(cols) != 2:
            raise InputError(f"expected 'token tag', got {line.strip()!r}", **where)
        tag = cols[1]
        if tag not in LABELS:
            raise InputError(f"unknown tag {tag!r} (known: {', '.join(LABELS)})", **where, field="tag")
        rows = out[-1].rows
        prev = rows[-1][2] if rows else "O"
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            raise InputError(f"not strict IOB2: {tag!r} follows {prev!r}", **where, field="tag")
        rows.append((lineno, cols[0], tag))
    return out


def read_corrections(path: str | Path) -> list[Correction]:
    """The corrections in ``path`` (span JSONL by its ``.jsonl`` suffix, else CoNLL IOB2), checked for form.

    Everything that needs no document is checked here, so a bad file fails before any labeling:
    encoding, JSON, keys, types, labels and tags, IOB2 order, a document given twice.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    return _read_jsonl(path) if path.suffix == ".jsonl" else _read_conll(path)


def _token_spans(c: Correction, record: dict[str, Any]) -> list[tuple[int, int, str]]:
    """The token spans of a correction over ``record``'s words; mismatches name the file and line."""
    where = {"path": c.path, "line": c.line}
    if c.rows is not None:
        if len(c.rows) != len(record["tokens"]):
            raise InputError(f"document {c.id!r} has {len(record['tokens'])} tokens, the file gives {len(c.rows)}",
                             **where)
        for (row_line, token, _), own in zip(c.rows, record["tokens"]):
            if token != own:
                raise InputError(f"token {token!r} differs from the document's {own!r}", c.path, line=row_line)
        return iob2_to_spans([tag for _, _, tag in c.rows])
    text, offsets = record["text"], record_offsets(record)
    if c.text is not None and c.text != text:
        raise InputError("text differs from the labeled document's text", **where, field="text")
    spans, taken = [], set()
    for k, span in enumerate(c.spans or []):
        field, start, end = f"spans[{k}]", span["start"], span["end"]
        if not 0 <= start < end <= len(text):
            raise InputError(f"offsets {start}-{end} outside the text (length {len(text)})", **where, field=field)
        if "text" in span and span["text"] != text[start:end]:
            raise InputError(f"text {span['text']!r} differs from the document's {text[start:end]!r} at {start}-{end}",
                             **where, field=f"{field}.text")
        words = token_span(start, end, offsets)
        if words is None:
            raise InputError(f"offsets {start}-{end} ({text[start:end]!r}) are not on token boundaries",
                             **where, field=field)
        if taken & set(range(*words)):
            raise InputError(f"span {start}-{end} overlaps another span", **where, field=field)
        taken |= set(range(*words))
        spans.append((*words, span["label"]))
    return sorted(spans)


def apply_corrections(records: Sequence[dict[str, Any]], corrections: Sequence[Correction],
                      annotator: str | None = None) -> list[dict[str, Any]]:
    """``records`` with the documents named in ``corrections`` relabelled by hand (``human:<annotator>``).

    ``annotator`` is used where a correction names none. A correction that does not fit its
    document (unknown id, other text or tokens, offsets outside the text, off token boundaries or
    overlapping) raises :class:`InputError` naming the file, line and field.
    """
    by_id = {r["id"]: r for r in records}
    corrected: dict[str, dict[str, Any]] = {}
    for c in corrections:
        record = by_id.get(c.id)
        if record is None:
            raise InputError(f"unknown document id {c.id!r}", c.path, line=c.line, field="id")
        name = c.annotator or annotator
        if not name or not name.strip():
            raise InputError("no annotator (name one in the file or with --annotator)", c.path, line=c.line,
                             field="annotator")
        corrected[c.id] = _relabeled(record, _token_spans(c, record), name)
    return [corrected.get(r["id"], r) for r in records]


def import_corrections(records: Sequence[dict[str, Any]], path: str | Path,
                       annotator: str | None = None) -> list[dict[str, Any]]:
    """``records`` with the documents corrected in ``path`` replaced (matched by ``id``).

    ``annotator`` is used where the file names none. Raises :class:`InputError`, naming the file,
    line and field, on anything that could silently lose or change a label: a file that is not
    UTF-8, a line that is not a JSON object, an unknown key (``"span"`` for ``"spans"``), a document
    corrected twice, an unknown id, label or tag, an offset that is not an integer, outside the text
    or off token boundaries, overlapping spans, a token or length mismatch, or broken IOB2.
    """
    return apply_corrections(records, read_corrections(path), annotator)


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
