"""The sealed MISC test set over CoNLL-2003 eng.train (issue 21): misc_fresh_conll_test.jsonl is well-formed,
shares no document and no phone number with the earlier CoNLL gold, and its spans are their text on token
boundaries. The row and span checks are those of the new gold's CoNLL part (tests/test_misc_new_gold.py)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import tests.test_misc_new_gold as new_gold
from gonerd.label.evaluate import read_conll_misc_gold
from tests.test_misc_new_gold import CONLL_HALVES, PACKAGE_DATA, read_halves, train_texts  # noqa: F401 (fixture)

FRESH = PACKAGE_DATA / "misc_fresh_conll_test.jsonl"
TESTAB = {"testa": PACKAGE_DATA / "misc_conll_testa.jsonl", "testb": PACKAGE_DATA / "misc_conll_testb.jsonl"}
# The counts table of gonerd/data/README.md (section misc_fresh_conll_test.jsonl).
DOCUMENTS, NEGATIVES = 99, 25
KINDS = {"age": 52, "address": 0, "phone": 41}


@pytest.fixture(scope="module")
def fresh() -> list[dict]:
    return read_halves({"fresh": FRESH})["fresh"]


def phone_digits(rows: list[dict]) -> list[str]:
    """The digits of every phone span of `rows`, in order (`+44 171 542 7658` → `441715427658`)."""
    return [re.sub(r"\D", "", s["text"]) for r in rows for s in r["spans"] if s["kind"] == "phone"]


def test_rows_name_one_train_document_each_with_checked_spans(fresh: list[dict]) -> None:
    new_gold.test_conll_rows_name_one_train_document_each_with_checked_spans({"fresh": fresh})


def test_counts_are_the_documented_ones(fresh: list[dict]) -> None:
    assert len(fresh) == DOCUMENTS and sum(not r["spans"] for r in fresh) == NEGATIVES
    assert Counter(s["kind"] for r in fresh for s in r["spans"]) == Counter(KINDS)


def test_documents_and_phone_numbers_are_new(fresh: list[dict]) -> None:
    """No document of the new gold's CoNLL part, no phone number of any earlier CoNLL gold (compared on the
    last eight digits, so `+44 171 …` and `0171 …` are one number), and each number once."""
    earlier = read_halves(CONLL_HALVES | TESTAB)
    used_documents = {r["document"] for name in CONLL_HALVES for r in earlier[name]}
    assert not used_documents & {r["document"] for r in fresh}
    used_numbers = {digits[-8:] for rows in earlier.values() for digits in phone_digits(rows)}
    numbers = [digits[-8:] for digits in phone_digits(fresh)]
    assert not used_numbers & set(numbers)
    assert len(numbers) == len(set(numbers))


@pytest.mark.shared
def test_spans_give_their_text_on_conll_and_spacy_token_boundaries(fresh: list[dict],
                                                                   train_texts: list[str]) -> None:  # noqa: F811
    new_gold.test_conll_spans_give_their_text_on_token_boundaries({"fresh": fresh}, train_texts)


@pytest.mark.shared
@pytest.mark.slow
def test_the_existing_reader_accepts_the_file(fresh: list[dict], shared_data: Path) -> None:
    """read_conll_misc_gold reads the file unchanged; a consumer keeps only the listed documents."""
    listed = {r["document"]: r["spans"] for r in fresh}
    records = [rec for rec in read_conll_misc_gold(FRESH, shared_data)
               if int(rec["id"].rpartition(":")[2]) in listed]
    assert [rec["spans"] for rec in records] == [listed[d] for d in sorted(listed)]
