"""The ``gonerd`` CLI for the document pipeline: help, input and config errors, chained stages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gonerd.cli import main
from gonerd.pipeline import read_documents
from tests.conftest import DOJ, PAGES


def test_help_lists_pipeline_commands():
    res = subprocess.run([sys.executable, "-m", "gonerd.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    for command in ("docs", "extract", "filter", "dedup", "sample", "eval-extract"):
        assert command in res.stdout, command


def test_missing_input_fails_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    missing = tmp_path / "nowhere" / "pages.jsonl"
    assert main(["docs", str(PAGES), str(missing), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("name,content,expected", [
    ("c.toml", "[filters]\nmin_tokenz = 10\n", "filters: unknown key(s) min_tokenz"),
    ("c.toml", "[dedup]\nthreshold = \"high\"\n", "dedup.threshold: expected float"),
    ("c.toml", "[filters\nmin_tokens = 10\n", "not valid TOML"),
    ("c.yaml", "sample:\n  n: [1, 2]\n", "sample.n: expected int"),
    ("c.yaml", "sample: {n: 3\n", "not valid YAML"),
])
def test_bad_config_exits_2_naming_the_key(tmp_path, capsys, name, content, expected):
    cfg = tmp_path / name
    cfg.write_text(content)
    out = tmp_path / "out"
    assert main(["docs", str(DOJ), "--out", str(out), "--quiet", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(cfg) in err
    assert not out.exists()


@pytest.mark.parametrize("override,expected", [("filters.min_tokens=many", "config.filters.min_tokens: expected int"),
                                               ("filters.nope=1", "unknown key 'nope'"),
                                               ("shard_size", "expected KEY=VALUE")])
def test_bad_override_exits_2(tmp_path, capsys, override, expected):
    assert main(["docs", str(DOJ), "--out", str(tmp_path / "o"), "--quiet", "--set", override]) == 2
    assert expected in capsys.readouterr().err


def test_bad_share_exits_2(tmp_path, capsys):
    assert main(["docs", str(DOJ), "--out", str(tmp_path / "o"), "--quiet", "--share", "justice.gov"]) == 2
    assert "expected DOMAIN=FRACTION" in capsys.readouterr().err


def test_stage_commands_chained_match_docs(sample_run, tmp_path, capsys):
    out, _ = sample_run
    steps = [["extract", str(PAGES), str(DOJ), "--quiet"], ["filter", str(tmp_path / "extract")],
             ["dedup", str(tmp_path / "filter")], ["sample", str(tmp_path / "dedup")]]
    for step in steps:
        assert main([*step, "--out", str(tmp_path / step[0])]) == 0
    printed = capsys.readouterr().out
    assert "extract: 79 in → 79 out" in printed and "filter: 79 in → 78 out" in printed
    chained = read_documents(tmp_path / "sample")
    whole = read_documents(out)
    assert [d["id"] for d in chained] == [d["id"] for d in whole]
    assert [d["text"] for d in chained] == [d["text"] for d in whole]
    assert chained[0]["filters"] == whole[0]["filters"]
    report = json.loads((tmp_path / "sample" / "report.json").read_text())
    assert report["stage"] == "sample" and report["out"] == len(whole)


def test_docs_command_with_sample_options(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["docs", str(DOJ), "--out", str(out), "--quiet", "--n", "8", "--seed", "3", "--share", "justice.gov=1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "wrote 8 documents" in printed and "# gonerd docs — run report" in printed
    docs = read_documents(out)
    assert len(docs) == 8 and {d["domain"] for d in docs} == {"justice.gov"}
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["sample"] == {"n": 8, "domain_shares": {"justice.gov": 1.0}, "seed": 3}
