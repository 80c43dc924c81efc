"""Shared fixtures: the bundled real sample, read, extracted and run once per test session."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "gonerd" / "sample"
PAGES = SAMPLE / "pages.jsonl"
DOJ = SAMPLE / "doj_releases.jsonl"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Ray reads these when it is imported, by whichever test imports it first: keep every Ray cluster of
# the tests on 127.0.0.1, without telemetry or auth tokens (../shared/ENVIRONMENT.md).
os.environ.update({"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
                   "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})


def in_ci() -> bool:
    """True under ``CI=true``, where ``../shared`` is always present."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def shared_missing(message: str) -> None:
    """Stop a test whose shared data is absent: skip it, or fail it under ``CI=true`` (same message)."""
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Under ``CI=true`` a skipped ``shared`` test is a failure, whichever way it skipped
    (``skipif`` marker, ``pytest.skip`` in its body or in a fixture): CI always has ``../shared``."""
    report: pytest.TestReport = yield
    if report.skipped and in_ci() and item.get_closest_marker("shared") is not None and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = reason.removeprefix("Skipped: ")
    return report


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder beside the repo; tests needing it skip where it is absent (fail under CI=true)."""
    if not SHARED_DATA.is_dir():
        shared_missing(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def page_entries() -> dict[str, dict[str, Any]]:
    """The bundled pages.jsonl entries (with inlined gold) by id."""
    return {e["id"]: e for e in map(json.loads, PAGES.read_text(encoding="utf-8").splitlines())}


@pytest.fixture(scope="session")
def read_records() -> dict[str, dict[str, Any]]:
    """Read records (HTML pages and DOJ texts) of the bundled sample, by id."""
    from gonerd.pipeline.read import read_inputs

    records = list(read_inputs([PAGES, DOJ]))
    assert not [r for r in records if "stage" in r], "the bundled sample must read cleanly"
    return {r["id"]: r for r in records}


@pytest.fixture(scope="session")
def extracted(read_records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Extracted documents (default ExtractConfig) of all 79 bundled records, by id."""
    from gonerd.config import ExtractConfig
    from gonerd.pipeline.extract import extract_record

    out = {}
    for rid, rec in read_records.items():
        doc = extract_record(rec, ExtractConfig())
        assert "stage" not in doc, doc
        out[rid] = doc
    return out


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One default ``run_docs`` over the bundled sample: (output dir, report)."""
    from gonerd.pipeline import run_docs

    out = tmp_path_factory.mktemp("sample_run")
    report = run_docs([PAGES, DOJ], out, progress=False)
    return out, report
