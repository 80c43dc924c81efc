"""Unit tests of the crawler's own parts: WARC writer and tail repair, log repair, Retry-After, feeds."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

from gonerd.commands.crawl import read_seeds
from gonerd.crawl.log import CrawlLog, repair_log
from gonerd.crawl.middlewares import parse_retry_after
from gonerd.crawl.settings import CrawlOptions, scrapy_settings
from gonerd.crawl.spider import encoding_problem, feed_links
from gonerd.crawl.warc import WarcWriterRotating, repair_tail, stored_pages, warc_files, whole_members_end
from gonerd.errors import InputError
from gonerd.pipeline.read import read_warc_file

HTML = b"<html><head><title>t</title></head><body>" + b"<p>Some words here.</p>" * 200 + b"</body></html>"


def write_pages(warc_dir: Path, n: int, max_file_bytes: int = 1 << 30) -> WarcWriterRotating:
    """Write ``n`` pages and close the writer."""
    writer = WarcWriterRotating(warc_dir, max_file_bytes)
    for i in range(n):
        writer.write_page(f"http://127.0.0.1/p{i}.html", "GET /p.html HTTP/1.1", [("User-Agent", "gonerd")], 200,
                          "OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"),
                                 ("Content-Length", "17")], HTML, "2026-01-01T00:00:00Z")
    writer.close()
    return writer


def test_pages_are_readable_by_gonerd_docs_reader(tmp_path: Path) -> None:
    write_pages(tmp_path, 3)
    records = [r for p in warc_files(tmp_path) for r in read_warc_file(p)]
    assert [r["url"] for r in records] == [f"http://127.0.0.1/p{i}.html" for i in range(3)]
    assert all("Some words here." in r["html"] for r in records)


def test_wire_headers_are_replaced_by_the_stored_body_length(tmp_path: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    write_pages(tmp_path, 1)
    with warc_files(tmp_path)[0].open("rb") as fh:
        response = next(rec for rec in ArchiveIterator(fh) if rec.rec_type == "response")
        headers = {k.lower(): v for k, v in response.http_headers.headers}
    # Scrapy hands over the decoded body: a kept Content-Encoding would make readers decode it again.
    assert "content-encoding" not in headers and "transfer-encoding" not in headers
    assert headers["content-length"] == str(len(HTML))


def test_writer_rotates_by_size_and_continues_numbering(tmp_path: Path) -> None:
    write_pages(tmp_path, 4, max_file_bytes=1)
    assert [p.name for p in warc_files(tmp_path)] == [f"crawl-0000{i}.warc.gz" for i in range(1, 5)]
    write_pages(tmp_path, 1)
    assert warc_files(tmp_path)[-1].name == "crawl-00005.warc.gz"
    assert len(list(stored_pages(warc_files(tmp_path)))) == 5


def test_torn_tail_is_cut_back_to_the_last_whole_record(tmp_path: Path) -> None:
    write_pages(tmp_path, 2)
    path = warc_files(tmp_path)[0]
    whole = path.read_bytes()
    torn = gzip.compress(b"WARC/1.0\r\nWARC-Type: response\r\n" + HTML)[:-40]
    path.write_bytes(whole + torn)
    assert any("stage" in r for r in read_warc_file(path))  # the reader sees the damage
    assert repair_tail(path) == len(torn)
    assert path.read_bytes() == whole
    assert [r.get("stage") for r in read_warc_file(path)] == [None, None]
    assert repair_tail(path) == 0


def test_whole_members_end_of_garbage_is_zero() -> None:
    assert whole_members_end(b"not gzip at all") == 0
    member = gzip.compress(b"x" * 100_000)
    assert whole_members_end(member + member[:10], chunk_size=7) == len(member)


def test_log_repair_drops_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "crawl_log.jsonl"
    log = CrawlLog(path)
    log.write({"url": "http://127.0.0.1/a", "final": True})
    log.close()
    with path.open("a") as fh:
        fh.write('{"url": "http://127.0.0.1/b", "fin')
    assert repair_log(path) == [{"url": "http://127.0.0.1/a", "final": True}]
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"url": "http://127.0.0.1/a", "final": True}]
    assert repair_log(tmp_path / "missing.jsonl") == []


def test_retry_after_seconds_and_http_date() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after(b"120") == 120.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(b"soon") is None
    assert parse_retry_after(None) is None


def test_feed_links_from_rss_and_atom() -> None:
    rss = b'<?xml version="1.0"?><rss><channel><item><link> http://a/1 </link></item></channel></rss>'
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link href="http://a/2"/>'
            b'<link rel="enclosure" href="http://a/2.mp3"/></entry></feed>')
    assert feed_links(rss) == ["http://a/1"]
    assert feed_links(atom) == ["http://a/2"]
    assert feed_links(b"<html><body>no feed</body></html>") == []
    assert feed_links(b"\x00\x01 binary") == []


def test_encoding_problem_names_the_charset() -> None:
    assert encoding_problem("caf\u00e9".encode("cp1252"), "text/html; charset=utf-8").startswith("bad-encoding: not valid utf-8")
    assert encoding_problem(b"abc", "text/html; charset=x-nonsense") == "bad-encoding: unknown charset 'x-nonsense'"
    assert encoding_problem("caf\u00e9".encode(), "text/html; charset=UTF-8") is None
    assert encoding_problem(b"\xff", "text/html") is None


def test_read_seeds_skips_comments_and_names_a_bad_line(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# news\n\nhttp://127.0.0.1:8000/\nhttps://127.0.0.1/sitemap.xml\n")
    assert read_seeds(seeds) == ["http://127.0.0.1:8000/", "https://127.0.0.1/sitemap.xml"]
    seeds.write_text("http://127.0.0.1/\nnot a url\n")
    try:
        read_seeds(seeds)
    except InputError as e:
        assert "line 2" in str(e) and "not a url" in str(e)
    else:
        raise AssertionError("no error for a bad seed")


def test_settings_keep_one_connection_per_host_without_jitter(tmp_path: Path) -> None:
    settings = scrapy_settings(CrawlOptions(seeds=["http://127.0.0.1/"], out=tmp_path, per_host_delay=2.5))
    assert settings["ROBOTSTXT_OBEY"] is True
    assert (settings["CONCURRENT_REQUESTS_PER_DOMAIN"], settings["DOWNLOAD_DELAY"],
            settings["DOWNLOAD_DELAY_JITTER"]) == (1, 2.5, 0.0)
    assert settings["COOKIES_ENABLED"] is False
    assert settings["TELNETCONSOLE_ENABLED"] is False and settings["REMOTE_CONTROL_ENABLED"] is False


def test_caps_count_stored_and_in_flight_pages(tmp_path: Path) -> None:
    from gonerd.crawl.output import CrawlOutput

    output = CrawlOutput(CrawlOptions(seeds=["https://www.justice.gov/"], out=tmp_path, max_pages=4,
                                      max_pages_per_domain=2, progress=False))
    assert output.reserve("https://www.justice.gov/1") is None
    assert output.reserve("https://justice.gov/2") is None  # same registrable domain
    assert output.reserve("https://www.justice.gov/3") == "domain-cap: 2 pages from justice.gov reached"
    output.release("https://www.justice.gov/1")  # that one failed: its place is free again
    assert output.reserve("https://www.justice.gov/4") is None
    assert output.reserve("https://news.bbc.co.uk/1") is None
    assert output.reserve("https://www.bbc.co.uk/2") is None
    assert output.reserve("https://www.fbi.gov/1") == "max-pages: 4 pages reached"
    summary = output.close("finished")
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
