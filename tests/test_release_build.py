"""The release build (bench/release_build.py): its committed config, the hand-label subset, the missing-data
rule, and a small real build whose card and statistics must agree with the dataset it built."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gonerd.card import blocks, split_front_matter
from gonerd.conll import DOCSTART
from gonerd.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import release_build  # noqa: E402  (a script folder, not a package)

GOLD = REPO / "gonerd" / "sample" / "gold_test.conll"


def _docstarts(path: Path) -> list[str]:
    return [line.split()[1] for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(DOCSTART)]


def test_committed_config_names_the_issue_sources_and_no_machine_path():
    config = release_build.load_release_config(REPO / release_build.CONFIG)
    assert [(s.key, s.kind) for s in config.sources] == [("webpages", "manifest"), ("doj", "releases")]
    assert not any(Path(s.path).is_absolute() for s in config.sources)
    assert '= "/' not in (REPO / release_build.CONFIG).read_text(encoding="utf-8")
    assert set(config.not_used) == {"litbank_entities", "conll2003"}
    assert config.docs.sample.domain_shares == {}  # every document that passes the filters is kept
    assert config.label.ner_model is None and config.label.spacy_fixes and config.label.misc_rules
    assert (REPO / config.hand_labels).is_file()


def test_a_source_of_unknown_kind_or_without_a_stated_domain_is_refused(tmp_path):
    path = tmp_path / "release.toml"
    source = 'key = "x"\nname = "X"\npath = "x.jsonl"\nupstream = "u"\nlicence = "l"\n'
    path.write_text(f'[[sources]]\n{source}kind = "zip"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.kind: expected one of manifest, releases"):
        release_build.load_release_config(path)
    path.write_text(f'[[sources]]\n{source}kind = "releases"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.domain"):
        release_build.load_release_config(path)


def test_hand_labels_are_cut_to_the_documents_built(tmp_path):
    ids = _docstarts(GOLD)
    assert release_build.hand_labels_of(GOLD, set(ids) | {"other"}, tmp_path / "h.conll") == GOLD
    subset = release_build.hand_labels_of(GOLD, {ids[0], ids[3]}, tmp_path / "h.conll")
    assert subset == tmp_path / "h.conll" and _docstarts(subset) == [ids[0], ids[3]]
    kept = subset.read_text(encoding="utf-8")
    assert all(block in GOLD.read_text(encoding="utf-8") for block in kept.split(DOCSTART)[1:])
    assert release_build.hand_labels_of(GOLD, {"other"}, tmp_path / "none.conll") is None


def test_with_block_inserts_after_sources_then_replaces_in_place():
    card = ("<!-- gonerd:begin sources -->\nS\n<!-- gonerd:end sources -->\n\n"
            "<!-- gonerd:begin x -->\nX\n<!-- gonerd:end x -->\n")
    once = release_build.with_block(card, "release", "FIRST")
    assert once.index("S\n") < once.index("FIRST") < once.index("X") and blocks(once)["release"].strip() == "FIRST"
    twice = release_build.with_block(once, "release", "SECOND")
    assert "FIRST" not in twice and twice.replace("SECOND", "FIRST") == once


def test_without_shared_data_the_build_is_skipped_or_fails_under_ci(tmp_path, monkeypatch, capsys):
    args = ["--data-root", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]
    monkeypatch.delenv("CI", raising=False)
    assert release_build.main(args) == 0
    assert "release build skipped: shared data not found" in capsys.readouterr().out
    monkeypatch.setenv("CI", "true")
    with pytest.raises(SystemExit, match="CI=true: the shared data must be present"):
        release_build.main(args)
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit) as exit_info:
        release_build.main([*args, "--limit", "pages=3"])
    assert exit_info.value.code == 2 and "expected KEY=N" in capsys.readouterr().err


@pytest.mark.shared
def test_small_release_build_card_and_stats_agree_with_the_dataset(shared_data, tmp_path, monkeypatch):
    from gonerd.dataset import SPLITS, load_gonerd

    monkeypatch.delenv("CI", raising=False)
    out = tmp_path / "out"
    assert release_build.main(["--data-root", str(shared_data), "--out", str(out), "--limit", "webpages=10",
                               "--limit", "doj=5", "--no-conll", "--quiet"]) == 0
    card_dir = out / "card"  # a limited build never writes the committed card
    for name in ("README.md", "stats/stats.json", "stats/stats.md", "stats/figure1.png"):
        assert (card_dir / name).is_file(), name
    card = (card_dir / "README.md").read_text(encoding="utf-8")
    assert card == (out / "README.md").read_text(encoding="utf-8")

    dd = load_gonerd(out)
    n_docs = sum(len(dd[s]) for s in SPLITS)
    n_tokens = sum(len(t) for s in SPLITS for t in dd[s]["tokens"])
    meta, body = split_front_matter(card)
    assert {x["name"]: x["num_examples"] for x in meta["dataset_info"]["splits"]} == {
        s: len(dd[s]) for s in SPLITS if len(dd[s])}
    assert f"{n_docs:,} whole documents" in body and f"{n_tokens:,} tokens" in body
    stats = json.loads((card_dir / "stats" / "stats.json").read_text(encoding="utf-8"))["corpora"]
    assert [c["name"] for c in stats] == ["GONERD"]  # --no-conll: no comparison column
    assert stats[0]["table1_lengths"]["count"] == n_docs and stats[0]["table9_tags"]["Total"]["count"] == n_tokens
    assert stats[0]["table10_domains"]["total"]["count"] == n_docs

    release = blocks(body)["release"]
    assert "`python bench/release_build.py --limit webpages=10 --limit doj=5 --no-conll`" in release
    assert f"| total | | 15 | {n_docs:,} | |" in release
    assert "| DOJ press releases (`doj_press_releases/releases_reassembled.jsonl`) | doj | 5 |" in release
    assert "public domain" in release and "`litbank_entities/`" in release
    n_doj = sum(d == "justice.gov" for s in SPLITS for d in dd[s]["domain"])
    assert f"justice.gov is {n_doj / n_docs:.1%} of the documents ({n_doj} of {n_docs}" in release
    longest = max(len(t) for s in SPLITS for t in dd[s]["tokens"])
    assert f"Longest documents: " in release and f"{longest:,} tokens" in release.split("Longest documents: ")[1]
    assert body.index("<!-- gonerd:end sources -->") < body.index("<!-- gonerd:begin release -->")
    # The card names its inputs relative to the build, never by a path of this machine.
    assert "`inputs/` (2)" in body
    assert str(tmp_path) not in card and str(shared_data.resolve()) not in card and str(REPO) not in card


@pytest.mark.shared
def test_a_page_saved_without_its_url_is_counted_under_its_source(shared_data, tmp_path, monkeypatch):
    # Extraction gives such a page the id of the canonical URL it names: counts must follow the input line.
    from gonerd.config import ExtractConfig, ReadConfig
    from gonerd.pipeline.extract import extract_record
    from gonerd.pipeline.read import read_jsonl_file

    monkeypatch.chdir(tmp_path)
    config = release_build.load_release_config(REPO / release_build.CONFIG)
    files, parts = release_build.write_inputs(config, shared_data, Path("inputs"), {})
    assert len(parts) == sum(len(f.read_text(encoding="utf-8").splitlines()) for f in files)
    record = next(r for r in read_jsonl_file(files[0], ReadConfig(html_root=str(shared_data)))
                  if r["id"] == "trafilatura:blog.python.org.html")
    doc = extract_record(record, ExtractConfig())
    assert doc["id"] != record["id"] and doc["url"].startswith("http")
    counts = release_build.part_counts(parts, [doc["source"]], [{"source": "inputs/doj.jsonl:1", "filter": "code"}])
    assert counts[("webpages", "trafilatura")]["dataset"] == 1
    assert counts[("doj", "doj")]["dropped"] == {"code": 1}
