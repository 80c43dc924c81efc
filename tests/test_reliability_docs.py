"""Misuse of the document pipeline through the real CLI: every case refused cleanly, nothing lost.

Each test runs ``python -m gonerd.cli`` in a subprocess on real files: concurrent runs into one
output directory, out-of-range settings, stale caches, unsafe ``html_path``, UTF-16 pages,
unwritable or full outputs, empty input directories, files that are not what their name says,
and the byte-identity of outputs across worker counts.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from gonerd.pipeline import read_documents
from tests.conftest import DOJ, PAGES, REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO)}
OUTPUTS = ("documents.parquet", "exclusions.jsonl", "report.json", "report.md")

PARAGRAPHS = [
    "The city council of Baltimore met on Tuesday evening to discuss the new budget for public schools, "
    "and several members argued that the proposed increase for teachers was still far too small.",
    "Residents who attended the meeting asked why the library on the east side had been closed for two "
    "years, and the mayor promised that repairs would begin before the end of the summer.",
    "Local business owners said that the construction on the main road had cut their sales in half, and "
    "they asked the council to speed up the work or to offer some help with their rent.",
    "The council will vote on the budget next month after a second public hearing, where anyone who "
    "lives in the city may speak for up to three minutes about the plan and its priorities.",
]


def article(paragraphs: list[str] = PARAGRAPHS, title: str = "Council debates the school budget") -> str:
    """A small English news page that passes every default filter."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>\n{body}\n"
            "</article></body></html>\n")


