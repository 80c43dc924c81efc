"""``gonerd eval-labels``: score the pre-labeler — PER/ORG/LOC on CoNLL-2003, MISC on the hand-labeled gold sets,
all four types on hand-labelled documents of the dataset.

CoNLL's MISC is a different type from GONERD's MISC, so it is mapped to O on both sides of the
CoNLL evaluation. The MISC gold sets ship with the package (gonerd/data/). CoNLL-2003 is not
redistributable: it is read from the data root (--data-root, else GONERD_DATA, else
shared/data beside a repository checkout). --gonerd-gold FILE --docs DOCS runs the pre-labeler
exactly as `gonerd label` does on the documents' real text and scores it against the hand labels.
Prints markdown tables; --out saves everything (with MISC errors) as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from gonerd.config import DATA_ROOT_VAR, data_root

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
DEFAULT_MISC_GOLD = PACKAGE_DATA / "misc_gold.jsonl"
# Scored by default beside the old gold: the dev half of the MISC set labelled for issue 21. Its test
# half (misc_new_test.jsonl) is scored only when named with --misc-gold, once, at the end.
DEFAULT_MISC_DEV = PACKAGE_DATA / "misc_new_dev.jsonl"
DEFAULT_MISC_CONLL_DEV = PACKAGE_DATA / "misc_new_conll_dev.jsonl"
# MISC gold over CoNLL texts: testa was used to refine the rules (rules:misc@2), testb never was
DEFAULT_MISC_CONLL = (PACKAGE_DATA / "misc_conll_testa.jsonl", PACKAGE_DATA / "misc_conll_testb.jsonl")
CONLL_TEST = Path("conll2003") / "eng.testb"



def score_gonerd_gold(gold_path: Path, docs_path: Path, config: Any, nlp: Any, labelers: list[Any]) -> dict[str, Any]:
    """The pre-labels ``gonerd label`` gives the hand-labelled documents of ``gold_path``, scored against them.

    The documents (``gonerd docs`` output, documents parquet or JSONL with ``id``/``text``) are
    pre-labeled on their real text by :func:`gonerd.label.label_documents` with ``config``, its
    pipeline ``nlp`` and ``labelers`` (:func:`gonerd.commands.label.labelers_for`) — the same
    function, settings and labelers as ``gonerd label`` — and compared by character spans
    (:func:`gonerd.label.evaluate.eval_gold_documents`).
    """
    from gonerd.label import label_documents, read_documents
    from gonerd.label.evaluate import eval_gold_documents, read_gold_documents

    gold = read_gold_documents(gold_path)
    texts = {d["id"]: d["text"] for d in read_documents(docs_path) if d["id"] in gold}
    records = list(label_documents([{"id": i, "text": t} for i, t in texts.items()], config, labelers, nlp=nlp,
                                   progress=False))
    result = eval_gold_documents(gold_path, gold, texts, {r["id"]: r["spans"] for r in records})
    label_source = {r["label_source"] for r in records}
    return {**result, "docs": str(docs_path), "label_source": ", ".join(sorted(label_source)),
            "procedure": "pre-labels of the documents' real text (gonerd label's label_documents) against the "
                         "hand labels, entities matched by character span and type"}


def run_eval_labels(config: Any, conll: Path | None, misc_gold: tuple[Path, ...] = (),
                    misc_conll: tuple[Path, ...] = (), root: Path | None = None,
                    gonerd_gold: Path | None = None, docs: Path | None = None) -> dict[str, Any]:
    """Evaluate the labelers of ``config`` on a CoNLL file (``None`` skips), MISC gold sets
    (``result["misc"][file name]``), MISC gold files over CoNLL texts (offsets into files under ``root``) and the
    hand-labelled documents ``gonerd_gold`` of ``docs`` (:func:`score_gonerd_gold`; all four types)."""
    from gonerd.commands.label import labelers_for
    from gonerd.label import label_source
    from gonerd.label.evaluate import eval_conll, eval_misc, read_conll_misc_gold, read_misc_gold
    from gonerd.label.spacy_ner import load_pipeline

    # sentence starts as `gonerd label` has them: a model labeler tags sentence by sentence
    nlp = load_pipeline(config.model, sentence_starts=config.sentence_starts)
    labelers = labelers_for(nlp, config)
    result: dict[str, Any] = {"label_source": label_source(labelers), "config": dataclasses.asdict(config)}
    if conll is not None:
        result["conll"] = eval_conll(conll, nlp, labelers)
    for path in misc_gold:
        result.setdefault("misc", {})[path.name] = {"file": str(path),
                                                   **eval_misc(read_misc_gold(path), nlp, labelers)}
    for path in misc_conll:
        gold = read_conll_misc_gold(path, root or data_root(None))
        result.setdefault("misc_conll", {})[path.name] = {"file": str(path), **eval_misc(gold, nlp, labelers)}
    if gonerd_gold is not None and docs is not None:
        result["gonerd_gold"] = score_gonerd_gold(gonerd_gold, docs, config, nlp, labelers)
    return result


def report_markdown(result: dict[str, Any]) -> str:
    """The evaluation as markdown tables."""
    from gonerd.label.evaluate import scores_table, side_by_side_table

    parts = [f"label_source: `{result['label_source']}`"]
    misc_sets = {**result.get("misc", {}), **result.get("misc_conll", {})}
    if misc_sets:
        parts.append("MISC gold sets side by side (exact character spans; P, R, F1 and gold support n per kind): "
                     + ", ".join(f"`{name}` {m['documents']} texts" for name, m in misc_sets.items()))
        parts.append(side_by_side_table(misc_sets))
    if "conll" in result:
        c = result["conll"]
        parts.append(f"CoNLL `{c['file']}` ({c['documents']} documents, {c['tokens']} tokens; entity-level strict "
                     f"IOB2; {', '.join(c['excluded_types'])} mapped to O on both sides — CoNLL MISC is not GONERD MISC)")
        parts.append(scores_table(c["scores"], "type"))
    if "gonerd_gold" in result:
        g = result["gonerd_gold"]
        parts.append(f"Hand-labelled GONERD documents `{g['file']}` ({g['documents']} documents, {g['tokens']} tokens; "
                     f"{g['procedure']}, all four types)")
        parts.append(scores_table(g["scores"], "type"))
    return "\n\n".join(parts)


def _cmd(args: argparse.Namespace) -> int:
    from gonerd.commands.options import load_command_config
    from gonerd.config import LabelConfig
    from gonerd.errors import InputError

    config = load_command_config(args, LabelConfig, model=args.model, ner_model=args.ner_model)
    root = data_root(args.data_root)
    conll = None if args.no_conll else Path(args.conll) if args.conll else root / CONLL_TEST
    if conll is not None and not args.conll and not conll.is_file():
        raise InputError(f"CoNLL-2003 test file not found under the data root {root} (pass --conll FILE, "
                         f"--data-root DIR or {DATA_ROOT_VAR}, or --no-conll)", str(conll))
    misc: tuple[Path, ...] = ()
    if not args.no_misc:
        misc = (tuple(Path(p) for p in args.misc_gold) if args.misc_gold else
                tuple(p for p in (DEFAULT_MISC_GOLD, DEFAULT_MISC_DEV) if p == DEFAULT_MISC_GOLD or p.is_file()))
    misc_conll: tuple[Path, ...] = ()
    if not args.no_misc:
        misc_conll = (tuple(Path(p) for p in args.misc_conll) if args.misc_conll else
                      DEFAULT_MISC_CONLL + tuple(p for p in (DEFAULT_MISC_CONLL_DEV,) if p.is_file()))
        if not args.misc_conll and not root.is_dir():
            print(f"MISC gold over CoNLL texts skipped: data root {root} not found")
            misc_conll = ()
    gonerd_gold = Path(args.gonerd_gold) if args.gonerd_gold else None
    docs = Path(args.docs) if args.docs else None
    if (gonerd_gold is None) != (docs is None):
        raise InputError("--gonerd-gold and --docs go together: the hand labels, and the documents they label",
                         field="--docs" if docs is None else "--gonerd-gold")
    for path in (conll, *misc, *misc_conll, gonerd_gold):
        if path is not None and not path.is_file():
            raise InputError("no such file (pass another path, or --no-conll / --no-misc)", str(path))
    if docs is not None and not docs.exists():
        raise InputError("no such documents file or directory", str(docs))
    result = run_eval_labels(config, conll, misc, misc_conll, root, gonerd_gold=gonerd_gold, docs=docs)
    print(report_markdown(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval-labels`` subcommand."""
    from gonerd.commands.options import add_config_arguments

    p = sub.add_parser("eval-labels", help="score the pre-labeler on CoNLL-2003 (PER/ORG/LOC), the MISC gold "
                                           "and hand-labelled documents", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conll", help="CoNLL file (default: conll2003/eng.testb under the data root)")
    p.add_argument("--data-root", metavar="DIR",
                   help=f"folder holding conll2003/ (default: {DATA_ROOT_VAR}, else shared/data beside the checkout)")
    p.add_argument("--misc-gold", nargs="+", metavar="FILE",
                   help="MISC gold span JSONL file(s), scored side by side (default: the packaged "
                        "gonerd/data/misc_gold.jsonl and misc_new_dev.jsonl)")
    p.add_argument("--misc-conll", nargs="+", metavar="FILE",
                   help="MISC gold over CoNLL texts under the data root (default: the packaged "
                        "gonerd/data/misc_conll_test[ab].jsonl and misc_new_conll_dev.jsonl; testa was used to refine "
                        "the rules)")
    p.add_argument("--gonerd-gold", metavar="FILE",
                   help="hand-labelled documents, CoNLL IOB2 with -DOCSTART- <id> (e.g. gonerd/sample/gold_test.conll)")
    p.add_argument("--docs", metavar="DOCS",
                   help="the documents --gonerd-gold labels: `gonerd docs` output dir, documents parquet or JSONL")
    p.add_argument("--no-conll", action="store_true", help="skip the CoNLL evaluation")
    p.add_argument("--no-misc", action="store_true", help="skip both MISC evaluations")
    p.add_argument("--model", help="spaCy model name or path")
    p.add_argument("--ner-model", metavar="PATH",
                   help="token-classification model dir scored instead of spaCy's NER for PER/ORG/LOC, or in a vote "
                        "with it (--set ner_combine=vote), as `gonerd label --ner-model` labels")
    add_config_arguments(p, "LabelConfig keys (model, entity_map, misc_rules, strip_articles, ...)")
    p.add_argument("--out", help="write the full result (incl. MISC errors) as JSON here")
    p.set_defaults(func=_cmd)
