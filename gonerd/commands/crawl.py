"""``gonerd crawl``: fetch pages politely from seed URLs into WARC files that ``gonerd docs`` reads."""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urlsplit

from gonerd.errors import ConfigError, InputError


def read_seeds(path: Path) -> list[str]:
    """URLs of a seeds file: one per line; blank lines and ``#`` comments are skipped."""
    if not path.is_file():
        raise InputError("seeds file does not exist", str(path))
    seeds = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        url = raw.strip()
        if not url or url.startswith("#"):
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"not an http(s) URL: {url!r}", str(path), line=lineno)
        seeds.append(url)
    if not seeds:
        raise InputError("no seed URLs", str(path))
    return seeds


def _cmd(args: argparse.Namespace) -> int:
    from gonerd.crawl.run import run_crawl
    from gonerd.crawl.settings import DEFAULT_USER_AGENT, CrawlOptions

    for name in ("per_host_delay", "timeout"):
        if getattr(args, name) <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be > 0 (got {getattr(args, name)})")
    options = CrawlOptions(seeds=read_seeds(args.seeds), out=args.out, max_pages=args.max_pages,
                           max_pages_per_domain=args.max_pages_per_domain, allow_domains=args.allow_domain,
                           allow=args.allow, deny=args.deny, user_agent=args.user_agent or DEFAULT_USER_AGENT,
                           per_host_delay=args.per_host_delay, concurrency=args.concurrency, timeout=args.timeout,
                           retries=args.retries, retry_after_max=args.retry_after_max, max_bytes=args.max_bytes,
                           max_redirects=args.max_redirects, warc_max_bytes=args.warc_max_bytes,
                           progress=args.progress, redis_url=args.redis_url,
                           redis_idle=args.redis_idle)
    summary = run_crawl(options)
    print(f"{summary['pages_stored']} pages stored ({summary['pages_total']} in {args.out / 'warc'}), "
          f"{summary['errors']} errors, {summary['pages_per_s']} pages/s; finish: {summary['finish_reason']}; "
          f"log {args.out / 'crawl_log.jsonl'}, summary {args.out / 'summary.json'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``crawl`` subcommand."""
    p = sub.add_parser("crawl", help="crawl seed URLs politely into WARC files for `gonerd docs`",
                       description="Crawl from seeds (homepages, sitemaps, robots.txt, RSS/Atom feeds) with Scrapy, "
                                   "obeying robots.txt (Disallow, Crawl-delay), one connection and a fixed delay per "
                                   "host. Writes DIR/warc/*.warc.gz, DIR/crawl_log.jsonl and DIR/summary.json. "
                                   "Re-run the same command to resume after a stop or crash: finished pages are "
                                   "not fetched again.")
    p.add_argument("--seeds", type=Path, required=True, metavar="FILE", help="text file of seed URLs, one per line")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    p.add_argument("--max-pages", type=int, default=0, metavar="N", help="stop after N stored pages (0: no limit)")
    p.add_argument("--max-pages-per-domain", type=int, default=0, metavar="N",
                   help="store at most N pages per registrable domain (0: no limit)")
    p.add_argument("--allow-domain", action="append", default=[], metavar="DOMAIN",
                   help="follow links to DOMAIN and its subdomains (repeatable; default: the seeds' hosts)")
    p.add_argument("--allow", action="append", default=[], metavar="REGEX",
                   help="follow only URLs matching one of these regexes (repeatable)")
    p.add_argument("--deny", action="append", default=[], metavar="REGEX",
                   help="never follow URLs matching one of these regexes (repeatable)")
    p.add_argument("--user-agent", help="User-Agent (default names gonerd and its purpose)")
    p.add_argument("--per-host-delay", type=float, default=1.0, metavar="S",
                   help="seconds between requests to one host (robots.txt Crawl-delay raises it; default 1)")
    p.add_argument("--concurrency", type=int, default=8, metavar="N", help="requests in flight over all hosts")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="download timeout per request")
    p.add_argument("--retries", type=int, default=2, metavar="N", help="retries of a 429/5xx or network error")
    p.add_argument("--retry-after-max", type=float, default=120.0, metavar="S",
                   help="longest Retry-After to wait for; a longer one gives the URL up")
    p.add_argument("--max-bytes", type=int, default=10 * 1024 * 1024, metavar="N",
                   help="largest response body, also after decompression")
    p.add_argument("--max-redirects", type=int, default=5, metavar="N", help="longest redirect chain")
    p.add_argument("--warc-max-bytes", type=int, default=100 * 1024 * 1024, metavar="N",
                   help="start a new WARC file past this size")
    p.add_argument("--redis-url", metavar="URL",
                   help="share the frontier (queue and seen URLs) with other crawler processes through this "
                        "Redis, e.g. redis://host:6379/0 (scrapy-redis); give each process its own --out")
    p.add_argument("--redis-idle", type=float, default=30.0, metavar="S",
                   help="with --redis-url: stop after the shared queue stayed empty this long (default 30)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show a progress bar (pages, errors, bytes, pages/s) on stderr (default: on)")
    p.set_defaults(func=_cmd)