def gonerd(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real CLI and capture its output."""
    return subprocess.run([sys.executable, "-m", "gonerd.cli", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=timeout)


def start(*args: str | Path) -> subprocess.Popen:
    """Start the real CLI without waiting for it."""
    return subprocess.Popen([sys.executable, "-m", "gonerd.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def start_and_wait_for_a_shard(out: Path) -> subprocess.Popen:
    """Start ``gonerd docs`` into ``out`` and return once it is mid-run (its first shard is cached)."""
    proc = start("docs", PAGES, DOJ, "--out", out, "--quiet", "--set", "shard_size=4")
    deadline = time.monotonic() + 120
    while not list(out.glob(".work/*/shard-*.pkl")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc


def one_line_error(res: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """Assert the run failed with ``code`` and exactly one stderr line holding every needle."""
    assert res.returncode == code, (res.returncode, res.stderr[-3000:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def temporary_files(root: Path) -> list[Path]:
    """Temporary files of atomic writes left anywhere under ``root``."""
    return [p for p in root.rglob("*") if ".tmp" in p.name]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clean run over the bundled DOJ releases, for comparisons."""
    out = tmp_path_factory.mktemp("reference") / "out"
    res = gonerd("docs", DOJ, "--out", out, "--quiet", "--set", "shard_size=4")
    assert res.returncode == 0, res.stderr
    return out


# --- 1. two runs into one --out ------------------------------------------------------------------

def test_second_run_on_a_busy_out_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "out"
    first = start_and_wait_for_a_shard(out)
    assert first.poll() is None, "the first run ended before the second could start"
    second = gonerd("docs", DOJ, "--out", out, "--quiet")
    line = one_line_error(second, 2, str(out), "in use", f"pid {first.pid}", socket.gethostname())
    assert "started" in line
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    docs = read_documents(out)
    assert {d["domain"] for d in docs} >= {"justice.gov"} and len(docs) > 10
    assert not temporary_files(out) and not (out / ".gonerd.lock").exists()


@pytest.mark.slow
def test_simultaneous_runs_never_corrupt_the_output(reference, tmp_path):
    for attempt in range(10):
        out = tmp_path / f"out{attempt}"
        procs = [start("docs", DOJ, "--out", out, "--quiet", "--set", "shard_size=4") for _ in range(2)]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
        codes = sorted(code for code, _ in results)
        # Either the runs overlapped and one was refused, or one ended before the other began.
        assert codes in ([0, 2], [0, 0]), results
        for code, err in results:
            if code == 2:
                assert "in use" in err and len(err.strip().splitlines()) == 1, err
        for name in ("documents.parquet", "exclusions.jsonl"):
            assert (out / name).read_bytes() == (reference / name).read_bytes(), (attempt, name)
        assert not temporary_files(out)


def test_kill_9_leaves_no_stale_lock(reference, tmp_path):
    out = tmp_path / "out"
    proc = start_and_wait_for_a_shard(out)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    res = gonerd("docs", DOJ, "--out", out, "--quiet", "--set", "shard_size=4")
    assert res.returncode == 0, res.stderr
    assert (out / "documents.parquet").read_bytes() == (reference / "documents.parquet").read_bytes()


@contextmanager
def held_lock(out: Path):
    """Hold ``out``'s lock from another real process, as a running command would."""
    code = ("import sys, time; from gonerd.pipeline.outdir import output_lock\n"
            "with output_lock(sys.argv[1], 'gonerd test'):\n    print('locked', flush=True); time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("command", ["extract", "filter", "dedup", "sample"])
def test_stage_commands_take_the_same_lock(reference, tmp_path, command):
    out = tmp_path / "out"
    source = DOJ if command == "extract" else reference
    with held_lock(out) as holder:
        res = gonerd(command, source, "--out", out)
        one_line_error(res, 2, "in use", f"pid {holder.pid}", "gonerd test")
    assert not (out / "documents.parquet").exists()
    assert gonerd(command, source, "--out", out).returncode == 0


# --- 2. settings out of range ------------------------------------------------------------------

@pytest.mark.parametrize("args,key", [
    (["--set", "shard_size=0"], "config.shard_size"),
    (["--workers", "0"], "config.workers"),
    (["--set", "workers=-2"], "config.workers"),
    (["--set", "dedup.num_perm=0"], "config.dedup.num_perm"),
    (["--set", "dedup.threshold=1.5"], "config.dedup.threshold"),
    (["--set", "dedup.threshold=0.99"], "config.dedup.threshold"),  # in [0, 1] but too high for 128 permutations
    (["--set", "dedup.shingle_size=0"], "config.dedup.shingle_size"),
    (["--share", "justice.gov=1.5"], "config.sample.domain_shares.justice.gov"),
    (["--share", "justice.gov=nan"], "config.sample.domain_shares.justice.gov"),
    (["--share", "justice.gov=-0.1"], "config.sample.domain_shares.justice.gov"),
    (["--share", "a.gov=0.6", "--share", "b.gov=0.6"], "config.sample.domain_shares"),
    (["--n", "-1"], "config.sample.n"),
    (["--set", "filters.min_language_score=1.5"], "config.filters.min_language_score"),
    (["--set", "filters.min_language_score=-0.5"], "config.filters.min_language_score"),
    (["--set", "filters.min_language_score=.nan"], "config.filters.min_language_score"),
    (["--set", "filters.min_tokens=-1"], "config.filters.min_tokens"),
    (["--set", "filters.max_code_line_ratio=2"], "config.filters.max_code_line_ratio"),
])
def test_out_of_range_settings_exit_2_before_any_work(tmp_path, args, key):
    out = tmp_path / "out"
    one_line_error(gonerd("docs", DOJ, "--out", out, "--quiet", *args), 2, key)
    assert not out.exists()


def test_out_of_range_in_a_config_file_names_file_and_key(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("shard_size = 0\n")
    one_line_error(gonerd("docs", DOJ, "--out", tmp_path / "out", "--config", cfg), 2, str(cfg), "shard_size")
    assert not (tmp_path / "out").exists()


# --- 4. the cache covers the pages a manifest names ---------------------------------------------

def test_edited_html_path_page_gives_new_text(tmp_path):
    (tmp_path / "pages").mkdir()
    page = tmp_path / "pages" / "a.html"
    page.write_text(article(), encoding="utf-8")
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"url": "https://example.org/a", "html_path": "pages/a.html"}) + "\n")
    out = tmp_path / "out"
    assert gonerd("docs", manifest, "--out", out, "--quiet").returncode == 0
    assert "Baltimore" in read_documents(out)[0]["text"]

    before = page.stat()
    page.write_text(article().replace("Baltimore", "Annapolis"), encoding="utf-8")
    os.utime(page, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size and mtime: only the content differs
    assert page.stat().st_size == before.st_size
    res = gonerd("docs", manifest, "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    text = read_documents(out)[0]["text"]
    assert "Annapolis" in text and "Baltimore" not in text


# --- 5. html_path stays inside its manifest's directory ------------------------------------------

@pytest.fixture
def escaping_manifest(tmp_path: Path) -> tuple[Path, Path]:
    """A manifest whose entries point outside its directory three ways, plus one good entry."""
    secret = tmp_path / "secret.html"
    secret.write_text(article(["The secret password of the vault is swordfish, " + PARAGRAPHS[0]] + PARAGRAPHS[1:],
                              title="Secret"), encoding="utf-8")
    root = tmp_path / "m"
    (root / "pages").mkdir(parents=True)
    (root / "pages" / "good.html").write_text(article(), encoding="utf-8")
    (root / "pages" / "link.html").symlink_to(secret)
    entries = [{"url": "https://example.org/good", "html_path": "pages/good.html"},
               {"url": "https://example.org/up", "html_path": "../secret.html"},
               {"url": "https://example.org/abs", "html_path": str(secret)},
               {"url": "https://example.org/link", "html_path": "pages/link.html"}]
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return manifest, secret


def test_html_path_outside_the_manifest_dir_is_refused(escaping_manifest, tmp_path):
    manifest, _ = escaping_manifest
    out = tmp_path / "out"
    res = gonerd("docs", manifest, "--out", out, "--quiet", "--set", "sample.domain_shares={}")
    assert res.returncode == 0, res.stderr
    docs = read_documents(out)
    assert [d["url"] for d in docs] == ["https://example.org/good"]
    assert not any("swordfish" in d["text"] for d in docs)
    excl = [json.loads(line) for line in (out / "exclusions.jsonl").read_text().splitlines()]
    refused = {e["url"]: e["reason"] for e in excl if e["filter"] == "html_path"}
    assert set(refused) == {"https://example.org/up", "https://example.org/abs", "https://example.org/link"}
    assert all("outside" in reason for reason in refused.values()), refused
    assert "manifest.jsonl:2" in refused["https://example.org/up"]


def test_allow_outside_root_flag_reads_them(escaping_manifest, tmp_path):
    manifest, _ = escaping_manifest
    out = tmp_path / "out"
    res = gonerd("docs", manifest, "--out", out, "--quiet", "--allow-outside-root", "--set", "sample.domain_shares={}")
    assert res.returncode == 0, res.stderr
    excl = [json.loads(line) for line in (out / "exclusions.jsonl").read_text().splitlines()]
    assert not [e for e in excl if e["filter"] == "html_path"]


def test_explicit_html_root(escaping_manifest, tmp_path):
    manifest, secret = escaping_manifest
    out = tmp_path / "out"
    # With the root one level up, '../secret.html' and the symlink stay inside it.
    res = gonerd("extract", manifest, "--out", out, "--html-root", secret.parent)
    assert res.returncode == 0, res.stderr
    assert sum("swordfish" in d["text"] for d in read_documents(out)) == 3


# --- 6. UTF-16 / UTF-32 / UTF-8 pages with a BOM -------------------------------------------------

@pytest.mark.parametrize("encoding,bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
                                          ("utf-8", b"\xef\xbb\xbf"), ("utf-32-le", b"\xff\xfe\x00\x00"),
                                          ("utf-32-be", b"\x00\x00\xfe\xff")])
def test_pages_with_a_bom_are_decoded(tmp_path, encoding, bom):
    pages = tmp_path / "pages"
    pages.mkdir()
    html = article().replace("Baltimore", "Baltimore’s Zoë")
    (pages / "a.html").write_bytes(bom + html.encode(encoding))
    out = tmp_path / "out"
    res = gonerd("extract", pages, "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    docs = read_documents(out)
    assert len(docs) == 1 and "Baltimore’s Zoë" in docs[0]["text"] and "\ufeff" not in docs[0]["text"]


# --- 7. outputs that cannot be written ---------------------------------------------------------

def _unwritable_outs(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    return {"out is a file": a_file, "parent is a file": a_file / "out", "under /proc": Path("/proc/gonerd-out")}


@pytest.mark.parametrize("case", ["out is a file", "parent is a file", "under /proc"])
@pytest.mark.parametrize("command", ["docs", "extract", "filter", "dedup", "sample"])
def test_unwritable_out_is_one_line_exit_2(reference, tmp_path, command, case):
    out = _unwritable_outs(tmp_path)[case]
    source = DOJ if command in ("docs", "extract") else reference
    res = gonerd(command, source, "--out", out)  # no --quiet: a progress bar would show work was done
    one_line_error(res, 2, str(out))
    assert not temporary_files(tmp_path)


def test_eval_extract_checks_its_out_first(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    one_line_error(gonerd("eval-extract", "--out", a_file / "scores.json"), 2, str(a_file))


def _can_mount() -> bool:
    return os.geteuid() == 0 and sys.platform == "linux"


@contextmanager
def tmpfs(path: Path, options: str):
    """A real tmpfs at ``path`` (root only)."""
    path.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if res.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.mark.skipif(not _can_mount(), reason="needs root to mount a read-only tmpfs")
def test_read_only_filesystem_is_one_line_exit_2(tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        one_line_error(gonerd("docs", DOJ, "--out", ro / "out"), 2, str(ro / "out"), "Read-only")
        one_line_error(gonerd("extract", DOJ, "--out", ro), 2, str(ro), "Read-only")


@pytest.mark.skipif(not _can_mount(), reason="needs root to mount a small tmpfs")
@pytest.mark.parametrize("command,size", [("docs", "8k"), ("docs", "64k"), ("extract", "8k")])
def test_full_disk_is_one_line_exit_1_without_temporary_files(tmp_path, command, size):
    """8k fills while writing the first shard or the lock, 64k while writing the outputs."""
    with tmpfs(tmp_path / "small", f"size={size}") as small:
        out = small / "out"
        one_line_error(gonerd(command, PAGES, DOJ, "--out", out, "--quiet"), 1, "No space left", str(out))
        assert not temporary_files(small)
        assert not (out / "documents.parquet").exists()


# --- 10. minor ---------------------------------------------------------------------------------

def test_directory_without_known_files_is_an_error(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("nothing to read here\n")
    out = tmp_path / "out"
    one_line_error(gonerd("docs", folder, "--out", out, "--quiet"), 2, str(folder), "no input files")
    assert not out.exists()


def test_text_file_named_warc_is_one_exclusion(tmp_path):
    fake = tmp_path / "fake.warc"
    fake.write_bytes(DOJ.read_bytes())
    fake_gz = tmp_path / "fake.warc.gz"
    fake_gz.write_bytes(gzip.compress(DOJ.read_bytes()))
    out = tmp_path / "out"
    res = gonerd("extract", fake, fake_gz, "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    excl = [json.loads(line) for line in (out / "exclusions.jsonl").read_text().splitlines()]
    assert [(e["source"], e["reason"]) for e in excl] == [
        (str(fake), f"{fake}: not a WARC file (it does not start with 'WARC/')"),
        (str(fake_gz), f"{fake_gz}: not a WARC file (it does not start with 'WARC/')")]
    assert "WARNING" not in res.stderr


def test_outputs_are_byte_identical_across_worker_counts(tmp_path):
    outs = {}
    for workers in (1, 2):
        outs[workers] = tmp_path / f"w{workers}"
        res = gonerd("docs", PAGES, DOJ, "--out", outs[workers], "--quiet", "--workers", workers)
        assert res.returncode == 0, res.stderr
    for name in OUTPUTS:
        assert (outs[1] / name).read_bytes() == (outs[2] / name).read_bytes(), name
    runs = {w: json.loads((o / "run.json").read_text()) for w, o in outs.items()}
    assert runs[1]["workers"] == 1 and runs[2]["workers"] == 2
