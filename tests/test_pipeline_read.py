"""Readers on real and damaged inputs: every bad record is logged with its place and the run goes on."""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from gonerd.config import ExtractConfig, PipelineConfig, ReadConfig, SampleConfig
from gonerd.errors import InputError
from gonerd.pipeline import read_documents, run_docs
from gonerd.pipeline.extract import extract_record
from gonerd.pipeline.read import (bom_encoding, check_inputs, decode_html, read_html_file, read_inputs,
                                  read_jsonl_file, read_warc_file, resolve_html_path)
from tests.conftest import DOJ, SAMPLE

QUANTA = "readability:quanta-1"  # no declared charset; curly quotes, dashes, accents


def page_html(entries: dict, rid: str) -> bytes:
    return gzip.decompress((SAMPLE / entries[rid]["html_path"]).read_bytes())


def news_ids(entries: dict, n: int) -> list[str]:
    return [rid for rid, e in entries.items() if e["url"] and rid.startswith("aeb:")][:n]


def write_warc(path: Path, entries: dict, rids: list[str], gz: bool) -> list[int]:
    """A WARC of real pages as HTTP responses plus a PNG response; returns each record's offset."""
    offsets = []
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=gz)
        items = [(entries[r]["url"], page_html(entries, r), "text/html; charset=utf-8") for r in rids[:2]]
        items.append(("https://www.justice.gov/logo.png", (SAMPLE / "html").joinpath(
            next(iter(sorted(p.name for p in (SAMPLE / "html").iterdir())))).read_bytes(), "image/png"))
        items += [(entries[r]["url"], page_html(entries, r), "text/html") for r in rids[2:]]
        for url, body, ctype in items:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            offsets.append(fh.tell())
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=headers))
        offsets.append(fh.tell())
    return offsets


