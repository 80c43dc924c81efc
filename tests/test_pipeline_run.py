"""``run_docs`` end to end on the bundled sample: accounting, report, outputs, resume, workers."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gonerd.config import PipelineConfig
from gonerd.pipeline import read_documents, run_docs
from gonerd.pipeline.executor import LocalExecutor
from gonerd.pipeline.io import write_documents
from gonerd.records import DOCUMENT_FIELDS, EXCLUSION_FIELDS
from tests.conftest import DOJ, PAGES, REPO

N_INPUT = 79  # 54 pages + 25 releases


def exclusions_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "exclusions.jsonl").read_text(encoding="utf-8").splitlines()]


def test_every_record_is_a_document_or_an_exclusion(sample_run):
    out, report = sample_run
    docs, excl = read_documents(out), exclusions_of(out)
    assert len(docs) + len(excl) == N_INPUT
    ids = [d["id"] for d in docs] + [e["id"] for e in excl]
    assert len(set(ids)) == N_INPUT
    assert all(list(e) == list(EXCLUSION_FIELDS) for e in excl)
    assert all(set(d) == set(DOCUMENT_FIELDS) for d in docs)
    assert report["n_documents"] == len(docs) and report["n_tokens"] == sum(d["n_tokens"] for d in docs)


def test_report_stage_counts_are_consistent(sample_run):
    out, report = sample_run
    assert json.loads((out / "report.json").read_text()) == report
    stages = report["stages"]
    names = [s["stage"] for s in stages]
    assert names[:8] == ["read", "extract", "filter:length", "filter:non-alpha", "filter:duplicate-lines",
                         "filter:boilerplate", "filter:code", "filter:language"]
    assert names[-1] == "sample" and {"dedup-exact", "dedup-near"} <= set(names[8:-1])
    assert all(n.startswith("dedup-") for n in names[8:-1])
    assert stages[0]["in"] == N_INPUT and stages[-1]["out"] == report["n_documents"]
    for prev, cur in zip(stages, stages[1:]):
        assert cur["in"] == prev["out"] >= cur["out"]
    dropped_by_stage = {}
    for e in exclusions_of(out):
        dropped_by_stage[e["stage"]] = dropped_by_stage.get(e["stage"], 0) + 1
    by_name = {s["stage"]: s["in"] - s["out"] for s in stages}
    assert by_name["filter:code"] == dropped_by_stage["filter:code"] == 1
    assert sum(v for k, v in by_name.items() if k.startswith("dedup-")) == dropped_by_stage["dedup"] == 2
    assert by_name["sample"] == dropped_by_stage["sample"]
    assert sum(report["exclusions_by_filter"].values()) == N_INPUT - report["n_documents"]
    md = (out / "report.md").read_text()
    assert f"{report['n_documents']} documents" in md and "| filter:code | " in md and "justice.gov" in md


def test_justice_gov_share(sample_run):
    out, report = sample_run
    docs = read_documents(out)
    share = sum(d["domain"] == "justice.gov" for d in docs) / len(docs)
    assert abs(share - 0.25) <= 1 / len(docs)
    assert report["sample"]["achieved_shares"]["justice.gov"] == pytest.approx(share, abs=1e-4)
    assert report["domains"]["justice.gov"] == sum(d["domain"] == "justice.gov" for d in docs)


def test_documents_load_with_datasets_and_declared_features(sample_run, tmp_path):
    import datasets

    from gonerd.pipeline.io import _features

    out, report = sample_run
    ds = datasets.load_dataset("parquet", data_files=str(out / "documents.parquet"), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert ds.features == _features()
    assert len(ds) == report["n_documents"]
    docs = read_documents(out / "documents.parquet")
    assert ds["id"] == [d["id"] for d in docs] and ds[0]["text"] == docs[0]["text"]
    assert all(d["filters"] == ["length", "non-alpha", "duplicate-lines", "boilerplate", "code", "language"]
               for d in docs)
    assert all(d["text"].strip() and d["n_tokens"] >= 50 for d in docs)


def test_read_documents_errors(tmp_path):
    from gonerd.errors import InputError

    with pytest.raises(InputError, match="no documents.parquet here"):
        read_documents(tmp_path)
    (tmp_path / "documents.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="not a readable parquet"):
        read_documents(tmp_path)


def test_write_read_roundtrip(tmp_path):
    doc = {"id": "x1", "url": "https://www.justice.gov/a", "domain": "justice.gov", "source": "s", "fetched_at": None,
           "title": "T", "author": None, "date": "2025-01-16", "text": "Real text.", "n_tokens": 3,
           "filters": ["length"]}
    write_documents([doc], tmp_path / "d.parquet")
    assert read_documents(tmp_path / "d.parquet") == [doc]


def test_workers_give_identical_output(sample_run, tmp_path):
    out, _ = sample_run
    run_docs([PAGES, DOJ], tmp_path, PipelineConfig(workers=2), progress=False)
    assert json.loads((tmp_path / "run.json").read_text())["workers"] == 2
    for name in ("documents.parquet", "exclusions.jsonl", "report.json", "report.md"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_local_executor_order_and_validation():
    assert list(LocalExecutor(2).map(abs, range(-7, 0))) == [7, 6, 5, 4, 3, 2, 1]
    with pytest.raises(ValueError):
        LocalExecutor(0)


def kill_after_first_shard(cmd: list[str], out: Path, env: dict[str, str]) -> list[Path]:
    """Start ``cmd`` (a ``gonerd docs`` run into ``out``) and SIGKILL it once a shard is cached;
    returns the cached shards, having checked that the run was cut short."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    shards: list[Path] = []
    while not shards and proc.poll() is None and time.monotonic() < deadline:
        shards = sorted(out.glob(".work/*/shard-*.pkl"))
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert shards, f"no shard appeared before the run ended: {proc.stderr.read().decode()[-2000:]}"
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "documents.parquet").exists(), "the run finished before it could be killed"
    return sorted(out.glob(".work/*/shard-*.pkl"))


