"""Score extraction against gold: bag-of-words P/R/F1 and must-include / must-not snippets.

Gold comes from a manifest in the format of the shared benchmark collection (``gold`` as
``path#key`` references) or of the bundled sample (gold inlined as ``gold_text``, ``gold_html``,
``gold_with``/``gold_without``). Pages with ``article_body_text`` or ``extracted_article_html`` gold
are scored by token overlap; pages with snippet gold by the share of snippets found/absent.

Methods are chosen on a DEV part of the pages and reported on a HELD-OUT part (``test``): per source
benchmark, the page ids in sorted order are shuffled with a fixed seed and the first half held out
(:func:`split_of`), so the split is the same on every machine and for every run.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gonerd.errors import InputError

_WORD = re.compile(r"\w+")
SPLITS = ("dev", "test", "all")
SPLIT_SEED = 0
HELD_OUT_SHARE = 0.5


@dataclass(frozen=True)
class GoldPage:
    """One page to score: its HTML and either a gold text or snippet lists."""

    id: str
    url: str | None
    html: bytes
    gold_text: str | None = None
    with_snippets: tuple[str, ...] = ()
    without_snippets: tuple[str, ...] = ()
    source: str = ""  # the benchmark the page comes from: the split is stratified by it


def _html_to_text(html: str) -> str:
    import lxml.html

    return lxml.html.fromstring(html).text_content() if html.strip() else ""


def _resolve(ref: str, root: Path, cache: dict[Path, Any]) -> Any:
    path, _, key = ref.partition("#")
    file = root / path
    if file.suffix == ".json":
        if file not in cache:
            cache[file] = json.loads(file.read_text(encoding="utf-8"))
        node = cache[file]
        if key in node:  # keys may themselves contain dots (URLs)
            return node[key]
        head, _, field = key.rpartition(".")
        return node[head][field]
    return file.read_text(encoding="utf-8")


def load_gold_pages(manifest: str | Path) -> list[GoldPage]:
    """Pages and gold listed in ``manifest`` (JSONL; paths relative to its folder)."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise InputError("no such manifest", str(manifest))
    root, cache, pages = manifest.parent, {}, []
    for lineno, line in enumerate(manifest.open(encoding="utf-8"), start=1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            html_file = root / (e.get("html_path") or e["html"])
            raw = html_file.read_bytes()
            html = gzip.decompress(raw) if html_file.name.endswith(".gz") else raw
            kind = e["gold_kind"]
            source = e.get("source") or e["id"].partition(":")[0]
            if kind == "with_without_snippets":
                snippets = {"with": e["gold_with"], "without": e["gold_without"]} if "gold_with" in e \
                    else _resolve(e["gold"], root, cache)
                pages.append(GoldPage(e["id"], e.get("url"), html, with_snippets=tuple(snippets.get("with", [])),
                                      without_snippets=tuple(snippets.get("without", [])), source=source))
            else:
                gold = e.get("gold_text") or e.get("gold_html") or _resolve(e["gold"], root, cache)
                text = _html_to_text(gold) if kind == "extracted_article_html" else gold
                pages.append(GoldPage(e["id"], e.get("url"), html, gold_text=text, source=source))
        except (KeyError, OSError, ValueError) as err:
            raise InputError(f"cannot load page or gold ({type(err).__name__}: {err})", str(manifest), line=lineno) from err
    return pages


def split_of(pages: list[GoldPage], seed: int = SPLIT_SEED) -> dict[str, str]:
    """``"dev"`` or ``"test"`` (held out) for every page id: per source, a seeded shuffle of the sorted
    ids, whose first :data:`HELD_OUT_SHARE` is held out."""
    by_source: dict[str, list[str]] = {}
    for page in pages:
        by_source.setdefault(page.source, []).append(page.id)
    parts = {}
    for source, ids in sorted(by_source.items()):
        ids = sorted(ids)
        random.Random(f"{seed}:{source}").shuffle(ids)
        held_out = round(len(ids) * HELD_OUT_SHARE)
        parts.update({pid: "test" if i < held_out else "dev" for i, pid in enumerate(ids)})
    return parts


def select_split(pages: list[GoldPage], split: str) -> list[GoldPage]:
    """The pages of one part (``dev``, ``test``) or all of them (``all``), in manifest order."""
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    parts = split_of(pages)
    return [p for p in pages if split == "all" or parts[p.id] == split]


def bag_of_words(text: str) -> Counter[str]:
    """Lower-cased word counts: the unit of the token-level scores."""
    return Counter(_WORD.findall(text.lower()))


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def score_page(page: GoldPage, extracted: str) -> dict[str, Any]:
    """Token overlap counts (gold-text pages) or snippet hits (snippet pages) for one extraction."""
    if page.gold_text is not None:
        pred, gold = bag_of_words(extracted), bag_of_words(page.gold_text)
        overlap = sum((pred & gold).values())
        n_pred, n_gold = sum(pred.values()), sum(gold.values())
        p = overlap / n_pred if n_pred else 0.0
        r = overlap / n_gold if n_gold else 0.0
        return {"id": page.id, "overlap": overlap, "n_pred": n_pred, "n_gold": n_gold,
                "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
    text = _norm(extracted)
    return {"id": page.id, "with_found": sum(_norm(s) in text for s in page.with_snippets),
            "with_total": len(page.with_snippets),
            "without_absent": sum(_norm(s) not in text for s in page.without_snippets),
            "without_total": len(page.without_snippets)}


def summarize(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """Micro-averaged P/R/F1 over gold-text pages and snippet shares over snippet pages."""
    text = [s for s in scores if "overlap" in s]
    snip = [s for s in scores if "with_total" in s]
    overlap, n_pred, n_gold = (sum(s[k] for s in text) for k in ("overlap", "n_pred", "n_gold"))
    p = overlap / n_pred if n_pred else 0.0
    r = overlap / n_gold if n_gold else 0.0
    w_total = sum(s["with_total"] for s in snip)
    wo_total = sum(s["without_total"] for s in snip)
    return {"pages_text_gold": len(text), "micro_precision": p, "micro_recall": r,
            "micro_f1": 2 * p * r / (p + r) if p + r else 0.0,
            "macro_f1": sum(s["f1"] for s in text) / len(text) if text else 0.0,
            "pages_snippet_gold": len(snip),
            "must_include_found": sum(s["with_found"] for s in snip) / w_total if w_total else 0.0,
            "must_not_absent": sum(s["without_absent"] for s in snip) / wo_total if wo_total else 0.0}


def evaluate(pages: list[GoldPage], extractor: Callable[[bytes, str | None], str | None],
             parts: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``extractor(html, url) -> text`` on every page; summary plus per-page scores. With ``parts``
    (page id -> ``dev``/``test``, see :func:`split_of`) each page score names its part and the summary
    of each part present is added as ``summary_dev`` / ``summary_test``."""
    scores = [score_page(p, extractor(p.html, p.url) or "") for p in pages]
    result: dict[str, Any] = {"summary": summarize(scores)}
    if parts is not None:
        for score in scores:
            score["part"] = parts[score["id"]]
        for part in ("dev", "test"):
            if any(s["part"] == part for s in scores):
                result[f"summary_{part}"] = summarize([s for s in scores if s["part"] == part])
    return {**result, "pages": scores}


def write_result(path: str | Path, manifest: str | Path, results: dict[str, dict[str, Any]],
                 command: str) -> Path:
    """Save an evaluation as JSON: the ``command`` that produced it, the date, the manifest (relative
    to the working directory, so no machine path is recorded) and every system's summary and pages."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": command, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "manifest": Path(os.path.relpath(manifest)).as_posix(), "results": results}
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path
