"""Extraction: main text plus title/author/date of an HTML record, with trafilatura (alone or as the
base of an ensemble, ``extract.method``)."""

from __future__ import annotations

from typing import Any

import trafilatura
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_title, extract_url
from trafilatura.settings import set_date_params
from trafilatura.utils import load_html

from gonerd.config import ExtractConfig
from gonerd.pipeline.ensemble import ensemble_text
from gonerd.records import document_id, exclusion, registrable_domain


def page_metadata(tree: HtmlElement, url: str | None, extensive_date_search: bool = False) -> dict[str, Any]:
    """Title, author, date and canonical URL of a parsed page.

    The part of trafilatura's metadata extraction that the document record needs, in its order of
    precedence (meta tags, then JSON-LD, then the page body). Site name, categories, tags and
    licence are skipped: they cost about a third of its time and no record field holds them.
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:  # single words in author tags are mostly site names
        meta.author = None
    try:
        meta = extract_meta_json(tree, meta)
    except Exception:  # trafilatura's JSON-LD parser raises on malformed markup; meta tags stay
        pass
    meta.title = meta.title or extract_title(tree)
    meta.author = meta.author or extract_author(tree)
    meta.url = meta.url or extract_url(tree, url)
    meta.date = find_date(tree, **{**set_date_params(extensive_date_search), "url": meta.url})
    meta.clean_and_trim()
    return {"title": meta.title, "author": meta.author, "date": meta.date, "url": meta.url}


def extract_html(html: bytes | str, url: str | None, config: ExtractConfig) -> dict[str, Any] | None:
    """Main text and metadata of one page (``None`` when trafilatura finds no main text).

    Returns ``text``, ``title``, ``author``, ``date`` and the page's own canonical ``url`` (if any).
    The page is parsed once; metadata is read before extraction, which works on a copy. With
    ``method = "ensemble"`` the text gets the paragraphs the other extractors agree trafilatura missed
    (:func:`gonerd.pipeline.ensemble.ensemble_text`).
    """
    tree = load_html(html)
    if tree is None:
        return None
    metadata = page_metadata(tree, url, config.extensive_date_search)
    doc = trafilatura.bare_extraction(
        tree, url=url, favor_precision=config.favor_precision, favor_recall=config.favor_recall,
        include_comments=config.include_comments, include_tables=config.include_tables,
    )
    if doc is None or not (doc.text or "").strip():
        return None
    text = ensemble_text(html, doc.text) if config.method == "ensemble" else doc.text
    return {"text": text, **metadata}


def extract_record(record: dict[str, Any], config: ExtractConfig) -> dict[str, Any]:
    """The document for a read record, or an exclusion entry when no text can be had.

    Records that already carry ``text`` (extracted upstream) pass through; HTML records get text and
    missing metadata from :func:`extract_html`. A page without a known URL takes its canonical URL,
    and its id becomes the hash of that URL.
    """
    out = {k: v for k, v in record.items() if k != "html"}
    if record.get("html") is not None:
        try:
            found = extract_html(record["html"], record.get("url"), config)
        except (ValueError, TypeError, RecursionError) as e:  # malformed markup trafilatura/lxml rejects
            return exclusion(record, "extract", "parse", f"{record['source']}: cannot parse HTML ({e})")
        if found is None:
            return exclusion(record, "extract", "main-text", f"{record['source']}: no extractable main text")
        if out.get("url") is None and found["url"]:
            # A page saved without its URL names it itself: key it by that URL, as a crawl would.
            out["id"] = document_id(found["url"], b"")
        for key, value in found.items():
            if out.get(key) is None:
                out[key] = value
        out["text"] = found["text"]
    if not (out.get("text") or "").strip():
        return exclusion(record, "extract", "main-text", f"{record['source']}: empty text", 0)
    out["domain"] = out.get("domain") or registrable_domain(out.get("url"))
    return out
