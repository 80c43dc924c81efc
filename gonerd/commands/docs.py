"""``gonerd docs`` (the whole chain) and one subcommand per stage: extract, filter, dedup, sample."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gonerd.commands.options import add_config_arguments, add_executor_arguments, executor_flags
from gonerd.errors import ConfigError


def load_pipeline_config(args: argparse.Namespace, **flags: Any) -> Any:
    """The pipeline config from ``--config``, the command's own ``flags`` and ``--set`` (the last wins)."""
    from gonerd.commands.options import load_command_config
    from gonerd.config import PipelineConfig

    return load_command_config(args, PipelineConfig, **flags)


def _shares(values: list[str]) -> dict[str, float] | None:
    if not values:
        return None
    out = {}
    for v in values:
        domain, sep, share = v.partition("=")
        try:
            out[domain] = float(share)
        except ValueError:
            raise ConfigError(f"--share {v!r}: expected DOMAIN=FRACTION, e.g. justice.gov=0.25") from None
        if not sep:
            raise ConfigError(f"--share {v!r}: expected DOMAIN=FRACTION")
    return out


def add_read_arguments(p: argparse.ArgumentParser) -> None:
    """``--html-root`` and ``--allow-outside-root``: where a manifest's ``html_path`` may point."""
    p.add_argument("--html-root", type=Path,
                   help="directory that html_path entries must stay inside (default: each manifest's directory)")
    p.add_argument("--allow-outside-root", action="store_true", default=None,
                   help="read html_path entries anywhere: absolute paths, '..' and symlinks out of the root")


def _read_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"read.html_root": str(args.html_root) if args.html_root else None,
            "read.allow_outside_root": args.allow_outside_root}


def _cmd_docs(args: argparse.Namespace) -> int:
    from gonerd.pipeline import run_docs

    config = load_pipeline_config(args, **{"workers": args.workers, "sample.n": args.n, "sample.seed": args.seed,
                                           "sample.domain_shares": _shares(args.share), **_read_overrides(args),
                                           **executor_flags(args)})
    report = run_docs(args.inputs, args.out, config, progress=not args.quiet)
    print((Path(args.out) / "report.md").read_text())
    print(f"wrote {report['n_documents']} documents to {Path(args.out) / 'documents.parquet'}")
    return 0


def _write_stage(out: Path, stage: str, n_in: int, docs: list[dict], exclusions: list[dict], extra: dict) -> None:
    """Write one stage's outputs; the caller holds ``out``'s lock."""
    from gonerd.pipeline.io import EXCLUSIONS_FILE, REPORT_FILE, atomic_write, write_documents, write_jsonl

    write_documents(docs, out / "documents.parquet")
    write_jsonl(exclusions, out / EXCLUSIONS_FILE)
    report = {"stage": stage, "in": n_in, "out": len(docs), **extra}
    atomic_write(out / REPORT_FILE, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"{stage}: {n_in} in → {len(docs)} out ({len(exclusions)} excluded, see {out / EXCLUSIONS_FILE})")


