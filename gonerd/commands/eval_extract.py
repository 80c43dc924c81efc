"""``gonerd eval-extract``: extraction quality of our settings next to bare trafilatura."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
from pathlib import Path
from typing import Any

WEBPAGES_MANIFEST = Path("webpages") / "manifest.jsonl"  # under the data root
SAMPLE_MANIFEST = Path(__file__).resolve().parents[1] / "sample" / "pages.jsonl"

# Settings compared by --grid; the winner on micro F1 is what ExtractConfig defaults to.
GRID = {
    "favor_recall": {"favor_recall": True, "include_comments": True},
    "favor_precision": {"favor_precision": True, "favor_recall": False, "include_comments": True},
    "no_comments": {"favor_recall": False, "include_comments": False},
    "favor_recall+no_comments": {"favor_recall": True, "include_comments": False},
}


def extraction_table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table of the summaries of several systems."""
    lines = ["| system | micro P | micro R | micro F1 | macro F1 | must-include found | must-not absent |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, res in results.items():
        s = res["summary"]
        lines.append(f"| {name} | {s['micro_precision']:.3f} | {s['micro_recall']:.3f} | {s['micro_f1']:.3f} | "
                     f"{s['macro_f1']:.3f} | {s['must_include_found']:.3f} | {s['must_not_absent']:.3f} |")
    return "\n".join(lines)


def run_eval_extract(manifest: Path, config: Any, grid: bool = False) -> dict[str, dict[str, Any]]:
    """Evaluate bare ``trafilatura.extract`` defaults, our configured extraction and optional variants."""
    import trafilatura

    from gonerd.extract_eval import evaluate, load_gold_pages
    from gonerd.pipeline.extract import extract_html

    pages = load_gold_pages(manifest)

    def ours(cfg: Any):
        return lambda html, url: (extract_html(html, url, cfg) or {}).get("text")

    results = {"trafilatura.extract (defaults)": evaluate(pages, lambda html, url: trafilatura.extract(html, url=url)),
               f"gonerd ({_describe(config)})": evaluate(pages, ours(config))}
    if grid:
        for name, changes in GRID.items():
            cfg = dataclasses.replace(config, **{**dataclasses.asdict(type(config)()), **changes})
            results[f"gonerd {name}"] = evaluate(pages, ours(cfg))
    return results


def _describe(config: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items())


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run, paths relative to the working directory."""
    words = ["gonerd", "eval-extract"]
    for flag, value in (("--pages", args.pages), ("--out", args.out), ("--config", args.config)):
        if value is not None:
            words += [flag, os.path.relpath(value)]
    words += ["--grid"] * args.grid + [w for item in args.overrides for w in ("--set", item)]
    return " ".join(map(shlex.quote, words))


def _cmd(args: argparse.Namespace) -> int:
    from gonerd.commands.docs import load_pipeline_config
    from gonerd.errors import InputError
    from gonerd.extract_eval import write_result
    from gonerd.pipeline.outdir import check_output_file

    from gonerd.config import data_root

    shared = data_root() / WEBPAGES_MANIFEST
    manifest = args.pages or (shared if shared.is_file() else SAMPLE_MANIFEST)
    if not Path(manifest).is_file():
        raise InputError("no such manifest", str(manifest))
    if args.out:
        check_output_file(args.out)  # before the evaluation, not after it
    results = run_eval_extract(Path(manifest), load_pipeline_config(args).extract, grid=args.grid)
    print(f"Extraction quality on {manifest}\n")
    print(extraction_table(results))
    if args.out:
        write_result(args.out, manifest, results, _command_line(args))
        print(f"\nper-page scores in {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``eval-extract``."""
    from gonerd.commands.options import add_config_arguments

    p = sub.add_parser("eval-extract", help="score extraction against gold pages, next to bare trafilatura",
                       description="Token-level P/R/F1 (bags of lower-cased words) on pages with gold text, and "
                                   "must-include / must-not snippet shares on pages with snippet gold. Default "
                                   "pages: the shared benchmark manifest if present, else the bundled sample.")
    p.add_argument("--pages", type=Path, help="manifest JSONL of pages with gold")
    p.add_argument("--out", type=Path, help="write summaries and per-page scores as JSON")
    p.add_argument("--grid", action="store_true", help="also score the alternative settings of the README table")
    add_config_arguments(p, "pipeline settings (the [extract] section is used)")
    p.set_defaults(func=_cmd)
