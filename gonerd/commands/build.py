"""``gonerd build``: raw inputs → documents → pre-labels → DatasetDict → statistics → data card, in one go.

Layout of ``OUT``: ``documents/`` (``gonerd docs`` output and report), ``labeled/labeled.parquet``,
``data/*.parquet`` + ``arrow/`` (the dataset), ``stats/`` (Tables 1/9/10, Figure 1), ``README.md``
(the card). Each stage reuses finished work, so an interrupted build resumes when re-run.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gonerd.commands.options import add_config_arguments, add_executor_arguments

# `--set label.KEY=V` and `--set build.KEY=V` reach the label and build configs; other keys the pipeline's.
CONFIG_PREFIXES = ("label.", "build.")


@contextmanager
def datasets_progress(enabled: bool) -> Iterator[None]:
    """The datasets library's own progress bars (saving, loading splits) on or off, as before afterwards."""
    import datasets

    was = datasets.is_progress_bar_enabled()
    (datasets.enable_progress_bars if enabled else datasets.disable_progress_bars)()
    try:
        yield
    finally:
        (datasets.enable_progress_bars if was else datasets.disable_progress_bars)()


def run_build(inputs: list[str | Path], out: str | Path, *, pipeline_config: Any = None, label_config: Any = None,
              build_config: Any = None, conll: list[Path] | None = None, eval_labels: Path | None = None,
              card_copy: Path | None = None, corrections: Path | None = None, annotator: str | None = None,
              progress: bool = True) -> dict[str, Any]:
    """Run every stage into ``out``; returns a summary (documents, split sizes, Table 1, paths).

    ``corrections`` (span JSONL or CoNLL IOB2, see :mod:`gonerd.label.corrections`) replace the
    pre-labels of the documents they name before the splits are written. ``progress=False``
    silences every progress bar, the datasets library's included. ``out`` is locked for the run:
    a second build into it is refused at once (:func:`gonerd.pipeline.outdir.output_lock`).
    """
    from gonerd.card import FIGURE_PATH, STATS_DIR, STATS_FILES, write_card
    from gonerd.commands.label import run_label
    from gonerd.commands.stats import corpora_for
    from gonerd.config import BuildConfig, LabelConfig
    from gonerd.dataset import build_dataset
    from gonerd.label.io import read_labeled
    from gonerd.pipeline import run_docs
    from gonerd.pipeline.outdir import output_lock
    from gonerd.stats import write_stats

    with output_lock(out, "gonerd build") as out:
        build_config = build_config or BuildConfig()
        report = run_docs(inputs, out / "documents", pipeline_config, progress=progress)
        labeled = run_label(out / "documents", out / "labeled", label_config or LabelConfig(), corrections, annotator,
                            progress=progress)
        with datasets_progress(progress):
            dd = build_dataset(read_labeled(labeled["output"]), out, build_config)
            stats_paths = write_stats(corpora_for([out], list(conll or []), None), out / "stats",
                                      thresholds=build_config.length_thresholds, top_domains=build_config.top_domains)
            card = write_card(out, report_path=out / "documents" / "report.json", eval_path=eval_labels,
                              config=build_config)
        if card_copy is not None:
            (card_copy / STATS_DIR).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(card, card_copy / "README.md")
            for name in (Path(FIGURE_PATH).name, *STATS_FILES):
                shutil.copyfile(out / STATS_DIR / name, card_copy / STATS_DIR / name)
        stats = json.loads(stats_paths["json"].read_text(encoding="utf-8"))["corpora"][0]
        return {"documents": report["n_documents"], "labeled": labeled["documents"], "human": labeled["human"],
                "splits": {s: len(ds) for s, ds in dd.items()}, "table1": stats["table1_lengths"],
                "card": str(card), "stats": str(stats_paths["markdown"]), "figure": str(stats_paths.get("figure"))}


def _cmd(args: argparse.Namespace) -> int:
    from gonerd.commands.options import executor_flags, parse_overrides
    from gonerd.config import BuildConfig, LabelConfig, PipelineConfig, load_config, with_overrides

    sets: dict[str, dict[str, Any]] = {prefix: {} for prefix in ("", *CONFIG_PREFIXES)}
    for key, value in parse_overrides(args.overrides).items():
        prefix = next((p for p in CONFIG_PREFIXES if key.startswith(p)), "")
        sets[prefix][key[len(prefix):]] = value
    seed = {"seed": args.seed} if args.seed is not None else {}
    run = {k: v for k, v in executor_flags(args).items() if v is not None}  # both the docs and label stages
    sets[""], sets["label."] = {**run, **sets[""]}, {**run, **sets["label."]}
    build_config = with_overrides(load_config(args.build_config, BuildConfig), {**seed, **sets["build."]})
    label_config = with_overrides(load_config(args.label_config, LabelConfig), sets["label."])
    pipeline_config = with_overrides(load_config(args.config, PipelineConfig), sets[""])
    summary = run_build(args.inputs, args.out, pipeline_config=pipeline_config,
                        label_config=label_config, build_config=build_config,
                        conll=args.conll, eval_labels=args.eval_labels, card_copy=args.card_copy,
                        corrections=args.import_corrections, annotator=args.annotator, progress=not args.quiet)
    t1 = summary["table1"]
    print(f"{summary['documents']} documents ({summary['human']} hand-labelled) → splits {summary['splits']}")
    print("Table 1: " + ", ".join(f"{k} {t1[k]:.1f}" for k in ("mean", "std", "min", "25%", "50%", "75%", "max"))
          + f", >512 {t1['share > 512']:.1%}, >4096 {t1['share > 4096']:.1%}")
    print(f"card {summary['card']}; tables {summary['stats']}; figure {summary['figure']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``build`` subcommand."""
    from gonerd.commands.label import add_corrections_arguments

    p = sub.add_parser("build", help="inputs → documents → labels → DatasetDict → stats → card (one command)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="input files or directories (HTML, WARC, JSONL), as for `gonerd docs`")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--label-config", type=Path, help="TOML/YAML file with label settings")
    p.add_argument("--build-config", type=Path, help="TOML/YAML file with split/statistics/card settings")
    p.add_argument("--seed", type=int, help="split seed (default: build config, 0)")
    p.add_argument("--conll", nargs="+", type=Path, default=[], metavar="FILE",
                   help="CoNLL-2003 files to compare against in the tables and Figure 1")
    p.add_argument("--eval-labels", type=Path, metavar="JSON", help="label-quality JSON to report in the card")
    add_corrections_arguments(p)
    p.add_argument("--card-copy", type=Path, metavar="DIR",
                   help="also copy the card, its statistics (stats.json, stats.md) and figure into DIR")
    add_executor_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_config_arguments(p, "pipeline settings; --set label.KEY=V and --set build.KEY=V reach the label and "
                            "build settings")
    p.set_defaults(func=_cmd)
