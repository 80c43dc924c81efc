"""Import and export of the annotation tool: real labeled records, round trips, and what
``gonerd build --import-corrections`` reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotation.agreement import agreement, agreement_table, pair_agreement
from annotation.formats import char_spans, labeled_documents, read_input, write_documents
from annotation.store import Store
from gonerd.errors import InputError
from gonerd.label import import_corrections, label_documents, write_labeled
from gonerd.label.merge import spans_to_iob2
from label_pipeline import pipeline

SAMPLE = Path(__file__).resolve().parents[1] / "gonerd" / "sample"
TEXTS = {
    "r1": "FAYETTEVILLE - Benjamin Coney, age 30, and Emily Grace Brinley, age 26, both of "
          "Conway, Arkansas, were sentenced.\n\nThe FBI investigated the case. Call (202) 514-2007.",
    "r2": "  Jesse Lelievre, 42, of North Andover, was sentenced by U.S. District Judge Denise J. Casper.",
    "r3": "<script>alert(1)</script> John Smith of the\nDepartment of Justice <b>spoke</b>.",
}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    nlp, labelers = pipeline()
    docs = [{"id": k, "text": v, "url": f"https://example.test/{k}"} for k, v in TEXTS.items()]
    return list(label_documents(docs, labelers=labelers, nlp=nlp, progress=False))


@pytest.fixture
def parquet(records, tmp_path) -> Path:
    return write_labeled(records, tmp_path / "labeled.parquet")


def snapshot(docs: list[dict]) -> list[tuple]:
    return [(d["id"], d["text"], d["tokens"], d["whitespace"], [tuple(s) for s in d["prelabels"]], d["label_source"])
            for d in docs]


def adjudicated_store(tmp_path: Path, docs: list[dict], name: str) -> Store:
    """A store of ``docs`` whose final version is each document's pre-labels, the first span relabeled MISC."""
    store = Store(tmp_path / f"{name}.db")
    store.add_documents("p", docs)
    admin = store.add_user("root", "root-password", "admin")
    for doc_id in store.document_ids("p"):
        spans = store.document(doc_id)["prelabels"]
        for version, (start, end, label) in enumerate(spans):
            store.edit(doc_id, admin, version, "add", start, end, "MISC" if version == 0 else label, kind="final")
    return store


def export(store: Store, path: Path, source: str) -> Path:
    return write_documents(labeled_documents(store.project_work("p"), source), path, path.suffix[1:])


def test_labeled_parquet_imports_with_its_prelabels(records, parquet) -> None:
    docs = read_input(parquet)
    assert [d["id"] for d in docs] == list(TEXTS)
    for doc, record in zip(docs, records):
        assert doc["text"] == record["text"] and doc["tokens"] == record["tokens"]
        assert doc["label_source"] == record["label_source"] and doc["meta"]["url"] == record["url"]
        assert sum(e - s for s, e, _ in doc["prelabels"]) == sum(t != "O" for t in record["ner_tags"])
    assert read_input(parquet.parent) == docs  # a `gonerd label` output dir works too


@pytest.mark.parametrize(("fmt", "with_base"), [("jsonl", True), ("conll", True), ("conll", False)])
def test_import_export_import_is_lossless(parquet, tmp_path, fmt, with_base) -> None:
    first = export(adjudicated_store(tmp_path, read_input(parquet), "first"), tmp_path / f"first.{fmt}", "final")
    again = read_input(first, base=parquet if with_base else None)
    store = Store(tmp_path / "second.db")
    store.add_documents("p", again)
    second = export(store, tmp_path / f"second.{fmt}", "prelabels")
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")
    assert snapshot(read_input(second, base=parquet if with_base else None)) == snapshot(again)
    assert {d["label_source"] for d in again} == {"human:root"}
    if with_base:
        assert [d["text"] for d in again] == list(TEXTS.values())


def test_bundled_conll_round_trips(tmp_path) -> None:
    docs = read_input(SAMPLE / "gold_test.conll")
    store = Store(tmp_path / "a.db")
    store.add_documents("p", docs)
    out = export(store, tmp_path / "out.conll", "prelabels")
    assert snapshot(read_input(out)) == snapshot(docs)
    assert out.read_text(encoding="utf-8").count("\n\n") >= len(docs)  # sentence breaks kept