def _cmd_extract(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gonerd.pipeline.extract import extract_record
    from gonerd.pipeline.outdir import output_lock
    from gonerd.pipeline.read import check_inputs, read_inputs
    from gonerd.records import DOCUMENT_FIELDS
    from gonerd.text import count_tokens

    config = load_pipeline_config(args, **_read_overrides(args))
    files = check_inputs(args.inputs)
    docs, exclusions, n_in = [], [], 0
    with output_lock(args.out, "gonerd extract") as out:
        for rec in tqdm(read_inputs(files, config.read), desc="extract", unit="rec", disable=args.quiet):
            n_in += 1
            item = rec if "stage" in rec else extract_record(rec, config.extract)
            if "stage" in item:
                exclusions.append(item)
            else:
                docs.append({**{k: item.get(k) for k in DOCUMENT_FIELDS}, "n_tokens": count_tokens(item["text"]),
                             "filters": []})
        _write_stage(out, "extract", n_in, docs, exclusions, {})
    return 0


def _cmd_filter(args: argparse.Namespace) -> int:
    from gonerd.pipeline.filters import build_filters
    from gonerd.pipeline.io import read_documents
    from gonerd.pipeline.outdir import output_lock
    from gonerd.pipeline.run import filter_document

    filters = build_filters(load_pipeline_config(args).filters)
    docs = read_documents(args.documents)
    kept, exclusions = [], []
    with output_lock(args.out, "gonerd filter") as out:
        for doc in docs:
            item = filter_document(doc, filters)
            if "stage" in item:
                exclusions.append(item)
            else:
                kept.append({**item, "filters": list(doc.get("filters") or []) + item["filters"]})
        _write_stage(out, "filter", len(docs), kept, exclusions, {})
    return 0


def _cmd_dedup(args: argparse.Namespace) -> int:
    from gonerd.pipeline.dedup import deduplicate, minhash_signature, new_lsh
    from gonerd.pipeline.io import read_documents
    from gonerd.pipeline.outdir import output_lock

    config = load_pipeline_config(args)
    new_lsh(config.dedup)
    docs = read_documents(args.documents)
    with output_lock(args.out, "gonerd dedup") as out:
        signatures = [minhash_signature(d["text"], config.dedup) for d in docs]
        kept, exclusions, counts = deduplicate(docs, signatures, config.dedup)
        _write_stage(out, "dedup", len(docs), kept, exclusions, {"counts": counts})
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from gonerd.pipeline.io import read_documents
    from gonerd.pipeline.outdir import output_lock
    from gonerd.pipeline.sample import sample_documents

    config = load_pipeline_config(args, **{"sample.n": args.n, "sample.seed": args.seed,
                                           "sample.domain_shares": _shares(args.share)})
    docs = read_documents(args.documents)
    with output_lock(args.out, "gonerd sample") as out:
        kept, exclusions, report = sample_documents(docs, config.sample)
        _write_stage(out, "sample", len(docs), kept, exclusions, {"sample": report})
    return 0


def _sample_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, help="sample size (default: the largest the target shares allow)")
    p.add_argument("--share", action="append", default=[], metavar="DOMAIN=FRACTION",
                   help="target share of a domain, repeatable (default: justice.gov=0.25)")
    p.add_argument("--seed", type=int, help="sampling seed (default 0)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``docs``, ``extract``, ``filter``, ``dedup`` and ``sample``."""
    p = sub.add_parser("docs", help="raw pages → clean, deduplicated, domain-weighted documents (whole chain)",
                       description="Read HTML files/dirs (.html, .html.gz), WARC (.warc, .warc.gz) and JSONL "
                                   "({url, html|html_path|text}), extract, filter, dedup and sample. Writes "
                                   "OUT/documents.parquet, OUT/exclusions.jsonl, OUT/report.{json,md} and OUT/run.json "
                                   "(workers, times, shards reused). Resumable: re-run the same command after an "
                                   "interruption. One run per OUT at a time.")
    p.add_argument("inputs", nargs="+", help="input files or directories")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--workers", type=int, help="worker processes for extraction and filtering (default 1)")
    add_executor_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _sample_arguments(p)
    add_read_arguments(p)
    add_config_arguments(p, "pipeline settings")
    p.set_defaults(func=_cmd_docs)

    p = sub.add_parser("extract", help="stage: read inputs and extract main text + metadata")
    p.add_argument("inputs", nargs="+", help="input files or directories")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_read_arguments(p)
    add_config_arguments(p, "pipeline settings")
    p.set_defaults(func=_cmd_extract)

    for name, func, text in (("filter", _cmd_filter, "stage: language, length, code and noise filters"),
                             ("dedup", _cmd_dedup, "stage: exact and MinHash near-duplicate removal"),
                             ("sample", _cmd_sample, "stage: seeded domain-weighted sample")):
        p = sub.add_parser(name, help=text)
        p.add_argument("documents", type=Path, help="documents parquet or a stage's output directory")
        p.add_argument("--out", required=True, type=Path)
        if name == "sample":
            _sample_arguments(p)
        add_config_arguments(p, "pipeline settings")
        p.set_defaults(func=func)
