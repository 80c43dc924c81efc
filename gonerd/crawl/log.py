"""``crawl_log.jsonl``: one JSON line per outcome (page stored, fault, skip, retry), flushed line by line.

A line cut short by a crash is removed on the next start, so the log stays valid JSON lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO


def repair_log(path: Path) -> list[dict[str, Any]]:
    """Entries of an existing log; a torn last line (no newline) is cut off the file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    whole = data[:data.rfind(b"\n") + 1]
    if len(whole) < len(data):
        with path.open("r+b") as fh:
            fh.truncate(len(whole))
    return [json.loads(line) for line in whole.decode("utf-8").splitlines() if line.strip()]


class CrawlLog:
    """Append-only JSON-lines log; every entry is flushed as soon as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: TextIO = path.open("a", encoding="utf-8")

    def write(self, entry: dict[str, Any]) -> None:
        """Append one entry and flush it."""
        self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        """Close the file."""
        self._fh.close()
