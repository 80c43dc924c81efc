"""End-to-end tests of ``gonerd crawl``: the real CLI in a subprocess against a real server on 127.0.0.1.

Assertions come from the server's own access log (what was really requested, when) and from the
files the crawler wrote. Each crawl runs in its own process because Twisted's reactor starts once.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from crawl_server import DISALLOWED, FAULTS, CrawlServer, Hit, SiteConfig
from gonerd.cli import main
from gonerd.pipeline.read import read_warc_file

pytestmark = pytest.mark.slow  # each crawl is a real Scrapy process against a real server

GONERD = [sys.executable, "-m", "gonerd.cli"]
PER_HOST_DELAY = 0.05  # below the robots.txt Crawl-delay, which must win
CRAWL_DELAY = 0.1
# Only the test site's pages: the sample pages' own relative links lead nowhere on this server.
ALLOW = r"/gp/\d+-[^/]+\.html$|/fault/|/private/"


def crawl_command(seeds: Path, out: Path, *extra: str) -> list[str]:
    """The CLI call of a test crawl."""
    return [*GONERD, "crawl", "--seeds", str(seeds), "--out", str(out), "--per-host-delay", str(PER_HOST_DELAY),
            "--timeout", "1", "--retries", "1", "--max-bytes", "1500000", "--allow", ALLOW, "--no-progress", *extra]


def run_crawl(server: CrawlServer, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Crawl ``server`` into ``tmp/out`` and wait for the command to end."""
    tmp.mkdir(parents=True, exist_ok=True)
    seeds = tmp / "seeds.txt"
    seeds.write_text("\n".join(server.seeds()) + "\n")
    result = subprocess.run(crawl_command(seeds, tmp / "out", *extra), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def stored_urls(out: Path) -> list[str]:
    """URLs of the response records in ``out/warc``, asserting every file reads to its end."""
    urls = []
    for path in sorted((out / "warc").glob("*.warc.gz")):
        for rec in read_warc_file(path):
            assert "stage" not in rec, rec["reason"]
            urls.append(rec["url"])
    return urls


def log_entries(out: Path) -> list[dict]:
    """The crawl log."""
    return [json.loads(line) for line in (out / "crawl_log.jsonl").read_text().splitlines()]


def page_hits(hits: list[Hit], status: int = 200) -> Counter[str]:
    """How often each path was answered with ``status``."""
    return Counter(h.path for h in hits if h.status == status)


@pytest.fixture(scope="module")
def fault_crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlServer, Path]:
    """One crawl of the fault-injecting site (shared by the tests below)."""
    tmp = tmp_path_factory.mktemp("fault_crawl")
    server = CrawlServer(SiteConfig(crawl_delay=CRAWL_DELAY))
    server.start()
    try:
        run_crawl(server, tmp)
    finally:
        server.stop()
    return server, tmp / "out"


def test_every_good_page_is_stored_once(fault_crawl: tuple[CrawlServer, Path]) -> None:
    server, out = fault_crawl
    urls = stored_urls(out)
    assert sorted(urls) == sorted(f"{server.base}{p}" for p in server.good_paths())
    hits = page_hits(server.access)
    assert {p: n for p, n in hits.items() if p in server.good_paths() and n != 1} == {}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pages_total"] == len(server.good_paths())
    assert summary["finish_reason"] == "finished"
    assert all("gonerd-crawler" in h.user_agent for h in server.access)


def test_disallowed_url_is_never_requested(fault_crawl: tuple[CrawlServer, Path]) -> None:
    server, out = fault_crawl
    assert not [h for h in server.access if h.path.startswith("/private/")]
    skipped = [e for e in log_entries(out) if e["url"].endswith(DISALLOWED)]
    assert [e["reason"].split(":")[0] for e in skipped] == ["robots"]
    assert server.access[0].path == "/robots.txt"


def test_per_host_rate_never_exceeds_the_crawl_delay(fault_crawl: tuple[CrawlServer, Path]) -> None:
    server, out = fault_crawl
    times = sorted(h.time for h in server.access)
    # Arrival times carry the server's scheduling jitter (tens of ms on a busy machine), so: no burst
    # (two requests much closer than the delay), and no run of 10 requests faster than the limit
    # allows, give or take 0.15 s of jitter. Our own 0.05 s delay alone would give 0.45 s runs.
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= CRAWL_DELAY / 4, sorted(gaps)[:5]
    spans = [times[i + 9] - times[i] for i in range(len(times) - 9)]
    assert min(spans) >= 9 * CRAWL_DELAY - 0.15, sorted(spans)[:5]
    assert json.loads((out / "summary.json").read_text())["robots_crawl_delays"] == {"127.0.0.1": CRAWL_DELAY}


