"""The paired bootstrap of entity F1 (kd/bootstrap.py) on real CoNLL-2003 tags."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gonerd.conll import read_conll
from kd.bootstrap import bootstrap_table, micro_f1, paired_bootstrap, unit_counts
from kd.evaluate import score

DATA = Path(__file__).parent / "data"


def _gold_documents() -> list[list[str]]:
    from gonerd.conll import iob1_to_iob2

    files = [DATA / "conll_snippet.txt", DATA / "kd_train.txt"]  # real CoNLL-2003 excerpts
    docs = [iob1_to_iob2(d.tags) for f in files for d in read_conll(f) if any(t != "O" for t in d.tags)]
    assert len(docs) >= 3
    return docs


def _perturbed(tags: list[str], rng: random.Random) -> list[str]:
    """A plausible model's output: some entities missed, some retyped, some cut short, stray I- tags."""
    out = list(tags)
    for i, tag in enumerate(out):
        roll = rng.random()
        if tag.startswith("B-") and roll < 0.15:
            out[i] = "O"  # leaves an I- without B- behind when the entity is longer: not an entity in strict mode
        elif tag.startswith("B-") and roll < 0.3:
            kind = rng.choice(["PER", "ORG", "LOC", "MISC"])
            out[i] = "B-" + kind
        elif tag == "O" and roll < 0.02:
            out[i] = rng.choice(["B-ORG", "I-LOC"])
    return out


def test_counts_give_seqeval_strict_f1_on_real_tags():
    rng = random.Random(0)
    gold = _gold_documents()
    pred = [_perturbed(g, rng) for g in gold]
    counts = unit_counts(gold, pred)
    tp, n_pred, n_gold = (sum(c[k] for c in counts) for k in range(3))
    expected = score(gold, pred)["ALL"]
    assert n_gold == expected["support"] and tp < n_gold
    assert float(micro_f1(tp, n_pred, n_gold)) == pytest.approx(expected["f1"], abs=1e-12)


def test_a_model_better_on_every_unit_wins_every_replicate_and_twins_tie():
    good = [(3, 3, 4), (2, 2, 2), (5, 6, 6), (1, 1, 1)]
    worse = [(2, 3, 4), (1, 2, 2), (4, 6, 6), (0, 1, 1)]
    result = paired_bootstrap({"good": good, "worse": worse, "twin": list(worse)}, replicates=500, seed=1)
    pairs = {(p["a"], p["b"]): p for p in result["pairs"]}
    assert result["units"] == 4 and list(result["models"]) == ["good", "worse", "twin"]
    assert pairs[("good", "worse")]["share_a_not_above_b"] == 0.0 and pairs[("good", "worse")]["ci95"][0] > 0
    assert pairs[("worse", "twin")] == {"a": "worse", "b": "twin", "diff": 0.0, "ci95": [0.0, 0.0],
                                        "share_a_not_above_b": 1.0}
    # good: 11 found of 12 predicted and 13 gold -> 22 / 25.
    assert result["models"]["good"]["f1"] == pytest.approx(22 / 25)
    lo, hi = result["models"]["good"]["ci95"]
    assert lo <= 22 / 25 <= hi and hi <= 1.0
    assert paired_bootstrap({"good": good, "worse": worse}, replicates=500, seed=1) == {
        **result, "models": {k: result["models"][k] for k in ("good", "worse")},
        "pairs": [pairs[("good", "worse")]]}  # the same seed draws the same replicates


def test_models_scored_on_different_units_are_refused():
    with pytest.raises(ValueError, match="different numbers of units"):
        paired_bootstrap({"a": [(1, 1, 1)], "b": [(1, 1, 1), (0, 0, 1)]})


def test_table_lists_every_pair_per_split():
    result = paired_bootstrap({"a": [(1, 1, 1), (0, 1, 1)], "b": [(0, 1, 1), (0, 1, 1)]}, replicates=50)
    table = bootstrap_table({"testb": result})
    assert "| testb | a − b | +50.0 |" in table and "50 replicates" in table
