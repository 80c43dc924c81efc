"""``gonerd docs``: read → extract → filter → dedup → sample → write, resumable and deterministic.

Inputs are cut into shards of ``shard_size`` records in a fixed order. Extraction, filtering and
MinHash signatures are computed per shard by an executor (this process, ``workers`` local
processes, or Ray tasks on a cluster: ``executor``) and cached by this process under
``OUT/.work/<cache key>/shard-<index>-<content key>.pkl`` (see :mod:`gonerd.pipeline.cache`); a
re-run after an interruption, on any executor, reuses finished shards. Near-duplicate candidates
are grouped by the same executor; cluster resolution and sampling need every document and run in
this process. Outputs are written atomically, under a lock on ``OUT`` held for the whole run. Run
metadata that depends on how the run was made (executor, workers, times, shards reused) goes to
``run.json``, so every other output is byte-identical for any executor and number of workers.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import time
from collections import Counter, deque
from collections.abc import Iterator
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gonerd import __version__
from gonerd.config import RUN_SETTINGS, PipelineConfig
from gonerd.pipeline.cache import cache_key, shard_key
from gonerd.pipeline.dedup import deduplicate, minhash_signature, new_lsh
from gonerd.pipeline.executor import Executor, make_executor
from gonerd.pipeline.extract import extract_record
from gonerd.pipeline.filters import Filter, build_filters, language_score
from gonerd.pipeline.io import (DOCUMENTS_FILE, EXCLUSIONS_FILE, REPORT_FILE, REPORT_MD_FILE, RUN_FILE,
                                atomic_write, write_documents, write_jsonl)
from gonerd.pipeline.outdir import make_directory, output_lock
from gonerd.pipeline.read import check_inputs, read_inputs
from gonerd.pipeline.report import render_report
from gonerd.pipeline.sample import sample_documents
from gonerd.records import DOCUMENT_FIELDS, exclusion
from gonerd.text import count_tokens


def filter_document(doc: dict[str, Any], filters: list[Filter]) -> dict[str, Any]:
    """The document with ``n_tokens`` and ``filters`` set, or the exclusion of its first failed filter."""
    n_tokens = count_tokens(doc["text"])
    passed = []
    for f in filters:
        verdict = f.check(doc["text"], n_tokens)
        if not verdict.passed:
            return exclusion(doc, f"filter:{f.name}", f.name, verdict.reason, verdict.value)
        passed.append(f.name)
    return {**{k: doc.get(k) for k in DOCUMENT_FIELDS}, "n_tokens": n_tokens, "filters": passed}


def process_records(records: list[dict[str, Any]], config: PipelineConfig) -> list[dict[str, Any]]:
    """Extract and filter a batch of read records; documents gain a ``_signature`` for dedup.

    Read-stage exclusions pass through, so the output keeps the input's order.
    """
    out = []
    filters = build_filters(config.filters)
    for rec in records:
        item = rec if "stage" in rec else extract_record(rec, config.extract)
        if "stage" not in item:
            item = filter_document(item, filters)
        if "stage" not in item:
            item["_signature"] = minhash_signature(item["text"], config.dedup)
        out.append(item)
    return out


def _process_shard(records: list[dict[str, Any]] | None, config: PipelineConfig) -> list[dict[str, Any]] | None:
    """:func:`process_records` of a shard to compute; ``None`` (a shard the cache holds) passes through."""
    return None if records is None else process_records(records, config)


def _shards(files: list[Path], config: PipelineConfig) -> Iterator[list[dict[str, Any]]]:
    records = read_inputs(files, config.read)
    while batch := list(islice(records, config.shard_size)):
        yield batch


def _tasks(files: list[Path], work: Path, config: PipelineConfig, used: dict[Path, bool]
           ) -> Iterator[tuple[Path, list | None]]:
    """(cache file, records to compute or ``None`` to reuse) per shard; ``used`` maps each file to
    whether it was reused."""
    for k, batch in enumerate(_shards(files, config)):
        path = work / f"shard-{k:06d}-{shard_key(batch)}.pkl"
        used[path] = path.exists()
        yield path, None if used[path] else batch


def _shard_results(executor: Executor, files: list[Path], work: Path, config: PipelineConfig,
                   used: dict[Path, bool]) -> Iterator[list[dict[str, Any]]]:
    """Each shard's processed records, in order: computed by ``executor``, or read from the cache.

    Only this process touches the cache, so workers on other machines need no shared disk.
    """
    paths: deque[Path] = deque()

    def batches() -> Iterator[list[dict[str, Any]] | None]:
        for path, batch in _tasks(files, work, config, used):
            paths.append(path)
            yield batch

    for result in executor.map(partial(_process_shard, config=config), batches()):
        path = paths.popleft()  # the executor keeps input order, so this is the result's shard
        if result is None:
            result = pickle.loads(path.read_bytes())
        else:
            atomic_write(path, pickle.dumps(result, protocol=5))
        yield result


def _prune(work: Path, used: dict[Path, bool]) -> None:
    """Remove cached shards of this configuration that the finished run no longer uses (old inputs)."""
    for stale in set(work.glob("shard-*.pkl")) - set(used):
        stale.unlink(missing_ok=True)


def run_docs(inputs: list[str | Path], out_dir: str | Path, config: PipelineConfig | None = None,
             executor: Executor | None = None, progress: bool = True) -> dict[str, Any]:
    """Run the whole document pipeline; returns the run report (also written to ``out_dir``).

    Writes ``documents.parquet``, ``exclusions.jsonl`` (one entry per dropped record),
    ``report.json`` and ``report.md``. Raises :class:`gonerd.errors.InputError` for a missing input
    before doing any work.
    """
    config = config or PipelineConfig()
    files = check_inputs(list(inputs))
    new_lsh(config.dedup)  # a threshold the index cannot take fails now, not after extraction
    with output_lock(out_dir, "gonerd docs") as out:
        return _run_locked(files, out, config, executor, progress)


def _run_locked(files: list[Path], out: Path, config: PipelineConfig, executor: Executor | None,
                progress: bool) -> dict[str, Any]:
    started = time.time()
    work = out / ".work" / cache_key(config)
    make_directory(work)
    if executor is None:
        if config.executor == "local":
            # Load the language model before worker processes fork, so they share it instead of
            # each loading its own.
            language_score("warm-up", config.filters.language)
        executor = make_executor(config.executor, config.workers, config.ray_address)

    docs: list[dict[str, Any]] = []
    exclusions: list[dict[str, Any]] = []
    used: dict[Path, bool] = {}
    with tqdm(desc="extract+filter", unit="rec", disable=not progress) as bar:
        for items in _shard_results(executor, files, work, config, used):
            bar.update(len(items))
            for item in items:
                (exclusions if "stage" in item else docs).append(item)

    n_records = len(docs) + len(exclusions)
    dropped_at = Counter(e["stage"] for e in exclusions)
    counts: dict[str, int] = {}
    left = n_records
    for stage in ["read", "extract", *(f"filter:{f.name}" for f in build_filters(config.filters))]:
        left -= dropped_at[stage]
        counts[stage] = left

    signatures = [d.pop("_signature") for d in docs]
    docs, dropped, dedup_counts = deduplicate(docs, signatures, config.dedup, executor)
    exclusions += dropped
    counts.update(dedup_counts)
    docs, dropped, sample_report = sample_documents(docs, config.sample)
    exclusions += dropped
    counts["sample"] = len(docs)

    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in RUN_SETTINGS}
    report = {
        "inputs": [str(f) for f in files], "n_input_files": len(files), "config": settings,
        "stages": [{"stage": s, "in": prev, "out": n}
                   for (s, n), prev in zip(counts.items(), [n_records, *counts.values()])],
        "exclusions_by_filter": _count_by(exclusions, "filter"), "sample": sample_report,
        "domains": _count_by(docs, "domain"),
        "n_documents": len(docs), "n_tokens": sum(d["n_tokens"] for d in docs),
    }
    write_documents(docs, out / DOCUMENTS_FILE)
    write_jsonl(exclusions, out / EXCLUSIONS_FILE)
    atomic_write(out / REPORT_FILE, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    atomic_write(out / REPORT_MD_FILE, render_report(report))
    _prune(work, used)
    run = {"gonerd": __version__, "executor": type(executor).__name__, "workers": config.workers, "cache": str(work.relative_to(out)),
           "shards": len(used), "shards_reused": sum(used.values()),
           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
           "seconds": round(time.time() - started, 1)}
    atomic_write(out / RUN_FILE, json.dumps(run, indent=2) + "\n")
    return report


def _count_by(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    counts = Counter(str(r[key]) if r.get(key) is not None else "(none)" for r in rows)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
