"""Extraction: main text plus title/author/date of an HTML record, with trafilatura."""

from __future__ import annotations

from typing import Any

import trafilatura

from gonerd.config import ExtractConfig
from gonerd.records import document_id, exclusion, registrable_domain


def extract_html(html: bytes | str, url: str | None, config: ExtractConfig) -> dict[str, Any] | None:
    """Main text and metadata of one page (``None`` when trafilatura finds no main text).

    Returns ``text``, ``title``, ``author``, ``date`` and the page's own canonical ``url`` (if any).
    """
    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, favor_precision=config.favor_precision,
        favor_recall=config.favor_recall, include_comments=config.include_comments,
        include_tables=config.include_tables,
        date_extraction_params={"extensive_search": config.extensive_date_search, "original_date": True},
    )
    if doc is None or not (doc.text or "").strip():
        return None
    return {"text": doc.text, "title": doc.title, "author": doc.author, "date": doc.date, "url": doc.url}


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