@pytest.mark.parametrize("gz", [False, True], ids=["warc", "warc.gz"])
def test_warc_reads_pages_and_logs_truncation(tmp_path, page_entries, gz):
    rids = news_ids(page_entries, 4)
    path = tmp_path / ("crawl.warc.gz" if gz else "crawl.warc")
    offsets = write_warc(path, page_entries, rids, gz)

    whole = list(read_warc_file(path))
    pages = [r for r in whole if "stage" not in r]
    assert [r["url"] for r in pages] == [page_entries[r]["url"] for r in rids]
    assert pages[0]["html"] == page_html(page_entries, rids[0]).decode("utf-8")
    assert [r["source"] for r in pages] == [f"{path}@{o}" for o in offsets[:2] + offsets[3:5]]
    (png,) = [r for r in whole if "stage" in r]
    assert png["filter"] == "content-type" and f"@{offsets[2]}" in png["reason"] and "image/png" in png["reason"]

    # Cut the file in the middle of the last page: the records before it are still read.
    data = path.read_bytes()
    path.write_bytes(data[:(offsets[-2] + offsets[-1]) // 2])
    cut = list(read_warc_file(path))
    assert [r["url"] for r in cut if "stage" not in r] == [page_entries[r]["url"] for r in rids[:3]]
    last = cut[-1]
    assert last["stage"] == "read" and str(path) in last["reason"] and str(offsets[-2]) in last["reason"]
    assert "truncated" in last["reason"]

    # Cut inside the last record's header block.
    path.write_bytes(data[:offsets[-2] + 60])
    cut = list(read_warc_file(path))
    assert len([r for r in cut if "stage" not in r]) == 3
    assert cut[-1]["stage"] == "read" and "truncated" in cut[-1]["reason"]
    assert cut[-1]["source"] == f"{path}@{offsets[-2]}"


def test_corrupt_gzip_is_logged(tmp_path, page_entries):
    raw = (SAMPLE / page_entries[QUANTA]["html_path"]).read_bytes()
    bad = tmp_path / "cut.html.gz"
    bad.write_bytes(raw[: len(raw) // 2])
    (entry,) = read_html_file(bad)
    assert entry["stage"] == "read" and entry["filter"] == "readable"
    assert str(bad) in entry["reason"] and "decompress" in entry["reason"]


def test_binary_and_empty_files_are_logged(tmp_path):
    png = tmp_path / "image.html"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"  \n")
    (b,) = read_html_file(png)
    (e,) = read_html_file(empty)
    assert (b["filter"], e["filter"]) == ("text", "non-empty")
    assert str(png) in b["reason"] and "binary" in b["reason"]
    assert str(empty) in e["reason"] and "empty" in e["reason"]


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_non_utf8_page_extracts_like_the_utf8_original(tmp_path, page_entries, extracted, encoding):
    text = page_html(page_entries, QUANTA).decode("utf-8")
    assert re.search(r"<meta[^>]*charset", text, re.I) is None
    legacy = text.encode(encoding, errors="xmlcharrefreplace")
    with pytest.raises(UnicodeDecodeError):
        legacy.decode("utf-8")
    path = tmp_path / "legacy.html"
    path.write_bytes(legacy)
    (record,) = read_html_file(path)
    doc = extract_record(record, ExtractConfig())
    original = extracted[QUANTA]["text"]
    assert doc["text"] == original
    assert "é" in original and "’" in original or encoding == "latin-1"


def test_decode_html_declared_charsets():
    body = "<p>Café “quoted” — dash</p>"
    assert decode_html(body.encode("utf-8")) == body
    assert decode_html(body.encode("cp1252")) == body
    meta = f'<meta charset="iso-8859-7"><p>{"Αθήνα"}</p>'
    assert decode_html(meta.encode("iso-8859-7")) == meta
    assert decode_html("Αθήνα".encode("iso-8859-7"), "iso-8859-7") == "Αθήνα"


def test_page_without_main_text_is_excluded_at_extract(tmp_path, page_entries):
    html = page_html(page_entries, QUANTA).decode("utf-8")
    head_only = html[: html.lower().index("<body")] + "<body><script>var n = 1;</script><img src='/a.png'></body>"
    path = tmp_path / "no-text.html"
    path.write_text(head_only, encoding="utf-8")
    (record,) = read_html_file(path)
    entry = extract_record(record, ExtractConfig())
    assert entry["stage"] == "extract" and entry["filter"] == "main-text" and str(path) in entry["reason"]


def bad_jsonl(tmp_path: Path) -> Path:
    doj = DOJ.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([
        doj[0],
        '{"url": "https://example.org/a", "text": "unterminated',
        json.dumps({"url": "https://example.org/b", "title": "no body"}),
        json.dumps({"url": "https://example.org/c", "html_path": "missing/page.html.gz"}),
        json.dumps({"url": "https://example.org/d", "text": 42}),
        "",
        doj[1],
    ]) + "\n", encoding="utf-8")
    return path


def test_jsonl_bad_lines_are_logged_with_line_numbers(tmp_path):
    path = bad_jsonl(tmp_path)
    out = list(read_jsonl_file(path))
    good = [r for r in out if "stage" not in r]
    bad = {e["source"]: e for e in out if "stage" in e}
    assert [r["source"] for r in good] == [f"{path}:1", f"{path}:7"]
    assert good[0]["domain"] == "justice.gov" and good[0]["text"].startswith("FAYETTEVILLE")
    assert sorted(bad) == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert bad[f"{path}:2"]["filter"] == "json" and "not valid JSON" in bad[f"{path}:2"]["reason"]
    assert bad[f"{path}:3"]["filter"] == "fields" and "'html', 'html_path' or 'text'" in bad[f"{path}:3"]["reason"]
    assert bad[f"{path}:3"]["url"] == "https://example.org/b"
    assert bad[f"{path}:4"]["filter"] == "html_path" and "missing/page.html.gz" in bad[f"{path}:4"]["reason"]
    assert bad[f"{path}:5"]["filter"] == "fields"


def test_check_inputs(tmp_path):
    with pytest.raises(InputError, match="does not exist") as err:
        check_inputs([DOJ, tmp_path / "nope.jsonl"])
    assert err.value.path == str(tmp_path / "nope.jsonl")
    odd = tmp_path / "notes.txt"
    odd.write_text("x")
    with pytest.raises(InputError, match="unknown input kind"):
        check_inputs([odd])
    with pytest.raises(InputError, match="no input paths"):
        check_inputs([])
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputError, match="no input files of a known kind") as err:
        check_inputs([tmp_path / "sub"])
    assert err.value.path == str(tmp_path / "sub")
    (tmp_path / "sub" / "b.html").write_text("<p>x</p>")
    (tmp_path / "a.jsonl").write_text("")
    assert check_inputs([tmp_path]) == [tmp_path / "a.jsonl", tmp_path / "sub" / "b.html"]


def test_bom_encoding_and_decoding():
    text = "<p>Zoë’s café</p>"
    for encoding, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-32-le", b"\xff\xfe\x00\x00"),
                          ("utf-32-be", b"\x00\x00\xfe\xff"), ("utf-8", b"\xef\xbb\xbf")):
        data = bom + text.encode(encoding)
        assert bom_encoding(data) == encoding and decode_html(data) == text
    assert bom_encoding(text.encode()) is None


