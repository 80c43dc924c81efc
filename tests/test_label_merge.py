"""Conflict resolution between labelers and conversions between spans, IOB2 tags and offsets."""

from __future__ import annotations

import pytest

from gonerd.conll import iob2_errors
from gonerd.label.merge import (char_spans, iob2_to_spans, is_whitespace, record_offsets, resolve, spans_to_iob2,
                                 token_offsets, token_span, trim_span, word_spans, words)

TOKENS = ["Agents", "searched", "1600", "Pennsylvania", "Avenue", "NW", "\n\n", "in", "Washington", "."]


def test_higher_priority_labeler_wins_overlaps() -> None:
    rules = [(2, 6, "MISC")]
    ner = [(3, 6, "LOC"), (8, 9, "LOC")]
    assert resolve([rules, ner], TOKENS) == [(2, 6, "MISC"), (8, 9, "LOC")]
    # the same spans with the priority reversed: the NER facility wins and the address is dropped
    assert resolve([ner, rules], TOKENS) == [(3, 6, "LOC"), (8, 9, "LOC")]


def test_within_one_labeler_longest_then_earliest_wins() -> None:
    assert resolve([[(3, 4, "LOC"), (2, 6, "MISC"), (5, 8, "ORG")]], TOKENS) == [(2, 6, "MISC")]
    assert resolve([[(0, 2, "ORG"), (1, 3, "PER")]], TOKENS) == [(0, 2, "ORG")]


def test_whitespace_tokens_are_trimmed_from_span_edges() -> None:
    assert trim_span((5, 8, "LOC"), TOKENS) == (5, 8, "LOC")
    assert trim_span((6, 9, "LOC"), TOKENS) == (7, 9, "LOC")
    assert trim_span((6, 7, "LOC"), TOKENS) is None
    assert resolve([[(4, 7, "LOC"), (6, 7, "PER")]], TOKENS) == [(4, 6, "LOC")]


def test_iob2_round_trip_is_strict() -> None:
    spans = [(2, 6, "MISC"), (6, 7, "MISC"), (8, 9, "LOC")]
    tags = spans_to_iob2(len(TOKENS), spans)
    assert tags == ["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "B-MISC", "O", "B-LOC", "O"]
    assert not iob2_errors(tags)
    assert iob2_to_spans(tags) == spans


def test_bad_spans_and_tags_raise() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_iob2(5, [(0, 2, "PER"), (1, 3, "ORG")])
    with pytest.raises(ValueError, match="token 1"):
        iob2_to_spans(["B-PER", "I-ORG"])


def test_char_offsets_follow_spaces() -> None:
    tokens, spaces = ["Call", "(", "202", ")", "514", "-", "2000", "."], [True, False, False, True, False, False, False, False]
    text = "".join(t + " " * s for t, s in zip(tokens, spaces))
    offsets = token_offsets(tokens, spaces)
    assert [text[a:b] for a, b in offsets] == tokens
    (span,) = char_spans([(1, 7, "MISC")], offsets)
    assert text[span["start"]:span["end"]] == "(202) 514-2000" and span["label"] == "MISC"


def test_words_drop_whitespace_tokens_and_keep_the_text() -> None:
    text = "\nIn  New\n\nYork .\n"
    doc_tokens, starts = ["\n", "In", " ", "New", "\n\n", "York", ".", "\n"], [0, 1, 4, 5, 8, 10, 15, 16]
    assert [text[s:s + len(t)] for t, s in zip(doc_tokens, starts)] == doc_tokens
    tokens, whitespace, index = words(doc_tokens, starts, text)
    assert (tokens, whitespace, index) == (["In", "New", "York", "."], ["  ", "\n\n", " ", "\n"], [1, 3, 5, 6])
    assert word_spans([(3, 6, "LOC")], index) == [(1, 3, "LOC")]
    record = {"text": text, "tokens": tokens, "whitespace": whitespace}
    offsets = record_offsets(record)
    assert [text[a:b] for a, b in offsets] == tokens and offsets == token_offsets(tokens, whitespace, start=1)
    assert token_span(5, 14, offsets) == (1, 3) and token_span(6, 14, offsets) is None
    assert is_whitespace("\u00a0\n") and not is_whitespace(" x ")
