"""Read raw inputs into records: HTML files (``.html[.gz]``), WARC files and JSONL.

Each input yields plain dicts. A record that cannot be read becomes an exclusion entry (with the
file and line/offset in its reason) instead of stopping the run. ``check_inputs`` rejects missing
paths and directories without any readable file before any work starts.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gonerd.config import ReadConfig
from gonerd.errors import InputError
from gonerd.records import document_id, exclusion, registrable_domain

HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz", ".xhtml")
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
JSONL_FIELDS = ("id", "url", "domain", "fetched_at", "title", "author", "date", "html", "text", "source_id")


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    for kind, suffixes in (("html", HTML_SUFFIXES), ("warc", WARC_SUFFIXES), ("jsonl", JSONL_SUFFIXES)):
        if name.endswith(suffixes):
            return kind
    return None


def check_inputs(paths: list[str | Path]) -> list[Path]:
    """Expand inputs to a sorted list of readable files; raise :class:`InputError` for a bad path.

    Directories are walked recursively for files of the known kinds (one without any is an
    error); a file given explicitly must be of a known kind.
    """
    if not paths:
        raise InputError("no input paths given")
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError("input path does not exist", str(path))
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _kind(p))
            if not found:
                raise InputError(f"no input files of a known kind in this directory (expected "
                                 f"{', '.join(HTML_SUFFIXES + WARC_SUFFIXES + JSONL_SUFFIXES)})", str(path))
            files += found
        elif _kind(path) is None:
            raise InputError(f"unknown input kind (expected {', '.join(HTML_SUFFIXES + WARC_SUFFIXES + JSONL_SUFFIXES)})",
                             str(path))
        else:
            try:
                path.open("rb").close()
            except OSError as e:
                raise InputError(f"cannot open input ({e.strerror})", str(path)) from e
            files.append(path)
    return files


def _record(url: str | None, content: str | bytes, source: str, **fields: Any) -> dict[str, Any]:
    return {"id": fields.pop("id", None) or document_id(url, content), "url": url,
            "domain": fields.pop("domain", None) or registrable_domain(url), "source": source,
            "fetched_at": fields.pop("fetched_at", None), **fields}


# Longest first: the UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xef\xbb\xbf", "utf-8"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def bom_encoding(data: bytes) -> str | None:
    """The encoding named by a byte order mark at the start of ``data`` (UTF-8/16/32), else ``None``."""
    return next((encoding for bom, encoding in _BOMS if data.startswith(bom)), None)


def _looks_binary(data: bytes) -> bool:
    head = data[:4096]
    return b"\x00" in head or (len(head) > 0 and sum(b < 9 or 13 < b < 32 for b in head) / len(head) > 0.1)


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Text of an HTML page: by its byte order mark if it has one, else UTF-8 when it is valid
    UTF-8, else the declared charset (HTTP header or ``<meta>``), else windows-1252, the web's
    default for undeclared legacy pages.

    trafilatura's own guessing looks at the first and last 5 kB only and falls back to UTF-8 with
    replacement characters, which mangles e.g. the quotes and accents of a cp1252 page.
    """
    bom = bom_encoding(data)
    if bom:
        try:
            return data[len(next(b for b, e in _BOMS if e == bom)):].decode(bom)
        except UnicodeDecodeError:
            pass  # a mark followed by something else: fall back to the usual guesses
    meta = _META_CHARSET.search(data[:8192])
    for encoding in ("utf-8", declared, meta.group(1).decode("ascii", "ignore") if meta else None):
        if encoding:
            try:
                return data.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    return data.decode("cp1252", errors="replace")


def read_html_file(path: Path) -> Iterator[dict[str, Any]]:
    """One record from an HTML file (gzip-compressed when it ends in ``.gz``)."""
    source = str(path)
    try:
        data = gzip.decompress(path.read_bytes()) if path.name.lower().endswith(".gz") else path.read_bytes()
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        yield exclusion({"source": source}, "read", "readable", f"{source}: cannot read or decompress ({e})")
        return
    if not data.strip():
        yield exclusion({"source": source}, "read", "non-empty", f"{source}: empty file", 0)
    elif bom_encoding(data) is None and _looks_binary(data):
        yield exclusion({"source": source}, "read", "text", f"{source}: binary content, not HTML", len(data))
    else:
        yield _record(None, data, source, html=decode_html(data))


