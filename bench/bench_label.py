"""Pre-labeling throughput: labeled tokens/s of ``label_documents`` against bare ``nlp.pipe``.

Same texts (DOJ releases + the article bodies of the benchmark web pages; the bundled sample when the
shared collection is absent), same loaded pipeline (``load_pipeline``: NER + senter), same batch size.
The baseline only runs spaCy; ours also runs the MISC rules, resolves conflicts, builds IOB2 tags,
character spans and records — the ratio is what labeling costs on top of the model. For context the
full default pipeline (tagger, parser, lemmatizer... all on) and labeling without sentence starts
(NER only, no senter) are timed too.

    python bench/bench_label.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import SHARED_DATA, best_of, print_table, save_result

from gonerd.config import LabelConfig
from gonerd.label import build_labelers, label_documents
from gonerd.label.spacy_ner import load_pipeline

SAMPLE = Path(__file__).resolve().parents[1] / "gonerd" / "sample"


def texts() -> list[str]:
    """The benchmark texts: DOJ releases and web article bodies."""
    releases = SHARED_DATA / "doj_press_releases" / "releases_reassembled.jsonl"
    truth = SHARED_DATA / "webpages" / "aeb" / "ground-truth.json"
    if releases.is_file() and truth.is_file():
        out = [json.loads(line)["text"] for line in releases.open(encoding="utf-8")]
        return out + [v["articleBody"] for v in json.loads(truth.read_text(encoding="utf-8")).values()]
    print(f"{SHARED_DATA} not found: using the bundled sample")
    out = [json.loads(line)["text"] for line in (SAMPLE / "doj_releases.jsonl").open(encoding="utf-8")]
    return out + [json.loads(line)["gold_text"] for line in (SAMPLE / "pages.jsonl").open(encoding="utf-8")
                  if json.loads(line).get("gold_text")]


def main() -> None:
    """Time ``label_documents`` against bare ``nlp.pipe`` and save the throughput ratio under bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import spacy

    config = LabelConfig()
    corpus = texts()
    docs = [{"id": str(i), "text": t} for i, t in enumerate(corpus)]
    nlp = load_pipeline(config.model, sentence_starts=config.sentence_starts)
    labelers = build_labelers(nlp, config)
    n_tokens = sum(len(d) for d in nlp.tokenizer.pipe(corpus))

    def bare() -> None:
        for _ in nlp.pipe(corpus, batch_size=config.batch_size):
            pass

    def ours() -> None:
        for _ in label_documents(docs, config, labelers, nlp=nlp, progress=False):
            pass

    full_nlp = spacy.load(config.model)
    ner_only = load_pipeline(config.model, sentence_starts=False)

    def ours_without_sentences() -> None:
        for _ in label_documents(docs, config, build_labelers(ner_only, config), nlp=ner_only, progress=False):
            pass

    def full() -> None:
        for _ in full_nlp.pipe(corpus, batch_size=config.batch_size):
            pass

    t_bare, t_ours, t_full, t_nosent = (best_of(fn, args.repeat) for fn in (bare, ours, full, ours_without_sentences))
    rates = {name: n_tokens / t for name, t in (("bare", t_bare), ("ours", t_ours), ("full", t_full),
                                                ("nosent", t_nosent))}
    print_table(f"Pre-labeling, {len(corpus)} documents, {n_tokens} tokens (best of {args.repeat})", [
        ("bare nlp.pipe (NER + senter)", f"{t_bare:.2f}", f"{rates['bare']:.0f}"),
        ("label_documents (same pipeline + rules + records)", f"{t_ours:.2f}", f"{rates['ours']:.0f}"),
        ("full default pipeline nlp.pipe (context)", f"{t_full:.2f}", f"{rates['full']:.0f}"),
        ("label_documents, sentence_starts=False (NER only)", f"{t_nosent:.2f}", f"{rates['nosent']:.0f}"),
        ("ratio ours / bare", "", f"{rates['ours'] / rates['bare']:.3f}"),
        ("ratio ours / full default pipeline", "", f"{rates['ours'] / rates['full']:.3f}"),
    ], ("system", "seconds", "tokens/s"))
    path = save_result(
        "label_throughput",
        baseline={"system": "nlp.pipe, same pipeline (ner+senter)", "seconds": t_bare, "tokens_per_s": rates["bare"]},
        ours={"system": "label_documents", "seconds": t_ours, "tokens_per_s": rates["ours"]},
        ratio=rates["ours"] / rates["bare"], unit="labeled tokens/s (ours / baseline)",
        extra={"documents": len(corpus), "tokens": n_tokens, "model": config.model, "pipes": nlp.pipe_names,
               "full_pipeline": {"pipes": full_nlp.pipe_names, "seconds": t_full, "tokens_per_s": rates["full"],
                                 "ratio_ours_over_full": rates["ours"] / rates["full"]},
               "without_sentence_starts": {"pipes": ner_only.pipe_names, "seconds": t_nosent,
                                           "tokens_per_s": rates["nosent"]}})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
