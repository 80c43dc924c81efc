"""The few pieces Scrapy 2.19 does not do itself, each a thin subclass or signal handler.

- ``RetryAfterMiddleware``: Scrapy's ``RetryMiddleware`` re-queues at once; this one pauses the whole
  host for ``Retry-After`` (429/503) or an exponential backoff, and logs each retry.
- ``RobotsCrawlDelay``: Scrapy parses ``Crawl-delay`` (``RobotParser.crawl_delay``, 2.18) but does not
  apply it; this raises the host's download-slot delay when robots.txt asks for more.
- ``DomainCapMiddleware``: ``--max-pages`` / ``--max-pages-per-domain`` without fetching pages that
  could not be kept.
- ``SharedRobotsTxtMiddleware``: Scrapy 2.19's ``RobotsTxtMiddleware`` lets every request that waits
  for a host's robots.txt after the first one through unchecked (see the class).
- ``ResumeDupeFilter``: Scrapy's fingerprint filter, seeded with the URLs a previous run already
  finished, and logging redirects to an already-requested URL (a loop) that Scrapy drops silently.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.dupefilters import RFPDupeFilter
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from w3lib.url import canonicalize_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser


def parse_retry_after(value: bytes | str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None when absent or bad."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    """Retry 429/5xx and network errors after a pause of the host: ``Retry-After`` or ``delay * 2**n``."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.retry_after_max = crawler.settings.getfloat("GONERD_RETRY_AFTER_MAX", 120.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        """Build from the crawler (its settings and downloader)."""
        return cls(crawler)

    def _slot(self, request: Request) -> Any:
        downloader = self.crawler.engine.downloader
        return downloader.slots.get(request.meta.get(downloader.DOWNLOAD_SLOT, ""))

    def _pause_host(self, request: Request, wait: float) -> None:
        slot = self._slot(request)
        if slot is not None and slot.delay > 0:
            # The downloader sends a host's next request at lastseen + delay; moving lastseen holds
            # back every request to that host, not only the one being retried.
            slot.lastseen = max(slot.lastseen, time.monotonic() + wait - slot.delay)

    def _backoff(self, request: Request) -> float:
        slot = self._slot(request)
        base = slot.delay if slot is not None else self.crawler.settings.getfloat("DOWNLOAD_DELAY")
        return min(self.retry_after_max, base * 2 ** request.meta.get("retry_times", 0))

    def _retry_later(self, request: Request, reason: str, wait: float) -> Request | None:
        retry = self._retry(request, reason)
        if retry is not None:
            self._pause_host(request, wait)
            self.crawler.spider.note_retry(request, reason, wait)
        return retry

    def process_response(self, request: Request, response: Response) -> Request | Response:
        """Retry a retryable status after ``Retry-After`` (capped) or a backoff; else pass it on."""
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        asked = parse_retry_after(response.headers.get(b"Retry-After"))
        if asked is not None and asked > self.retry_after_max:
            request.meta["gonerd_reason"] = f"Retry-After {asked:.0f} s exceeds the {self.retry_after_max:.0f} s limit"
            return response
        wait = asked if asked is not None else self._backoff(request)
        return self._retry_later(request, f"http {response.status}", wait) or response

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        """Retry a network error (timeout, connection lost, data loss) after a backoff."""
        if isinstance(exception, self.exceptions_to_retry) and not request.meta.get("dont_retry", False):
            return self._retry_later(request, type(exception).__name__, self._backoff(request))
        return None


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """``RobotsTxtMiddleware`` whose requests waiting for a host's robots.txt all get its parser.

    Scrapy 2.19 awaits the host's shared ``Deferred`` with ``maybe_deferred_to_future``; under the
    asyncio reactor that turns it into a future that consumes the result (Twisted's
    ``Deferred.asFuture``), so each later waiter receives ``None`` and is let through as if the host
    had no robots.txt. Each waiter here gets its own ``Deferred`` fed from the shared one.
    """

    async def robot_parser(self, request: Request) -> Any:
        """The host's parsed robots.txt (fetched once per host), or None when it could not be fetched."""
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        own: Deferred[Any] = Deferred()

        def relay(parser: Any) -> Any:
            own.callback(parser)
            return parser

        pending.addCallback(relay)
        return await maybe_deferred_to_future(own)


class RobotsCrawlDelay:
    """Apply a robots.txt ``Crawl-delay`` to the host's download slot when it exceeds our own delay."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsCrawlDelay:
        """Build and connect to the ``robots_parsed`` signal."""
        return cls(crawler)

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        """Raise the delay of the slot ``request`` uses to the robots.txt ``Crawl-delay``."""
        asked = robotparser.crawl_delay(self.crawler.settings["USER_AGENT"])
        if not asked:
            return
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        settings = downloader.per_slot_settings.setdefault(key, {})
        delay = max(asked, settings.get("delay", self.crawler.settings.getfloat("DOWNLOAD_DELAY")))
        # per_slot_settings covers a slot created (or re-created after idle clean-up) later.
        settings["delay"] = delay
        if key in downloader.slots:
            downloader.slots[key].delay = max(downloader.slots[key].delay, delay)
        self.crawler.spider.note_crawl_delay(key, asked)


class DomainCapMiddleware:
    """Ignore a page request when its domain (or the whole crawl) has reached its page cap."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DomainCapMiddleware:
        """Build from the crawler (the spider holds the counts)."""
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        """Reserve a place for a page request, or raise ``IgnoreRequest`` naming the cap."""
        if request.meta.get("kind") != "page" or request.meta.get("cap_reserved"):
            return
        refused = self.crawler.spider.output.reserve(request.url)
        if refused:
            raise IgnoreRequest(refused)
        request.meta["cap_reserved"] = True


class ResumeMixin:
    """Dupe-filter behaviour shared by the local and the Redis filter: URLs finished by an earlier run
    count as seen, and a dropped redirect (a loop, or a second way to a page) goes to crawl_log."""

    spider: Any

    def request_seen(self, request: Request) -> bool:
        """True for a URL finished by an earlier run, else the wrapped filter's answer."""
        if canonicalize_url(request.url) in self.spider.output.done:
            return True
        return super().request_seen(request)  # type: ignore[misc]

    def log(self, request: Request, spider: Any) -> None:
        """Log as the wrapped filter does, and log a dropped redirect to crawl_log."""
        super().log(request, spider)  # type: ignore[misc]
        if request.meta.get("redirect_urls"):
            spider.note_dropped_redirect(request)


class ResumeDupeFilter(ResumeMixin, RFPDupeFilter):
    """Scrapy's request-fingerprint filter (in memory) with :class:`ResumeMixin`."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResumeDupeFilter:
        """Build like ``RFPDupeFilter`` and keep the spider, which holds the finished URLs."""
        dupefilter = super().from_crawler(crawler)
        dupefilter.spider = crawler.spider
        return dupefilter
