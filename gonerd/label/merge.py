"""Conflict resolution between labelers, and conversions between token spans, IOB2 tags and char spans.

Resolution rule (tested in tests/test_label_merge.py): labelers are given in **priority order**; the
default order is MISC rules first, then the NER pipeline. Spans are accepted greedily — by labeler
priority, then longer span first, then earlier start — and a span that overlaps an accepted one is
dropped. So a MISC rule span wins over any model span it overlaps ("1600 Pennsylvania Avenue NW" is
MISC even though the NER model calls "Pennsylvania Avenue NW" a facility), and within one labeler
the longest span wins. Whitespace tokens at span edges are trimmed first, so entities never start
or end on a newline token. The result always converts to valid strict IOB2.
"""

from __future__ import annotations

from collections.abc import Sequence

from gonerd.label.base import Span


def trim_span(span: Span, tokens: Sequence[str]) -> Span | None:
    """``span`` without leading/trailing whitespace tokens; ``None`` when nothing is left."""
    start, end, label = span
    while start < end and not tokens[start].strip():
        start += 1
    while end > start and not tokens[end - 1].strip():
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


def token_offsets(tokens: Sequence[str], spaces: Sequence[bool]) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of each token in ``''.join(t + ' ' * s)``."""
    offsets, pos = [], 0
    for tok, space in zip(tokens, spaces, strict=True):
        offsets.append((pos, pos + len(tok)))
        pos += len(tok) + bool(space)
    return offsets


def char_spans(spans: Sequence[Span], offsets: Sequence[tuple[int, int]]) -> list[dict]:
    """Token spans as ``{start, end, label}`` character spans (token-snapped by construction)."""
    return [{"start": offsets[s][0], "end": offsets[e - 1][1], "label": label} for s, e, label in spans]
