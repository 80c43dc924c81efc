"""Scale-out throughput: ``gonerd docs`` documents/s and ``gonerd label`` tokens/s, local vs Ray, in one run.

Three executors on the same inputs, each into a fresh output directory (no resume cache): the local
executor with 1 and with 2 processes, and Ray tasks on a local 2-CPU Ray cluster (loopback only).
Inputs are the pages and texts of ``bench_docs.py`` and ``bench_label.py`` (the shared collection,
else the bundled sample) replicated to ``--docs`` records with perturbations (numbers re-drawn,
paragraphs rotated, a numbered paragraph added), so no two inputs are the same text: web pages
(HTML, extracted by trafilatura) for ``docs``; DOJ releases and article bodies for ``label``. Ray's start-up is timed apart and left out of its rates;
its workers' model loads are not (a local run's processes pay theirs too). The per-core rates feed
the paper estimate of README "Scaling out".

    python bench/bench_ray.py [--docs 2000]       # writes bench/results/bench_ray.json
    python bench/bench_ray.py --limit 60          # a quick check: prints the figures, saves nothing
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_docs import load_pages
from bench_label import texts as label_texts
from common import print_table, save_result

from gonerd.commands.label import run_label
from gonerd.config import LabelConfig, PipelineConfig, SampleConfig
from gonerd.pipeline import run_docs

# Ray's processes must stay on 127.0.0.1 and offline; set before ray.init (../shared/ENVIRONMENT.md).
RAY_ENVIRONMENT = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
                   "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
RUNS = (("local_1", "local", 1), ("local_2", "local", 2), ("ray_2", "ray", 1))


def perturb(text: str, copy: int, rng: random.Random, paragraph: str) -> str:
    """``text`` with every digit re-drawn and, for copies after the first, its paragraphs (``\\n\\n``
    blocks, or HTML ``<p>`` elements) rotated and a numbered paragraph added."""
    text = re.sub(r"\d", lambda _: str(rng.randrange(10)), text) if copy else text
    if not copy:
        return text
    added = paragraph.format(copy=copy)
    if "<p" in text:  # HTML: add one paragraph before the first, leave the markup alone
        return text.replace("<p", added + "<p", 1)
    blocks = text.split("\n\n")
    k = copy % len(blocks)
    return "\n\n".join([added, *blocks[k:], *blocks[:k]])


def page_corpus(n: int, path: Path) -> None:
    """Write ``n`` web-page records (``url`` + inlined ``html``) replicated from ``bench_docs``'s pages."""
    rng = random.Random(0)
    _, pages = load_pages()
    with path.open("w", encoding="utf-8") as fh:
        for k in range(n):
            html, url = pages[k % len(pages)]
            copy = k // len(pages)
            fh.write(json.dumps({"url": f"{url}?copy={copy}", "html": perturb(
                html.decode("utf-8", "replace"), copy, rng,
                "<p>Copy {copy} of this page was archived for the benchmark.</p>")}) + "\n")


def text_corpus(n: int, path: Path) -> None:
    """Write ``n`` documents (``id`` + ``text``) replicated from ``bench_label``'s texts."""
    rng = random.Random(1)
    texts = label_texts()
    with path.open("w", encoding="utf-8") as fh:
        for k in range(n):
            text = perturb(texts[k % len(texts)], k // len(texts), rng, "Copy {copy} was filed in Baltimore.")
            fh.write(json.dumps({"id": f"doc{k}", "text": text}) + "\n")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, result) of ``fn()``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def start_ray(cpus: int) -> float:
    """Start a local Ray cluster of ``cpus`` CPUs on 127.0.0.1; returns the seconds it took."""
    os.environ.update(RAY_ENVIRONMENT)
    import ray

    seconds, _ = timed(lambda: ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                                        object_store_memory=500 * 1024**2))
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    return seconds


def bench_docs(pages: Path, n: int, work: Path) -> dict[str, dict[str, float]]:
    """Seconds and documents/s of ``run_docs`` per executor (sampling off: every kept document stays)."""
    base = PipelineConfig(sample=SampleConfig(domain_shares={}))
    results = {}
    for name, executor, workers in RUNS:
        out = work / f"docs_{name}"
        seconds, report = timed(lambda: run_docs([pages], out, dataclasses.replace(
            base, executor=executor, workers=workers), progress=False))
        results[name] = {"seconds": round(seconds, 2), "docs_per_s": round(n / seconds, 2),
                         "documents_kept": report["n_documents"]}
        print(f"docs {name}: {n} records in {seconds:.1f}s ({n / seconds:.1f}/s)", flush=True)
        if name != "local_1":  # every executor writes the same files
            for f in ("documents.parquet", "exclusions.jsonl", "report.json"):
                assert (out / f).read_bytes() == (work / "docs_local_1" / f).read_bytes(), (name, f)
    return results


