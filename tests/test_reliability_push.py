"""Reliability of ``gonerd push`` (issue 15): the real CLI in a subprocess against real sockets on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

GONERD = [sys.executable, "-m", "gonerd.cli"]
REPO_ID = "gonerd-team/silent"
# Bounds the test if the push ignores its timeouts: the failure is then this, not a hung suite.
HANG_GUARD = 120


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    """The smallest directory `gonerd push` accepts: a card and one parquet shard."""
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"id": ["a"], "tokens": [["Hello"]]}), tmp_path / "data" / "train-00000-of-00001.parquet")
    (tmp_path / "README.md").write_text("---\nlicense: other\n---\n\n# silent\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts every connection and never sends a byte; yields its URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


@pytest.fixture
def full_server() -> Iterator[str]:
    """A server on 127.0.0.1 whose accept queue is full (backlog 0, one connection never accepted), so a
    new connection is never established — what an overloaded or firewalled host looks like; yields its URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    filler = socket.create_connection(server.getsockname(), timeout=5)
    try:
        yield url
    finally:
        filler.close()
        server.close()


def _push(dataset_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "GONERD_HUB_"))}
    return subprocess.run([*GONERD, "push", str(dataset_dir), "--repo-id", REPO_ID, *args],
                          env={**base, "HF_TOKEN": "hf_test", "HF_HUB_DISABLE_XET": "1", **(env or {})},
                          capture_output=True, text=True, timeout=HANG_GUARD)


def test_push_to_a_server_that_never_answers_fails_with_one_line(dataset_dir: Path, silent_server: str) -> None:
    run = _push(dataset_dir, "--endpoint", silent_server, "--timeout", "1")
    err = run.stderr.strip()
    assert run.returncode == 2, run.stderr
    assert err == (f"gonerd push: error: the Hub at {silent_server} did not answer within the 1 s timeout "
                   "(--timeout, GONERD_HUB_TIMEOUT)")


def test_push_timeout_and_endpoint_from_the_environment(dataset_dir: Path, silent_server: str) -> None:
    run = _push(dataset_dir, env={"HF_ENDPOINT": silent_server, "GONERD_HUB_TIMEOUT": "0.5"})
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().endswith(f"the Hub at {silent_server} did not answer within the 0.5 s timeout "
                                       "(--timeout, GONERD_HUB_TIMEOUT)")


def test_push_to_a_server_that_never_connects_fails_with_one_line(dataset_dir: Path, full_server: str) -> None:
    run = _push(dataset_dir, "--endpoint", full_server, "--connect-timeout", "1")
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == (f"gonerd push: error: cannot reach the Hub at {full_server}: no connection within "
                                  "the 1 s connect timeout (--connect-timeout, GONERD_HUB_CONNECT_TIMEOUT)")


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--timeout", "0"], {}, "--timeout / GONERD_HUB_TIMEOUT: must be a positive number of seconds, got 0.0"),
    ([], {"GONERD_HUB_CONNECT_TIMEOUT": "soon"},
     "--connect-timeout / GONERD_HUB_CONNECT_TIMEOUT: expected a number of seconds, got 'soon'"),
])
def test_bad_timeouts_are_config_errors(dataset_dir: Path, silent_server: str, args: list[str],
                                        env: dict[str, str], message: str) -> None:
    run = _push(dataset_dir, "--endpoint", silent_server, *args, env=env)
    assert run.returncode == 2 and run.stderr.strip() == f"gonerd push: error: {message}"
