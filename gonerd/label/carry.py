"""Carrying human labels onto a document whose text (or tokenization) changed since it was labelled.

The old and new texts are aligned character by character (``difflib.SequenceMatcher``). A human
span carries over when it lies inside one unchanged stretch of text, so its exact text is found
unchanged at the mapped place, and the mapped offsets fall on word boundaries of the new record.
Every other span becomes a conflict — ``{id, span, old_text, reason}`` — for a person to review;
none is dropped silently.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any

from gonerd.label.merge import char_spans, record_offsets, spans_to_iob2, token_span

Conflict = dict[str, Any]
GONE = "the document is no longer among the inputs"


def conflict(record: dict[str, Any], span: dict[str, Any], reason: str) -> Conflict:
    """The conflict entry of a human ``span`` of ``record`` that could not be kept."""
    return {"id": record["id"], "span": dict(span), "old_text": record["text"][span["start"]:span["end"]],
            "reason": reason}


def carry_human(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], list[Conflict]]:
    """``new`` (a labeled record of the current text) with ``old``'s human spans carried over.

    Returns the record, which keeps ``old``'s ``label_source`` and holds only the carried spans,
    and the conflicts: the spans that could not be carried, with the reason.
    """
    matcher = SequenceMatcher(None, old["text"], new["text"], autojunk=False)
    equal = [(i1, i2, j1 - i1) for tag, i1, i2, j1, _ in matcher.get_opcodes() if tag == "equal"]
    offsets = record_offsets(new)
    carried: list[tuple[int, int, str]] = []
    conflicts: list[Conflict] = []
    for span in sorted(old["spans"], key=lambda s: s["start"]):
        start, end = span["start"], span["end"]
        shift = next((d for i1, i2, d in equal if i1 <= start and end <= i2), None)
        tokens = None if shift is None else token_span(start + shift, end + shift, offsets)
        if tokens is None:
            reason = ("text changed in or around the span" if shift is None
                      else "the unchanged text no longer falls on word boundaries")
            conflicts.append(conflict(old, span, reason))
            continue
        carried.append((*tokens, span["label"]))
    record = {**new, "ner_tags": spans_to_iob2(len(new["tokens"]), carried),
              "spans": char_spans(carried, offsets), "label_source": old["label_source"]}
    return record, conflicts
