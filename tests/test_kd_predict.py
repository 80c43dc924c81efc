"""``gonerd kd predict`` on raw text, documents parquet/JSONL and CoNLL; the model as a labeler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gonerd.cli import main
from gonerd.errors import InputError
from gonerd.label.merge import iob2_to_spans
from kd.predict import read_inputs
from kd_tiny import train_tiny

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "kd_train.txt"
TEXT = "Maria Lopez joined Acme Corp in Denver . John Smith flew from Boston to Madrid for Globex ."


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("kdpredict")
    train_tiny(out, TRAIN)
    return out / "run" / "best"


def test_predicted_tags_map_to_spans_with_the_shared_iob2_reader():
    assert iob2_to_spans(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 6, "LOC")]
    assert iob2_to_spans(["O", "O"]) == []


def test_predict_raw_text_gives_iob2_and_character_spans(model, tmp_path):
    src, out = tmp_path / "doc.txt", tmp_path / "out.jsonl"
    src.write_text(TEXT)
    assert main(["kd", "predict", "--model", str(model), "--input", str(src), "--output", str(out),
                 "--max-length", "24", "--stride", "6", "--quiet"]) == 0
    (rec,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert rec["tokens"][:3] == ["Maria", "Lopez", "joined"] and len(rec["ner_tags"]) == len(rec["tokens"])
    assert rec["label_source"].startswith("model:")
    spans = {(TEXT[s["start"]:s["end"]], s["label"]) for s in rec["spans"]}
    # the tiny model memorised its training sentences; the text reuses them (in longer windows)
    known = {("Maria Lopez", "PER"), ("Acme Corp", "ORG"), ("Denver", "LOC"), ("John Smith", "PER"), ("Globex", "ORG")}
    assert len(known & spans) >= 3
    assert all(TEXT[s["start"]:s["end"]] == s["text"] for s in rec["spans"])


def test_predict_documents_parquet_and_jsonl(model, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["a", "b"], "text": [TEXT, "Globex hired Maria Lopez ."]}), tmp_path / "d.parquet")
    out = tmp_path / "p.jsonl"
    assert main(["kd", "predict", "--model", str(model), "--input", str(tmp_path / "d.parquet"), "--output", str(out),
                 "--max-length", "24", "--stride", "6", "--quiet"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in recs] == ["a", "b"]
    (tmp_path / "d.jsonl").write_text(json.dumps({"id": "x", "text": "Acme Corp"}) + "\n" + json.dumps({"text": " "}) + "\n")
    assert main(["kd", "predict", "--model", str(model), "--input", str(tmp_path / "d.jsonl"), "--output", str(out),
                 "--quiet"]) == 2


def test_empty_document_names_file_and_row(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps({"text": "Acme"}) + "\n" + json.dumps({"text": ""}) + "\n")
    with pytest.raises(InputError, match=r"d\.jsonl, line 2, field 'text': empty document"):
        list(read_inputs(tmp_path / "d.jsonl"))


def test_predict_conll_writes_token_tag_lines_with_sentence_breaks(model, tmp_path):
    out = tmp_path / "p.conll"
    assert main(["kd", "predict", "--model", str(model), "--input", str(TRAIN), "--output", str(out), "--format", "conll",
                 "--max-length", "24", "--stride", "6", "--quiet"]) == 0
    from gonerd.conll import read_conll
    from kd.data import conll_examples

    pred, gold = read_conll(out, convert_iob1=False), conll_examples(TRAIN, unit="document").examples
    assert [len(d.sentences) for d in pred] == [3, 3]
    assert [d.tokens for d in pred] == [g.tokens for g in gold]
    agree = sum(p == g for d, e in zip(pred, gold) for p, g in zip(d.tags, e.tags))
    assert agree / sum(len(e.tags) for e in gold) > 0.8  # all-O would give 0.64


def test_model_labeler_follows_the_labeler_protocol(model):
    import spacy

    from gonerd.label.base import Labeler
    from kd.labeler import ModelLabeler

    labeler = ModelLabeler(model, max_length=24, stride=6)
    assert isinstance(labeler, Labeler)
    assert labeler.labels == frozenset({"PER", "ORG", "LOC", "MISC"}) and labeler.source == f"model:{model}"
    doc = spacy.blank("en")("Maria Lopez joined Acme Corp in Denver.\n\nJohn Smith flew from Boston to Madrid for Globex.")
    spans = labeler.spans(doc)
    assert all(0 <= s < e <= len(doc) and k in labeler.labels for s, e, k in spans)
    found = {(doc[s:e].text, k) for s, e, k in spans}
    assert len(found & {("Maria Lopez", "PER"), ("Acme Corp", "ORG"), ("Denver", "LOC"), ("John Smith", "PER")}) >= 2
    assert not any(doc[i].is_space for s, e, _ in spans for i in range(s, e))
    assert labeler.spans(spacy.blank("en")("")) == []


def test_model_labeler_in_label_documents(model):
    import spacy

    from gonerd.label import label_documents
    from kd.labeler import ModelLabeler

    labeler = ModelLabeler(model, max_length=24, stride=6, types=("PER", "ORG", "LOC"))
    assert labeler.labels == frozenset({"PER", "ORG", "LOC"})
    (rec,) = label_documents([{"id": "d1", "text": "Spanish voters met Maria Lopez in Madrid."}], labelers=[labeler],
                             nlp=spacy.blank("en"), progress=False)
    assert rec["label_source"] == labeler.source and len(rec["ner_tags"]) == len(rec["tokens"])
    assert "B-MISC" not in rec["ner_tags"] and any(t != "O" for t in rec["ner_tags"])
    assert all(rec["text"][s["start"]:s["end"]] for s in rec["spans"])


def test_label_command_with_a_trained_ner_model(model, tmp_path):
    import json

    from gonerd.cli import main
    from gonerd.label.io import read_labeled

    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "d1", "text": "Maria Lopez, 45, joined Acme Corp in Denver."}) + "\n")
    assert main(["label", str(docs), "--out", str(tmp_path / "out"), "--ner-model", str(model)]) == 0
    (rec,) = read_labeled(tmp_path / "out")
    assert rec["label_source"].startswith(f"model:{model}") and rec["label_source"].endswith("+rules:misc@4")
    labels = {s["label"] for s in rec["spans"]}
    assert "MISC" in labels and labels & {"PER", "ORG", "LOC"}  # the age from the rules, entities from the model
    assert main(["label", str(docs), "--out", str(tmp_path / "bad"), "--ner-model", str(tmp_path / "nowhere")]) == 2


def test_label_source_names_the_model_relative_to_the_working_directory(model, tmp_path, monkeypatch):
    """The source goes into published records: a model inside the working directory is named relative to it."""
    from kd.labeler import ModelLabeler

    monkeypatch.chdir(model.parent.parent)
    assert ModelLabeler(model, max_length=24, stride=6).source == "model:run/best"
    src, out = tmp_path / "doc.txt", tmp_path / "out.jsonl"
    src.write_text(TEXT)
    assert main(["kd", "predict", "--model", str(model), "--input", str(src), "--output", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["label_source"] == "model:run/best"
