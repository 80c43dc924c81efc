"""Extraction: our metadata subset agrees with trafilatura's full metadata; records get text and ids;
the ensemble method restores paragraphs trafilatura missed when every other extractor has them."""

import pytest
import trafilatura
from trafilatura.utils import load_html

from gonerd.config import ExtractConfig, from_dict
from gonerd.errors import ConfigError
from gonerd.extract_eval import load_gold_pages
from gonerd.pipeline import ensemble
from gonerd.pipeline.extract import extract_html, extract_record, page_metadata
from gonerd.records import document_id
from tests.conftest import PAGES


def test_page_metadata_matches_trafilatura_full_metadata(read_records):
    pages = [r for r in read_records.values() if r.get("html")][:25]
    assert len(pages) == 25
    found = 0
    for rec in pages:
        full = trafilatura.bare_extraction(rec["html"], url=rec["url"], with_metadata=True, favor_recall=True,
                                           include_comments=False,
                                           date_extraction_params={"extensive_search": False, "original_date": True})
        ours = page_metadata(load_html(rec["html"]), rec["url"])
        assert (ours["title"], ours["author"], ours["date"], ours["url"]) == (full.title, full.author, full.date,
                                                                               full.url), rec["id"]
        found += bool(ours["title"]) + bool(ours["date"])
    assert found >= 45  # real news pages: titles and dates are there to be found


def test_extract_html_text_equals_trafilatura_with_same_settings(read_records):
    rec = next(r for r in read_records.values() if r.get("html"))
    config = ExtractConfig()
    ours = extract_html(rec["html"], rec["url"], config)
    bare = trafilatura.extract(rec["html"], url=rec["url"], favor_recall=config.favor_recall,
                               include_comments=config.include_comments)
    assert ours["text"] == bare and len(ours["text"]) > 500


def test_page_without_url_is_keyed_by_its_canonical_url(read_records):
    rec = next(r for r in read_records.values() if r.get("html") and r["url"])
    anonymous = {**rec, "url": None, "id": document_id(None, rec["html"])}
    doc = extract_record(anonymous, ExtractConfig())
    assert doc["url"] and doc["id"] == document_id(doc["url"], b"") and doc["domain"]


def test_page_without_main_text_is_an_exclusion():
    rec = {"id": "x", "url": None, "source": "nav.html",
           "html": "<html><head><title>Gallery</title></head><body><img src='a.jpg'><script>var x = 1;</script>"
                   "</body></html>"}
    out = extract_record(rec, ExtractConfig())
    assert out["stage"] == "extract" and out["filter"] == "main-text" and "nav.html" in out["reason"]


# --- extract.method = "ensemble" (gonerd.pipeline.ensemble), on a real page of the bundled sample ---

@pytest.fixture(scope="module")
def quanta(read_records):
    """The Quanta article of the sample, trafilatura's text of it and what the three voters extract."""
    rec = next(r for r in read_records.values() if "quantamagazine.org" in (r.get("url") or ""))
    base = extract_html(rec["html"], rec["url"], ExtractConfig(method="trafilatura"))["text"]
    others = [ensemble.readability_text(rec["html"]), ensemble.justext_text(rec["html"]),
              ensemble.resiliparse_text(rec["html"])]
    return rec, base, others


def _agreed(base, others):
    """Long base lines every voter contains: the paragraphs the vote may restore."""
    grams = [ensemble.Ngrams(t) for t in others]
    return [line for line in base.split("\n") if len(line.split()) > 25 and all(g.contains(line) for g in grams)]


def test_voters_extract_the_article(quanta):
    _, base, others = quanta
    assert "Margaret Hamilton" in base
    for text in others:  # each finds the article text, one paragraph per line
        assert "Margaret Hamilton" in text and text.count("\n") > 10
    # jusText and Resiliparse have nearly all of trafilatura's text; the Readability fork scores a later
    # block best and keeps the article from "Many accounts" on (readability-lxml has it all: next test)
    assert all(ensemble.Ngrams(text).support(base) > 0.8 for text in others[1:])
    assert 0.5 < ensemble.Ngrams(others[0]).support(base) < 0.8 and others[0].startswith("Many accounts")
    assert len(_agreed(base, others)) >= 20