def test_retry_after_pauses_the_host(fault_crawl: tuple[CrawlServer, Path]) -> None:
    server, out = fault_crawl
    hits = sorted(server.access, key=lambda h: h.time)
    refused = next(i for i, h in enumerate(hits) if h.status == 429)
    assert hits[refused + 1].time - hits[refused].time >= server.config.retry_after_s * 0.95
    retries = [e for e in log_entries(out) if e["outcome"] == "retry" and e["url"].endswith("/fault/busy.html")]
    assert [e["wait_s"] for e in retries] == [server.config.retry_after_s]


def test_each_fault_is_logged_with_its_reason(fault_crawl: tuple[CrawlServer, Path]) -> None:
    server, out = fault_crawl
    final = {e["requested"].removeprefix(server.base): e for e in log_entries(out) if e["final"]}
    found = {path: (final[path]["reason"] or "stored").split(":")[0] if path in final else None for path in FAULTS}
    assert found == FAULTS
    assert final["/fault/badenc.html"]["outcome"] == "stored"
    assert "download stopped" in final["/fault/report"]["reason"]
    assert "Retry-After 86400 s exceeds" in final["/fault/closed.html"]["reason"]
    assert final["/fault/loop/0"]["url"].endswith("/fault/loop/5")  # --max-redirects 5 (the default)
    assert page_hits(server.access, 500)["/fault/error.html"] == 2  # one retry (--retries 1), then given up


def test_resume_after_kill_gives_the_same_pages(tmp_path: Path) -> None:
    """Killed, then resumed: the pages an uninterrupted crawl stores (``good_paths``, as the test above
    shows), each fetched once unless the kill lost it."""
    server = CrawlServer(SiteConfig(faults=False, crawl_delay=0.03))
    server.start()
    uninterrupted = {f"{server.base}{p}" for p in server.good_paths()}
    try:
        out = tmp_path / "out"
        seeds = tmp_path / "seeds.txt"
        seeds.write_text("\n".join(server.seeds()) + "\n")
        proc = subprocess.Popen(crawl_command(seeds, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log = out / "crawl_log.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and log.read_text().count('"stored"') >= 12:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        # Whatever the kill left, also leave a torn WARC record and a torn log line behind.
        newest = sorted((out / "warc").glob("*.warc.gz"))[-1]
        record = b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 5000\r\n\r\n" + os.urandom(5000)
        with newest.open("ab") as fh:
            fh.write(gzip.compress(record)[:3000])
        with log.open("a") as fh:
            fh.write('{"url": "http://127.0.0.1/torn')
        before_kill = set(stored_urls_readable(out))
        assert 12 <= len(before_kill) < len(uninterrupted)
        server.access.clear()

        run_crawl(server, tmp_path)
    finally:
        server.stop()
    urls = stored_urls(out)
    assert len(urls) == len(set(urls))
    assert set(urls) == uninterrupted
    again = page_hits(server.access)
    assert {f"{server.base}{p}" for p in again} & before_kill == set()  # no written page fetched again
    assert max(again.values()) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pages_before"] == len(before_kill)
    assert summary["repaired_warc_tails"]


def stored_urls_readable(out: Path) -> list[str]:
    """URLs of the whole response records in ``out/warc``, ignoring a torn tail."""
    return [rec["url"] for path in sorted((out / "warc").glob("*.warc.gz"))
            for rec in read_warc_file(path) if "stage" not in rec]


def test_domain_cap_stops_fetching_pages_and_docs_reads_the_crawl(tmp_path: Path) -> None:
    server = CrawlServer(SiteConfig(faults=False, crawl_delay=0.02))
    server.start()
    try:
        result = run_crawl(server, tmp_path, "--max-pages-per-domain", "6", "--progress")
    finally:
        server.stop()
    assert "pages/s=" in result.stderr and "errors=" in result.stderr  # the progress bar
    out = tmp_path / "out"
    assert len(stored_urls(out)) == 6
    assert sum(n for p, n in page_hits(server.access).items() if p in server.good_paths()) == 6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pages_per_domain"] == {"127.0.0.1": 6}
    assert summary["reasons"]["domain-cap"] >= 1

    # crawl -> docs: `gonerd docs DIR/warc` reads the crawl as it is.
    docs = subprocess.run([*GONERD, "docs", str(out / "warc"), "--out", str(tmp_path / "docs"), "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert docs.returncode == 0, docs.stderr[-2000:]
    documents = pq.read_table(tmp_path / "docs" / "documents.parquet").to_pylist()
    assert documents and {d["url"] for d in documents} <= set(stored_urls(out))
    exclusions = [json.loads(line) for line in (tmp_path / "docs" / "exclusions.jsonl").read_text().splitlines()]
    assert [e for e in exclusions if e["stage"] == "read"] == []


def test_bad_seed_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# seeds\nhttp://127.0.0.1:9/\nftp://example.org/file\n")
    assert main(["crawl", "--seeds", str(seeds), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "ftp://example.org/file" in err and str(seeds) in err
    assert not (tmp_path / "out").exists()
