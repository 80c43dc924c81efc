"""``gonerd kd predict`` on awkward input, through the real CLI (subprocess) on real files.

Plain text that merely looks like ``token TAG`` is text; the format comes from ``--input-format`` or
the extension, and content decides only when it is unambiguous. ``--format conll`` output is read
back by our own ``gonerd stats`` and ``gonerd kd eval``. Bad JSONL, non-object lines and non-UTF-8
files stop with one line naming the file and line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kd_tiny import train_tiny

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "kd_train.txt"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kdreliability")
    train_tiny(out, TRAIN)
    return out / "run" / "best"


def gonerd(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed CLI in a child process, as a user would."""
    return subprocess.run([sys.executable, "-m", "gonerd.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def predict(model: Path, src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return gonerd("kd", "predict", "--model", str(model), "--input", str(src), "--output", str(out),
                  "--max-length", "24", "--stride", "6", "--quiet", *extra)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The single stderr line of a refused command (exit 2)."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize("text", [
    "Traffic backed up for miles in both lanes on I-95\n",
    "The museum restored a B-52\nVisitors can walk under the B-52\n",
])
def test_text_that_ends_lines_with_tag_like_words_is_read_as_text(model, tmp_path, text):
    src, out = tmp_path / "notes.txt", tmp_path / "out.jsonl"
    src.write_text(text, encoding="utf-8")
    proc = predict(model, src, out)
    assert proc.returncode == 0, proc.stderr
    (rec,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert rec["text"] == text and "".join(t + w for t, w in zip(rec["tokens"], rec["whitespace"])) == text.lstrip()
    assert all(t.strip() for t in rec["tokens"])
    assert rec["id"] == "notes"


def test_input_format_flag_overrides_extension_and_content(model, tmp_path):
    conll_txt = tmp_path / "train.txt"
    conll_txt.write_text(TRAIN.read_text(encoding="utf-8"), encoding="utf-8")
    as_conll, as_text = tmp_path / "c.jsonl", tmp_path / "t.jsonl"
    assert predict(model, conll_txt, as_conll).returncode == 0  # unambiguous CoNLL: -DOCSTART- first
    assert predict(model, conll_txt, as_text, "--input-format", "text").returncode == 0
    docs = [json.loads(line) for line in as_conll.read_text().splitlines()]
    (text_doc,) = [json.loads(line) for line in as_text.read_text().splitlines()]
    assert len(docs) == 2 and "-DOCSTART-" not in docs[0]["tokens"]
    assert text_doc["tokens"][0] == "-DOCSTART-"
    prose = tmp_path / "notes.data"
    prose.write_text("Maria Lopez joined Acme Corp in Denver .\n", encoding="utf-8")
    assert "--input-format" in one_line_error(predict(model, prose, tmp_path / "x.jsonl"))
    assert predict(model, prose, tmp_path / "x.jsonl", "--input-format", "text").returncode == 0


def test_conll_output_of_text_with_paragraphs_is_read_by_stats_and_kd_eval(model, tmp_path):
    src, out = tmp_path / "release.txt", tmp_path / "release.conll"
    src.write_text("Maria Lopez joined Acme Corp in Denver.\n\nJohn Smith flew from Boston to Madrid for Globex.\n"
                   "\n\n  Globex hired Maria Lopez.\n", encoding="utf-8")
    proc = predict(model, src, out, "--format", "conll")
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "-DOCSTART- release"
    assert all(len(line.split()) == 2 for line in lines[1:] if line), [line for line in lines if line.startswith(" ")]
    assert sum(1 for line in lines[1:] if not line) >= 3  # paragraphs are sentence breaks
    stats = gonerd("stats", str(out), "--out", str(tmp_path / "stats"), "--no-figure")
    assert stats.returncode == 0, stats.stderr
    scored = gonerd("kd", "eval", "--model", str(model), "--data", str(tmp_path), "--split", f"self={out}",
                    "--max-length", "24", "--stride", "6", "--output", str(tmp_path / "m.json"), "--quiet")
    assert scored.returncode == 0, scored.stderr
    report = json.loads((tmp_path / "m.json").read_text())
    entities = sum(1 for line in lines if line.split()[-1:] and line.split()[-1].startswith("B-"))
    assert entities >= 2 and report["models"][0]["splits"]["self"]["ALL"]["support"] == entities


def test_conll_output_keeps_the_document_ids_of_conll_input(model, tmp_path):
    src, out = tmp_path / "gold.conll", tmp_path / "pred.conll"
    src.write_text("-DOCSTART- doc-a gold\nMaria B-PER\nLopez I-PER\n\n-DOCSTART- doc-b\nAcme B-ORG\nCorp I-ORG\n",
                   encoding="utf-8")
    assert predict(model, src, out, "--format", "conll").returncode == 0
    starts = [line for line in out.read_text().splitlines() if line.startswith("-DOCSTART-")]
    assert starts == ["-DOCSTART- doc-a", "-DOCSTART- doc-b"]
    as_jsonl = tmp_path / "pred.jsonl"
    assert predict(model, src, as_jsonl).returncode == 0
    assert [json.loads(line)["id"] for line in as_jsonl.read_text().splitlines()] == ["doc-a", "doc-b"]


@pytest.mark.parametrize("content, where, what", [
    ('{"id": "a", "text": "Acme Corp"}\n{"id": "b", "text": \n', "line 2", "not valid JSON"),
    ('{"id": "a", "text": "Acme Corp"}\n\n["Acme Corp"]\n', "line 3", "not a JSON object"),
    ('"Acme Corp"\n', "line 1", "not a JSON object"),
    ('{"id": "a", "text": 5}\n', "line 1", "field 'text'"),
])
def test_bad_jsonl_is_one_line_naming_file_and_line(model, tmp_path, content, where, what):
    src = tmp_path / "docs.jsonl"
    src.write_text(content, encoding="utf-8")
    error = one_line_error(predict(model, src, tmp_path / "out.jsonl"))
    assert "docs.jsonl" in error and where in error and what in error
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("name, lines", [
    ("notes.txt", [b"Acme Corp hired Maria .", b"Caf\xe9 owners met in Madrid ."]),
    ("docs.jsonl", [b'{"text": "Acme Corp"}', b'{"text": "Caf\xe9"}']),
    ("gold.conll", [b"-DOCSTART- d1", b"Caf\xe9 B-ORG"]),
])
def test_non_utf8_input_is_one_line_naming_file_and_line(model, tmp_path, name, lines):
    src = tmp_path / name
    src.write_bytes(b"\n".join(lines) + b"\n")
    error = one_line_error(predict(model, src, tmp_path / "out.jsonl"))
    assert name in error and "line 2" in error and "not UTF-8" in error
