"""``gonerd stats``: Tables 1, 9, 10 and Figure 1 for a gonerd dataset directory or CoNLL files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gonerd.errors import InputError


def corpora_for(paths: list[Path], conll: list[Path], name: str | None) -> list[Any]:
    """The subject corpus (a dataset directory, or CoNLL files) followed by an optional CoNLL comparison."""
    from gonerd.stats import corpus_from_conll, corpus_from_dataset

    if len(paths) == 1 and paths[0].is_dir():
        corpora = [corpus_from_dataset(paths[0], name or "GONERD")]
    else:
        for p in paths:
            if not p.is_file():
                raise InputError("expected one dataset directory or CoNLL files", str(p))
        corpora = [corpus_from_conll(paths, name or "CoNLL-2003")]
    if conll:
        corpora.append(corpus_from_conll(conll, "CoNLL-2003"))
    return corpora


def _cmd(args: argparse.Namespace) -> int:
    from gonerd.stats import write_stats

    paths = [Path(p) for p in args.paths]
    out = args.out or (paths[0] / "stats" if len(paths) == 1 and paths[0].is_dir() else None)
    if out is None:
        raise InputError("--out is required when the input is CoNLL files")
    corpora = corpora_for(paths, [Path(p) for p in args.conll], args.name)
    written = write_stats(corpora, out, thresholds=tuple(args.threshold), top_domains=args.top_domains,
                          figure=not args.no_figure)
    print(written["markdown"].read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``stats`` subcommand."""
    p = sub.add_parser("stats", help="Tables 1/9/10 and Figure 1 of a dataset dir or CoNLL files",
                       description="Sequence lengths (Table 1), tag counts (Table 9), domains (Table 10) and a "
                                   "length KDE (Figure 1). A dataset directory counts documents as sequences; "
                                   "CoNLL files count sentences (DOCSTART lines excluded). Writes stats.json, "
                                   "stats.md and figure1.png.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="a `gonerd build` directory, or CoNLL column files")
    p.add_argument("--out", type=Path, help="output directory (default: DATASET/stats)")
    p.add_argument("--conll", nargs="+", default=[], metavar="FILE", help="CoNLL-2003 files to compare against")
    p.add_argument("--name", help="name of the subject corpus in tables (default GONERD / CoNLL-2003)")
    p.add_argument("--top-domains", type=int, default=10, help="rows of Table 10 (default 10)")
    p.add_argument("--threshold", type=int, nargs="+", default=[512, 4096], help="length thresholds for shares")
    p.add_argument("--no-figure", action="store_true", help="skip Figure 1")
    p.set_defaults(func=_cmd)
