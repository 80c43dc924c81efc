"""The new MISC gold (issue 21): integrity of misc_new_dev/test.jsonl and where their texts come from."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
import spacy
import trafilatura

from gonerd.config import ExtractConfig
from gonerd.label.evaluate import read_misc_gold
from gonerd.pipeline.extract import extract_html
from gonerd.pipeline.read import decode_html
from gonerd.schema import MISC_KINDS

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "gonerd" / "data"
HALVES = {"dev": PACKAGE_DATA / "misc_new_dev.jsonl", "test": PACKAGE_DATA / "misc_new_test.jsonl"}
OLD_GOLD = PACKAGE_DATA / "misc_gold.jsonl"
FIELDS = {"id", "source", "url", "text", "spans"}


def document(record_id: str) -> str:
    """The page or LitBank document a record was cut from: its id without `#line`/`#char`/`@html2txt`."""
    return record_id.split("#")[0].split("@")[0]


@pytest.fixture(scope="module")
def halves() -> dict[str, list[dict]]:
    return {name: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            for name, path in HALVES.items()}


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
    (trafilatura with the project's settings) gives, or characters of trafilatura's whole-page html2txt."""
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
                                else extract_html(html, page["url"], ExtractConfig())["text"])
                assert r["source"] == page["source"] and r["url"] == page["url"], r["id"]
        assert window(sources[key], r) == r["text"], r["id"]
