"""A real HTTP server on 127.0.0.1 for crawler tests and the crawl benchmark.

It serves the bundled sample pages (``gonerd/sample/html``) under ``/gp/``, reachable through a
sitemap index pointing at an ``.xml.gz`` sitemap, an RSS feed and the homepage's links; a robots.txt
with a disallowed path and a ``Crawl-delay``; and, with ``faults=True``, one URL per fault. Every
request is recorded (arrival time, path, status) in ``access`` — the ground truth tests assert on.
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SAMPLE_HTML = Path(__file__).resolve().parents[1] / "gonerd" / "sample" / "html"

# Fault URL -> the reason code the crawler must log for it ("stored" when the page is kept).
FAULTS = {
    "/fault/slow.html": "timeout",
    "/fault/error.html": "http-500",
    "/fault/busy.html": "stored",  # 429 with Retry-After once, then the page
    "/fault/closed.html": "http-429",  # 429 with a Retry-After longer than the crawler waits
    "/fault/truncated.html": "truncated",
    "/fault/bomb.html": "too-large",
    "/fault/big.html": "too-large",
    "/fault/loop/0": "redirect-max",
    "/fault/cycle-a": "redirect-loop",
    "/fault/report": "not-html",
    "/fault/badenc.html": "bad-encoding",  # stored, with the encoding problem as its reason
    "/fault/gone.html": "http-404",
}
DISALLOWED = "/private/secret.html"


@dataclass
class Hit:
    """One request as the server saw it."""

    time: float
    path: str
    status: int
    user_agent: str


@dataclass
class SiteConfig:
    """What the server serves."""

    copies: int = 1  # each sample page is served under this many names (for a bigger crawl)
    faults: bool = True
    crawl_delay: float = 0.1
    slow_s: float = 1.5  # the slow page answers after this long (above the crawler's timeout)
    retry_after_s: int = 1
    max_bytes: int = 1_500_000  # the crawler's --max-bytes; big and bomb exceed it
    pages: dict[str, bytes] = field(default_factory=dict)


def sample_pages(copies: int = 1) -> dict[str, bytes]:
    """Path -> HTML bytes of the bundled sample pages, each served ``copies`` times."""
    pages = {}
    for path in sorted(SAMPLE_HTML.glob("*.html.gz")):
        html = gzip.decompress(path.read_bytes())
        stem = path.name[:-len(".html.gz")][:40]
        for copy in range(copies):
            pages[f"/gp/{copy}-{stem}.html"] = html
    return pages


def _html(title: str, links: list[str]) -> bytes:
    items = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>Test site of the gonerd crawler.</p><ul>{items}</ul></body></html>").encode()


class CrawlServer:
    """Start with :meth:`start` (returns the base URL), stop with :meth:`stop`."""

    def __init__(self, config: SiteConfig | None = None) -> None:
        self.config = config or SiteConfig()
        if not self.config.pages:
            self.config.pages = sample_pages(self.config.copies)
        paths = sorted(self.config.pages)
        n = len(paths)
        self.sitemap_paths = paths[: n * 3 // 4]
        self.feed_paths = paths[n * 3 // 4: n * 9 // 10]
        self.linked_paths = paths[n * 9 // 10:]
        self.access: list[Hit] = []
        self._lock = threading.Lock()
        self._busy_seen = False
        self._httpd: ThreadingHTTPServer | None = None
        self.base = ""

    def good_paths(self) -> set[str]:
        """Paths the crawler must store exactly once (the homepage, every sample page, the recovered faults)."""
        good = {"/", *self.config.pages}
        if self.config.faults:
            good |= {p for p, code in FAULTS.items() if code in ("stored", "bad-encoding")}
        return good

    def seeds(self) -> list[str]:
        """Seed URLs: the homepage, the sitemap index, the feed, and a disallowed page.

        Seeds are requested together, while robots.txt is still being fetched: the disallowed one
        checks that requests waiting for robots.txt obey it too.
        """
        return [f"{self.base}/", f"{self.base}/sitemap_index.xml", f"{self.base}/feed.xml", f"{self.base}{DISALLOWED}"]

    def start(self) -> str:
        """Serve in a background thread; return the base URL."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                arrived = time.monotonic()
                status = server.respond(self)
                with server._lock:
                    server.access.append(Hit(arrived, self.path, status, self.headers.get("User-Agent", "")))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        return self.base

    def stop(self) -> None:
        """Stop serving."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def respond(self, h: BaseHTTPRequestHandler) -> int:
        """Answer one request; return the status sent."""
        path = h.path
        try:
            if path.startswith("/fault/") and self.config.faults:
                return self._fault(h, path)
            if path == "/robots.txt":
                body = (f"User-agent: *\nDisallow: /private/\nCrawl-delay: {self.config.crawl_delay}\n"
                        f"Sitemap: {self.base}/sitemap_index.xml\n").encode()
                return _send(h, 200, "text/plain", body)
            if path == "/":
                links = [*self.linked_paths, DISALLOWED, *(list(FAULTS) if self.config.faults else [])]
                return _send(h, 200, "text/html; charset=utf-8", _html("Home", links))
            if path == "/sitemap_index.xml":
                body = (f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/'
                        f'schemas/sitemap/0.9"><sitemap><loc>{self.base}/sitemaps/pages.xml.gz</loc></sitemap>'
                        f"</sitemapindex>").encode()
                return _send(h, 200, "application/xml", body)
            if path == "/sitemaps/pages.xml.gz":
                urls = "".join(f"<url><loc>{self.base}{p}</loc></url>" for p in self.sitemap_paths)
                body = gzip.compress((f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.'
                                      f'sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>').encode())
                return _send(h, 200, "application/x-gzip", body)
            if path == "/feed.xml":
                items = "".join(f"<item><title>{p}</title><link>{self.base}{p}</link></item>" for p in self.feed_paths)
                body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Test feed</title>'
                        f"<link>{self.base}/</link>{items}</channel></rss>").encode()
                return _send(h, 200, "application/rss+xml", body)
            if path in self.config.pages:
                return _send(h, 200, "text/html", self.config.pages[path])
            if path == DISALLOWED:
                return _send(h, 200, "text/html", _html("Private", []))
            return _send(h, 404, "text/html", _html("Not found", []))
        except (BrokenPipeError, ConnectionResetError):
            return 499  # the client went away (e.g. it cancelled an oversized download)

    def _fault(self, h: BaseHTTPRequestHandler, path: str) -> int:
        page = _html(path, [])
        if path == "/fault/slow.html":
            time.sleep(self.config.slow_s)
            return _send(h, 200, "text/html", page)
        if path == "/fault/error.html":
            return _send(h, 500, "text/html", _html("Server error", []))
        if path == "/fault/busy.html":
            with self._lock:
                first, self._busy_seen = not self._busy_seen, True
            if first:
                return _send(h, 429, "text/html", _html("Slow down", []),
                             extra=[("Retry-After", str(self.config.retry_after_s))])
            return _send(h, 200, "text/html", page)
        if path == "/fault/closed.html":
            return _send(h, 429, "text/html", _html("Come back tomorrow", []), extra=[("Retry-After", "86400")])
        if path == "/fault/truncated.html":
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.send_header("Content-Length", str(len(page) + 5000))
            h.end_headers()
            h.wfile.write(page)
            h.close_connection = True
            return 200
        if path == "/fault/bomb.html":
            body = gzip.compress(b"<html><body>" + b" " * (self.config.max_bytes * 4) + b"</body></html>")
            return _send(h, 200, "text/html", body, extra=[("Content-Encoding", "gzip")])
        if path == "/fault/big.html":
            return _send(h, 200, "text/html", b"<html><body>" + b"x" * (self.config.max_bytes * 2) + b"</body></html>")
        if path.startswith("/fault/loop/"):
            n = int(path.rsplit("/", 1)[1])
            return _send(h, 302, "text/html", b"", extra=[("Location", f"/fault/loop/{n + 1}")])
        if path == "/fault/cycle-a":
            return _send(h, 302, "text/html", b"", extra=[("Location", "/fault/cycle-b")])
        if path == "/fault/cycle-b":
            return _send(h, 302, "text/html", b"", extra=[("Location", "/fault/cycle-a")])
        if path == "/fault/report":
            return _send(h, 200, "application/pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n")
        if path == "/fault/badenc.html":
            body = "<html><head><title>Caf\u00e9</title></head><body><p>Un caf\u00e9 cr\u00e8me \u2014 " \
                   "declared UTF-8, sent as windows-1252.</p></body></html>".encode("cp1252")
            return _send(h, 200, "text/html; charset=utf-8", body)
        return _send(h, 404, "text/html", _html("Not found", []))


def _send(h: BaseHTTPRequestHandler, status: int, ctype: str, body: bytes,
          extra: list[tuple[str, str]] | None = None) -> int:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for name, value in extra or []:
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(body)
    return status
