"""Record helpers: registrable domains, stable document ids, exclusion entries."""

from __future__ import annotations

import json

import pytest

from gonerd.records import EXCLUSION_FIELDS, document_id, exclusion, registrable_domain
from tests.conftest import PAGES


@pytest.mark.parametrize("url,domain", [
    ("https://www.bbc.co.uk/news/uk-50000000", "bbc.co.uk"),
    ("https://news.bbc.co.uk/", "bbc.co.uk"),
    ("https://www.justice.gov/usao-wdar/pr/two-sentenced", "justice.gov"),
    ("https://usao.justice.gov/", "justice.gov"),
    ("http://WWW.Womencantalksports.COM/top-10-women-talking-sports/", "womencantalksports.com"),
    ("https://user:pw@shop.example.com.au:8443/x?y=1", "example.com.au"),
    ("www.theguardian.com/world", "theguardian.com"),
    ("http://127.0.0.1:8000/page", "127.0.0.1"),
    ("http://localhost/page", "localhost"),
    ("hard::some-benchmark-page", None),
    ("", None),
    (None, None),
])
def test_registrable_domain(url, domain):
    assert registrable_domain(url) == domain


def test_registrable_domain_of_every_bundled_page():
    urls = [json.loads(line)["url"] for line in PAGES.read_text(encoding="utf-8").splitlines()]
    domains = [registrable_domain(u) for u in urls if u]
    assert len(domains) == 51 and all(d and "." in d and not d.startswith("www.") for d in domains)


def test_document_id_stable():
    url = "https://www.justice.gov/usao-wdar/pr/two-sentenced"
    assert document_id(url, "text a") == document_id(f"  {url}\n", "text b")  # the URL decides
    assert document_id(None, "text a") == document_id(None, b"text a") != document_id(None, "text b")
    assert len(document_id(url, "x")) == 16
    assert document_id(url, "x") != document_id(url + "/", "x")
    assert all(c in "0123456789abcdef" for c in document_id(None, "é"))


def test_document_id_known_value():
    # Ids are the first 16 hex digits of the SHA-1 of the URL: they must not change between versions.
    import hashlib

    assert document_id("https://example.org/", "") == hashlib.sha1(b"https://example.org/").hexdigest()[:16]


def test_exclusion_entry():
    rec = {"id": "a1", "url": "https://x.org/", "source": "f.jsonl:3", "text": "..."}
    entry = exclusion(rec, "filter:length", "length", "12 tokens < 50", 12)
    assert list(entry) == list(EXCLUSION_FIELDS)
    assert entry == {"id": "a1", "url": "https://x.org/", "source": "f.jsonl:3", "stage": "filter:length",
                     "filter": "length", "reason": "12 tokens < 50", "value": 12}
