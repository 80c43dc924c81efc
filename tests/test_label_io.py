"""Labeled parquet round trip, document input, and the resumable ``gonerd label`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gonerd.cli import main
from gonerd.errors import InputError
from gonerd.label import read_documents, read_labeled, write_labeled
from gonerd.pipeline.io import write_documents

SAMPLE = Path(__file__).resolve().parents[1] / "gonerd" / "sample"


def documents(n: int = 6) -> list[dict]:
    rows = [json.loads(line) for line in (SAMPLE / "doj_releases.jsonl").read_text(encoding="utf-8").splitlines()][:n]
    return [{"id": r["source_id"], "url": None, "domain": r["domain"], "source": "doj_releases.jsonl",
             "fetched_at": None, "title": None, "author": None, "date": r["date"], "text": r["text"],
             "n_tokens": len(r["text"].split()), "filters": ["language"]} for r in rows]


def test_labeled_parquet_round_trip(tmp_path: Path) -> None:
    records = [{**documents(1)[0], "tokens": ["A", "b"], "whitespace": ["\n", ""], "ner_tags": ["B-PER", "O"],
                "spans": [{"start": 0, "end": 1, "label": "PER"}], "label_source": "human:x",
                "sentence_starts": None, "extra": 3}]
    path = write_labeled(records, tmp_path / "out" / "l.parquet")
    assert read_labeled(path) == records
    assert read_labeled(write_labeled([], tmp_path / "empty.parquet")) == []


def test_read_labeled_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no labeled.parquet here"):
        read_labeled(tmp_path)
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="x.parquet: not a readable parquet"):
        read_labeled(tmp_path / "x.parquet")
    write_labeled([{"id": "a", "text": "t"}], tmp_path / "partial.parquet")
    with pytest.raises(InputError, match="missing column"):
        read_labeled(tmp_path / "partial.parquet")


def test_read_documents_parquet_dir_and_jsonl(tmp_path: Path) -> None:
    docs = documents(2)
    write_documents(docs, tmp_path / "documents.parquet")
    assert [d["id"] for d in read_documents(tmp_path)] == [d["id"] for d in docs]
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(json.dumps({"id": "a", "text": "x"}) + "\n\n" + json.dumps({"id": "b"}) + "\n")
    with pytest.raises(InputError, match=r"docs.jsonl, line 3, field 'text'"):
        read_documents(jsonl)


def test_label_command_resumes_and_imports_corrections(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = documents()
    write_documents(docs, tmp_path / "docs" / "documents.parquet")
    out = tmp_path / "labeled"
    assert main(["label", str(tmp_path / "docs"), "--out", str(out)]) == 0
    first = read_labeled(out)
    assert [r["id"] for r in first] == [d["id"] for d in docs] and not (out / "parts").exists()
    assert "labeled: 6" in capsys.readouterr().out

    # a re-run labels nothing; a changed text is relabeled; a correction is imported and kept after
    text = docs[0]["text"]
    correction = tmp_path / "fix.jsonl"
    correction.write_text(json.dumps({"id": docs[1]["id"], "annotator": "alice", "spans": []}) + "\n")
    docs[2] = {**docs[2], "text": docs[2]["text"] + "\n\nJoseph Smith, 71, of Boston."}
    write_documents(docs, tmp_path / "docs" / "documents.parquet")
    assert main(["label", str(tmp_path / "docs"), "--out", str(out), "--import-corrections", str(correction)]) == 0
    printed = capsys.readouterr().out
    assert "labeled: 1" in printed and "reused: 5" in printed and "human: 1" in printed
    second = read_labeled(out)
    assert second[0] == first[0] and second[0]["text"] == text
    assert second[1]["label_source"] == "human:alice" and second[1]["spans"] == []
    age = second[2]["text"].rindex("71")
    assert {"start": age, "end": age + 2, "label": "MISC"} in second[2]["spans"]
    assert second[2]["label_source"] == first[2]["label_source"] and second[2]["tokens"] != first[2]["tokens"]

    # the next plain re-run keeps the human labels
    assert main(["label", str(tmp_path / "docs"), "--out", str(out)]) == 0
    assert "labeled: 0" in capsys.readouterr().out
    assert read_labeled(out)[1]["label_source"] == "human:alice"


def test_label_command_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["label", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no documents.parquet here" in capsys.readouterr().err
    write_documents(documents(1), tmp_path / "documents.parquet")
    assert main(["label", str(tmp_path), "--out", str(tmp_path / "o"), "--model", str(tmp_path / "no_model")]) == 2
    assert "cannot load spaCy model" in capsys.readouterr().err


def test_label_command_resumes_from_parts_of_an_interrupted_run(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from gonerd.commands.label import PARTS_DIR

    docs = documents(4)
    write_documents(docs, tmp_path / "documents.parquet")
    out = tmp_path / "labeled"
    assert main(["label", str(tmp_path), "--out", str(out)]) == 0
    done = read_labeled(out)
    # as if the run had been interrupted after its first chunk: only a part file with two documents
    (out / "labeled.parquet").unlink()
    write_labeled(done[:2], out / PARTS_DIR / "part-00000.parquet")
    capsys.readouterr()
    assert main(["label", str(tmp_path), "--out", str(out)]) == 0
    assert "labeled: 2" in capsys.readouterr().out
    assert read_labeled(out) == done and not (out / PARTS_DIR).exists()
