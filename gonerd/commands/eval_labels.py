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
DEFAULT_MISC_GOLD = REPO / "tests" / "data" / "misc_gold.jsonl"
DEFAULT_MISC_HELDOUT = REPO / "tests" / "data" / "misc_heldout_conll.jsonl"
SHARED_DATA = REPO.parent / "shared" / "data"


def run_eval_labels(config: Any, conll: Path | None, misc_gold: Path | None,
                    misc_heldout: Path | None = None, data_root: Path = SHARED_DATA) -> dict[str, Any]:
    """Evaluate the labelers of ``config`` on a CoNLL file, the MISC gold set and the held-out MISC
    gold over CoNLL texts (offsets into files under ``data_root``); ``None`` skips one."""
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
    if misc_heldout is not None:
        gold = read_conll_misc_gold(misc_heldout, data_root)
        result["misc_heldout"] = {"file": str(misc_heldout), **eval_misc(gold, nlp, labelers)}
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
    if "misc_heldout" in result:
        m = result["misc_heldout"]
        parts.append(f"MISC held-out gold `{m['file']}` ({m['documents']} CoNLL documents, not used to write the rules)")
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
    heldout = None
    if not args.no_misc:
        heldout = Path(args.misc_heldout) if args.misc_heldout else DEFAULT_MISC_HELDOUT
        if not args.misc_heldout and not SHARED_DATA.is_dir():
            print(f"held-out MISC gold skipped: {SHARED_DATA} not found")
            heldout = None
    for path in (conll, misc, heldout):
        if path is not None and not path.is_file():
            raise InputError("no such file (pass another path, or --no-conll / --no-misc)", str(path))
    result = run_eval_labels(config, conll, misc, heldout)
    print(report_markdown(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval-labels`` subcommand."""
    p = sub.add_parser("eval-labels", help="score the pre-labeler on CoNLL-2003 (PER/ORG/LOC) and the MISC gold",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conll", help=f"CoNLL file (default: {DEFAULT_CONLL})")
    p.add_argument("--misc-gold", help=f"MISC gold span JSONL (default: {DEFAULT_MISC_GOLD})")
    p.add_argument("--misc-heldout", help=f"held-out MISC gold over CoNLL texts under {SHARED_DATA} "
                                          f"(default: {DEFAULT_MISC_HELDOUT})")
    p.add_argument("--no-conll", action="store_true", help="skip the CoNLL evaluation")
    p.add_argument("--no-misc", action="store_true", help="skip both MISC evaluations")
    p.add_argument("--model", help="spaCy model name or path")
    p.add_argument("--config", help="TOML/YAML file with LabelConfig keys")
    p.add_argument("--out", help="write the full result (incl. MISC errors) as JSON here")
    p.set_defaults(func=_cmd)
