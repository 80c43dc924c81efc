"""The new MISC gold (issue 21): integrity of misc_new_dev/test.jsonl and misc_new_conll_dev/test.jsonl
(offsets into CoNLL-2003 eng.train) and where their texts come from."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
import spacy
import trafilatura

from gonerd.config import ExtractConfig
from gonerd.conll import read_conll
from gonerd.label.evaluate import conll_text, read_conll_misc_gold, read_misc_gold
from gonerd.pipeline.extract import extract_html
from gonerd.pipeline.read import decode_html
from gonerd.schema import MISC_KINDS
from tests.conftest import shared_missing

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "gonerd" / "data"
HALVES = {"dev": PACKAGE_DATA / "misc_new_dev.jsonl", "test": PACKAGE_DATA / "misc_new_test.jsonl"}
OLD_GOLD = PACKAGE_DATA / "misc_gold.jsonl"
FIELDS = {"id", "source", "url", "text", "spans"}
CONLL_HALVES = {"dev": PACKAGE_DATA / "misc_new_conll_dev.jsonl", "test": PACKAGE_DATA / "misc_new_conll_test.jsonl"}
CONLL_FILE = "conll2003/eng.train"


def document(record_id: str) -> str:
    """The page or LitBank document a record was cut from: its id without `#line`/`#char`/`@html2txt`."""
    return record_id.split("#")[0].split("@")[0]


def read_halves(paths: dict[str, Path]) -> dict[str, list[dict]]:
    """The JSON lines of each half's file, by half."""
    return {name: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            for name, path in paths.items()}


@pytest.fixture(scope="module")
def halves() -> dict[str, list[dict]]:
    return read_halves(HALVES)


def test_records_have_the_gold_fields_and_the_reader_accepts_them(halves: dict[str, list[dict]]) -> None:
    for name, records in halves.items():
        assert all(set(r) == FIELDS for r in records), name
        assert len(read_misc_gold(HALVES[name])) == len(records)
        assert sum(not r["spans"] for r in records) >= 100  # negatives are kept


def test_spans_are_valid_sorted_disjoint_and_on_token_boundaries(halves: dict[str, list[dict]]) -> None:
    tokenizer = spacy.blank("en")
    for r in (r for records in halves.values() for r in records):
        doc = tokenizer(r["text"])
        end = 0
        for s in r["spans"]:
            assert s["label"] == "MISC" and s["kind"] in MISC_KINDS, r["id"]
            assert end <= s["start"] < s["end"] <= len(r["text"]), r["id"]  # inside the text, no overlap
            assert doc.char_span(s["start"], s["end"]) is not None, (r["id"], r["text"][s["start"]:s["end"]])
            assert r["text"][s["start"]:s["end"]].strip() == r["text"][s["start"]:s["end"]], r["id"]
            end = s["end"]


def test_halves_split_by_document_and_share_nothing_with_the_old_gold(halves: dict[str, list[dict]]) -> None:
    ids = [r["id"] for records in halves.values() for r in records]
    assert len(ids) == len(set(ids))
    dev, test = ({document(r["id"]) for r in records} for records in halves.values())
    assert not dev & test
    old = {document(json.loads(line)["id"]) for line in OLD_GOLD.read_text(encoding="utf-8").splitlines()}
    assert not (dev | test) & old


def test_halves_hold_about_half_of_each_kind(halves: dict[str, list[dict]]) -> None:
    counts = {name: Counter(s["kind"] for r in records for s in r["spans"]) for name, records in halves.items()}
    for kind in MISC_KINDS:
        dev, test = counts["dev"][kind], counts["test"][kind]
        assert dev >= 5 and test >= 5 and abs(dev - test) <= 2, (kind, dev, test)


def window(text: str, record: dict) -> str:
    """The stretch of `text` a record claims to be: the whole text, lines from `#line<N>` or chars from `#char<N>`."""
    anchor = record["id"].rpartition("#")[2] if "#" in record["id"] else ""
    if anchor.startswith("line"):
        first = int(anchor.removeprefix("line")) - 1
        return "\n".join(text.split("\n")[first:first + record["text"].count("\n") + 1])
    if anchor.startswith("char"):
        start = int(anchor.removeprefix("char"))
        return text[start:start + len(record["text"])]
    return text


