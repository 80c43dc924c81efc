"""Regenerate the bundled sample (gonerd/sample/) from ../shared/data. Run once by maintainers.

Picks a fixed, seeded set of real pages (plus the known real near-duplicate pairs) and DOJ
releases, gzip-compresses the HTML and writes a manifest with the gold needed by eval-extract.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parents[1] / "gonerd" / "sample"

# Real near-duplicates the source benchmarks missed; kept so dedup has real work to do.
ALWAYS = {"readability:medicalnewstoday", "trafilatura:medicalnewstoday.com.318674.html",
          "trafilatura:womencantalksports.com-top10.html", "trafilatura:womencantalksports.com.top10.html",
          # pages rich in code / markup-like text, for the code and noise filters
          "readability:mercurial", "readability:ietf-1", "trafilatura:anarc.at.cdpath.html"}
N_PER_SOURCE = {"aeb": 40, "readability": 6, "trafilatura": 8}
N_DOJ = 25


def gold_for(entry: dict, web: Path) -> dict:
    """The gold of one manifest entry, inlined (text for aeb/readability, snippets for trafilatura)."""
    path, _, key = entry["gold"].partition("#")
    if entry["gold_kind"] == "article_body_text":
        truth = json.loads((web / path).read_text())
        return {"gold_text": truth[key.split(".")[0]]["articleBody"]}
    if entry["gold_kind"] == "extracted_article_html":
        return {"gold_html": (web / path).read_text(encoding="utf-8")}
    snippets = json.loads((web / path).read_text())[key]
    return {"gold_with": snippets.get("with", []), "gold_without": snippets.get("without", [])}


def main() -> None:
    """Write the seeded choice of pages and DOJ releases, and the manifest of their gold, into ``gonerd/sample/``."""
    web = SHARED / "webpages"
    entries = [json.loads(line) for line in (web / "manifest.jsonl").open()]
    rng = random.Random(2023)
    chosen = [e for e in entries if e["id"] in ALWAYS]
    for source, n in N_PER_SOURCE.items():
        pool = sorted((e for e in entries if e["source"] == source and e["id"] not in ALWAYS), key=lambda e: e["id"])
        chosen += rng.sample(pool, n - sum(e["source"] == source for e in chosen))
    if OUT.exists():
        shutil.rmtree(OUT / "html", ignore_errors=True)
    (OUT / "html").mkdir(parents=True, exist_ok=True)
    manifest = []
    for e in sorted(chosen, key=lambda e: e["id"]):
        raw = (web / e["html"]).read_bytes()
        if e.get("html_compression") == "gzip":
            raw = gzip.decompress(raw)
        name = e["id"].replace(":", "__").replace("/", "_").removesuffix(".html") + ".html.gz"
        (OUT / "html" / name).write_bytes(gzip.compress(raw, mtime=0))
        manifest.append({"id": e["id"], "source": e["source"], "url": e["url"], "html_path": f"html/{name}",
                         "gold_kind": e["gold_kind"], **gold_for(e, web)})
    with (OUT / "pages.jsonl").open("w") as fh:
        for m in manifest:
            fh.write(json.dumps(m, ensure_ascii=False) + "\n")
    releases = [json.loads(line) for line in (SHARED / "doj_press_releases" / "releases_reassembled.jsonl").open()]
    picked = sorted(rng.sample(releases, N_DOJ), key=lambda r: r["unique_id"])
    with (OUT / "doj_releases.jsonl").open("w") as fh:
        for r in picked:
            # No URLs exist upstream: the domain is stated, not guessed from a made-up URL.
            fh.write(json.dumps({"url": None, "domain": "justice.gov", "source_id": r["unique_id"],
                                 "date": r["press_release_date"], "text": r["text"]}, ensure_ascii=False) + "\n")
    print(f"{len(manifest)} pages, {len(picked)} releases → {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
