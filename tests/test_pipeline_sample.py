"""Domain-weighted sampling over the bundled real documents (25 justice.gov releases, 54 web pages)."""

from __future__ import annotations

import pytest

from gonerd.config import SampleConfig
from gonerd.pipeline.sample import sample_documents


@pytest.fixture(scope="module")
def docs(extracted) -> list[dict]:
    return [{"id": rid, "domain": d["domain"], "text": d["text"]} for rid, d in sorted(extracted.items())]


def count(docs: list[dict], domain: str) -> int:
    return sum(d["domain"] == domain or (d["domain"] or "").endswith("." + domain) for d in docs)


def ids(docs: list[dict]) -> list[str]:
    return [d["id"] for d in docs]


def test_default_share_largest_sample(docs):
    assert count(docs, "justice.gov") == 25 and len(docs) == 79
    kept, dropped, report = sample_documents(docs, SampleConfig())
    # 54 other documents can fill at most 75%: 72 documents, 18 of them releases.
    assert report["n"] == len(kept) == 72 and count(kept, "justice.gov") == 18
    assert report["achieved_shares"] == {"justice.gov": 0.25} and report["unmet"] == []
    assert len(kept) + len(dropped) == len(docs)
    assert set(ids(kept)).isdisjoint(e["id"] for e in dropped)
    assert {e["stage"] for e in dropped} == {"sample"}
    chosen = set(ids(kept))
    assert ids(kept) == [d["id"] for d in docs if d["id"] in chosen]  # input order kept


@pytest.mark.parametrize("n,shares", [(40, {"justice.gov": 0.25}), (30, {"justice.gov": 0.5}),
                                      (50, {"justice.gov": 0.2, "cbsnews.com": 0.04}), (33, {"justice.gov": 0.1})])
def test_explicit_n_hits_target_shares(docs, n, shares):
    kept, _, report = sample_documents(docs, SampleConfig(n=n, domain_shares=shares))
    assert len(kept) == n
    for domain, share in shares.items():
        assert abs(count(kept, domain) - share * n) <= 1, (domain, count(kept, domain))
        assert report["achieved_shares"][domain] == pytest.approx(count(kept, domain) / n, abs=1e-4)


def test_reproducible_and_seed_dependent(docs):
    a = ids(sample_documents(docs, SampleConfig(n=40, seed=3))[0])
    assert a == ids(sample_documents(docs, SampleConfig(n=40, seed=3))[0])
    b = ids(sample_documents(docs, SampleConfig(n=40, seed=4))[0])
    assert a != b


def test_unmet_target_domain_is_reported(docs):
    kept, _, report = sample_documents(docs, SampleConfig(n=40, domain_shares={"justice.gov": 0.25,
                                                                                "example.org": 0.2}))
    assert report["unmet"] == ["example.org"] and report["achieved_shares"]["example.org"] == 0.0
    assert len(kept) == 40 and abs(count(kept, "justice.gov") - 10) <= 1


def test_subdomains_count_for_their_domain(docs):
    moved = [{**d, "domain": "usao-edar." + d["domain"]} if d["domain"] == "justice.gov" else d for d in docs]
    kept, _, report = sample_documents(moved, SampleConfig(n=40))
    assert count(kept, "justice.gov") == 10 and report["achieved_shares"]["justice.gov"] == 0.25


def test_n_larger_than_available_takes_all(docs):
    kept, dropped, _ = sample_documents(docs, SampleConfig(n=500, domain_shares={}))
    assert len(kept) == len(docs) and dropped == []


@pytest.mark.parametrize("shares", [{"justice.gov": 0.7, "cbsnews.com": 0.4}, {"justice.gov": 1.5},
                                    {"justice.gov": -0.1}])
def test_invalid_shares_rejected(docs, shares):
    with pytest.raises(ValueError, match="domain shares"):
        sample_documents(docs, SampleConfig(domain_shares=shares))
