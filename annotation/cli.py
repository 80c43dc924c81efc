"""``gonerd annotate``: serve the annotation tool, import documents, manage users, export, agreement.

    gonerd annotate users add --db ann.db alice --role annotator --password-stdin < pw.txt
    gonerd annotate import --db ann.db doj runs/label/labeled.parquet --annotators alice,bob --k 2
    gonerd annotate order --db ann.db doj --model runs/ner/best   # optional: least sure documents first
    gonerd annotate order --db ann.db doj uncertainty.jsonl      # or scores computed elsewhere
    gonerd annotate serve --db ann.db --host 127.0.0.1 --port 8000
    gonerd annotate agreement --db ann.db doj --json agreement.json
    gonerd annotate export --db ann.db doj corrections.jsonl --source final
    gonerd annotate export --db ann.db doj corrected_dataset/ --format hf
    gonerd build ... --import-corrections corrections.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from annotation.store import Store


def _store(args: argparse.Namespace) -> Store:
    from annotation.store import Store

    return Store(args.db)


def _annotators(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from annotation.app import create_app

    store = _store(args)
    if not store.users():
        print(f"gonerd annotate: {args.db} has no accounts yet: add one with "
              f"`gonerd annotate users add --db {args.db} NAME --role admin`", file=sys.stderr)
    print(f"gonerd annotate: serving {args.db} on http://{args.host}:{args.port}/", file=sys.stderr)
    uvicorn.run(create_app(store), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _import(args: argparse.Namespace) -> int:
    from annotation.formats import read_input

    store = _store(args)
    docs = read_input(args.input, base=args.base, annotator=args.annotator)
    n = store.add_documents(args.project, docs)
    print(f"imported {n} documents into project {args.project!r}")
    if args.annotators:
        made = store.assign(args.project, _annotators(args.annotators), args.k)
        print(f"made {made} assignments (k={args.k})")
    return 0


def _assign(args: argparse.Namespace) -> int:
    made = _store(args).assign(args.project, _annotators(args.annotators), args.k)
    print(f"made {made} assignments (k={args.k})")
    return 0


def model_uncertainties(store: Store, project: str, model: str | Path, *, max_length: int = 512, stride: int = 128,
                        batch_size: int = 16) -> dict[str, float]:
    """Each document of ``project`` by id, scored by how unsure a ``gonerd kd`` token classifier is of it.

    The model reads each whole document (in overlapping windows, as ``gonerd kd predict`` does) and the
    score is the mean over its words of 1 − the largest tag probability (least confidence; 0 when
    the model is sure of every word, 1 − 1/9 when it cannot choose between GONERD's 9 tags). The
    mean, not the sum, so a document does not come first merely for being long, and no confidence
    threshold has to be picked, as a share of unsure words would need. Words the tokenizer gives no
    sub-token count for nothing; a document with no such word scores 0.
    """
    from kd.model import load_model
    from kd.predict import word_probabilities

    docs = [store.document(doc_id) for doc_id in store.document_ids(project)]
    loaded = load_model(model)
    probabilities = word_probabilities(loaded, [d["tokens"] for d in docs], max_length=max_length, stride=stride,
                                       batch_size=batch_size)
    out = {}
    for doc, probs in zip(docs, probabilities):
        scored = [p for p in probs if p is not None]
        out[doc["key"]] = sum(1 - p for p in scored) / len(scored) if scored else 0.0
    return out


def _read_scores(path: Path, field: str) -> dict[str, float]:
    from gonerd.errors import InputError
    from gonerd.pipeline.io import iter_jsonl

    scores = {}
    for lineno, row in iter_jsonl(path):
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise InputError("missing or not a string", str(path), line=lineno, field="id")
        score = row.get(field)
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            raise InputError("missing or not a number", str(path), line=lineno, field=field)
        scores[row["id"]] = score
    return scores


def _order(args: argparse.Namespace) -> int:
    from gonerd.errors import InputError

    if (args.scores is None) == (args.model is None):
        raise InputError("give either a scores file or --model MODEL_DIR", field="scores")
    store = _store(args)
    if args.model is not None:
        store.project_id(args.project)  # an unknown project fails before the model loads
        priorities = model_uncertainties(store, args.project, args.model, max_length=args.max_length,
                                         stride=args.stride, batch_size=args.batch_size)
        what = "uncertainty of the model"
    else:
        priorities, what = _read_scores(args.scores, args.field), args.field
    n = store.set_priorities(args.project, priorities)
    print(f"set the priority of {n} documents: highest {what} first in each queue")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    from gonerd.errors import InputError

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InputError("the passwords differ", field="password")
    return first


def _users_add(args: argparse.Namespace) -> int:
    user = _store(args).add_user(args.name, _read_password(args), args.role)
    print(f"added {user.role} {user.name!r}")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    for user in _store(args).users():
        print(f"{user.name}\t{user.role}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from annotation.formats import labeled_documents, write_documents
    from gonerd.config import BuildConfig, load_config

    config = load_config(args.build_config, BuildConfig) if args.build_config else None
    docs = labeled_documents(_store(args).project_work(args.project), args.source)
    write_documents(docs, args.output, args.format, config)
    print(f"wrote {len(docs)} documents ({args.source}) to {args.output}")
    return 0


def _agreement(args: argparse.Namespace) -> int:
    import json

    from annotation.agreement import agreement, agreement_table

    pairs = agreement(_store(args).project_work(args.project))
    print(agreement_table(pairs))
    if args.json:
        Path(args.json).write_text(json.dumps({"project": args.project, "pairs": pairs}, indent=2) + "\n",
                                   encoding="utf-8")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``annotate`` and its subcommands."""
    annotate = subparsers.add_parser("annotate", help="web tool to correct pre-labels: serve, import, users, export",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = annotate.add_subparsers(dest="annotate_command", required=True, metavar="ANNOTATE_COMMAND")

    def command(name: str, help_text: str, func, parent=sub) -> argparse.ArgumentParser:  # noqa: ANN001
        p = parent.add_parser(name, help=help_text)
        p.add_argument("--db", required=True, type=Path, help="SQLite database (created on first use)")
        p.set_defaults(func=func)
        return p

    p = command("serve", "run the web app", _serve)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)

    p = command("import", "load documents with pre-labels (labeled.parquet or output dir, a `gonerd build` or hf "
                          "dataset dir, document/span/doccano .jsonl, Label Studio .json, CoNLL)",
                _import)
    p.add_argument("project")
    p.add_argument("input", type=Path)
    p.add_argument("--base", type=Path, metavar="LABELED",
                   help="INPUT is a correction file (span JSONL or CoNLL) of these labeled documents")
    p.add_argument("--annotator", help="with --base: the annotator where INPUT names none")
    p.add_argument("--annotators", help="comma-separated user names to assign the documents to")
    p.add_argument("--k", type=int, default=2, help="annotators per document (default 2)")

    p = command("assign", "give each document of a project to k annotators", _assign)
    p.add_argument("project")
    p.add_argument("--annotators", required=True, help="comma-separated user names")
    p.add_argument("--k", type=int, default=2)

    p = command("order", "review the documents with the highest score first: a `gonerd kd` model's uncertainty "
                         "(--model) or scores from a file", _order)
    p.add_argument("project")
    p.add_argument("scores", type=Path, nargs="?", help="JSONL with id and a number per document (or give --model)")
    p.add_argument("--field", default="uncertainty", help="the number's key (default: uncertainty)")
    p.add_argument("--model", metavar="MODEL_DIR",
                   help="score each document by this token classifier's mean uncertainty per word (least sure first)")
    p.add_argument("--max-length", type=int, default=512, help="with --model: window length in sub-tokens")
    p.add_argument("--stride", type=int, default=128, help="with --model: overlap of consecutive windows")
    p.add_argument("--batch-size", type=int, default=16, help="with --model: windows per forward pass")

    users = sub.add_parser("users", help="manage accounts").add_subparsers(dest="users_command", required=True)
    p = command("add", "add an account", _users_add, parent=users)
    p.add_argument("name")
    p.add_argument("--role", default="annotator", choices=("annotator", "admin"))
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    command("list", "list accounts", _users_list, parent=users)

    p = command("export", "write labels as span JSONL or CoNLL IOB2 (what --import-corrections reads), Label "
                          "Studio JSON, doccano JSONL or an HF dataset", _export)
    p.add_argument("project")
    p.add_argument("output", type=Path, help="the file to write (for --format hf: a directory)")
    p.add_argument("--format", default="jsonl", choices=("jsonl", "conll", "label-studio", "doccano", "hf"),
                   help="span JSONL or CoNLL (what `gonerd build --import-corrections` reads), Label Studio JSON,"
                        " doccano JSONL, or hf: the DatasetDict of `gonerd build` (data/*.parquet and arrow/)")
    p.add_argument("--build-config", type=Path, metavar="FILE",
                   help="with --format hf: split the documents as `gonerd build --build-config FILE` does "
                        "(default: every document in train)")
    p.add_argument("--source", default="final",
                   help="final (adjudicated; default), prelabels, or an annotator's name (their done documents)")

    p = command("agreement", "token-level Cohen's kappa and span F1 per annotator pair and label", _agreement)
    p.add_argument("project")
    p.add_argument("--json", type=Path, help="also write the figures as JSON here")
