"""Human labels are never lost: carried onto changed text where it is unchanged, every other span a conflict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gonerd.cli import main
from gonerd.label import read_labeled, write_labeled

TEXT = ("FAYETTEVILLE - Benjamin Coney, age 30, and Emily Grace Brinley, age 26, both of Conway, Arkansas, "
        "were sentenced.\n\nThe FBI investigated the case.")
HUMAN = {"Benjamin Coney": "PER", "Emily Grace Brinley": "PER", "Conway": "LOC", "FBI": "ORG"}


def spans_of(text: str, names: dict[str, str]) -> list[dict]:
    return [{"start": text.index(n), "end": text.index(n) + len(n), "label": lab} for n, lab in names.items()]


def write_docs(path: Path, text: str) -> Path:
    path.write_text(json.dumps({"id": "d1", "text": text}) + "\n" + json.dumps({"id": "d2", "text": "Paris."}) + "\n")
    return path


def label(docs: Path, out: Path, *extra: str) -> None:
    assert main(["label", str(docs), "--out", str(out), *extra]) == 0


def test_changed_text_keeps_human_spans_where_unchanged_and_reports_the_rest(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    label(write_docs(tmp_path / "docs.jsonl", TEXT), out)
    corrections = tmp_path / "c.jsonl"
    corrections.write_text(json.dumps({"id": "d1", "annotator": "alice", "spans": spans_of(TEXT, HUMAN)}) + "\n")
    label(tmp_path / "docs.jsonl", out, "--import-corrections", str(corrections))
    # the page is re-extracted: a new first line, a name edited, and "FBI" glued into "FBIs"
    new = "Update: " + TEXT.replace("Emily Grace Brinley", "Emily G. Brinley").replace("FBI ", "FBIs ")
    capsys.readouterr()
    label(write_docs(tmp_path / "docs.jsonl", new), out)
    printed = capsys.readouterr().out
    conflicts_file = out / "conflicts.jsonl"
    assert "conflicts: 2\n" in printed and f"conflicts_file: {conflicts_file}\n" in printed
    record = next(r for r in read_labeled(out) if r["id"] == "d1")
    assert record["text"] == new and record["label_source"] == "human:alice"
    assert [(new[s["start"]:s["end"]], s["label"]) for s in record["spans"]] == [
        ("Benjamin Coney", "PER"), ("Conway", "LOC")]
    assert record["ner_tags"].count("B-PER") == 1 and "B-ORG" not in record["ner_tags"]
    conflicts = [json.loads(line) for line in conflicts_file.read_text().splitlines()]
    assert [(c["id"], c["old_text"], c["span"]["label"]) for c in conflicts] == [
        ("d1", "Emily Grace Brinley", "PER"), ("d1", "FBI", "ORG")]
    assert conflicts[0]["reason"] == "text changed in or around the span"
    assert conflicts[1]["reason"] == "the unchanged text no longer falls on word boundaries"
    assert conflicts[0]["span"] == spans_of(TEXT, {"Emily Grace Brinley": "PER"})[0]
    # a re-run reuses the carried record and keeps the conflicts for review
    label(tmp_path / "docs.jsonl", out)
    assert "conflicts: 0\n" in capsys.readouterr().out
    assert [json.loads(line) for line in conflicts_file.read_text().splitlines()] == conflicts
    assert next(r for r in read_labeled(out) if r["id"] == "d1") == record
    # a human-labelled document dropped from the inputs leaves its spans in the conflicts file
    (tmp_path / "docs.jsonl").write_text(json.dumps({"id": "d2", "text": "Paris."}) + "\n")
    label(tmp_path / "docs.jsonl", out)
    assert "conflicts: 2\n" in capsys.readouterr().out and [r["id"] for r in read_labeled(out)] == ["d2"]
    gone = [json.loads(line) for line in conflicts_file.read_text().splitlines()][2:]
    assert [(c["old_text"], c["reason"]) for c in gone] == [
        ("Benjamin Coney", "the document is no longer among the inputs"),
        ("Conway", "the document is no longer among the inputs")]


def test_human_labels_of_the_old_whitespace_token_layout_carry_over_whole(tmp_path, capsys) -> None:
    """Records written before tokens were words (``spaces``, ``"\\n\\n"`` tokens) keep every human span."""
    text = "Agents of the Federal Bureau of\n\nInvestigation met Jane Doe."
    tokens = ["Agents", "of", "the", "Federal", "Bureau", "of", "\n\n", "Investigation", "met", "Jane", "Doe", "."]
    spaces = [True, True, True, True, True, False, False, True, True, True, False, False]
    assert "".join(t + " " * s for t, s in zip(tokens, spaces)) == text
    tags = ["O", "O", "O", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-PER", "I-PER", "O"]
    human = spans_of(text, {"Federal Bureau of\n\nInvestigation": "ORG", "Jane Doe": "PER"})
    out = tmp_path / "out"
    write_labeled([{"id": "d1", "text": text, "tokens": tokens, "spaces": spaces, "ner_tags": tags, "spans": human,
                    "label_source": "human:bob", "sentence_starts": None}], out / "labeled.parquet")
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "d1", "text": text}) + "\n")
    label(docs, out)
    assert "conflicts: 0\n" in capsys.readouterr().out and not (out / "conflicts.jsonl").exists()
    (record,) = read_labeled(out)
    assert "\n\n" not in record["tokens"] and record["label_source"] == "human:bob" and record["spans"] == human
    assert record["ner_tags"][3:7] == ["B-ORG", "I-ORG", "I-ORG", "I-ORG"]


@pytest.mark.parametrize(("new_text", "carried"), [
    ("Jane Doe met Bob.", ["Jane Doe", "Bob"]),
    ("Jane  Doe met Bob.", ["Bob"]),
    ("Ms. Jane Doe met Bob today.", ["Jane Doe", "Bob"]),
    ("", []),
])
def test_carry_human_maps_offsets_by_alignment(new_text, carried) -> None:
    from label_pipeline import pipeline

    from gonerd.label import label_documents
    from gonerd.label.carry import carry_human

    nlp, labelers = pipeline()
    old_text = "Jane Doe met Bob."
    old = {"id": "x", "text": old_text, "spans": spans_of(old_text, {"Jane Doe": "PER", "Bob": "PER"}),
           "label_source": "human:a"}
    (new,) = label_documents([{"id": "x", "text": new_text}], labelers=labelers, nlp=nlp, progress=False)
    record, conflicts = carry_human(old, new)
    assert [new_text[s["start"]:s["end"]] for s in record["spans"]] == carried
    assert len(conflicts) == 2 - len(carried) and record["label_source"] == "human:a"
