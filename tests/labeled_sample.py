"""Real labeled documents for the dataset/stats/card/push tests: the bundled sample, pre-labeled.

Texts are the 25 bundled DOJ releases and the 40 gold article bodies of the bundled web pages
(real text, real URLs and domains), pre-labeled by :func:`gonerd.label.label_documents`. Built once
per test session because labeling costs a few seconds.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from gonerd.records import document_id, registrable_domain

SAMPLE = Path(__file__).resolve().parents[1] / "gonerd" / "sample"


def sample_documents() -> list[dict[str, Any]]:
    """Document records (contract fields) of the bundled DOJ releases and aeb article bodies."""
    docs = []
    for line in (SAMPLE / "doj_releases.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        docs.append({"id": document_id(None, r["text"]), "url": None, "domain": r["domain"], "text": r["text"]})
    for line in (SAMPLE / "pages.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["source"] == "aeb":
            docs.append({"id": document_id(r["url"], r["gold_text"]), "url": r["url"],
                         "domain": registrable_domain(r["url"]), "text": r["gold_text"]})
    return docs


@functools.lru_cache(maxsize=1)
def _labeled() -> tuple[dict[str, Any], ...]:
    from gonerd.label import label_documents

    return tuple(label_documents(sample_documents(), progress=False))


def labeled_sample() -> list[dict[str, Any]]:
    """The labeled sample documents (fresh dict copies, safe to modify)."""
    return [dict(r) for r in _labeled()]
