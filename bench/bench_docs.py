"""Throughput of ``gonerd docs`` (extract + filter + dedup, no sampling) vs a bare trafilatura loop.

Same pages, same process: a bare ``trafilatura.extract`` loop (its defaults, and with our
extraction settings) is the baseline; ours is ``run_docs`` with 1 and with 2 worker processes.
Pages: the shared benchmark collection when present, else the bundled sample.

    python bench/bench_docs.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import shutil
import tempfile
from pathlib import Path

from common import SHARED_DATA, best_of, print_table, save_result

from gonerd.config import PipelineConfig, SampleConfig
from gonerd.pipeline import run_docs
from gonerd.pipeline.executor import LocalExecutor

SAMPLE = Path(__file__).resolve().parents[1] / "gonerd" / "sample" / "pages.jsonl"


def load_pages() -> tuple[Path, list[tuple[bytes, str | None]]]:
    """The manifest used and its pages as (html bytes, url)."""
    manifest = SHARED_DATA / "webpages" / "manifest.jsonl"
    if not manifest.is_file():
        print(f"{manifest} not found: using the bundled sample")
        manifest = SAMPLE
    pages = []
    for line in manifest.open():
        e = json.loads(line)
        f = manifest.parent / (e.get("html_path") or e["html"])
        raw = f.read_bytes()
        pages.append((gzip.decompress(raw) if f.name.endswith(".gz") else raw, e.get("url")))
    return manifest, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import trafilatura

    manifest, pages = load_pages()
    work = Path(tempfile.mkdtemp(prefix="bench_docs_"))
    jsonl = work / "pages.jsonl"
    with jsonl.open("w") as fh:  # one input file with the pages inlined, as a crawler export would be
        for html, url in pages:
            fh.write(json.dumps({"url": url, "html": html.decode("utf-8", "replace")}) + "\n")
    n = len(pages)
    # Sampling is off (no target shares, keep all): the comparison is extract+filter+dedup.
    config = PipelineConfig(sample=SampleConfig(domain_shares={}))
    ext = config.extract

    def bare_default():
        for html, url in pages:
            trafilatura.extract(html, url=url)

    def bare_same_settings():
        for html, url in pages:
            trafilatura.extract(html, url=url, favor_recall=ext.favor_recall, favor_precision=ext.favor_precision,
                                include_comments=ext.include_comments, include_tables=ext.include_tables)

    def ours(workers: int):
        def run():
            out = work / f"out{workers}"
            shutil.rmtree(out, ignore_errors=True)  # no resume cache: measure the full work
            run_docs([jsonl], out, dataclasses.replace(config, workers=workers), executor=LocalExecutor(workers),
                     progress=False)
        return run

    t_bare = best_of(bare_default, args.repeat)
    t_bare_same = best_of(bare_same_settings, args.repeat)
    t_1 = best_of(ours(1), args.repeat)
    t_2 = best_of(ours(2), args.repeat)
    rows = [("bare trafilatura.extract, defaults", f"{n / t_bare:.1f}", "1.00"),
            ("bare trafilatura.extract, our settings", f"{n / t_bare_same:.1f}", f"{t_bare_same / t_bare:.2f}"),
            ("gonerd docs, 1 process", f"{n / t_1:.1f}", f"{t_1 / t_bare:.2f}"),
            ("gonerd docs, 2 processes", f"{n / t_2:.1f}", f"{t_2 / t_bare:.2f}")]
    print_table(f"Throughput on {n} pages of {manifest} (best of {args.repeat})", rows,
                ("pipeline", "pages/s", "time vs bare defaults"))
    print(f"\noverhead vs bare loop with the same settings: {t_1 / t_bare_same:.2f}x (target ≤ 1.25x)")
    print(f"speed-up 2 processes vs 1: {t_1 / t_2:.2f}x (target ≥ 1.6x)")
    common = {"pages": n, "manifest": str(manifest), "repeat": args.repeat}
    save_result("docs_overhead", {"what": "bare trafilatura.extract loop, same settings", "seconds": t_bare_same,
                                  "pages_per_s": n / t_bare_same},
                {"what": "run_docs, 1 process", "seconds": t_1, "pages_per_s": n / t_1},
                t_1 / t_bare_same, "time ratio (ours / baseline; lower is better)",
                {**common, "bare_defaults_pages_per_s": n / t_bare})
    path = save_result("docs_workers", {"what": "run_docs, 1 process", "seconds": t_1, "pages_per_s": n / t_1},
                       {"what": "run_docs, 2 processes", "seconds": t_2, "pages_per_s": n / t_2},
                       t_1 / t_2, "speed-up (baseline time / ours; higher is better)", common)
    print(f"saved {path.parent}/docs_overhead.json and {path.name}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
