"""Record contracts shared by the packages: document ids, domains, exclusion entries, labeled documents.

Records are plain dicts; the field lists here are the contract (see README, "Record contracts").
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from tld import get_fld

DOCUMENT_FIELDS = ("id", "url", "domain", "source", "fetched_at", "title", "author", "date",
                   "text", "n_tokens", "filters")
EXCLUSION_FIELDS = ("id", "url", "source", "stage", "filter", "reason", "value")
# A labeled document (``gonerd label``) is a document plus these fields:
# ``tokens`` its words (spaCy tokens, never whitespace-only), ``whitespace`` the text following each
# word (``"\n\n"`` where a paragraph ends), so that ``text`` is its leading whitespace followed by
# ``"".join(token + whitespace)``; ``ner_tags`` strict IOB2 over ``tokens``; ``spans``
# ``{start, end, label}`` character offsets into ``text`` on word boundaries; ``label_source``
# (``spacy:…+rules:misc@4``, ``human:<annotator>``, ``model:<path>``); ``sentence_starts`` word
# indices, or null.
LABELED_FIELDS = ("tokens", "whitespace", "ner_tags", "spans", "label_source", "sentence_starts")


def document_id(url: str | None, content: str | bytes) -> str:
    """Stable 16-hex id: a hash of the URL when known, else of the content."""
    key = url.strip() if url else content
    data = key.encode("utf-8", "surrogatepass") if isinstance(key, str) else key
    return hashlib.sha1(data).hexdigest()[:16]


def registrable_domain(url: str | None) -> str | None:
    """Registrable domain of ``url`` by the public suffix list bundled with ``tld`` (no network).

    ``https://www.bbc.co.uk/news`` → ``bbc.co.uk``. Hosts that are not under a public suffix
    (``localhost``, IP addresses) are returned as they are; ``None`` when ``url`` has no host
    (e.g. the ``hard::name`` ids of some benchmark pages).
    """
    if not url:
        return None
    host = (urlsplit(url if "//" in url else "//" + url).hostname or "").lower()
    if "." not in host and host != "localhost":
        return None
    return get_fld(host, fix_protocol=True, fail_silently=True) or host


def exclusion(record: dict[str, Any], stage: str, filter_name: str, reason: str, value: Any = None) -> dict[str, Any]:
    """An exclusion-log entry for a record dropped at ``stage`` by ``filter_name``."""
    return {"id": record.get("id"), "url": record.get("url"), "source": record.get("source"),
            "stage": stage, "filter": filter_name, "reason": reason, "value": value}
