"""Exact and MinHash near-duplicate removal on the bundled real documents and seeded edits of them."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from gonerd.config import DedupConfig
from gonerd.pipeline.dedup import content_hash, deduplicate, minhash_signature, near_duplicate_pairs
from gonerd.text import count_tokens

CONFIG = DedupConfig()
WOMEN = ("trafilatura:womencantalksports.com-top10.html", "trafilatura:womencantalksports.com.top10.html")
MEDICAL = ("readability:medicalnewstoday", "trafilatura:medicalnewstoday.com.318674.html")


def as_doc(rid: str, text: str) -> dict:
    return {"id": rid, "url": None, "source": "test", "text": text, "n_tokens": count_tokens(text)}


def perturb(text: str, share: float, seed: int) -> str:
    """Replace or delete ``share`` of the words of ``text`` (seeded), keeping line breaks."""
    rng = random.Random(seed)
    words = text.split(" ")
    for i in sorted(rng.sample(range(len(words)), int(len(words) * share)), reverse=True):
        if rng.random() < 0.5:
            del words[i]
        else:
            words[i] = rng.choice(["lorem", "county", "Tuesday", "officials", "quantum"])
    return " ".join(words)


@pytest.fixture(scope="module")
def real_docs(extracted) -> list[dict]:
    return [as_doc(rid, d["text"]) for rid, d in sorted(extracted.items())]


def run(docs: list[dict], config: DedupConfig = CONFIG):
    return deduplicate(docs, [minhash_signature(d["text"], config) for d in docs], config)


def test_no_false_merges_among_real_documents(real_docs):
    kept, exclusions, counts = run(real_docs)
    dropped = {(e["filter"], e["id"]) for e in exclusions}
    # Only the two real duplicate pairs of the sample: one exact, one near (same article, two benchmarks).
    assert len(exclusions) == 2
    assert {f for f, _ in dropped} == {"exact-duplicate", "near-duplicate"}
    exact = next(e for e in exclusions if e["filter"] == "exact-duplicate")
    near = next(e for e in exclusions if e["filter"] == "near-duplicate")
    assert {exact["id"], exact["value"]} == set(WOMEN)
    assert near["id"] in MEDICAL and near["value"] >= CONFIG.threshold and near["stage"] == "dedup"
    assert counts == {"dedup-url": 79, "dedup-exact": 78, "dedup-near": 77}
    assert len(kept) == 77 and [d["id"] for d in kept] == [d["id"] for d in real_docs if d["id"] not in
                                                            {exact["id"], near["id"]}]


def test_near_duplicate_keeps_the_longest(real_docs):
    kept, exclusions, _ = run(real_docs)
    near = next(e for e in exclusions if e["filter"] == "near-duplicate")
    by_id = {d["id"]: d for d in real_docs}
    (other,) = set(MEDICAL) - {near["id"]}
    assert by_id[other]["n_tokens"] >= by_id[near["id"]]["n_tokens"]
    assert other in {d["id"] for d in kept}
    assert near["reason"].startswith(f"near-duplicate of {other}")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seeded_near_duplicates_are_found(real_docs, seed):
    rng = random.Random(seed)
    originals = rng.sample([d for d in real_docs if d["n_tokens"] > 300 and d["id"] not in WOMEN + MEDICAL], 8)
    copies = [as_doc(f"copy-{d['id']}", perturb(d["text"], 0.05, seed)) for d in originals]
    assert all(c["text"] != o["text"] for c, o in zip(copies, originals))
    kept, exclusions, _ = run(real_docs + copies)
    near = [e for e in exclusions if e["filter"] == "near-duplicate"]
    found = {e["id"] for e in near} | {e["reason"].split()[2] for e in near}
    for o, c in zip(originals, copies):
        assert o["id"] in found and c["id"] in found, o["id"]
    # Every cluster keeps exactly one member: originals or their copy, never both.
    kept_ids = {d["id"] for d in kept}
    for o, c in zip(originals, copies):
        assert len(kept_ids & {o["id"], c["id"]}) == 1
        longer = o if o["n_tokens"] >= c["n_tokens"] else c
        assert longer["id"] in kept_ids


def test_heavily_edited_copy_is_not_merged(real_docs):
    doc = next(d for d in real_docs if d["n_tokens"] > 500 and d["id"] not in MEDICAL)
    far = as_doc("far", perturb(doc["text"], 0.5, 7))
    sig = [minhash_signature(d["text"], CONFIG) for d in (doc, far)]
    assert near_duplicate_pairs(sig, CONFIG) == []


def test_exact_duplicates_up_to_case_punctuation_whitespace(real_docs):
    doc = next(d for d in real_docs if d["id"].startswith("aeb:"))
    variant = re.sub(r"[.,;:!?\"'’“”]", " ", doc["text"].upper())
    variant = re.sub(r"\s+", "  \n ", variant)
    assert content_hash(variant) == content_hash(doc["text"])
    assert content_hash(doc["text"] + " extra words") != content_hash(doc["text"])
    kept, exclusions, counts = run([as_doc("variant", variant), doc])
    assert count_tokens(variant) < doc["n_tokens"]  # punctuation tokens are gone: the original is longer
    assert [d["id"] for d in kept] == [doc["id"]] and exclusions[0]["id"] == "variant"
    assert exclusions[0]["filter"] == "exact-duplicate" and counts["dedup-exact"] == 1


def test_representative_is_longest_then_earliest(real_docs):
    text = real_docs[0]["text"]
    short = {**as_doc("a", text), "n_tokens": 10}
    longest = {**as_doc("b", text.upper()), "n_tokens": 20}
    tie = {**as_doc("c", text + "!"), "n_tokens": 20}
    kept, exclusions, _ = run([short, longest, tie])
    assert [d["id"] for d in kept] == ["b"]
    assert sorted(e["id"] for e in exclusions) == ["a", "c"] and {e["value"] for e in exclusions} == {"b"}


def test_signatures_deterministic_and_seeded(real_docs):
    text = real_docs[3]["text"]
    a, b = minhash_signature(text, CONFIG), minhash_signature(text, CONFIG)
    assert a.dtype == np.uint32 and a.shape == (CONFIG.num_perm,) and np.array_equal(a, b)
    assert not np.array_equal(a, minhash_signature(text, DedupConfig(seed=2)))


def test_signature_ignores_case_and_punctuation_not_words(real_docs):
    text = real_docs[5]["text"]
    sig = minhash_signature(text, CONFIG)
    assert np.array_equal(sig, minhash_signature(text.upper().replace(",", " "), CONFIG))
    assert not np.array_equal(sig, minhash_signature(text + " and then something else entirely", CONFIG))


def test_same_url_keeps_the_longest_copy(real_docs):
    doc = real_docs[0]
    shorter = {**doc, "text": doc["text"][: len(doc["text"]) // 2], "n_tokens": doc["n_tokens"] // 2}
    kept, exclusions, counts = run([shorter, *real_docs[:3]])
    assert [e["filter"] for e in exclusions] == ["same-url"]
    assert exclusions[0]["value"] == doc["id"] and counts["dedup-url"] == 3
    assert next(d for d in kept if d["id"] == doc["id"])["text"] == doc["text"]
