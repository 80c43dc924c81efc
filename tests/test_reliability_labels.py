"""Bad hand corrections through the real CLI: every one a one-line error naming file, line and field.

Each case runs ``python -m gonerd.cli label --import-corrections FILE`` in a subprocess on real
documents (two bundled DOJ releases) already labeled by a first run, and checks that the run is
refused with exit 2 and one error line on stderr, and that the labels already written are untouched.
Before these checks a span JSONL line with ``"span"`` for ``"spans"`` wiped a document's pre-labels
with exit 0, a document given twice kept the last silently, and ``start: false`` counted as 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gonerd.label import read_labeled

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
pytestmark = pytest.mark.slow


def gonerd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gonerd.cli", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=REPO, timeout=600)


@pytest.fixture(scope="module")
def labeled(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    """``(docs, out)``: two real documents and their labels from a first ``gonerd label`` run."""
    root = tmp_path_factory.mktemp("labels")
    lines = (REPO / "gonerd" / "sample" / "doj_releases.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    docs = root / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"d{i}", "text": json.loads(line)["text"]}) + "\n"
                            for i, line in enumerate(lines)), encoding="utf-8")
    run = gonerd("label", docs, "--out", root / "out")
    assert run.returncode == 0, run.stderr
    return docs, root / "out", read_labeled(root / "out")


def first_span(record: dict) -> dict:
    return dict(record["spans"][0])


def jsonl(rows: list) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")


def conll(records: list[dict], edit=lambda lines: lines) -> bytes:
    lines = []
    for r in records:
        lines += [f"-DOCSTART- {r['id']} gold"] + [f"{t} {g}" for t, g in zip(r["tokens"], r["ner_tags"])] + [""]
    return ("\n".join(edit(lines)) + "\n").encode("utf-8")


def replace_tag(lines: list[str], old: str, new: str) -> list[str]:
    i = next(i for i, ln in enumerate(lines) if ln.endswith(f" {old}"))
    return [*lines[:i], f"{lines[i].split(' ')[0]} {new}", *lines[i + 1:]]


def cases(records: list[dict]) -> dict[str, tuple[str, bytes, str]]:
    """name → (file suffix, file content, the start of the expected message after ``FILE, ``)."""
    d0, d1 = records
    good = {"id": "d0", "annotator": "a", "spans": [first_span(d0)]}
    return {
        "span for spans": (".jsonl", jsonl([{"id": "d0", "annotator": "a", "span": []}]),
                           "line 1, field 'span': unknown key in a line"),
        "id twice": (".jsonl", jsonl([good, {"id": "d1", "annotator": "a", "spans": []}, good]),
                     "line 3, field 'id': document id 'd0' is corrected twice, at lines 1 and 3"),
        "start false": (".jsonl", jsonl([{**good, "spans": [{**first_span(d0), "start": False}]}]),
                        "line 1, field 'spans[0].start': offset must be an integer, not false"),
        "float offset": (".jsonl", jsonl([{**good, "spans": [{**first_span(d0), "end": 1.5}]}]),
                         "line 1, field 'spans[0].end': offset must be an integer, not 1.5"),
        "string offset": (".jsonl", jsonl([{**good, "spans": [{**first_span(d0), "start": "3"}]}]),
                          "line 1, field 'spans[0].start': offset must be an integer"),
        "line is a list": (".jsonl", jsonl([good, ["d1", []]]), "line 2: a line must be a JSON object, not list"),
        "line is a string": (".jsonl", jsonl([good, "d1"]), "line 2: a line must be a JSON object, not str"),
        "span is a string": (".jsonl", jsonl([{**good, "spans": ["Coney"]}]),
                             "line 1, field 'spans[0]': a span must be a JSON object, not str"),
        "spans is an object": (".jsonl", jsonl([{**good, "spans": first_span(d0)}]),
                               "line 1, field 'spans': must be a list of spans, not dict"),
        "label outside schema": (".jsonl", jsonl([{**good, "spans": [{**first_span(d0), "label": "PERSON"}]}]),
                                 "line 1, field 'spans[0].label': unknown label 'PERSON'"),
        "offsets outside text": (".jsonl", jsonl([{**good, "spans": [{"start": 0, "end": 10**6, "label": "PER"}]}]),
                                 "line 1, field 'spans[0]': offsets 0-1000000 outside the text"),
        "jsonl not utf-8": (".jsonl", jsonl([good]) + b'{"id": "d1", "annotator": "Jos\xe9", "spans": []}\n',
                            "line 2: not UTF-8 text"),
        "conll bad tag": (".conll", conll(records, lambda ls: replace_tag(ls, "O", "B-PERSON")),
                          "line 2, field 'tag': unknown tag 'B-PERSON'"),
        "conll bad iob": (".conll", conll(records, lambda ls: replace_tag(ls, "O", "I-LOC")),
                          "line 2, field 'tag': not strict IOB2: 'I-LOC' follows 'O'"),
        "conll docstart twice": (".conll", conll([d0, d1, d0]),
                                 f"line {len(d0['tokens']) + len(d1['tokens']) + 5}, field 'id': document id 'd0' "
                                 "is corrected twice, at lines 1 and"),
        "conll not utf-8": (".conll", b"-DOCSTART- d0 gold\nJos\xe9 O\n", "line 2: not UTF-8 text"),
    }


CASES = ["span for spans", "id twice", "start false", "float offset", "string offset", "line is a list",
         "line is a string", "span is a string", "spans is an object", "label outside schema",
         "offsets outside text", "jsonl not utf-8", "conll bad tag", "conll bad iob", "conll docstart twice",
         "conll not utf-8"]


@pytest.mark.parametrize("name", CASES)
def test_bad_corrections_are_refused_with_one_line_and_nothing_lost(labeled, tmp_path, name) -> None:
    docs, out, records = labeled
    suffix, content, message = cases(records)[name]
    path = tmp_path / f"corrections{suffix}"
    path.write_bytes(content)
    before = (out / "labeled.parquet").read_bytes()
    run = gonerd("label", docs, "--out", out, "--import-corrections", path)
    assert run.returncode == 2, (run.stdout, run.stderr)
    errors = [ln for ln in run.stderr.replace("\r", "\n").splitlines() if ln.strip() and not ln.startswith("label: ")]
    assert len(errors) == 1 and "Traceback" not in run.stderr, run.stderr
    assert errors[0].startswith(f"gonerd label: error: {path}, {message}"), errors[0]
    assert (out / "labeled.parquet").read_bytes() == before


def test_good_corrections_still_import(labeled, tmp_path) -> None:
    docs, out, records = labeled
    path = tmp_path / "ok.jsonl"
    path.write_bytes(jsonl([{"id": "d0", "annotator": "a", "spans": [first_span(records[0])]}]))
    run = gonerd("label", docs, "--out", out, "--import-corrections", path)
    assert run.returncode == 0 and "human: 1" in run.stdout, run.stderr
    (d0, d1) = read_labeled(out)
    assert d0["spans"] == [first_span(records[0])] and d0["label_source"] == "human:a" and d1 == records[1]


@pytest.mark.parametrize("command", ["label", "build"])
def test_a_run_into_an_output_in_use_is_refused_at_once(labeled, tmp_path, command) -> None:
    from gonerd.pipeline.outdir import output_lock

    docs, _, _ = labeled
    out = tmp_path / "out"
    with output_lock(out, "another run"):
        run = gonerd(command, docs, "--out", out)
    assert run.returncode == 2
    assert f"gonerd {command}: error: {out}: output directory in use by pid {os.getpid()}" in run.stderr
    assert sorted(p.name for p in out.iterdir()) == []  # nothing written, the holder's lock file gone with it