def test_resolve_html_path_stays_inside_the_root(tmp_path):
    manifest = tmp_path / "m" / "pages.jsonl"
    (tmp_path / "m" / "sub").mkdir(parents=True)
    (tmp_path / "m" / "sub" / "out").symlink_to(tmp_path)
    strict, loose = ReadConfig(), ReadConfig(allow_outside_root=True)
    assert resolve_html_path(manifest, "sub/a.html", strict) == (tmp_path / "m" / "sub" / "a.html", None)
    for escape in ("../x.html", "/etc/passwd", "sub/out/x.html", "sub/../../x.html"):
        _, refused = resolve_html_path(manifest, escape, strict)
        assert refused and "is outside" in refused and "--allow-outside-root" in refused, escape
        assert resolve_html_path(manifest, escape, loose)[1] is None
    assert resolve_html_path(manifest, "../x.html", ReadConfig(html_root=str(tmp_path)))[1] is None


@pytest.mark.parametrize("name", ["fake.warc", "fake.warc.gz"])
def test_a_file_that_is_not_a_warc_is_one_exclusion(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(DOJ.read_bytes()) if name.endswith(".gz") else DOJ.read_bytes())
    assert [(e["filter"], e["reason"]) for e in read_warc_file(path)] == [
        ("readable", f"{path}: not a WARC file (it does not start with 'WARC/')")]


def test_run_continues_past_every_kind_of_bad_input(tmp_path, page_entries):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rids = news_ids(page_entries, 3)
    write_warc(inputs / "crawl.warc.gz", page_entries, rids, gz=True)
    data = (inputs / "crawl.warc.gz").read_bytes()
    (inputs / "crawl.warc.gz").write_bytes(data[: len(data) - 2000])
    raw = (SAMPLE / page_entries[QUANTA]["html_path"]).read_bytes()
    (inputs / "cut.html.gz").write_bytes(raw[: len(raw) // 3])
    (inputs / "empty.html").write_bytes(b"")
    (inputs / "image.htm").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1000))
    (inputs / "legacy.html").write_bytes(page_html(page_entries, QUANTA).decode().encode("cp1252", "xmlcharrefreplace"))
    bad_jsonl(inputs)

    records = list(read_inputs(check_inputs([inputs])))
    out = tmp_path / "out"
    config = PipelineConfig(sample=SampleConfig(domain_shares={}), shard_size=3)
    report = run_docs([inputs], out, config, progress=False)
    docs = read_documents(out)
    exclusions = [json.loads(line) for line in (out / "exclusions.jsonl").read_text().splitlines()]
    assert len(docs) + len(exclusions) == len(records) == report["stages"][0]["in"] == 14
    assert {d["url"] for d in docs} >= {page_entries[r]["url"] for r in rids[:2]}
    assert any(d["source"].endswith("legacy.html") for d in docs)
    assert sum(d["domain"] == "justice.gov" for d in docs) == 2
    by_filter = {}
    for e in exclusions:
        by_filter.setdefault(e["filter"], []).append(e)
    assert {"readable", "non-empty", "text", "content-type", "json", "fields", "html_path"} <= set(by_filter)
    assert all(e["reason"] for e in exclusions)
