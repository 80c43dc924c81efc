"""The annotation app served by real uvicorn on 127.0.0.1 (a free port) in a background thread."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from annotation.app import create_app
from annotation.store import Store


def make_doc(doc_id: str, text: str, prelabels: list) -> dict:
    """A document for the store whose tokens are the whitespace-separated words of ``text``."""
    words = list(re.finditer(r"\S+", text))
    ends = [w.start() for w in words[1:]] + [len(text)]
    return {"id": doc_id, "text": text, "tokens": [w.group() for w in words],
            "whitespace": [text[w.end():end] for w, end in zip(words, ends)], "prelabels": prelabels,
            "label_source": "rules@1", "meta": {}}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(db: Path) -> Iterator[str]:
    """Serve the store at ``db``; yields the base URL, stops the server on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(Store(db)), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the annotation server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def login(base_url: str, name: str, password: str) -> Iterator[httpx.Client]:
    """A client logged in as ``name`` that sends its CSRF token on every request (closed on exit)."""
    client = httpx.Client(base_url=base_url, timeout=10)
    try:
        response = client.post("/api/login", json={"name": name, "password": password})
        response.raise_for_status()
        client.headers["X-CSRF-Token"] = response.json()["csrf"]
        yield client
    finally:
        client.close()
