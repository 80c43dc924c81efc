"""Extraction: our metadata subset agrees with trafilatura's full metadata; records get text and ids."""

import trafilatura
from trafilatura.utils import load_html

from gonerd.config import ExtractConfig
from gonerd.pipeline.extract import extract_html, extract_record, page_metadata
from gonerd.records import document_id


def test_page_metadata_matches_trafilatura_full_metadata(read_records):
    pages = [r for r in read_records.values() if r.get("html")][:25]
    assert len(pages) == 25
    found = 0
    for rec in pages:
        full = trafilatura.bare_extraction(rec["html"], url=rec["url"], with_metadata=True, favor_recall=True,
                                           include_comments=False,
                                           date_extraction_params={"extensive_search": False, "original_date": True})
        ours = page_metadata(load_html(rec["html"]), rec["url"])
        assert (ours["title"], ours["author"], ours["date"], ours["url"]) == (full.title, full.author, full.date,
                                                                               full.url), rec["id"]
        found += bool(ours["title"]) + bool(ours["date"])
    assert found >= 45  # real news pages: titles and dates are there to be found


def test_extract_html_text_equals_trafilatura_with_same_settings(read_records):
    rec = next(r for r in read_records.values() if r.get("html"))
    config = ExtractConfig()
    ours = extract_html(rec["html"], rec["url"], config)
    bare = trafilatura.extract(rec["html"], url=rec["url"], favor_recall=config.favor_recall,
                               include_comments=config.include_comments)
    assert ours["text"] == bare and len(ours["text"]) > 500


def test_page_without_url_is_keyed_by_its_canonical_url(read_records):
    rec = next(r for r in read_records.values() if r.get("html") and r["url"])
    anonymous = {**rec, "url": None, "id": document_id(None, rec["html"])}
    doc = extract_record(anonymous, ExtractConfig())
    assert doc["url"] and doc["id"] == document_id(doc["url"], b"") and doc["domain"]


def test_page_without_main_text_is_an_exclusion():
    rec = {"id": "x", "url": None, "source": "nav.html",
           "html": "<html><head><title>Gallery</title></head><body><img src='a.jpg'><script>var x = 1;</script>"
                   "</body></html>"}
    out = extract_record(rec, ExtractConfig())
    assert out["stage"] == "extract" and out["filter"] == "main-text" and "nav.html" in out["reason"]
