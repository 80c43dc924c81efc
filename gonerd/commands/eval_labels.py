"""``gonerd eval-labels``: score the pre-labeler — PER/ORG/LOC on CoNLL-2003, MISC on the hand-labeled gold sets.

CoNLL's MISC is a different type from GONERD's MISC, so it is mapped to O on both sides of the
CoNLL evaluation. Prints markdown tables; ``--out`` saves everything (with MISC errors) as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONLL = REPO.parent / "shared" / "data" / "conll2003" / "eng.testb"
PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
DEFAULT_MISC_GOLD = PACKAGE_DATA / "misc_gold.jsonl"
# MISC gold over CoNLL texts: testa was used to refine the rules (rules:misc@2), testb never was
DEFAULT_MISC_CONLL = (PACKAGE_DATA / "misc_conll_testa.jsonl", PACKAGE_DATA / "misc_conll_testb.jsonl")
SHARED_DATA = REPO.parent / "shared" / "data"


def run_eval_labels(config: Any, conll: Path | None, misc_gold: Path | None,
                    misc_conll: tuple[Path, ...] = (), data_root: Path = SHARED_DATA,
                    gonerd_gold: Path | None = None) -> dict[str, Any]:
    """Evaluate the labelers of ``config`` on a CoNLL file (``None`` skips), the MISC gold set
    (``None`` skips), MISC gold files over CoNLL texts (offsets into files under ``data_root``) and
    hand-labelled GONERD documents in CoNLL IOB2 (``gonerd_gold``; all four types scored)."""
    from gonerd.label import build_labelers, label_source
    from gonerd.label.evaluate import eval_conll, eval_misc, read_conll_misc_gold, read_misc_gold
    from gonerd.label.spacy_ner import load_pipeline

    nlp = load_pipeline(config.model, sentence_starts=False)
    labelers = build_labelers(nlp, config)
    result: dict[str, Any] = {"label_source": label_source(labelers), "config": dataclasses.asdict(config)}
    if conll is not None:
        result["conll"] = eval_conll(conll, nlp, labelers)
    if misc_gold is not None:
        result["misc"] = {"file": str(misc_gold), **eval_misc(read_misc_gold(misc_gold), nlp, labelers)}
    for path in misc_conll:
        gold = read_conll_misc_gold(path, data_root)
        result.setdefault("misc_conll", {})[path.name] = {"file": str(path), **eval_misc(gold, nlp, labelers)}
    if gonerd_gold is not None:
        result["gonerd_gold"] = eval_conll(gonerd_gold, nlp, labelers, exclude=())
    return result


def report_markdown(result: dict[str, Any]) -> str:
    """The evaluation as markdown tables."""
    from gonerd.label.evaluate import scores_table

    parts = [f"label_source: `{result['label_source']}`"]
    if "conll" in result:
        c = result["conll"]
        parts.append(f"CoNLL `{c['file']}` ({c['documents']} documents, {c['tokens']} tokens; entity-level strict "
                     f"IOB2; {', '.join(c['excluded_types'])} mapped to O on both sides — CoNLL MISC is not GONERD MISC)")
        parts.append(scores_table(c["scores"], "type"))
    if "misc" in result:
        m = result["misc"]
        parts.append(f"MISC gold `{m['file']}` ({m['documents']} texts; exact character spans)")
        parts.append(scores_table(m["scores"], "MISC kind"))
    if "gonerd_gold" in result:
        g = result["gonerd_gold"]
        parts.append(f"Hand-labelled GONERD documents `{g['file']}` ({g['documents']} documents, {g['tokens']} tokens; "
                     "entity-level strict IOB2, all four types)")
        parts.append(scores_table(g["scores"], "type"))
    for name, m in result.get("misc_conll", {}).items():
        parts.append(f"MISC gold over CoNLL texts `{m['file']}` ({m['documents']} documents)")
        parts.append(scores_table(m["scores"], "MISC kind"))
    return "\n\n".join(parts)


def _cmd(args: argparse.Namespace) -> int:
    from gonerd.config import LabelConfig, load_config
    from gonerd.errors import InputError

    config = load_config(args.config, LabelConfig)
    if args.model:
        config = dataclasses.replace(config, model=args.model)
    conll = None if args.no_conll else Path(args.conll) if args.conll else DEFAULT_CONLL
    misc = None if args.no_misc else Path(args.misc_gold) if args.misc_gold else DEFAULT_MISC_GOLD
    misc_conll: tuple[Path, ...] = ()
    if not args.no_misc:
        misc_conll = tuple(Path(p) for p in args.misc_conll) if args.misc_conll else DEFAULT_MISC_CONLL
        if not args.misc_conll and not SHARED_DATA.is_dir():
            print(f"MISC gold over CoNLL texts skipped: {SHARED_DATA} not found")
            misc_conll = ()
    gonerd_gold = Path(args.gonerd_gold) if args.gonerd_gold else None
    for path in (conll, misc, *misc_conll, gonerd_gold):
        if path is not None and not path.is_file():
            raise InputError("no such file (pass another path, or --no-conll / --no-misc)", str(path))
    result = run_eval_labels(config, conll, misc, misc_conll, gonerd_gold=gonerd_gold)
    print(report_markdown(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval-labels`` subcommand."""
    p = sub.add_parser("eval-labels", help="score the pre-labeler on CoNLL-2003 (PER/ORG/LOC) and the MISC gold",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conll", help="CoNLL file (default: shared/data/conll2003/eng.testb beside the repo)")
    p.add_argument("--misc-gold", help="MISC gold span JSONL (default: tests/data/misc_gold.jsonl)")
    p.add_argument("--misc-conll", nargs="+", metavar="FILE",
                   help="MISC gold over CoNLL texts of shared/data beside the repo (default: "
                        "tests/data/misc_conll_test[ab].jsonl; testa was used to refine the rules, testb is held out)")
    p.add_argument("--gonerd-gold", metavar="FILE",
                   help="hand-labelled GONERD documents, CoNLL IOB2 (e.g. gonerd/sample/gold_test.conll)")
    p.add_argument("--no-conll", action="store_true", help="skip the CoNLL evaluation")
    p.add_argument("--no-misc", action="store_true", help="skip both MISC evaluations")
    p.add_argument("--model", help="spaCy model name or path")
    p.add_argument("--config", help="TOML/YAML file with LabelConfig keys")
    p.add_argument("--out", help="write the full result (incl. MISC errors) as JSON here")
    p.set_defaults(func=_cmd)
