"""Import of hand corrections (span JSONL and CoNLL IOB2): replacement by id, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gonerd.conll import iob2_errors
from gonerd.errors import InputError
from gonerd.label import export_conll, import_corrections, label_documents
from label_pipeline import pipeline

TEXTS = {
    "r1": "FAYETTEVILLE - On January 15, 2025, Benjamin Coney, age 30, and Emily Grace Brinley, age 26, both of "
          "Conway, Arkansas, were sentenced.\n\nThe FBI investigated the case.",
    "r2": "Jesse Lelievre, 42, of North Andover, was sentenced by U.S. District Judge Denise J. Casper.",
}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    nlp, labelers = pipeline()
    docs = [{"id": k, "text": v} for k, v in TEXTS.items()]
    return list(label_documents(docs, labelers=labelers, nlp=nlp, progress=False))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def span(text: str, mention: str, label: str) -> dict:
    start = text.index(mention)
    return {"start": start, "end": start + len(mention), "label": label}


def test_jsonl_corrections_replace_labels_by_id(records, tmp_path) -> None:
    t = TEXTS["r2"]
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "r2", "annotator": "alice", "spans": [
        span(t, "Jesse Lelievre", "PER"), span(t, "42", "MISC"), span(t, "North Andover", "LOC"),
        span(t, "U.S. District", "ORG"), span(t, "Denise J. Casper", "PER")]}])
    out = import_corrections(records, path)
    assert out[0] is records[0]
    fixed = out[1]
    assert fixed["label_source"] == "human:alice" and fixed["tokens"] == records[1]["tokens"]
    assert [t[s["start"]:s["end"]] for s in fixed["spans"]] == [
        "Jesse Lelievre", "42", "North Andover", "U.S. District", "Denise J. Casper"]
    assert not iob2_errors(fixed["ner_tags"])
    assert fixed["ner_tags"][:4] == ["B-PER", "I-PER", "O", "B-MISC"]


def test_human_corrections_survive_a_relabel(records, tmp_path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "r1", "annotator": "bob", "spans": []}])
    corrected = import_corrections(records, path)
    nlp, labelers = pipeline()
    again = list(label_documents(corrected, labelers=labelers, nlp=nlp, progress=False))
    assert again[0] is corrected[0] and again[0]["spans"] == [] and again[0]["label_source"] == "human:bob"
    assert again[1]["spans"] == records[1]["spans"]


@pytest.mark.parametrize(("row", "message"), [
    ({"id": "nope", "annotator": "a", "spans": []}, r"line 2, field 'id': unknown document id 'nope'"),
    ({"id": "r2", "annotator": "a", "spans": [{"start": 0, "end": 5, "label": "PERSON"}]},
     r"line 2, field 'spans\[0\].label': unknown label 'PERSON'"),
    ({"id": "r2", "annotator": "a", "spans": [{"start": 0, "end": 3, "label": "PER"}]},
     r"line 2, field 'spans\[0\]': offsets 0-3 \('Jes'\) are not on token boundaries"),
    ({"id": "r2", "annotator": "a", "spans": [{"start": 0, "end": 999, "label": "PER"}]}, "outside the text"),
    ({"id": "r2", "annotator": "a", "spans": [{"start": 0, "end": 14, "label": "PER"},
                                               {"start": 6, "end": 14, "label": "PER"}]}, "overlaps"),
    ({"id": "r2", "spans": []}, "no annotator"),
    ({"id": "r2", "annotator": "a", "text": "other text", "spans": []}, "text differs"),
    ({"id": "r2", "annotator": "a", "span": []}, r"line 2, field 'span': unknown key in a line .*did you mean 'spans'"),
    ({"id": "r2", "annotator": "a"}, r"line 2, field 'spans': missing"),
    ({"id": "r1", "annotator": "a", "spans": []},
     r"line 2, field 'id': document id 'r1' is corrected twice, at lines 1 and 2"),
    ({"id": "r2", "annotator": "a", "spans": [{"start": False, "end": 14, "label": "PER"}]},
     r"line 2, field 'spans\[0\].start': offset must be an integer, not false"),
    ({"id": "r2", "annotator": "a", "spans": [{"start": 0, "end": 14.0, "label": "PER"}]},
     r"field 'spans\[0\].end': offset must be an integer, not 14.0"),
    ({"id": "r2", "annotator": "a", "spans": [{"start": "0", "end": 14, "label": "PER"}]},
     r"field 'spans\[0\].start': offset must be an integer, not \"0\""),
    ({"id": "r2", "annotator": "a", "spans": [{"start": 0, "end": 14, "label": "PER", "lable": "x"}]},
     r"field 'spans\[0\].lable': unknown key in a span"),
    ({"id": "r2", "annotator": "a", "spans": [{"start": 0, "label": "PER"}]}, r"field 'spans\[0\].end': missing"),
    ({"id": "r2", "annotator": "a", "spans": ["Jesse Lelievre"]},
     r"field 'spans\[0\]': a span must be a JSON object, not str"),
    ({"id": "r2", "annotator": "a", "spans": {"start": 0}}, r"field 'spans': must be a list of spans, not dict"),
    ({"id": "r2", "annotator": "a", "spans": [{"start": 0, "end": 14, "label": "PER", "text": "Jesse"}]},
     r"field 'spans\[0\].text': text 'Jesse' differs from the document's 'Jesse Lelievre'"),
    ({"id": ["r2"], "annotator": "a", "spans": []}, r"field 'id': must be a string, not \[\"r2\"\]"),
    ({"id": "r2", "annotator": 7, "spans": []}, r"field 'annotator': must be a string, not 7"),
    (["r2", []], r"line 2: a line must be a JSON object, not list"),
    ("r2", r"line 2: a line must be a JSON object, not str"),
])
def test_jsonl_errors_name_file_line_and_field(records, tmp_path, row, message) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"id": "r1", "annotator": "a", "spans": []}, row])
    with pytest.raises(InputError, match=message) as err:
        import_corrections(records, path)
    assert str(err.value).startswith(str(path))


def test_conll_round_trip_with_an_edit(records, tmp_path) -> None:
    path = export_conll(records, tmp_path / "export.conll")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "-DOCSTART- r1" and "\n\n" not in [ln.split(" ")[0] for ln in lines]
    # the annotator of r1 keeps only one entity, "FBI" as ORG, and signs the document
    doc_end = lines.index("-DOCSTART- r2")
    lines[:doc_end] = [ln if ln.startswith("-DOCSTART-") or not ln else f"{ln.split(' ')[0]} O"
                       for ln in lines[:doc_end]]
    lines = [("FBI B-ORG" if ln.startswith("FBI ") else ln) for ln in lines]
    lines[0] = "-DOCSTART- r1 carol"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = import_corrections(records, path, annotator="dave")
    assert out[0]["label_source"] == "human:carol" and out[1]["label_source"] == "human:dave"
    assert out[1]["ner_tags"] == records[1]["ner_tags"]
    start = TEXTS["r1"].index("FBI")
    assert out[0]["spans"] == [{"start": start, "end": start + 3, "label": "ORG"}]
    assert out[0]["ner_tags"].count("O") == len(out[0]["tokens"]) - 1


def conll_lines(records, tmp_path) -> list[str]:
    return export_conll(records, tmp_path / "e.conll").read_text(encoding="utf-8").splitlines()


def test_conll_length_mismatch(records, tmp_path) -> None:
    lines = conll_lines(records, tmp_path)
    lines.remove("investigated O")
    path = tmp_path / "short.conll"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"short.conll, line 1: document 'r1' has \d+ tokens, the file gives \d+"):
        import_corrections(records, path, annotator="a")


@pytest.mark.parametrize(("old", "new", "message"), [
    ("investigated O", "probed O", r"line (\d+): token 'probed' differs from the document's 'investigated'"),
    ("investigated O", "investigated B-PERSON", r"line (\d+), field 'tag': unknown tag 'B-PERSON'"),
    ("sentenced O", "sentenced I-ORG", r"line (\d+), field 'tag': not strict IOB2: 'I-ORG' follows 'O'"),
    ("-DOCSTART- r2", "-DOCSTART- r1", r"line (\d+), field 'id': document id 'r1' is corrected twice, at lines 1 and"),
    ("-DOCSTART- r2", "-DOCSTART- r2 ann extra", r"line (\d+): expected '-DOCSTART- <id> \[<annotator>\]'"),
    ("-DOCSTART- r2", "-DOCSTART- r9", r"line (\d+), field 'id': unknown document id 'r9'"),
])
def test_conll_errors_name_the_line(records, tmp_path, old, new, message) -> None:
    lines = conll_lines(records, tmp_path)
    lineno = lines.index(old) + 1
    lines[lineno - 1] = new
    path = tmp_path / "bad.conll"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as err:
        import_corrections(records, path, annotator="a")
    assert f"line {lineno}" in str(err.value) and str(err.value).startswith(str(path))


@pytest.mark.parametrize("suffix", [".jsonl", ".conll"])
def test_a_file_that_is_not_utf8_says_so(records, tmp_path, suffix) -> None:
    path = tmp_path / f"latin1{suffix}"
    path.write_bytes(b'{"id": "r1", "annotator": "a", "spans": []}\n'
                     b'{"id": "r2", "annotator": "Jos\xe9", "spans": []}\n')
    with pytest.raises(InputError, match=r"line 2: not UTF-8 text \(byte 0xe9"):
        import_corrections(records, path)


def test_missing_file(records, tmp_path) -> None:
    with pytest.raises(InputError, match="no such file"):
        import_corrections(records, tmp_path / "absent.jsonl")
