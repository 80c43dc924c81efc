"""Everything a crawl writes under ``--out``: WARC files, ``crawl_log.jsonl``, ``summary.json``, the progress bar.

On start it repairs what a crash may have left (a torn WARC member, a torn log line) and rebuilds the
set of finished URLs — pages in the WARC files and final outcomes in the log — so a resumed crawl
fetches none of them again.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from w3lib.url import canonicalize_url

from gonerd.crawl.log import CrawlLog, repair_log
from gonerd.crawl.settings import CrawlOptions
from gonerd.crawl.warc import WarcWriterRotating, repair_tail, stored_pages, warc_files
from gonerd.records import registrable_domain


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class CrawlOutput:
    """The output directory of one crawl, its counters and its page caps."""

    def __init__(self, options: CrawlOptions) -> None:
        self.options = options
        self.out = options.out
        self.out.mkdir(parents=True, exist_ok=True)
        warc_dir = self.out / "warc"
        warc_dir.mkdir(exist_ok=True)
        self.repaired = {str(p): cut for p in warc_files(warc_dir) if (cut := repair_tail(p))}
        # Files of earlier runs; this run writes to new ones, so these can be re-read while it crawls.
        self.previous_files = warc_files(warc_dir)
        previous_urls = [p.url for p in stored_pages(self.previous_files)]
        self.pages_before = len(previous_urls)
        log_entries = repair_log(self.out / "crawl_log.jsonl")
        self.done: set[str] = {canonicalize_url(u) for u in previous_urls}
        for entry in log_entries:
            if entry.get("final"):
                self.done.update(canonicalize_url(u) for u in (entry.get("url"), entry.get("requested")) if u)
        self.stored_per_domain: Counter[str] = Counter(registrable_domain(u) or "" for u in previous_urls)
        self.inflight_per_domain: Counter[str] = Counter()
        self.writer = WarcWriterRotating(warc_dir, options.warc_max_bytes)
        self.log = CrawlLog(self.out / "crawl_log.jsonl")
        self.reasons: Counter[str] = Counter()
        self.pages = 0
        self.errors = 0
        self.retries = 0
        self.crawl_delays: dict[str, float] = {}
        self.started = time.monotonic()
        self.last_activity = self.started
        self.started_at = now_iso()
        self._bar = None
        if options.progress:
            from tqdm import tqdm

            self._bar = tqdm(total=options.max_pages or None, unit="page", desc="crawl", dynamic_ncols=True)
        self._update_bar()

    def total_pages(self) -> int:
        """Pages stored by this run and earlier ones."""
        return self.pages_before + self.pages

    def reserve(self, url: str) -> str | None:
        """Count ``url`` as in flight, or return why a cap refuses it."""
        domain = registrable_domain(url) or ""
        inflight = sum(self.inflight_per_domain.values())
        if self.options.max_pages and self.total_pages() + inflight >= self.options.max_pages:
            return f"max-pages: {self.options.max_pages} pages reached"
        cap = self.options.max_pages_per_domain
        if cap and self.stored_per_domain[domain] + self.inflight_per_domain[domain] >= cap:
            return f"domain-cap: {cap} pages from {domain} reached"
        self.inflight_per_domain[domain] += 1
        return None

    def release(self, url: str) -> None:
        """End the in-flight count of a reserved URL."""
        domain = registrable_domain(url) or ""
        if self.inflight_per_domain[domain] > 0:
            self.inflight_per_domain[domain] -= 1

    def store_page(self, url: str, entry: dict[str, Any], **record: Any) -> None:
        """Write a page to the WARC, then its log entry (so the WARC is the record of truth)."""
        self.writer.write_page(url, **record)
        self.stored_per_domain[registrable_domain(url) or ""] += 1
        self.pages += 1
        self.done.add(canonicalize_url(url))
        self.record(entry)

    def record(self, entry: dict[str, Any]) -> None:
        """Append an outcome to the log and count it."""
        entry.setdefault("time", now_iso())
        self.last_activity = time.monotonic()
        self.log.write(entry)
        outcome = entry.get("outcome")
        if outcome == "retry":
            self.retries += 1
        elif outcome == "error":
            self.errors += 1
        if entry.get("reason"):
            self.reasons[entry["reason"].split(":")[0]] += 1
        self._update_bar()

    def _update_bar(self) -> None:
        if self._bar is None:
            return
        self._bar.n = self.total_pages()
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self._bar.set_postfix_str(f"errors={self.errors} bytes={self.writer.bytes_written:,} "
                                  f"pages/s={self.pages / elapsed:.2f}", refresh=True)

    def summary(self, finish_reason: str | None) -> dict[str, Any]:
        """Figures of the crawl (this run and, for pages, the whole output directory)."""
        elapsed = time.monotonic() - self.started
        return {
            "finish_reason": finish_reason,
            "started_at": self.started_at,
            "finished_at": now_iso(),
            "elapsed_s": round(elapsed, 3),
            "pages_stored": self.pages,
            "pages_before": self.pages_before,
            "pages_total": self.total_pages(),
            "pages_per_s": round(self.pages / elapsed, 3) if elapsed > 0 else None,
            "errors": self.errors,
            "retries": self.retries,
            "reasons": dict(sorted(self.reasons.items())),
            "warc_bytes_written": self.writer.bytes_written,
            "warc_files": [p.name for p in warc_files(self.out / "warc")],
            "repaired_warc_tails": self.repaired,
            "pages_per_domain": dict(sorted(self.stored_per_domain.items())),
            "robots_crawl_delays": self.crawl_delays,
            "options": self.options.to_json(),
        }

    def close(self, finish_reason: str | None) -> dict[str, Any]:
        """Close the files, write ``summary.json`` and return the summary."""
        self.writer.close()
        self.log.close()
        if self._bar is not None:
            self._bar.close()
        summary = self.summary(finish_reason)
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary
