"""Loading NER examples from CoNLL files and token-classification datasets; bad input is located."""

from __future__ import annotations

from pathlib import Path

import pytest

from gonerd.errors import InputError
from gonerd.schema import LABELS
from kd.data import NerExample, conll_examples, dataset_examples, load_split, validate_example
from kd.model import load_model
from kd_tiny import build_model_dir, conll_words

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "kd_train.txt"


def _dataset(rows, names=LABELS):
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    feats = Features({"id": Value("string"), "tokens": Sequence(Value("string")),
                      "ner_tags": Sequence(ClassLabel(names=list(names)))})
    return Dataset.from_dict({"id": [r[0] for r in rows], "tokens": [r[1] for r in rows],
                              "ner_tags": [r[2] for r in rows]}, features=feats)


def test_conll_sentences_are_iob2_and_adjacent_entities_stay_apart():
    split = conll_examples(TRAIN, unit="sentence", labels=LABELS)
    assert len(split.examples) == 6
    first = split.examples[0]
    assert first.tokens[:2] == ["Maria", "Lopez"] and first.tags[:2] == ["B-PER", "I-PER"]
    last = split.examples[-1]
    # "Germany France": IOB1 I-LOC B-LOC -> two LOC entities
    assert last.tags[:2] == ["B-LOC", "B-LOC"]


def test_conll_documents_and_context_units():
    docs = conll_examples(TRAIN, unit="document").examples
    assert [len(d.tokens) for d in docs] == [8 + 10 + 8, 10 + 13 + 7]
    ctx = conll_examples(TRAIN, unit="context").examples
    assert len(ctx) == 6
    # the second sentence is scored, the whole first document is fed
    assert ctx[1].tokens == docs[0].tokens and ctx[1].span == (8, 18)
    assert ctx[1].tokens[slice(*ctx[1].span)][:2] == ["The", "Acme"]


def test_dataset_from_save_to_disk_and_parquet(tmp_path):
    from datasets import DatasetDict

    ds = _dataset([("a", ["Maria", "went", "to", "Boston"], [1, 0, 0, 5]), ("b", ["Acme", "Corp"], [3, 4])])
    DatasetDict({"train": ds, "validation": ds}).save_to_disk(str(tmp_path / "disk"))
    split = dataset_examples(tmp_path / "disk", "validation", labels=LABELS)
    assert split.examples[0].tags == ["B-PER", "O", "O", "B-LOC"] and split.examples[1].id == "b"
    (tmp_path / "pq" / "data").mkdir(parents=True)
    ds.to_parquet(str(tmp_path / "pq" / "data" / "test-00000-of-00001.parquet"))
    split = load_split(tmp_path / "pq", "test", labels=LABELS)
    assert [e.tags for e in split.examples] == [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "I-ORG"]]


def test_unknown_label_in_conll_names_file_split_and_row():
    with pytest.raises(InputError) as e:
        conll_examples(DATA / "kd_bad_label.txt", split="train", labels=LABELS)
    msg = str(e.value)
    assert "kd_bad_label.txt" in msg and "split 'train', row 0" in msg and "B-COMPANY" in msg


def test_unknown_label_in_dataset(tmp_path):
    from datasets import DatasetDict

    ds = _dataset([("a", ["Maria"], [1]), ("b", ["Acme"], [2])], names=["O", "B-PER", "B-COMPANY"])
    DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(InputError, match=r"split 'train', row 1 .*unknown label\(s\) B-COMPANY"):
        dataset_examples(tmp_path / "d", "train", labels=LABELS)


def test_tags_not_iob2_are_rejected():
    ex = NerExample("x", ["Acme", "Corp"], ["I-ORG", "I-ORG"])
    with pytest.raises(InputError, match=r"file\.parquet, offset 4.*split 'dev', row 4.*not IOB2"):
        validate_example(ex, LABELS, source="file.parquet", split="dev", row=4)


def test_mismatched_lengths_and_empty_documents_are_rejected(tmp_path):
    from datasets import Dataset, DatasetDict, Sequence, Value, Features

    feats = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(Value("string"))})
    ds = Dataset.from_dict({"tokens": [["Maria", "went"], ["Acme"]], "ner_tags": [["B-PER", "O"], ["B-ORG", "O"]]},
                           features=feats)
    DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(InputError, match=r"split 'test', row 1 .*1 tokens but 2 tags"):
        dataset_examples(tmp_path / "d", "test", labels=LABELS)
    with pytest.raises(InputError, match="empty document"):
        validate_example(NerExample("e", [], []), LABELS, source="f", split="test", row=0)


def test_missing_split_is_named(tmp_path):
    from datasets import DatasetDict

    DatasetDict({"train": _dataset([("a", ["Maria"], [1])])}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(InputError, match="no split 'validation'"):
        dataset_examples(tmp_path / "d", "validation", labels=LABELS)


def test_model_directory_without_tokenizer_is_named(tmp_path):
    path = build_model_dir(tmp_path / "m", conll_words(TRAIN), tokenizer=False)
    with pytest.raises(InputError, match=r"/m, field .tokenizer.: model directory has no tokenizer"):
        load_model(path, LABELS)


def test_checkpoint_without_head_gets_a_fresh_head(tmp_path):
    path = build_model_dir(tmp_path / "enc", conll_words(TRAIN), head=False)
    loaded = load_model(path, LABELS)
    assert set(loaded.fresh) == {"classifier.weight", "classifier.bias"}
    assert loaded.model.config.id2label[1] == "B-PER"


def test_parquet_split_in_two_layouts_is_refused_naming_both(tmp_path):
    ds = _dataset([("a", ["Maria", "went", "to", "Boston"], [1, 0, 0, 5])])
    (tmp_path / "data").mkdir()
    ds.to_parquet(str(tmp_path / "test.parquet"))
    assert len(load_split(tmp_path, "test", labels=LABELS).examples) == 1
    ds.to_parquet(str(tmp_path / "data" / "test-00000-of-00001.parquet"))
    with pytest.raises(InputError, match=r"split 'test' is stored in 2 layouts: test\.parquet and "
                                         r"data/test-00000-of-00001\.parquet"):
        load_split(tmp_path, "test", labels=LABELS)
    (tmp_path / "test.parquet").unlink()
    assert len(load_split(tmp_path, "test", labels=LABELS).examples) == 1