@pytest.mark.slow
def test_resume_after_kill_is_byte_identical(tmp_path):
    clean = tmp_path / "clean"
    run_docs([PAGES, DOJ], clean, PipelineConfig(shard_size=4), progress=False)

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "gonerd.cli", "docs", str(PAGES), str(DOJ), "--out", str(out), "--quiet",
           "--set", "shard_size=4"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = kill_after_first_shard(cmd, out, env)
    stamps = {p: p.stat().st_mtime_ns for p in done}
    total = len(list(clean.glob(".work/*/shard-*.pkl")))
    assert 1 <= len(done) < total == 20

    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in done} == stamps  # finished shards were reused, not redone
    assert len(list(out.glob(".work/*/shard-*.pkl"))) == total
    for name in ("documents.parquet", "exclusions.jsonl"):
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name


def test_missing_input_raises_before_any_output(tmp_path):
    from gonerd.errors import InputError

    out = tmp_path / "out"
    with pytest.raises(InputError, match="does not exist") as err:
        run_docs([DOJ, tmp_path / "missing.warc.gz"], out, progress=False)
    assert err.value.path == str(tmp_path / "missing.warc.gz")
    assert not out.exists()


def _run_info(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


def test_cache_reused_when_nothing_changed_and_recomputed_when_settings_or_code_change(tmp_path, monkeypatch):
    from gonerd.pipeline import cache

    config = PipelineConfig(shard_size=8)
    run_docs([DOJ], tmp_path, config, progress=False)
    first = _run_info(tmp_path)
    assert first["shards"] == 4 and first["shards_reused"] == 0

    run_docs([DOJ], tmp_path, config, progress=False)
    assert _run_info(tmp_path)["shards_reused"] == 4 and _run_info(tmp_path)["cache"] == first["cache"]

    edited = dataclasses.replace(config, filters=dataclasses.replace(config.filters, min_tokens=60))
    run_docs([DOJ], tmp_path, edited, progress=False)
    assert _run_info(tmp_path)["shards_reused"] == 0 and _run_info(tmp_path)["cache"] != first["cache"]

    # A new version of a library the stages call (e.g. trafilatura) invalidates every shard.
    versions = cache.library_versions()
    monkeypatch.setattr(cache, "library_versions", lambda: {**versions, "trafilatura": "99.0"})
    run_docs([DOJ], tmp_path, config, progress=False)
    assert _run_info(tmp_path)["shards_reused"] == 0 and _run_info(tmp_path)["cache"] != first["cache"]
    monkeypatch.undo()
    run_docs([DOJ], tmp_path, config, progress=False)
    assert _run_info(tmp_path)["shards_reused"] == 4


def test_code_fingerprint_follows_the_stage_sources(tmp_path, monkeypatch):
    from gonerd.pipeline import cache

    module = tmp_path / "stage_under_test.py"
    module.write_text("THRESHOLD = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cache, "STAGE_MODULES", (*cache.STAGE_MODULES, "stage_under_test"))
    before = cache.code_fingerprint()
    assert cache.code_fingerprint() == before
    module.write_text("THRESHOLD = 2\n")
    assert cache.code_fingerprint() != before
    assert set(cache.library_versions()) == set(cache.STAGE_LIBRARIES)
    assert cache.library_versions()["trafilatura"] != "absent"


def test_shard_key_covers_record_content():
    from gonerd.pipeline.cache import shard_key

    records = [{"id": "a", "html": "<p>Baltimore</p>"}]
    assert shard_key(records) == shard_key([dict(records[0])])
    assert shard_key(records) != shard_key([{"id": "a", "html": "<p>Annapolis</p>"}])


def test_edited_page_of_a_manifest_is_re_extracted(tmp_path):
    from tests.test_reliability_docs import article

    page = tmp_path / "a.html"
    page.write_text(article(), encoding="utf-8")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"url": "https://example.org/a", "html_path": "a.html"}) + "\n")
    out = tmp_path / "out"
    run_docs([manifest], out, progress=False)
    stat = page.stat()
    page.write_text(article().replace("Baltimore", "Annapolis"), encoding="utf-8")
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    run_docs([manifest], out, progress=False)
    assert "Annapolis" in read_documents(out)[0]["text"]
    assert len(list(out.glob(".work/*/shard-*.pkl"))) == 1  # the stale shard was pruned
