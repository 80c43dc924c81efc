"""The crawl spider: seeds (homepages, sitemaps, robots.txt, RSS/Atom feeds) to stored HTML pages.

Sitemap parsing (indexes, ``.xml.gz``, robots.txt ``Sitemap:`` lines) is Scrapy's ``SitemapSpider``;
links are Scrapy's ``LinkExtractor`` limited to the allowed domains and patterns. Every request has an
errback, so each fault reaches ``crawl_log.jsonl`` with its reason.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider, IgnoreRequest, StopDownload
from scrapy.http import HtmlResponse, Response
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.spiders import SitemapSpider
from scrapy.utils.sitemap import Sitemap
from twisted.python.failure import Failure

from gonerd.crawl.output import CrawlOutput, now_iso
from gonerd.crawl.settings import CrawlOptions
from gonerd.crawl.warc import stored_pages


def feed_links(body: bytes) -> list[str]:
    """Item links of an RSS or Atom feed (empty when ``body`` is not a feed)."""
    from lxml import etree

    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True,
                                                             recover=True, huge_tree=False))
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    rss = root.xpath("//*[local-name()='item']/*[local-name()='link']/text()")
    atom = root.xpath("//*[local-name()='entry']/*[local-name()='link'][not(@rel) or @rel='alternate']/@href")
    return [link.strip() for link in rss + atom if link.strip()]


def classify_failure(failure: Failure) -> tuple[str, bool]:
    """A ``reason`` (short code, a colon, detail) for a failed request, and whether the server was reached."""
    from scrapy.exceptions import (CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError,
                                   DownloadTimeoutError, ResponseDataLossError)

    exc = failure.value
    if isinstance(exc, HttpError):
        response = exc.response
        extra = failure.request.meta.get("gonerd_reason")
        return f"http-{response.status}: HTTP {response.status}" + (f"; {extra}" if extra else ""), True
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text:
            return "robots: disallowed by robots.txt", False
        if text.startswith(("max-pages", "domain-cap")):
            return text, False
        if "redirections" in text:
            return f"redirect-max: {text}", True
        if "DOWNLOAD_MAXSIZE" in text:
            return f"too-large: {text}", True
        return f"ignored: {text}", True
    kinds = ((DownloadTimeoutError, "timeout"), (DownloadCancelledError, "too-large"),
             (ResponseDataLossError, "truncated"), (DownloadConnectionRefusedError, "connection"),
             (CannotResolveHostError, "connection"))
    for kind, code in kinds:
        if isinstance(exc, kind):
            return f"{code}: {exc or type(exc).__name__}", code != "connection"
    return f"error: {type(exc).__name__}: {exc}", True


def _declared_charset(content_type: str) -> str | None:
    return content_type.lower().partition("charset=")[2].strip(" \"';") or None


def encoding_problem(body: bytes, content_type: str) -> str | None:
    """Why ``body`` does not decode with its declared charset (None when it does or none is declared)."""
    charset = _declared_charset(content_type)
    if charset is None:
        return None
    try:
        body.decode(charset)
    except LookupError:
        return f"bad-encoding: unknown charset {charset!r}"
    except UnicodeDecodeError as e:
        return f"bad-encoding: not valid {charset} at byte {e.start}"
    return None


class GonerdSpider(SitemapSpider):
    """Crawl from seeds and store each allowed HTML page once, in WARC."""

    name = "gonerd"
    sitemap_rules = [("", "parse_page")]

    def __init__(self, options: CrawlOptions, output: CrawlOutput, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = options
        self.output = output
        self._idle_since: float | None = None
        self.domains = [d.lower().lstrip(".") for d in options.allow_domains] or sorted(
            {urlsplit(u).hostname or "" for u in options.seeds})
        # Domains are checked here on the host name: LinkExtractor's allow_domains compares the
        # host with its port, so "127.0.0.1" never matches "127.0.0.1:8000".
        self.links = LinkExtractor(allow=options.allow, deny=options.deny, unique=True)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> GonerdSpider:
        """Build the spider and watch response headers, to stop non-HTML page downloads early."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_headers, signal=signals.headers_received)
        if spider.options.redis_url:
            crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    def on_idle(self) -> None:
        """With a shared frontier, stay open ``redis_idle`` seconds: other workers may still add URLs.

        Scrapy looks at the scheduler again on its 5 s heartbeat, so the wait is rounded up to that.
        """
        now = time.monotonic()
        if self._idle_since is None or self.output.last_activity > self._idle_since:
            self._idle_since = now
        if now - self._idle_since < self.options.redis_idle:
            raise DontCloseSpider

    def on_headers(self, headers: Any, body_length: int, request: Request) -> None:
        """Stop downloading a page whose Content-Type says it is not HTML (the callback logs it)."""
        ctype = (headers.get(b"Content-Type") or b"").decode("latin-1").lower()
        if request.meta.get("kind") == "page" and ctype and "html" not in ctype:
            raise StopDownload(fail=False)

    def on_allowed_domain(self, url: str) -> bool:
        """True when ``url``'s host is an allowed domain or a subdomain of one."""
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def allowed(self, url: str) -> bool:
        """True when ``url`` is on an allowed domain and passes --allow/--deny."""
        return self.on_allowed_domain(url) and self.links.matches(url)

    async def start(self) -> AsyncIterator[Request]:
        """Seeds first, then the links of pages stored by earlier runs (the frontier they left)."""
        for url in self.options.seeds:
            yield Request(url, callback=self.parse_seed, errback=self.on_error, meta={"kind": "seed"})
        for page in stored_pages(self.output.previous_files):
            response = HtmlResponse(page.url, body=page.body, headers={"Content-Type": page.content_type})
            for request in self.follow_links(response):
                yield request

    def page_request(self, url: str) -> Request:
        """A request for an HTML page."""
        return Request(url, callback=self.parse_page, errback=self.on_error, meta={"kind": "page"})

    def follow_links(self, response: Response) -> Iterator[Request]:
        """Requests for the allowed links of a page."""
        for link in self.links.extract_links(response):
            if self.allowed(link.url):
                yield self.page_request(link.url)

    def _from_sitemap(self, requests: Iterable[Request]) -> Iterator[Request]:
        for request in requests:
            if request.callback == self._parse_sitemap:
                if not self.on_allowed_domain(request.url):
                    continue
                # Through parse_seed again, so the pages of a nested sitemap get our errback too.
                yield request.replace(callback=self.parse_seed, errback=self.on_error, meta={"kind": "sitemap"})
            elif self.allowed(request.url):
                yield self.page_request(request.url)

    def parse_seed(self, response: Response) -> Iterator[Request]:
        """Dispatch a seed: robots.txt or sitemap (index, ``.xml.gz``), feed, or HTML page."""
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1")
        if response.url.endswith("/robots.txt"):
            yield from self._from_sitemap(self._parse_sitemap(response))
            return
        if "html" in ctype.lower():
            yield from self.parse_page(response)
            return
        body = self._get_sitemap_body(response)
        if body and Sitemap(body).type in ("sitemapindex", "urlset"):
            yield from self._from_sitemap(self._parse_sitemap(response))
            return
        links = feed_links(body or response.body)
        if not links:
            self.output.record(self._entry(response.request, response, "error",
                                           f"not-a-seed: neither HTML, sitemap nor feed ({ctype or 'no type'})",
                                           final=True))
        for url in links:
            if self.allowed(url):
                yield self.page_request(url)

    def _entry(self, request: Request, response: Response | None, outcome: str, reason: str | None,
               final: bool) -> dict[str, Any]:
        redirects = request.meta.get("redirect_urls") or []
        entry: dict[str, Any] = {"url": response.url if response is not None else request.url,
                                 "requested": redirects[0] if redirects else request.url,
                                 "kind": request.meta.get("kind"), "outcome": outcome,
                                 "status": response.status if response is not None else None,
                                 "bytes": len(response.body) if response is not None else None,
                                 "elapsed_s": request.meta.get("download_latency"), "reason": reason,
                                 "final": final}
        if request.meta.get("retry_times"):
            entry["retries"] = request.meta["retry_times"]
        return entry

    def _finish(self, request: Request) -> None:
        if request.meta.get("cap_reserved"):
            request.meta["cap_reserved"] = False
            self.output.release(request.url)

    def parse_page(self, response: Response) -> Iterator[Request]:
        """Store an HTML page (logging a non-HTML or badly encoded one) and follow its links."""
        request = response.request
        self._finish(request)
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1")
        if "html" not in ctype.lower():
            stopped = " (download stopped after the headers)" if "download_stopped" in response.flags else ""
            self.output.record(self._entry(request, response, "error", f"not-html: {ctype or 'no type'}{stopped}",
                                           final=True))
            return
        warning = encoding_problem(response.body, ctype)
        entry = self._entry(request, response, "stored", warning, final=True)
        entry["time"] = now_iso()
        self.output.store_page(
            response.url, entry,
            request_line=f"{request.method} {urlsplit(response.url).path or '/'} HTTP/1.1",
            request_headers=_headers(request.headers), status=response.status,
            reason=_reason_phrase(response.status), response_headers=_headers(response.headers),
            body=response.body, fetched_at=entry["time"])
        if self.options.max_pages and self.output.total_pages() >= self.options.max_pages:
            raise CloseSpider("max_pages")
        if isinstance(response, HtmlResponse):
            yield from self.follow_links(response)

    def on_error(self, failure: Failure) -> None:
        """Log a failed request with its reason."""
        request = failure.request
        self._finish(request)
        reason, reached = classify_failure(failure)
        response = failure.value.response if isinstance(failure.value, HttpError) else None
        self.output.record(self._entry(request, response, "skipped" if not reached else "error", reason,
                                       final=reached))

    def note_retry(self, request: Request, reason: str, wait: float) -> None:
        """Log a retry (called by ``RetryAfterMiddleware``)."""
        entry = self._entry(request, None, "retry", f"retry: {reason}, next try in {wait:.1f} s", final=False)
        entry["wait_s"] = round(wait, 3)
        self.output.record(entry)

    def note_crawl_delay(self, host: str, delay: float) -> None:
        """Remember a robots.txt Crawl-delay (called by ``RobotsCrawlDelay``)."""
        self.output.crawl_delays[host] = delay

    def note_dropped_redirect(self, request: Request) -> None:
        """Log a redirect to an already-requested URL (called by ``ResumeDupeFilter``)."""
        redirects = request.meta.get("redirect_urls") or []
        loop = request.url in redirects
        reason = ("redirect-loop: redirects back to " if loop else "redirect-duplicate: redirects to already-requested ")
        self._finish(request)
        self.output.record(self._entry(request, None, "error", reason + request.url, final=True))


def _headers(headers: Any) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, values in headers.items() for v in values]


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