def bench_label(texts: Path, work: Path) -> dict[str, dict[str, float]]:
    """Seconds and labeled tokens/s of ``run_label`` per executor."""
    results = {}
    for name, executor, workers in RUNS:
        out = work / f"label_{name}"
        seconds, summary = timed(lambda: run_label(texts, out, LabelConfig(executor=executor, workers=workers),
                                                   progress=False))
        results[name] = {"seconds": round(seconds, 2), "tokens": summary["tokens"],
                         "tokens_per_s": round(summary["tokens"] / seconds, 1)}
        print(f"label {name}: {summary['tokens']} tokens in {seconds:.1f}s "
              f"({summary['tokens'] / seconds:.0f}/s)", flush=True)
        if name != "local_1":
            assert (out / "labeled.parquet").read_bytes() == (work / "label_local_1" / "labeled.parquet").read_bytes()
    return results


def ratios(results: dict[str, dict[str, float]], key: str) -> dict[str, float]:
    """Each executor's rate over the 1-process local rate."""
    return {f"{name}_over_local_1": round(r[key] / results["local_1"][key], 3) for name, r in results.items()
            if name != "local_1"}


def main() -> None:
    """Time ``gonerd docs`` and ``gonerd label`` locally and on Ray in one run; save the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="records per corpus (≥ 2,000 for the record)")
    parser.add_argument("--limit", type=int, help="a quick check on this many records; nothing is saved")
    args = parser.parse_args()
    n = args.limit or args.docs

    work = Path(tempfile.mkdtemp(prefix="bench_ray_"))
    try:
        page_corpus(n, work / "pages.jsonl")
        text_corpus(n, work / "texts.jsonl")
        # one-off imports (datasets, pyarrow, trafilatura, spaCy) stay out of every timing
        page_corpus(8, work / "warm_pages.jsonl")
        text_corpus(8, work / "warm_texts.jsonl")
        run_docs([work / "warm_pages.jsonl"], work / "warm_docs", progress=False)
        run_label(work / "warm_texts.jsonl", work / "warm_label", LabelConfig(), progress=False)
        ray_start = start_ray(2)
        docs = bench_docs(work / "pages.jsonl", n, work)
        label = bench_label(work / "texts.jsonl", work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    figures = {"records": n, "ray_start_seconds": round(ray_start, 2), "docs": docs, "label": label,
               "docs_ratios": ratios(docs, "docs_per_s"), "label_ratios": ratios(label, "tokens_per_s"),
               # one process is one core: the rates the README's 1 TB estimate scales
               "per_core": {"docs_per_s": docs["local_1"]["docs_per_s"],
                            "label_tokens_per_s": label["local_1"]["tokens_per_s"],
                            "label_tokens_per_doc": round(label["local_1"]["tokens"] / n, 1),
                            "kept_share": round(docs["local_1"]["documents_kept"] / n, 4)}}
    print_table(f"{n} records; Ray started in {ray_start:.1f}s (not counted)", [
        (name, f"{docs[name]['docs_per_s']:.1f}", f"{label[name]['tokens_per_s']:.0f}",
         f"{docs[name]['docs_per_s'] / docs['local_1']['docs_per_s']:.2f}",
         f"{label[name]['tokens_per_s'] / label['local_1']['tokens_per_s']:.2f}") for name, _, _ in RUNS],
        ("executor", "docs/s", "label tokens/s", "docs ratio", "label ratio"))
    if args.limit:
        print(json.dumps(figures, indent=2))
        return
    path = save_result("bench_ray", {"what": "local executor, 1 process", "docs_per_s": docs["local_1"]["docs_per_s"],
                                     "label_tokens_per_s": label["local_1"]["tokens_per_s"]},
                       {"what": "Ray tasks, local cluster of 2 CPUs", "docs_per_s": docs["ray_2"]["docs_per_s"],
                        "label_tokens_per_s": label["ray_2"]["tokens_per_s"]},
                       figures["docs_ratios"]["ray_2_over_local_1"],
                       "docs/s speed-up, Ray 2 CPUs over 1 local process (label: label_ratios)",
                       figures)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