@pytest.mark.parametrize("fmt", ["jsonl", "conll"])
def test_export_is_what_import_corrections_reads(records, parquet, tmp_path, fmt) -> None:
    store = adjudicated_store(tmp_path, read_input(parquet), "a")
    corrected = import_corrections(records, export(store, tmp_path / f"c.{fmt}", "final"))
    for record, fixed, doc_id in zip(records, corrected, store.document_ids("p")):
        final = store.project_work("p")[doc_id - 1]["final"]["spans"]
        assert fixed["label_source"] == "human:root" and fixed["tokens"] == record["tokens"]
        assert fixed["ner_tags"] == spans_to_iob2(len(record["tokens"]), final)
        assert fixed["ner_tags"] != record["ner_tags"]  # the first span became MISC


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "line 1: not valid JSON"),
    (json.dumps({"id": "a", "text": "Hi there", "tokens": ["Hi"], "whitespace": [" "]}), "do not rebuild"),
    (json.dumps({"id": "a", "text": "Hi there", "tokens": "Hi there", "whitespace": []}), "field 'tokens'"),
    (json.dumps({"text": "Hi there"}), "field 'id'"),
    (json.dumps({"id": "a", "text": "Hi there", "label": [[0, 2]]}), "field 'label'"),
    (json.dumps({"id": "a", "text": "Hi there", "label": [[0, 2, "PER"], [1, 5, "LOC"]]}), "overlaps"),
    (json.dumps({"id": "a", "text": "Hi there", "tokens": ["Hi", "there"], "whitespace": [" ", ""],
                 "spans": [{"start": 1, "end": 5, "label": "PER"}]}), "field 'spans\\[0\\]'.*token boundaries"),
    (json.dumps({"id": "a", "text": "Hi there", "tokens": ["Hi", "there"], "whitespace": [" ", ""],
                 "spans": [{"start": 0, "end": 2, "label": "DATE"}]}), "spans\\[0\\]"),
])
def test_bad_span_jsonl_names_file_line_and_field(tmp_path, line, message) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as e:
        read_input(path)
    assert str(path) in str(e.value)


def test_missing_input_and_duplicate_ids_are_errors(tmp_path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_input(tmp_path / "absent.jsonl")
    row = json.dumps({"id": "a", "text": "Hi", "tokens": ["Hi"], "whitespace": [""]})
    (tmp_path / "dup.jsonl").write_text(f"{row}\n{row}\n", encoding="utf-8")
    with pytest.raises(InputError, match="appears twice"):
        read_input(tmp_path / "dup.jsonl")


def work_of(spans_a, spans_b, n=10) -> list[dict]:
    return [{"id": "d", "tokens": ["t"] * n, "annotators": {
        "a": {"status": "done", "spans": spans_a}, "b": {"status": "done", "spans": spans_b},
        "c": {"status": "todo", "spans": []}}}]


def test_agreement_kappa_and_span_f1() -> None:
    same = pair_agreement(work_of([(0, 2, "PER"), (5, 6, "LOC")], [(0, 2, "PER"), (5, 6, "LOC")]), "a", "b")
    assert same["labels"]["ALL"] == {"kappa": 1.0, "f1": 1.0, "matched": 2, "spans_a": 2, "spans_b": 2}
    differ = pair_agreement(work_of([(0, 2, "PER"), (5, 6, "LOC")], [(0, 1, "PER"), (5, 6, "ORG")]), "a", "b")
    assert differ["labels"]["ALL"]["f1"] == 0.0 and differ["labels"]["LOC"]["f1"] == 0.0
    assert 0 < differ["labels"]["ALL"]["kappa"] < 1 and differ["labels"]["MISC"]["f1"] is None
    from sklearn.metrics import cohen_kappa_score

    a = ["B-PER", "I-PER", "O", "O", "O", "B-LOC", "O", "O", "O", "O"]
    b = ["B-PER", "O", "O", "O", "O", "B-ORG", "O", "O", "O", "O"]
    assert differ["labels"]["ALL"]["kappa"] == round(cohen_kappa_score(a, b), 4)
    pairs = agreement(work_of([(0, 2, "PER")], [(0, 2, "PER")]))
    assert [(p["a"], p["b"], p["documents"]) for p in pairs] == [("a", "b", 1), ("a", "c", 0), ("b", "c", 0)]
    assert "a / b" in agreement_table(pairs).splitlines()[1]


@pytest.mark.parametrize("fmt", ["label-studio", "doccano"])
def test_label_studio_and_doccano_round_trip(parquet, tmp_path, fmt) -> None:
    docs = read_input(parquet)
    suffix = ".json" if fmt == "label-studio" else ".jsonl"
    store = adjudicated_store(tmp_path, docs, "first")
    first = write_documents(labeled_documents(store.project_work("p"), "final"), tmp_path / f"first{suffix}", fmt)
    again = read_input(first)
    second_store = Store(tmp_path / "second.db")
    second_store.add_documents("p", again)
    second = write_documents(labeled_documents(second_store.project_work("p"), "prelabels"),
                             tmp_path / f"second{suffix}", fmt)
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")
    finals = [d["final"]["spans"] for d in store.project_work("p")]
    assert [char_spans(d, d["prelabels"]) for d in again] == [char_spans(d, f) for d, f in zip(docs, finals)]
    assert [d["text"] for d in again] == [d["text"] for d in docs]


def test_label_studio_spans_snap_to_tokens_and_cancelled_work_is_ignored(tmp_path) -> None:
    text = "Agents met Jane Doe in Little Rock, Arkansas."
    tasks = [{"id": 7, "data": {"text": text},
              "annotations": [{"was_cancelled": True, "result": []},
                              {"result": [{"type": "labels", "value": {"start": 11, "end": 17, "labels": ["PER"]}}]}]},
             {"id": 8, "data": {"text": text},
              "predictions": [{"result": [{"type": "labels", "value": {"start": 23, "end": 34, "labels": ["LOC"]}},
                                          {"type": "choices", "value": {"choices": ["x"]}}]}]}]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    docs = read_input(path)
    assert [d["id"] for d in docs] == ["7", "8"]
    assert char_spans(docs[0], docs[0]["prelabels"]) == [{"start": 11, "end": 19, "label": "PER"}]  # "Jane D" → "Jane Doe"
    assert char_spans(docs[1], docs[1]["prelabels"]) == [{"start": 23, "end": 34, "label": "LOC"}]
    path.write_text(json.dumps([{"data": {"text": text}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 0, "end": 6, "labels": ["DATE"]}}]}]}]), encoding="utf-8")
    with pytest.raises(InputError, match="offset 0, field 'id'"):
        read_input(path)