@pytest.mark.shared
@pytest.mark.slow
def test_texts_are_cut_from_the_stated_sources(halves: dict[str, list[dict]], shared_data: Path) -> None:
    """LitBank lines are the brat text's lines; web windows are lines of the text gonerd's extraction
    gave when the set was cut (trafilatura alone with the project's settings: the later default, the
    ensemble, adds lines to some pages), or characters of trafilatura's whole-page html2txt."""
    pages = {json.loads(line)["id"]: json.loads(line)
             for line in (shared_data / "webpages" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()}
    sources: dict[str, str] = {}
    for r in sorted((r for records in halves.values() for r in records), key=lambda r: r["id"]):
        doc, html2txt = document(r["id"]), "@html2txt" in r["id"]
        key = doc + ("@html2txt" if html2txt else "")
        if key not in sources:
            if r["source"] == "litbank":
                path = shared_data / "litbank_entities" / "brat" / f"{doc.removeprefix('litbank:')}_brat.txt"
                sources[key] = path.read_text(encoding="utf-8")
            else:
                page = pages[doc]
                raw = (shared_data / "webpages" / page["html"]).read_bytes()
                html = decode_html(gzip.decompress(raw) if page["html"].endswith(".gz") else raw)
                sources[key] = (trafilatura.html2txt(html) if html2txt
                                else extract_html(html, page["url"], ExtractConfig(method="trafilatura"))["text"])
                assert r["source"] == page["source"] and r["url"] == page["url"], r["id"]
        assert window(sources[key], r) == r["text"], r["id"]


@pytest.fixture(scope="module")
def conll_halves() -> dict[str, list[dict]]:
    return read_halves(CONLL_HALVES)


def test_conll_rows_name_one_train_document_each_with_checked_spans(conll_halves: dict[str, list[dict]]) -> None:
    """Offsets-only rows like misc_conll_test[ab].jsonl; every document of the set has a row (negatives too)."""
    for name, rows in conll_halves.items():
        assert all(set(r) == {"file", "document", "spans"} and r["file"] == CONLL_FILE for r in rows), name
        assert [r["document"] for r in rows] == sorted({r["document"] for r in rows}), name  # sorted, unique
        assert sum(not r["spans"] for r in rows) >= 5, name  # negative documents are kept
        for r in rows:
            end = 0
            for s in r["spans"]:
                assert set(s) == {"start", "end", "label", "kind", "text"}, r["document"]
                assert s["label"] == "MISC" and s["kind"] in MISC_KINDS, r["document"]
                assert end <= s["start"] < s["end"] and s["end"] - s["start"] == len(s["text"]), r["document"]
                assert s["text"].strip() == s["text"], r["document"]
                end = s["end"]


def test_conll_halves_split_by_document_and_the_whole_set_is_balanced(
        halves: dict[str, list[dict]], conll_halves: dict[str, list[dict]]) -> None:
    dev, test = ({r["document"] for r in rows} for rows in conll_halves.values())
    assert not dev & test
    kinds = {name: Counter(s["kind"] for r in conll_halves[name] for s in r["spans"])
             + Counter(s["kind"] for r in halves[name] for s in r["spans"]) for name in HALVES}
    for kind in MISC_KINDS:
        assert abs(kinds["dev"][kind] - kinds["test"][kind]) <= 2, (kind, kinds)
    total = kinds["dev"] + kinds["test"]
    assert sum(total.values()) >= 150 and total["phone"] >= 30, total  # issue 21's size; phones were thin


@pytest.fixture(scope="module")
def train_texts(shared_data: Path) -> list[str]:
    """The texts of eng.train's documents as the CoNLL MISC gold indexes them."""
    path = shared_data / CONLL_FILE
    if not path.is_file():
        shared_missing(f"CoNLL-2003 eng.train not found at {path}")
    return [conll_text(d) for d in read_conll(path)]


@pytest.mark.shared
def test_conll_spans_give_their_text_on_token_boundaries(conll_halves: dict[str, list[dict]],
                                                         train_texts: list[str]) -> None:
    """Each span is its text in the rebuilt document and starts and ends on a CoNLL token and a spaCy token."""
    tokenizer = spacy.blank("en")
    for r in (r for rows in conll_halves.values() for r in rows):
        text = train_texts[r["document"]]
        doc = tokenizer(text)
        for s in r["spans"]:
            assert text[s["start"]:s["end"]] == s["text"], (r["document"], s)
            assert s["start"] == 0 or text[s["start"] - 1] in " \n", (r["document"], s)
            assert s["end"] == len(text) or text[s["end"]] in " \n", (r["document"], s)
            assert doc.char_span(s["start"], s["end"]) is not None, (r["document"], s)


@pytest.mark.shared
@pytest.mark.slow
def test_the_existing_reader_accepts_the_conll_halves(conll_halves: dict[str, list[dict]], shared_data: Path) -> None:
    """read_conll_misc_gold reads the files unchanged (and checks every span's text); it returns every
    document of eng.train, so a consumer keeps only the documents the file lists."""
    for name, path in CONLL_HALVES.items():
        records = read_conll_misc_gold(path, shared_data)
        listed = {r["document"]: r["spans"] for r in conll_halves[name]}
        kept = [rec for rec in records if int(rec["id"].rpartition(":")[2]) in listed]
        assert len(kept) == len(listed) and all(rec["id"].startswith(CONLL_FILE + ":") for rec in kept)
        assert [rec["spans"] for rec in kept] == [listed[d] for d in sorted(listed)]
