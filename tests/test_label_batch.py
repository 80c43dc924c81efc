"""Batched labeling (the MISC rules parse the age sentences of many documents together) gives exactly
the spans and records of labeling document by document, on the bundled real texts; so does the
address finder's faster whitespace folding."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from gonerd.config import LabelConfig
from gonerd.label import label_doc, label_documents
from gonerd.label.base import BatchLabeler, spans_of_batch
from gonerd.label.misc_address import _single_spaced, _text_offset, _whitespace_runs
from gonerd.label.rules import MiscRules
from label_pipeline import pipeline

PACKAGE = Path(__file__).resolve().parents[1] / "gonerd"


def corpus() -> list[str]:
    """Every text the package ships: the sample DOJ releases and page bodies, the MISC gold documents."""
    texts = []
    for path in sorted([*(PACKAGE / "sample").glob("*.jsonl"), *(PACKAGE / "data").glob("misc_*.jsonl")]):
        for line in path.open(encoding="utf-8"):
            record = json.loads(line)
            text = record.get("text") or record.get("gold_text")
            if text:
                texts.append(text)
    return texts


@pytest.fixture(scope="module")
def texts() -> list[str]:
    found = corpus()
    assert len(found) > 900  # the sample and the MISC gold files are all read
    return found


def test_rules_batch_spans_equal_per_doc_spans(texts: list[str]) -> None:
    nlp, labelers = pipeline()
    rules = next(lab for lab in labelers if isinstance(lab, MiscRules))
    assert isinstance(rules, BatchLabeler)
    docs = list(nlp.pipe(texts, batch_size=32))
    batched = rules.spans_batch(docs)
    per_doc = [rules.spans(doc) for doc in docs]
    assert batched == per_doc
    ages = rules.ages.spans_batch(docs)
    assert sum(map(len, ages)) > 100  # the corpus has many ages, so the batch parse is exercised
    assert ages == [rules.ages.spans(doc) for doc in docs]


def test_label_documents_equals_labeling_doc_by_doc(texts: list[str]) -> None:
    nlp, labelers = pipeline()
    config = LabelConfig()
    records = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    batched = list(label_documents(records, config, labelers, nlp=nlp, progress=False))
    per_doc = [label_doc(doc, labelers) for doc in nlp.pipe(texts, batch_size=config.batch_size)]
    assert [{k: r[k] for k in fields} for r, fields in zip(batched, per_doc)] == per_doc
    assert sum(s["label"] == "MISC" for fields in per_doc for s in fields["spans"]) > 200


class CountingNer:
    """A labeler without ``spans_batch``: one proper noun span per doc, counting its calls."""

    source = "test:first-propn@1"
    labels = frozenset({"PER"})

    def __init__(self) -> None:
        self.calls = 0

    def spans(self, doc: Any) -> list[tuple[int, int, str]]:
        self.calls += 1
        return [(t.i, t.i + 1, "PER") for t in doc if t.pos_ == "PROPN" or t.ent_type_ == "PERSON"][:1]


def test_labeler_without_batch_method_is_asked_doc_by_doc(texts: list[str]) -> None:
    nlp, _ = pipeline()
    ner = CountingNer()
    assert not isinstance(ner, BatchLabeler)
    docs = list(nlp.pipe(texts[:5]))
    assert spans_of_batch(ner, docs) == [ner.spans(doc) for doc in docs]
    assert ner.calls == 10


class BatchCounter(MiscRules):
    """The MISC rules, counting how often they are asked per document and per batch."""

    def __init__(self, nlp: Any) -> None:
        super().__init__(nlp)
        self.doc_calls = 0
        self.batch_calls = 0

    def spans(self, doc: Any) -> list[tuple[int, int, str]]:
        self.doc_calls += 1
        return super().spans(doc)

    def spans_batch(self, docs: Any) -> list[list[tuple[int, int, str]]]:
        self.batch_calls += 1
        return super().spans_batch(docs)


def test_label_documents_asks_the_rules_once_per_batch(texts: list[str]) -> None:
    nlp, labelers = pipeline()
    rules = BatchCounter(nlp)
    config = LabelConfig()
    records = [{"id": str(i), "text": t} for i, t in enumerate(texts[:config.batch_size * 4 + 1])]
    out = list(label_documents(records, config, [rules, labelers[-1]], nlp=nlp, progress=False))
    assert len(out) == len(records)
    assert (rules.batch_calls, rules.doc_calls) == (2, 0)  # one flush of batch_size * 4 docs, then one doc


def single_spaced_by_characters(text: str) -> tuple[str, list[int]]:
    """The single-spaced text and each character's offset, built run by run (the former code)."""
    out, where = [], []
    for m in re.finditer(r"\s+|\S+", text):
        if m.group()[0].isspace():
            out.append("\n" if "\n" in m.group() else " ")
            where.append(m.start())
        else:
            out.append(m.group())
            where.extend(range(m.start(), m.end()))
    return "".join(out), where


def test_address_text_and_offsets_equal_the_character_by_character_mapping(texts: list[str]) -> None:
    odd = ["", " ", "a", " a ", "a\r\nb", " \n", "\x1c\n\x85a\u2028 \u3000b\n", "x \t\n \n y\u00a0z"]
    for text in odd + texts:
        flat, where = single_spaced_by_characters(text)
        runs = _whitespace_runs(text)
        assert _single_spaced(text) == flat
        assert [_text_offset(runs, i) for i in range(len(flat))] == where
