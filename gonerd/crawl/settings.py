"""Crawl options and the Scrapy settings they map to.

Politeness comes from Scrapy itself: ``ROBOTSTXT_OBEY`` (Protego), one connection per host
(``CONCURRENT_REQUESTS_PER_DOMAIN=1``) and ``DOWNLOAD_DELAY`` without jitter, so the per-host request
rate never exceeds ``1 / per_host_delay``; a robots.txt ``Crawl-delay`` raises a host's delay (see
``gonerd.crawl.middlewares.RobotsCrawlDelay``). Size limits (``DOWNLOAD_MAXSIZE``, which Scrapy also
applies while decompressing), redirect caps (``REDIRECT_MAX_TIMES``) and retries are Scrapy's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gonerd import __version__

DEFAULT_USER_AGENT = (f"gonerd-crawler/{__version__} (+https://github.com/gonerd; builds a NER research corpus; "
                      "obeys robots.txt)")


@dataclass
class CrawlOptions:
    """Everything ``gonerd crawl`` needs; defaults are the polite ones."""

    seeds: list[str]
    out: Path
    max_pages: int = 0  # 0: no limit
    max_pages_per_domain: int = 0
    allow_domains: list[str] = field(default_factory=list)  # empty: the seeds' hosts
    allow: list[str] = field(default_factory=list)  # regexes a followed URL must match (any)
    deny: list[str] = field(default_factory=list)  # regexes a followed URL must not match
    user_agent: str = DEFAULT_USER_AGENT
    per_host_delay: float = 1.0
    concurrency: int = 8
    timeout: float = 30.0
    retries: int = 2
    retry_after_max: float = 120.0  # longest Retry-After honoured before giving up on the URL
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    warc_max_bytes: int = 100 * 1024 * 1024
    progress: bool = True
    redis_url: str | None = None  # a shared frontier (scrapy-redis) for several crawler processes
    redis_idle: float = 30.0  # with redis_url: seconds a worker waits on an empty shared queue before stopping

    def to_json(self) -> dict[str, Any]:
        """The options as JSON-ready values (for summary.json)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


def scrapy_settings(options: CrawlOptions) -> dict[str, Any]:
    """Scrapy settings for a crawl with ``options``."""
    settings = {
        "BOT_NAME": "gonerd",
        "USER_AGENT": options.user_agent,
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": options.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": options.per_host_delay,
        "DOWNLOAD_DELAY_JITTER": 0.0,
        "DOWNLOAD_TIMEOUT": options.timeout,
        "DOWNLOAD_MAXSIZE": options.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": options.max_redirects,
        "RETRY_TIMES": options.retries,
        "GONERD_RETRY_AFTER_MAX": options.retry_after_max,
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",  # gave-up URLs go to crawl_log.jsonl with their reason
        # Cookies are not needed to read public pages; disabling them also keeps tldextract (used by
        # the cookie middleware) from fetching the public suffix list over the network.
        "COOKIES_ENABLED": False,
        # No listening ports: Scrapy's telnet console and (since 2.19) remote-control HTTP server
        # are for interactive debugging, not for a batch crawl.
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "DUPEFILTER_CLASS": "gonerd.crawl.middlewares.ResumeDupeFilter",
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "gonerd.crawl.middlewares.SharedRobotsTxtMiddleware": 100,
            "gonerd.crawl.middlewares.RetryAfterMiddleware": 550,
            # After RobotsTxtMiddleware (100), so a disallowed URL never takes a place under a cap.
            "gonerd.crawl.middlewares.DomainCapMiddleware": 110,
        },
        "EXTENSIONS": {"gonerd.crawl.middlewares.RobotsCrawlDelay": 0},
        # Breadth-first, so a capped crawl samples every site rather than one deep branch.
        "DEPTH_PRIORITY": 1,
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
    }
    if options.redis_url:
        from gonerd.crawl.redis_frontier import redis_settings

        settings.update(redis_settings(options.redis_url))
    return settings