def test_ngram_support_counts_words_in_found_trigrams():
    grams = ensemble.Ngrams("The cat sat on the mat.\nA dog barked.")
    assert grams.support("the cat sat on a hat") == pytest.approx(4 / 6)  # "the cat sat on" covered
    assert grams.contains("the cat sat on a hat") and not grams.contains("a cat sat by a hat")
    assert grams.contains("dog barked") and not grams.contains("cat barked")  # short lines must appear whole
    assert ensemble.missing_words("the cat sat on the mat", "The cat sat on the mat.\nA dog barked loudly.") == 4


def test_vote_restores_paragraphs_all_voters_have_in_page_order(quanta):
    _, base, others = quanta
    lines = base.split("\n")
    dropped = _agreed(base, others)[3:8]
    cut = "\n".join(line for line in lines if line not in dropped)
    assert ensemble.missing_words(cut, others[2]) >= ensemble.GATE_WORDS
    restored = ensemble.vote(cut, others).split("\n")
    for line in dropped:  # back, between the same neighbours as in trafilatura's full text
        found = next(i for i, r in enumerate(restored) if ensemble.Ngrams(r).support(line) > 0.9)
        before = lines[lines.index(line) - 1]
        assert before in dropped or restored[found - 1] == before
    kept = [line for line in lines if line not in dropped]
    assert [line for line in restored if line in kept] == kept  # trafilatura's lines, in their order


def test_vote_adds_nothing_one_voter_lacks(quanta):
    _, base, others = quanta
    line = _agreed(base, others)[4]
    cut = base.replace(line + "\n", "")
    assert ensemble.vote(cut, others).count(line[:60]) == 1
    # the first voter loses the whole paragraph: the other two alone do not bring it back
    without = ["\n".join(p for p in others[0].split("\n") if line[:60] not in p), others[1], others[2]]
    assert not ensemble.Ngrams(without[0]).contains(line)
    assert line[:60] not in ensemble.vote(cut, without)


def test_ensemble_text_runs_the_vote_only_past_the_gate(quanta):
    rec, base, others = quanta
    # trafilatura found the whole article: too little is missing to run readability and jusText
    assert ensemble.missing_words(base, others[2]) < ensemble.GATE_WORDS
    assert ensemble.ensemble_text(rec["html"], base) == base
    agreed = _agreed(base, others)
    cut = "\n".join(line for line in base.split("\n") if line not in agreed)
    completed = ensemble.ensemble_text(rec["html"], cut)
    # the lines it had stay, in order; paragraphs all three voters agree on are added at their place
    kept = [line for line in completed.split("\n") if line in cut.split("\n")]
    assert kept == cut.split("\n") and len(completed) > 2 * len(cut)
    assert ensemble.Ngrams(completed).support(base) > 0.9


def test_extract_html_with_the_ensemble_method(quanta):
    rec, base, _ = quanta
    config = ExtractConfig(method="ensemble")
    ours = extract_html(rec["html"], rec["url"], config)
    plain = extract_html(rec["html"], rec["url"], ExtractConfig(method="trafilatura"))
    assert ours["text"] == base and {k: v for k, v in ours.items() if k != "text"} == \
        {k: v for k, v in plain.items() if k != "text"}
    assert extract_record(rec, config)["text"] == base


def test_voters_on_empty_or_bare_pages_return_empty_text():
    for html in (b"", "<html><body><script>var x;</script></body></html>"):
        assert ensemble.readability_text(html) == "" and ensemble.justext_text(html) == ""
        assert ensemble.readability_lxml_text(html) == ""
        assert ensemble.resiliparse_text(html).strip() == ""


def test_readability_lxml_package_has_what_the_fork_voter_keeps(quanta):
    rec, base, others = quanta
    package = ensemble.readability_lxml_text(rec["html"])
    assert "Margaret Hamilton" in package and ensemble.Ngrams(package).support(base) > 0.9
    # what the fork keeps (the article from "Many accounts" on) the package has too, line for line
    assert ensemble.Ngrams(package).support(others[0]) > 0.95


def test_ngrams_grown_line_by_line_equal_those_of_the_joined_text(quanta):
    _, base, others = quanta
    lines = others[2].split("\n")
    whole = ensemble.Ngrams("\n".join(lines))
    grown, early = ensemble.Ngrams(lines[0]), ensemble.Ngrams(lines[0])
    early_sets = [early.grams(n) for n in range(1, ensemble.NGRAM + 1)]  # built before the lines are added
    for line in lines[1:]:
        grown.add(line)
        early.add(line)
    for n in range(1, ensemble.NGRAM + 1):
        assert grown.grams(n) == whole.grams(n) == early_sets[n - 1] and whole.grams(n)
    joined = ensemble.Ngrams("dog the")
    joined.add("cat sat")  # n-grams across the junction, as in the joined text "dog the\ncat sat"
    assert ("the", "cat") in joined.grams(2) and ("dog", "the", "cat") in joined.grams(3)


def test_missing_words_counts_only_lines_every_agreeing_output_contains():
    base = "The cat sat on the mat."
    other = "The cat sat on the mat.\nA dog barked loudly.\nRain fell all night long."
    assert ensemble.missing_words(base, other) == 9
    # the agreeing output has the dog line only: the rain line could not be voted in
    assert ensemble.missing_words(base, other, ["Then a dog barked loudly."]) == 4
    assert ensemble.missing_words(ensemble.Ngrams(base), other, ["Rain fell all night", "rain fell all"]) == 5


def _counting_justext(monkeypatch):
    calls = []
    real = ensemble.justext_text
    monkeypatch.setattr(ensemble, "justext_text", lambda html: calls.append(html) or real(html))
    return calls


def test_justext_runs_only_when_resiliparse_and_readability_agree_past_the_gate(monkeypatch, quanta):
    # a real page whose Resiliparse text has more than GATE_WORDS words trafilatura lacks (navigation,
    # teasers) that Readability does not have: jusText, the slowest voter, has nothing to vote on
    page = next(p for p in load_gold_pages(PAGES) if p.id.startswith("aeb:65bf3048"))
    base = extract_html(page.html, page.url, ExtractConfig(method="trafilatura"))["text"]
    resiliparse, readability = ensemble.resiliparse_text(page.html), ensemble.readability_text(page.html)
    assert ensemble.missing_words(base, resiliparse) >= ensemble.GATE_WORDS
    assert ensemble.missing_words(base, resiliparse, [readability]) < ensemble.GATE_WORDS
    calls = _counting_justext(monkeypatch)
    assert ensemble.ensemble_text(page.html, base) == base and calls == []
    # when the two agree on enough missing text, jusText votes
    rec, full, others = quanta
    cut = "\n".join(line for line in full.split("\n") if line not in _agreed(full, others))
    assert ensemble.ensemble_text(rec["html"], cut) != cut and len(calls) == 1


def test_default_method_is_the_ensemble_and_the_shard_cache_follows_its_code():
    from gonerd.pipeline import cache

    assert ExtractConfig().method == "ensemble"  # chosen on the DEV pages (README, Measured)
    # a cached shard is reused only while the code and libraries that extracted it are unchanged
    assert {extract_html.__module__, ensemble.ensemble_text.__module__} <= set(cache.STAGE_MODULES)
    assert {"trafilatura", "justext", "resiliparse"} <= set(cache.STAGE_LIBRARIES)


def test_unknown_extract_method_is_a_config_error():
    assert from_dict(ExtractConfig, {"method": "ensemble"}).method == "ensemble"
    with pytest.raises(ConfigError, match=r"extract\.method: expected one of trafilatura, ensemble, got 'vote'"):
        from_dict(ExtractConfig, {"method": "vote"}, "extract")
