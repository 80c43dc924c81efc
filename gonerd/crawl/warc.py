"""WARC output of the crawler: request and response records, rotated by size, each page written whole.

Every record is its own gzip member (as warcio writes it), and a page's response and request records
are written with one ``write`` and flushed, so a crash leaves at most one torn member at the end of
the newest file. :func:`repair_tail` finds the last whole member and cuts the file back to it.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

WARC_PREFIX = "crawl-"
WARC_SUFFIX = ".warc.gz"
# Headers that describe the bytes on the wire, not the decoded body Scrapy hands over; keeping them
# would make readers decode the body a second time.
_WIRE_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class StoredPage:
    """A response record already on disk: its URL, HTTP content type and body."""

    url: str
    content_type: str
    body: bytes


def whole_members_end(data: bytes, chunk_size: int = 1 << 16) -> int:
    """Offset just past the last complete gzip member at the start of ``data`` (0 when none is whole)."""
    view = memoryview(data)
    end = 0
    while end < len(data):
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        pos = end
        try:
            # Fed in chunks so that unused_data stays small: slicing the rest of the file for
            # every member would make this quadratic.
            while not inflater.eof and pos < len(data):
                chunk = view[pos:pos + chunk_size]
                inflater.decompress(chunk)
                pos += len(chunk)
        except zlib.error:
            break
        if not inflater.eof:
            break
        end = pos - len(inflater.unused_data)
    return end


def repair_tail(path: Path) -> int:
    """Cut ``path`` back to its last whole gzip member; return the number of bytes removed."""
    data = path.read_bytes()
    end = whole_members_end(data)
    if end < len(data):
        with path.open("r+b") as fh:
            fh.truncate(end)
    return len(data) - end


def warc_files(warc_dir: Path) -> list[Path]:
    """The crawler's WARC files in ``warc_dir``, oldest first."""
    return sorted(warc_dir.glob(f"{WARC_PREFIX}*{WARC_SUFFIX}"))


def stored_pages(paths: list[Path]) -> Iterator[StoredPage]:
    """Every response record in WARC files ``paths`` (call after :func:`repair_tail`)."""
    from warcio.archiveiterator import ArchiveIterator

    for path in paths:
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "response":
                    ctype = rec.http_headers.get_header("Content-Type") or "" if rec.http_headers else ""
                    yield StoredPage(rec.rec_headers.get_header("WARC-Target-URI"), ctype,
                                     rec.content_stream().read())


class WarcWriterRotating:
    """Append pages to ``DIR/crawl-NNNNN.warc.gz``, starting a new file past ``max_file_bytes``.

    Each run starts a new file after the existing ones, so a file is never reopened for appending.
    """

    def __init__(self, warc_dir: Path, max_file_bytes: int) -> None:
        self.warc_dir = warc_dir
        self.max_file_bytes = max_file_bytes
        warc_dir.mkdir(parents=True, exist_ok=True)
        existing = warc_files(warc_dir)
        self._index = int(existing[-1].name[len(WARC_PREFIX):-len(WARC_SUFFIX)]) if existing else 0
        self._fh: io.BufferedWriter | None = None
        self.bytes_written = 0

    def _file(self) -> io.BufferedWriter:
        if self._fh is None or self._fh.tell() >= self.max_file_bytes:
            if self._fh is not None:
                self._fh.close()
            self._index += 1
            self._fh = (self.warc_dir / f"{WARC_PREFIX}{self._index:05d}{WARC_SUFFIX}").open("ab")
        return self._fh

    def write_page(self, url: str, request_line: str, request_headers: list[tuple[str, str]], status: int,
                   reason: str, response_headers: list[tuple[str, str]], body: bytes, fetched_at: str) -> int:
        """Write the response and request records of one page in one flushed write; return its size."""
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        headers = [(k, v) for k, v in response_headers if k.lower() not in _WIRE_HEADERS]
        headers.append(("Content-Length", str(len(body))))
        http = StatusAndHeaders(f"{status} {reason}".strip(), headers, protocol="HTTP/1.1")
        response = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                             http_headers=http, warc_headers_dict={"WARC-Date": fetched_at})
        req_http = StatusAndHeaders(request_line, request_headers, is_http_request=True)
        request = writer.create_warc_record(url, "request", payload=io.BytesIO(b""), length=0, http_headers=req_http,
                                            warc_headers_dict={
                                                "WARC-Date": fetched_at,
                                                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")})
        writer.write_record(response)
        writer.write_record(request)
        data = buf.getvalue()
        fh = self._file()
        fh.write(data)
        fh.flush()
        self.bytes_written += len(data)
        return len(data)

    def close(self) -> None:
        """Close the current file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
