"""``gonerd eval-extract``: extraction quality of our settings next to bare trafilatura and, with
``--grid``, next to other settings, the other extractors alone and the other ``extract.method``."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
from pathlib import Path
from typing import Any

from gonerd.extract_eval import SPLITS

WEBPAGES_MANIFEST = Path("webpages") / "manifest.jsonl"  # under the data root
SAMPLE_MANIFEST = Path(__file__).resolve().parents[1] / "sample" / "pages.jsonl"

# Settings compared by --grid; the winner on micro F1 is what ExtractConfig defaults to.
GRID = {
    "favor_recall": {"favor_recall": True, "include_comments": True},
    "favor_precision": {"favor_precision": True, "favor_recall": False, "include_comments": True},
    "no_comments": {"favor_recall": False, "include_comments": False},
    "favor_recall+no_comments": {"favor_recall": True, "include_comments": False},
}


def extraction_table(results: dict[str, dict[str, Any]], summary: str = "summary") -> str:
    """Markdown table of one summary (``summary``, ``summary_dev``, ``summary_test``) of several systems."""
    lines = ["| system | micro P | micro R | micro F1 | macro F1 | must-include found | must-not absent |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, res in results.items():
        s = res[summary]
        lines.append(f"| {name} | {s['micro_precision']:.3f} | {s['micro_recall']:.3f} | {s['micro_f1']:.3f} | "
                     f"{s['macro_f1']:.3f} | {s['must_include_found']:.3f} | {s['must_not_absent']:.3f} |")
    return "\n".join(lines)


def _single_extractors() -> dict[str, Any]:
    """The other extractors alone, as ``(html, url) -> text``: what the ensemble votes with, and the
    readability-lxml package its Readability is a fork of."""
    from gonerd.pipeline.ensemble import justext_text, readability_lxml_text, readability_text, resiliparse_text

    return {name: (lambda f: lambda html, url: f(html))(f) for name, f in
            (("Readability (trafilatura's fork)", readability_text), ("readability-lxml", readability_lxml_text),
             ("jusText", justext_text), ("Resiliparse", resiliparse_text))}


def run_eval_extract(manifest: Path, config: Any, grid: bool = False, split: str = "all") -> dict[str, dict[str, Any]]:
    """Evaluate bare ``trafilatura.extract`` defaults, our configured extraction and optional variants
    (``grid``) on the ``split`` part of the pages (``dev``, ``test`` = held out, ``all``: every page, with
    the summary of each part as well)."""
    import trafilatura

    from gonerd.config import EXTRACT_METHODS
    from gonerd.extract_eval import evaluate, load_gold_pages, select_split, split_of
    from gonerd.pipeline.extract import extract_html

    every = load_gold_pages(manifest)
    parts, pages = split_of(every), select_split(every, split)

    def ours(cfg: Any):
        return lambda html, url: (extract_html(html, url, cfg) or {}).get("text")

    systems = {"trafilatura.extract (defaults)": lambda html, url: trafilatura.extract(html, url=url),
               f"gonerd ({_describe(config)})": ours(config)}
    if grid:
        for name, changes in GRID.items():
            systems[f"gonerd {name}"] = ours(dataclasses.replace(config, **{**dataclasses.asdict(type(config)()),
                                                                             **changes}))
        for method in EXTRACT_METHODS:
            if method != config.method:
                systems[f"gonerd method={method}"] = ours(dataclasses.replace(config, method=method))
        systems.update(_single_extractors())
    return {name: evaluate(pages, extractor, parts) for name, extractor in systems.items()}


def _describe(config: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items())


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run, paths relative to the working directory."""
    words = ["gonerd", "eval-extract"]
    for flag, value in (("--pages", args.pages), ("--out", args.out), ("--config", args.config)):
        if value is not None:
            words += [flag, os.path.relpath(value)]
    words += ["--grid"] * args.grid + ["--split", args.split] * (args.split != "all")
    words += [w for item in args.overrides for w in ("--set", item)]
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
    results = run_eval_extract(Path(manifest), load_pipeline_config(args).extract, grid=args.grid, split=args.split)
    print(f"Extraction quality on {manifest} ({args.split} pages)\n")
    print(extraction_table(results))
    for part, title in (("dev", "DEV part"), ("test", "HELD-OUT part")):
        if args.split == "all" and all(f"summary_{part}" in r for r in results.values()):
            print(f"\n{title}\n\n{extraction_table(results, f'summary_{part}')}")
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
    p.add_argument("--grid", action="store_true", help="also score the alternative settings of the README table, "
                   "the other extract.method and the extractors the ensemble votes with, alone")
    p.add_argument("--split", choices=SPLITS, default="all",
                   help="pages to score: the DEV part methods are chosen on, the held-out part (test), or all "
                        "(then each part is reported too); the split is fixed: per source, seeded (default: all)")
    add_config_arguments(p, "pipeline settings (the [extract] section is used)")
    p.set_defaults(func=_cmd)
