"""Extraction scoring: hand-computed scores, our extraction next to bare trafilatura, manifest formats."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gonerd.cli import main
from gonerd.commands.eval_extract import extraction_table, run_eval_extract
from gonerd.config import ExtractConfig
from gonerd.errors import InputError
from gonerd.extract_eval import (HELD_OUT_SHARE, GoldPage, bag_of_words, evaluate, load_gold_pages, score_page,
                                 select_split, split_of, summarize)
from tests.conftest import PAGES


def test_score_page_hand_computed():
    page = GoldPage("p", None, b"", gold_text="The cat sat on the mat.")
    s = score_page(page, "the cat sat. Click here")
    # gold: the×2 cat sat on mat (6); pred: the cat sat click here (5); overlap: the cat sat (3)
    assert (s["overlap"], s["n_pred"], s["n_gold"]) == (3, 5, 6)
    assert s["precision"] == pytest.approx(0.6) and s["recall"] == pytest.approx(0.5)
    assert s["f1"] == pytest.approx(2 * 0.6 * 0.5 / 1.1)
    assert score_page(page, "")["f1"] == 0.0
    assert bag_of_words("It's A-1, it's") == {"it": 2, "s": 2, "a": 1, "1": 1}


def test_snippet_scores_and_summary():
    snip = GoldPage("s", None, b"", with_snippets=("Many of us", "not in text"),
                    without_snippets=("© 2020 Foo", "absent"))
    s = score_page(snip, "Many  of\nUS have noticed. © 2020 foo")
    assert (s["with_found"], s["with_total"], s["without_absent"], s["without_total"]) == (1, 2, 1, 2)
    a = score_page(GoldPage("a", None, b"", gold_text="one two three four"), "one two five")
    b = score_page(GoldPage("b", None, b"", gold_text="six seven"), "six seven")
    summary = summarize([a, b, s])
    # micro: overlap 2+2=4, pred 3+2=5, gold 4+2=6
    assert summary["micro_precision"] == pytest.approx(0.8) and summary["micro_recall"] == pytest.approx(4 / 6)
    assert summary["micro_f1"] == pytest.approx(2 * 0.8 * (4 / 6) / (0.8 + 4 / 6))
    assert summary["macro_f1"] == pytest.approx((a["f1"] + 1.0) / 2)
    assert (summary["pages_text_gold"], summary["pages_snippet_gold"]) == (2, 1)
    assert summary["must_include_found"] == 0.5 and summary["must_not_absent"] == 0.5


@pytest.fixture(scope="module")
def gold_pages():
    return load_gold_pages(PAGES)


def test_bundled_manifest_loads(gold_pages):
    assert len(gold_pages) == 54
    text = [p for p in gold_pages if p.gold_text is not None]
    snippets = [p for p in gold_pages if p.with_snippets]
    assert len(text) == 46 and len(snippets) == 8
    quanta = next(p for p in gold_pages if p.id == "readability:quanta-1")
    assert "<" not in quanta.gold_text and "Margaret Hamilton" in quanta.gold_text
    assert all(p.html.lstrip().startswith(b"<") for p in gold_pages)


def test_our_extraction_at_least_as_good_as_bare_trafilatura(gold_pages):
    import trafilatura

    from gonerd.pipeline.extract import extract_html

    text = [p for p in gold_pages if p.gold_text is not None]
    bare = evaluate(text, lambda html, url: trafilatura.extract(html, url=url))["summary"]
    ours = evaluate(text, lambda html, url: (extract_html(html, url, ExtractConfig()) or {}).get("text"))["summary"]
    assert ours["micro_f1"] >= bare["micro_f1"] > 0.9
    assert ours["micro_precision"] >= bare["micro_precision"]


def test_eval_extract_command(tmp_path, page_entries, capsys):
    # A three-page manifest in the bundled format: one per gold kind.
    chosen = ["readability:quanta-1", "trafilatura:cbsnews.com.carolina.html",
              next(k for k in page_entries if k.startswith("aeb:"))]
    manifest = tmp_path / "pages.jsonl"
    lines = [json.dumps({**page_entries[k], "html_path": str(PAGES.parent / page_entries[k]["html_path"])})
             for k in chosen]
    manifest.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.json"
    assert main(["eval-extract", "--pages", str(manifest), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| trafilatura.extract (defaults) |" in printed and "| gonerd (" in printed
    saved = json.loads(out.read_text())
    # the result names the command that made it, with no absolute path (it goes to bench/results/)
    assert saved["command"] == f"gonerd eval-extract --pages {os.path.relpath(manifest)} --out {os.path.relpath(out)}"
    assert not Path(saved["manifest"]).is_absolute() and saved["date"].endswith("+00:00")
    results = saved["results"]
    assert len(results) == 2 and all(len(r["pages"]) == 3 for r in results.values())
    ours = next(v for k, v in results.items() if k.startswith("gonerd"))["summary"]
    assert ours["pages_text_gold"] == 2 and ours["pages_snippet_gold"] == 1
    assert ours["must_include_found"] == 1.0
    table = extraction_table(results)
    assert table.count("\n") == 3


def test_run_eval_extract_grid(tmp_path, page_entries):
    entry = page_entries["readability:quanta-1"]
    manifest = tmp_path / "one.jsonl"
    manifest.write_text(json.dumps({**entry, "html_path": str(PAGES.parent / entry["html_path"])}) + "\n")
    results = run_eval_extract(manifest, ExtractConfig(), grid=True)
    # defaults, ours, 4 settings, the other method, Readability (the voter), readability-lxml, jusText, Resiliparse
    assert len(results) == 11 and all(r["summary"]["pages_text_gold"] == 1 for r in results.values())
    assert {"gonerd method=trafilatura", "Readability (trafilatura's fork)", "readability-lxml", "jusText",
            "Resiliparse"} <= set(results)


def test_split_is_fixed_stratified_and_disjoint(gold_pages):
    parts = split_of(gold_pages)
    assert parts == split_of(list(reversed(gold_pages)))  # the order of the manifest does not matter
    for source in {p.source for p in gold_pages}:
        ids = [p.id for p in gold_pages if p.source == source]
        held_out = sum(parts[i] == "test" for i in ids)
        assert held_out == round(len(ids) * HELD_OUT_SHARE)  # half of every source is held out
    dev, test = select_split(gold_pages, "dev"), select_split(gold_pages, "test")
    assert {p.id for p in dev}.isdisjoint(p.id for p in test) and len(dev) + len(test) == len(gold_pages)
    assert select_split(gold_pages, "all") == gold_pages
    with pytest.raises(InputError, match="unknown split 'train'"):
        select_split(gold_pages, "train")


def test_evaluate_reports_each_part(gold_pages):
    text = [p for p in gold_pages if p.gold_text is not None][:6]
    result = evaluate(text, lambda html, url: "", split_of(gold_pages))
    assert {s["part"] for s in result["pages"]} <= {"dev", "test"}
    for part in ("dev", "test"):
        if any(s["part"] == part for s in result["pages"]):
            assert result[f"summary_{part}"]["pages_text_gold"] == sum(s["part"] == part for s in result["pages"])


def test_bad_manifest_names_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"id": "x", "html_path": "nope.html", "gold_kind": "article_body_text"}) + "\n")
    with pytest.raises(InputError, match="line 1") as err:
        load_gold_pages(path)
    assert err.value.path == str(path)
    with pytest.raises(InputError, match="no such manifest"):
        load_gold_pages(tmp_path / "none.jsonl")


@pytest.mark.shared
def test_shared_manifest_loads(shared_data, gold_pages):
    manifest = shared_data / "webpages" / "manifest.jsonl"
    if not manifest.is_file():
        pytest.skip(f"{manifest} not present")
    pages = load_gold_pages(manifest)
    assert len(pages) == len(manifest.read_text().splitlines())
    kinds = {p.id.split(":")[0] for p in pages}
    assert kinds == {"aeb", "readability", "trafilatura"}
    assert all(p.html and (p.gold_text or p.with_snippets or p.without_snippets) for p in pages)
    # The bundled sample inlines the same gold as the shared collection references.
    shared = {p.id: p for p in pages}
    assert {p.id for p in gold_pages} <= set(shared)
    for page in gold_pages:
        assert shared[page.id].gold_text == page.gold_text, page.id
        assert shared[page.id].with_snippets == page.with_snippets, page.id
        assert shared[page.id].html == page.html, page.id
