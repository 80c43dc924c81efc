"""Benchmark of ``gonerd crawl``: a fault-injection crawl of >= 500 pages on a local server (127.0.0.1).

Measured from the server's own access log: request rate to the host against the configured per-host
limit (1 / --per-host-delay; goal within 10%), pages/s, share of the good pages stored (goal 100%),
good pages fetched more than once (goal 0) and disallowed URLs requested (goal 0).

    .venv/bin/python bench/bench_crawl.py [--copies 10] [--delay 0.1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from common import print_table, save_result  # noqa: E402
from crawl_server import CrawlServer, SiteConfig  # noqa: E402


def main() -> int:
    """Run the crawl, print the table and save ``bench/results/crawl.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10, help="times each of the 54 sample pages is served")
    parser.add_argument("--delay", type=float, default=0.1, help="--per-host-delay of the crawl (seconds)")
    args = parser.parse_args()

    server = CrawlServer(SiteConfig(copies=args.copies, crawl_delay=0))  # the limit is ours, not robots.txt's
    server.start()
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds.txt"
        seeds.write_text("\n".join(server.seeds()) + "\n")
        out = Path(tmp) / "out"
        command = [sys.executable, "-m", "gonerd.cli", "crawl", "--seeds", str(seeds), "--out", str(out),
                   "--per-host-delay", str(args.delay), "--timeout", "1", "--retries", "1",
                   "--max-bytes", "1500000", "--allow", r"/gp/\d+-[^/]+\.html$|/fault/|/private/", "--no-progress"]
        start = time.monotonic()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.monotonic() - start
        server.stop()
        summary = json.loads((out / "summary.json").read_text())
        stored = {json.loads(line)["url"] for line in (out / "crawl_log.jsonl").read_text().splitlines()
                  if json.loads(line)["outcome"] == "stored"}

    good = {f"{server.base}{p}" for p in server.good_paths()}
    hits = sorted(server.access, key=lambda h: h.time)
    ok_hits = Counter(h.path for h in hits if h.status == 200)
    span = hits[-1].time - hits[0].time
    limit = 1 / args.delay
    request_rate = (len(hits) - 1) / span
    gaps = sorted(b.time - a.time for a, b in zip(hits, hits[1:]))
    # A timeout or a Retry-After holds the whole host (one connection per host): time the host waits
    # after a fault request, which the rate without those waits leaves out.
    after_fault = [b.time - a.time for a, b in zip(hits, hits[1:]) if a.path.startswith("/fault/")]
    fault_wait = sum(after_fault)
    steady_rate = (len(hits) - 1 - len(after_fault)) / (span - fault_wait)
    ours = {
        "requests": len(hits), "crawl_span_s": round(span, 2), "wall_s": round(wall, 2),
        "requests_per_s": round(request_rate, 3),
        # The steady-state spacing: timeouts and Retry-After pauses (faults) lower the mean rate only.
        "median_gap_s": round(gaps[len(gaps) // 2], 4), "fault_wait_s": round(fault_wait, 2),
        "requests_per_s_without_fault_waits": round(steady_rate, 3), "pages_stored": summary["pages_stored"],
        "pages_per_s": round(summary["pages_stored"] / span, 3),
        "good_pages": len(good), "good_share_stored": round(len(stored & good) / len(good), 4),
        "good_fetched_twice": sum(1 for p in server.good_paths() if ok_hits[p] > 1),
        "disallowed_requested": sum(1 for h in hits if h.path.startswith("/private/")),
        "errors": summary["errors"], "retries": summary["retries"], "reasons": summary["reasons"],
    }
    baseline = {"per_host_limit_requests_per_s": limit, "per_host_delay_s": args.delay}
    print_table(f"gonerd crawl, {len(good)} good pages + faults, one host, --per-host-delay {args.delay}",
                [("per-host limit (requests/s)", f"{limit:.2f}"), ("achieved requests/s", f"{request_rate:.2f}"),
                 ("achieved / limit", f"{request_rate / limit:.3f}"),
                 ("median gap between requests (s)", f"{ours['median_gap_s']:.3f}"),
                 ("requests/s without the host's waits after fault URLs", f"{steady_rate:.2f}"),
                 ("  ... / limit", f"{steady_rate / limit:.3f}"), ("pages/s", f"{ours['pages_per_s']:.2f}"),
                 ("good pages stored", f"{ours['good_share_stored']:.2%}"),
                 ("good pages fetched twice", str(ours["good_fetched_twice"])),
                 ("disallowed requested", str(ours["disallowed_requested"]))], ("measure", "value"))
    path = save_result("crawl", baseline, ours, request_rate / limit, "achieved requests/s ÷ per-host limit")
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
