"""Extraction: our metadata subset agrees with trafilatura's full metadata; records get text and ids;
the ensemble method restores paragraphs trafilatura missed when every other extractor has them."""

import pytest
import trafilatura
from trafilatura.utils import load_html

from gonerd.config import ExtractConfig, from_dict
from gonerd.errors import ConfigError
from gonerd.pipeline import ensemble
from gonerd.pipeline.extract import extract_html, extract_record, page_metadata
from gonerd.records import document_id


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
    base = extract_html(rec["html"], rec["url"], ExtractConfig())["text"]
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
        assert ensemble.Ngrams(text).support(base) > 0.8
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
    half = "\n".join(base.split("\n")[:10])
    completed = ensemble.ensemble_text(rec["html"], half)
    # the lines it had stay, in order; paragraphs all three voters agree on are added at their place
    kept = [line for line in completed.split("\n") if line in half.split("\n")]
    assert kept == half.split("\n") and len(completed) > 2 * len(half)
    assert ensemble.Ngrams(completed).support(base) > 0.9


def test_extract_html_with_the_ensemble_method(quanta):
    rec, base, _ = quanta
    config = ExtractConfig(method="ensemble")
    ours = extract_html(rec["html"], rec["url"], config)
    plain = extract_html(rec["html"], rec["url"], ExtractConfig())
    assert ours["text"] == base and {k: v for k, v in ours.items() if k != "text"} == \
        {k: v for k, v in plain.items() if k != "text"}
    assert extract_record(rec, config)["text"] == base


def test_voters_on_empty_or_bare_pages_return_empty_text():
    for html in (b"", "<html><body><script>var x;</script></body></html>"):
        assert ensemble.readability_text(html) == "" and ensemble.justext_text(html) == ""
        assert ensemble.resiliparse_text(html).strip() == ""


def test_unknown_extract_method_is_a_config_error():
    assert from_dict(ExtractConfig, {"method": "ensemble"}).method == "ensemble"
    with pytest.raises(ConfigError, match=r"extract\.method: expected one of trafilatura, ensemble, got 'vote'"):
        from_dict(ExtractConfig, {"method": "vote"}, "extract")