def _warc_head(path: Path) -> bytes:
    """The first bytes of a (possibly gzip-compressed) WARC/ARC file, decompressed."""
    try:
        with path.open("rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            if magic != b"\x1f\x8b":
                return raw.read(16)
            with gzip.open(raw) as fh:
                return fh.read(16)
    except (OSError, EOFError, zlib.error):
        return b""  # unreadable: the reader below reports it where it fails


def read_warc_file(path: Path) -> Iterator[dict[str, Any]]:
    """Records from the HTML ``response`` records of a WARC file; other records are logged as skipped.

    A file that does not open with a WARC (or ARC) header is one exclusion, not one per line.
    """
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    head = _warc_head(path)
    if head and not head.startswith((b"WARC/", b"filedesc://")):
        yield exclusion({"source": str(path)}, "read", "readable",
                        f"{path}: not a WARC file (it does not start with 'WARC/')")
        return
    with path.open("rb") as fh:
        it = ArchiveIterator(fh)
        try:
            for rec in it:
                if rec.rec_type != "response":
                    continue
                url = rec.rec_headers.get_header("WARC-Target-URI")
                # Where this record starts; get_record_offset() would read (and discard) its content.
                where = f"{path}@{it.offset}"
                base = {"id": document_id(url, where), "url": url, "source": where}
                ctype = (rec.http_headers.get_header("Content-Type") or "") if rec.http_headers else ""
                status = rec.http_headers.get_statuscode() if rec.http_headers else None
                if status and not status.startswith("2"):
                    yield exclusion(base, "read", "http-status", f"{where}: HTTP {status}", status)
                elif "html" not in ctype.lower():
                    yield exclusion(base, "read", "content-type", f"{where}: not HTML ({ctype or 'no type'})", ctype)
                else:
                    data = rec.content_stream().read()
                    missing = getattr(rec.raw_stream, "limit", 0)  # bytes the record declares but the file lacks
                    if missing:
                        yield exclusion(base, "read", "readable",
                                        f"{where}: truncated WARC record ({missing} bytes missing)", missing)
                    elif not data.strip():
                        yield exclusion(base, "read", "non-empty", f"{where}: empty body", 0)
                    else:
                        charset = ctype.lower().partition("charset=")[2].strip(" \"';") or None
                        yield _record(url, data, where, html=decode_html(data, charset),
                                      fetched_at=rec.rec_headers.get_header("WARC-Date"))
        # warcio raises AttributeError when a record's header block is cut short.
        except (ArchiveLoadFailed, EOFError, zlib.error, OSError, ValueError, AttributeError) as e:
            # it.offset: the start of the record being read when the error came (of the next one
            # when the error came while looking for it).
            where = f"{path}@{it.offset}"
            yield exclusion({"source": where}, "read", "readable",
                            f"{where}: truncated or corrupt WARC record ({type(e).__name__}: {e})")
            return
        # A gzip member cut short ends warcio's iteration silently: bytes left over mean a lost record.
        size = path.stat().st_size
        if it.offset < size:
            where = f"{path}@{it.offset}"
            yield exclusion({"source": where}, "read", "readable",
                            f"{where}: truncated WARC, {size - it.offset} trailing bytes are not a whole record",
                            size - it.offset)


def resolve_html_path(manifest: Path, html_path: str, config: ReadConfig) -> tuple[Path, str | None]:
    """The file an ``html_path`` names, and why it is refused (``None`` when it may be read).

    Relative paths are taken from the manifest's directory. Unless ``config.allow_outside_root``,
    the path with every symlink resolved must lie inside ``config.html_root`` (default: the
    manifest's directory): '..', absolute paths and links out of it are refused.
    """
    target = manifest.parent / html_path
    if config.allow_outside_root:
        return target, None
    root = Path(config.html_root) if config.html_root else manifest.parent
    if not target.resolve().is_relative_to(root.resolve()):
        return target, (f"{html_path!r} is outside {root} (use --html-root or --allow-outside-root "
                        "to read files elsewhere)")
    return target, None


def read_jsonl_file(path: Path, config: ReadConfig = ReadConfig()) -> Iterator[dict[str, Any]]:
    """Records from JSON lines with ``html``, ``html_path`` or already-extracted ``text``.

    ``html_path`` names an HTML file relative to the JSONL file (a manifest of saved pages with
    their URLs), inside its directory unless ``config`` allows more (:func:`resolve_html_path`).
    Optional fields: ``id``, ``domain``, ``fetched_at``, ``title``, ``author``, ``date``,
    ``source_id`` (a stable upstream id, hashed for ``id`` when there is no URL).
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                where = f"{path}:{lineno}"
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    yield exclusion({"source": where}, "read", "json", f"{where}: not valid JSON ({e})")
                    continue
                if isinstance(obj, dict) and obj.get("html") is None and isinstance(obj.get("html_path"), str):
                    html_file, refused = resolve_html_path(path, obj["html_path"], config)
                    found = next(read_html_file(html_file), None) if not refused and html_file.is_file() else None
                    if found is None or "stage" in found:
                        reason = refused or (found["reason"] if found else f"no such file {html_file}")
                        yield exclusion({"source": where, "url": obj.get("url")}, "read", "html_path",
                                        f"{where}: field 'html_path': {reason}")
                        continue
                    obj["html"] = found["html"]
                if not isinstance(obj, dict) or not isinstance(obj.get("html") or obj.get("text"), (str, bytes)):
                    yield exclusion({"source": where, "url": obj.get("url") if isinstance(obj, dict) else None},
                                    "read", "fields", f"{where}: needs a string field 'html', 'html_path' or 'text'")
                    continue
                fields = {k: obj[k] for k in JSONL_FIELDS if obj.get(k) is not None and k != "url"}
                content = fields.get("source_id") or fields.get("html") or fields["text"]
                yield _record(obj.get("url"), content, where, **fields)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        yield exclusion({"source": str(path)}, "read", "readable", f"{path}: cannot read or decompress ({e})")


def read_inputs(files: list[Path], config: ReadConfig = ReadConfig()) -> Iterator[dict[str, Any]]:
    """Records and read-stage exclusions from checked input files, in a deterministic order.

    Exclusion entries are recognisable by their ``stage`` key.
    """
    for path in files:
        kind = _kind(path)
        yield from read_jsonl_file(path, config) if kind == "jsonl" else (
            read_html_file(path) if kind == "html" else read_warc_file(path))