def test_hf_export_is_the_build_dataset_with_the_conll_export_tokens_and_tags(records, parquet, tmp_path) -> None:
    import datasets

    from gonerd.dataset import features, load_gonerd

    store = adjudicated_store(tmp_path, read_input(parquet), "a")
    docs = labeled_documents(store.project_work("p"), "final")
    out = write_documents(docs, tmp_path / "hf", "hf")
    conll = write_documents(docs, tmp_path / "final.conll", "conll")
    from_conll = [(d["id"], d["tokens"], spans_to_iob2(len(d["tokens"]), d["prelabels"])) for d in read_input(conll)]
    from_parquet = load_gonerd(out)  # load_dataset("parquet", data_files=data/*.parquet)
    from_arrow = datasets.load_from_disk(str(out / "arrow"))
    for dd in (from_parquet, from_arrow):
        assert {s: len(ds) for s, ds in dd.items()} == {"train": 3, "validation": 0, "test": 0}
        train = dd["train"]
        assert train.features == features()
        tags = train.features["ner_tags"].feature.int2str
        # build_dataset deals documents out in a seeded order: compare by id
        assert sorted((r["id"], r["tokens"], tags(r["ner_tags"])) for r in train) == sorted(from_conll)
        assert {r["id"]: r["url"] for r in train} == {r["id"]: r["url"] for r in records}
        assert {r["label_source"] for r in train} == {"human:root"}
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-00000-of-00001.parquet"]
    assert any(t.startswith("B-MISC") for _, _, tags_ in from_conll for t in tags_)  # the adjudicated labels


def test_hf_export_splits_as_build_does_with_a_build_config(parquet, tmp_path) -> None:
    from gonerd.config import BuildConfig
    from gonerd.dataset import load_gonerd

    store = adjudicated_store(tmp_path, read_input(parquet), "a")
    docs = labeled_documents(store.project_work("p"), "final")
    dd = load_gonerd(write_documents(docs, tmp_path / "hf", "hf", BuildConfig(train=1, validation=1, test=1)))
    assert {s: len(ds) for s, ds in dd.items()} == {"train": 1, "validation": 1, "test": 1}
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="is a directory"):
        write_documents(docs, tmp_path / "file", "hf")
    with pytest.raises(InputError, match="hf format only"):
        write_documents(docs, tmp_path / "x.jsonl", "jsonl", BuildConfig())


def test_hf_import_export_import_is_lossless(parquet, tmp_path) -> None:
    from gonerd.config import BuildConfig
    from gonerd.dataset import load_gonerd

    store = adjudicated_store(tmp_path, read_input(parquet), "first")
    first = write_documents(labeled_documents(store.project_work("p"), "final"), tmp_path / "first", "hf",
                            BuildConfig(train=2, validation=0, test=1))
    again = read_input(first)
    assert [d["text"] for d in again] == [" ".join(d["tokens"]) for d in again]
    second_store = Store(tmp_path / "second.db")
    second_store.add_documents("p", again)
    second = write_documents(labeled_documents(second_store.project_work("p"), "prelabels"), tmp_path / "second",
                             "hf", BuildConfig(train=2, validation=0, test=1))
    assert {s: ds.to_list() for s, ds in load_gonerd(first).items()} == \
        {s: ds.to_list() for s, ds in load_gonerd(second).items()}
    assert snapshot(read_input(second)) == snapshot(again)
    assert read_input(first / "arrow") == again  # the arrow copy alone reads the same
