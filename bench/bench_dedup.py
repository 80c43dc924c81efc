"""Near-duplicate detection: precision/recall on a seeded synthetic set of real texts, and docs/s.

Sources are real texts (article bodies of the shared benchmark pages and DOJ releases; the bundled
sample when the shared collection is absent). Each of ``--copies`` sources gets an edited copy with
a share of its words replaced, deleted or inserted (seeded). A predicted duplicate pair is true when
both documents come from the same source. The grid compares shingle sizes and LSH thresholds; the
chosen default is the one saved as ``ours``, against the common habit of 5-grams at 0.8 as baseline.

    python bench/bench_dedup.py [--copies 150]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from itertools import combinations
from pathlib import Path

from common import SHARED_DATA, print_table, save_result

from gonerd.config import DedupConfig
from gonerd.pipeline.dedup import deduplicate, minhash_signature, near_duplicate_pairs

SAMPLE = Path(__file__).resolve().parents[1] / "gonerd" / "sample"


def source_texts() -> list[str]:
    """Distinct real texts of at least 100 words."""
    texts = []
    truth = SHARED_DATA / "webpages" / "aeb" / "ground-truth.json"
    releases = SHARED_DATA / "doj_press_releases" / "releases_reassembled.jsonl"
    if truth.is_file():
        texts += [v["articleBody"] for v in json.loads(truth.read_text()).values()]
        texts += [json.loads(line)["text"] for line in releases.open()]
    else:
        print(f"{SHARED_DATA} not found: using the bundled sample")
        texts += [json.loads(line)["gold_text"] for line in (SAMPLE / "pages.jsonl").open() if "gold_text" in json.loads(line)]
        texts += [json.loads(line)["text"] for line in (SAMPLE / "doj_releases.jsonl").open()]
    return [t for t in dict.fromkeys(texts) if len(t.split()) >= 100]


def edit(text: str, rate: float, rng: random.Random) -> str:
    """Replace, delete or insert words at ``rate`` (a third each)."""
    words, vocab, out = text.split(), ["the", "new", "said", "report", "2019", "city", "also", "more"], []
    for w in words:
        r = rng.random()
        if r < rate / 3:
            out.append(rng.choice(vocab))
        elif r < 2 * rate / 3:
            continue
        elif r < rate:
            out += [w, rng.choice(vocab)]
        else:
            out.append(w)
    return " ".join(out)


def main() -> None:
    """Run the near-duplicate benchmark and save its JSON result under bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sources = source_texts()
    docs, origin = [], []
    for i, text in enumerate(sources):
        docs.append(text)
        origin.append(i)
    for k, i in enumerate(rng.sample(range(len(sources)), min(args.copies, len(sources)))):
        rate = (0.02, 0.05, 0.10, 0.15)[k % 4]
        docs.append(edit(sources[i], rate, rng))
        origin.append(i)
    truth = {(a, b) for a, b in combinations(range(len(docs)), 2) if origin[a] == origin[b]}
    by_rate: dict[float, set] = {}
    for k, idx in enumerate(range(len(sources), len(docs))):
        by_rate.setdefault((0.02, 0.05, 0.10, 0.15)[k % 4], set()).add((origin[idx], idx))

    rows, scores = [], {}
    for size in (3, 5):
        for threshold in (0.4, 0.5, 0.6, 0.7, 0.8):
            config = DedupConfig(shingle_size=size, threshold=threshold)
            start = time.perf_counter()
            sigs = [minhash_signature(t, config) for t in docs]
            pairs = {(a, b) for a, b, _ in near_duplicate_pairs(sigs, config)}
            seconds = time.perf_counter() - start
            tp = len(pairs & truth)
            p = tp / len(pairs) if pairs else 1.0
            r = tp / len(truth)
            recall_at = {rate: len(pairs & want) / len(want) for rate, want in sorted(by_rate.items())}
            scores[(size, threshold)] = {"precision": p, "recall": r, "docs_per_s": len(docs) / seconds,
                                         "recall_by_edit_rate": recall_at}
            rows.append((str(size), f"{threshold}", f"{p:.3f}", f"{r:.3f}",
                         " / ".join(f"{v:.2f}" for v in recall_at.values()), f"{len(docs) / seconds:.0f}"))
    print_table(f"Near-duplicates among {len(sources)} real texts + {len(docs) - len(sources)} edited copies "
                f"(seed {args.seed})", rows,
                ("shingle", "threshold", "precision", "recall", "recall at 2/5/10/15% edits", "docs/s"))
    default = DedupConfig()
    ours, base = scores[(default.shingle_size, default.threshold)], scores[(5, 0.8)]
    start = time.perf_counter()
    recs = [{"id": str(i), "text": t, "n_tokens": len(t.split())} for i, t in enumerate(docs)]
    deduplicate(recs, [minhash_signature(t, default) for t in docs], default)
    full = len(docs) / (time.perf_counter() - start)
    print(f"\nfull dedup (exact + near, default settings): {full:.0f} docs/s")
    path = save_result("dedup_quality", {"what": "5-gram shingles, threshold 0.8", **base},
                       {"what": f"{default.shingle_size}-gram shingles, threshold {default.threshold} (default)",
                        **ours, "full_dedup_docs_per_s": full},
                       ours["recall"] / base["recall"] if base["recall"] else float("inf"), "recall ratio (ours / baseline)",
                       {"grid": {f"{s}-gram@{t}": v for (s, t), v in scores.items()}, "sources": len(sources),
                        "copies": len(docs) - len(sources), "seed": args.seed})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
