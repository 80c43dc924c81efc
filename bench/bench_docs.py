"""Throughput of ``gonerd docs`` (extract + filter + dedup, no sampling) vs a bare trafilatura loop.

Same pages, same process. Baselines: bare ``trafilatura.extract`` loops with its defaults, with our
extraction settings, and with our settings plus metadata (title/author/date/url, which every
document record carries: the same extraction work as ours). The overhead target is judged against
that last one; ours is ``run_docs`` with 1 and with 2 worker processes.
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
    """Time ``gonerd docs`` against bare trafilatura in one process and save the ratio under bench/results/."""
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

    def bare_same_work():
        for html, url in pages:
            trafilatura.extract(html, url=url, favor_recall=ext.favor_recall, favor_precision=ext.favor_precision,
                                include_comments=ext.include_comments, include_tables=ext.include_tables,
                                with_metadata=True, date_extraction_params={
                                    "extensive_search": ext.extensive_date_search, "original_date": True})

    def ours(workers: int, method: str = ext.method):
        run_config = dataclasses.replace(config, workers=workers, extract=dataclasses.replace(ext, method=method))

        def run():
            out = work / f"out{workers}{method}"
            shutil.rmtree(out, ignore_errors=True)  # no resume cache: measure the full work
            run_docs([jsonl], out, run_config, executor=LocalExecutor(workers), progress=False)
        return run

    ours(1)()  # first run pays one-off imports (datasets, pyarrow): keep them out of every timing
    t_bare = best_of(bare_default, args.repeat)
    t_bare_same = best_of(bare_same_settings, args.repeat)
    t_bare_work = best_of(bare_same_work, args.repeat)
    t_1 = best_of(ours(1), args.repeat)
    t_2 = best_of(ours(2), args.repeat)
    t_single = best_of(ours(1, "trafilatura"), args.repeat)
    rows = [("bare trafilatura.extract, defaults", f"{n / t_bare:.1f}", f"{t_bare / t_bare_work:.2f}"),
            ("bare trafilatura.extract, our settings, text only", f"{n / t_bare_same:.1f}",
             f"{t_bare_same / t_bare_work:.2f}"),
            ("bare trafilatura.extract, our settings + metadata (baseline)", f"{n / t_bare_work:.1f}", "1.00"),
            (f"gonerd docs, 1 process, extract.method={ext.method} (default)", f"{n / t_1:.1f}",
             f"{t_1 / t_bare_work:.2f}"),
            ("gonerd docs, 1 process, extract.method=trafilatura", f"{n / t_single:.1f}",
             f"{t_single / t_bare_work:.2f}"),
            ("gonerd docs, 2 processes", f"{n / t_2:.1f}", f"{t_2 / t_bare_work:.2f}")]
    print_table(f"Throughput on {n} pages of {manifest} (best of {args.repeat})", rows,
                ("pipeline", "pages/s", "time vs baseline"))
    print(f"\noverhead vs the same extraction work: {t_1 / t_bare_work:.2f}x (target ≤ 1.5x); "
          f"vs bare defaults {t_1 / t_bare:.2f}x; vs our settings without metadata {t_1 / t_bare_same:.2f}x")
    print(f"speed-up 2 processes vs 1: {t_1 / t_2:.2f}x (target ≥ 1.6x)")
    from kd.config import portable_path

    common = {"pages": n, "manifest": portable_path(manifest), "repeat": args.repeat}
    save_result("docs_overhead", {"what": "bare trafilatura.extract loop, our settings + metadata",
                                  "seconds": t_bare_work, "pages_per_s": n / t_bare_work},
                {"what": f"run_docs, 1 process, extract.method={ext.method}", "seconds": t_1,
                 "pages_per_s": n / t_1},
                t_1 / t_bare_work, "time ratio (ours / baseline; lower is better)",
                {**common, "bare_defaults_pages_per_s": n / t_bare, "bare_text_only_pages_per_s": n / t_bare_same,
                 "ratio_vs_bare_defaults": t_1 / t_bare, "ratio_vs_text_only": t_1 / t_bare_same,
                 "method_trafilatura_pages_per_s": n / t_single, "method_trafilatura_ratio": t_single / t_bare_work})
    path = save_result("docs_workers", {"what": "run_docs, 1 process", "seconds": t_1, "pages_per_s": n / t_1},
                       {"what": "run_docs, 2 processes", "seconds": t_2, "pages_per_s": n / t_2},
                       t_1 / t_2, "speed-up (baseline time / ours; higher is better)", common)
    print(f"saved {path.parent}/docs_overhead.json and {path.name}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
