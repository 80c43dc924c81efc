"""Conflict resolution between labelers, and conversions between token spans, IOB2 tags and char spans.

Resolution rule (tested in tests/test_label_merge.py): labelers are given in **priority order**; the
default order is MISC rules first, then the NER pipeline. Spans are accepted greedily — by labeler
priority, then longer span first, then earlier start — and a span that overlaps an accepted one is
dropped. So a MISC rule span wins over any model span it overlaps ("1600 Pennsylvania Avenue NW" is
MISC even though the NER model calls "Pennsylvania Avenue NW" a facility), and within one labeler
the longest span wins. Whitespace tokens at span edges are trimmed first, so entities never start
or end on a newline token. The result always converts to valid strict IOB2.

Labelers see spaCy's tokens, whitespace tokens (``"\n\n"``) included; a labeled record keeps only
the words (:func:`words`), each with the whitespace that follows it, so the text stays
reconstructable and an entity that crosses a line break stays one span.
"""

from __future__ import annotations

from collections.abc import Sequence

from gonerd.label.base import Span


def is_whitespace(token: str) -> bool:
    """True for a whitespace-only token (spaCy's ``"\n\n"``, ``" "``), which is never a word of a record."""
    return not token.strip()


def trim_span(span: Span, tokens: Sequence[str]) -> Span | None:
    """``span`` without leading/trailing whitespace tokens; ``None`` when nothing is left."""
    start, end, label = span
    while start < end and is_whitespace(tokens[start]):
        start += 1
    while end > start and is_whitespace(tokens[end - 1]):
        end -= 1
    return (start, end, label) if start < end else None


def resolve(span_lists: Sequence[Sequence[Span]], tokens: Sequence[str]) -> list[Span]:
    """Merge spans from labelers in priority order into non-overlapping spans sorted by start."""
    taken = bytearray(len(tokens))
    accepted: list[Span] = []
    for spans in span_lists:
        trimmed = [t for t in (trim_span(s, tokens) for s in spans) if t is not None]
        for start, end, label in sorted(trimmed, key=lambda s: (s[0] - s[1], s[0])):
            if not any(taken[start:end]):
                accepted.append((start, end, label))
                taken[start:end] = b"\x01" * (end - start)
    return sorted(accepted)


def spans_to_iob2(n_tokens: int, spans: Sequence[Span]) -> list[str]:
    """IOB2 tags of ``n_tokens`` tokens from non-overlapping token spans."""
    tags = ["O"] * n_tokens
    for start, end, label in spans:
        if any(t != "O" for t in tags[start:end]):
            raise ValueError(f"span {start}-{end} {label} overlaps another span")
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags


def iob2_to_spans(tags: Sequence[str]) -> list[Span]:
    """Token spans of strict IOB2 ``tags`` (an ``I-`` that does not continue a span is an error)."""
    spans: list[Span] = []
    start, label = None, None
    for i, tag in enumerate([*tags, "O"]):
        if tag.startswith("I-") and label == tag[2:]:
            continue
        if tag.startswith("I-"):
            raise ValueError(f"token {i}: {tag!r} does not continue a span")
        if label is not None:
            spans.append((start, i, label))
        start, label = (i, tag[2:]) if tag.startswith("B-") else (None, None)
    return spans


def token_offsets(tokens: Sequence[str], whitespace: Sequence[str] | Sequence[bool], start: int = 0
                  ) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of each token in ``lead + ''.join(t + w)``, where ``len(lead) == start``.

    ``whitespace`` is what follows each token: a string (a labeled record's ``whitespace``), or a
    bool for one space (spaCy's ``whitespace_`` flag).
    """
    offsets, pos = [], start
    for tok, after in zip(tokens, whitespace, strict=True):
        offsets.append((pos, pos + len(tok)))
        pos += len(tok) + (len(after) if isinstance(after, str) else bool(after))
    return offsets


def words(doc_tokens: Sequence[str], starts: Sequence[int], text: str) -> tuple[list[str], list[str], list[int]]:
    """The words of a tokenized ``text``: ``(tokens, whitespace, index)``.

    ``doc_tokens`` start at character ``starts`` of ``text`` (spaCy's ``token.text``, ``token.idx``).
    ``tokens`` are the ones that are not whitespace-only, ``whitespace[i]`` is the text between word
    ``i`` and the next word (or the end of ``text``), and ``index[i]`` is word ``i``'s position in
    ``doc_tokens``.
    """
    index = [i for i, tok in enumerate(doc_tokens) if not is_whitespace(tok)]
    tokens = [doc_tokens[i] for i in index]
    ends = [starts[i] + len(doc_tokens[i]) for i in index]
    following = [*(starts[i] for i in index[1:]), len(text)]
    return tokens, [text[end:nxt] for end, nxt in zip(ends, following)], index


def word_spans(spans: Sequence[Span], index: Sequence[int]) -> list[Span]:
    """Trimmed token spans over all tokens as spans over the words of :func:`words` (``index``)."""
    position = {doc_i: word_i for word_i, doc_i in enumerate(index)}
    return [(position[s], position[e - 1] + 1, label) for s, e, label in spans]


def token_span(start: int, end: int, offsets: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """The token span ``[first, last + 1)`` covering exactly characters ``start:end`` of ``offsets``.

    ``None`` when ``start`` does not open a token or ``end`` does not close one.
    """
    first = next((i for i, (s, _) in enumerate(offsets) if s == start), None)
    last = next((i for i, (_, e) in enumerate(offsets) if e == end), None)
    if first is None or last is None or last < first:
        return None
    return first, last + 1


def record_offsets(record: dict) -> list[tuple[int, int]]:
    """Character ``(start, end)`` in ``record["text"]`` of each word of a labeled record.

    The text is its leading whitespace followed by every token and its ``whitespace``.
    """
    tokens, whitespace = record["tokens"], record["whitespace"]
    lead = len(record["text"]) - sum(len(t) + len(w) for t, w in zip(tokens, whitespace, strict=True))
    return token_offsets(tokens, whitespace, start=lead)


def char_spans(spans: Sequence[Span], offsets: Sequence[tuple[int, int]]) -> list[dict]:
    """Token spans as ``{start, end, label}`` character spans (token-snapped by construction)."""
    return [{"start": offsets[s][0], "end": offsets[e - 1][1], "label": label} for s, e, label in spans]
