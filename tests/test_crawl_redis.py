"""Two ``gonerd crawl`` workers sharing one frontier in a local Redis (scrapy-redis), on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawl_server import CrawlServer, SiteConfig
from test_crawl import crawl_command, page_hits, stored_urls

pytest.importorskip("scrapy_redis")
REDIS_SERVER = shutil.which("redis-server")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server (apt-get install redis-server)")]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throw-away Redis on 127.0.0.1, without persistence."""
    port = free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


def test_two_workers_share_the_frontier(tmp_path: Path, redis_url: str) -> None:
    # ~18 s of work for the second to join: at 0.1 s (~6 s) the first worker could finish before the second
    # had started on a loaded machine
    server = CrawlServer(SiteConfig(faults=False, crawl_delay=0.3))
    server.start()
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(server.seeds()) + "\n")
    try:
        workers = []
        for i in (1, 2):
            workers.append(subprocess.Popen(crawl_command(seeds, tmp_path / f"worker{i}", "--redis-url", redis_url,
                                                          "--redis-idle", "0"),
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            # The second worker joins once the first has filled the shared queue: a worker that finds it
            # empty waits --redis-idle seconds (in Scrapy's 5 s heartbeat steps) before it stops.
            log = tmp_path / "worker1" / "crawl_log.jsonl"
            deadline = time.monotonic() + 60
            while i == 1 and time.monotonic() < deadline and not (log.exists() and log.read_text().count("\n") >= 3):
                time.sleep(0.02)
        errors = [w.communicate(timeout=120)[1] for w in workers]
    finally:
        server.stop()
    assert [w.returncode for w in workers] == [0, 0], errors
    per_worker = [stored_urls(tmp_path / f"worker{i}") for i in (1, 2)]
    union = per_worker[0] + per_worker[1]
    assert sorted(union) == sorted(f"{server.base}{p}" for p in server.good_paths())  # each page once, overall
    assert all(per_worker)  # both workers took part
    hits = page_hits(server.access)
    assert hits.pop("/robots.txt") == 2  # each worker reads robots.txt itself
    assert max(hits.values()) == 1
