"""Queue order by a ``gonerd kd`` model's uncertainty: per-word tag probabilities over windows
(:func:`kd.predict.word_probabilities`) and ``gonerd annotate order --model`` on a real store."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from annotation.cli import model_uncertainties
from annotation.store import Store
from gonerd.cli import main
from gonerd.schema import LABELS
from kd_tiny import build_model_dir

SURE = ["alpha", "bravo", "charlie", "delta"]
UNSURE = ["zulu", "yankee"]
UNIFORM = 1 / len(LABELS)  # the largest tag probability of a word the model cannot place


def first_pieces(tokenizer, words: list[str]) -> set[int]:
    return {tokenizer([w], is_split_into_words=True, add_special_tokens=False)["input_ids"][0] for w in words}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny BERT whose tag depends on each sub-token alone: sure of O (p ≈ 1) for every sub-token
    but the first ones of the UNSURE words, where all tags are equally likely.

    The encoder's residual branches, position and token-type embeddings are zeroed, so a sub-token's
    last hidden state is the layer norm of its word embedding; those embeddings point either along
    the head's O row or across it.
    """
    import torch
    from transformers import AutoTokenizer, BertForTokenClassification

    path = build_model_dir(tmp_path_factory.mktemp("order") / "model", SURE * 5 + UNSURE * 5)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    unsure = first_pieces(tokenizer, UNSURE)
    assert not unsure & first_pieces(tokenizer, SURE)
    model = BertForTokenClassification.from_pretrained(str(path))
    with torch.no_grad():
        for layer in model.bert.encoder.layer:
            for dense in (layer.attention.output.dense, layer.output.dense):
                dense.weight.zero_()
                dense.bias.zero_()
        embeddings = model.bert.embeddings
        embeddings.position_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight.zero_()
        words = embeddings.word_embeddings.weight
        words.zero_()
        words[:, 0], words[:, 1] = 1.0, -1.0
        for piece in unsure:
            words[piece] = 0.0
            words[piece, 2], words[piece, 3] = 1.0, -1.0
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.weight[LABELS.index("O"), :2] = torch.tensor([5.0, -5.0])
    model.save_pretrained(str(path))
    return path


def test_word_probabilities_are_each_words_confidence_across_windows(model_dir) -> None:
    from kd.model import load_model, tag_sequences
    from kd.predict import word_probabilities

    loaded = load_model(model_dir)
    long = (SURE + UNSURE) * 8  # 48 words: many windows of 12 sub-tokens
    sequences = [long, SURE, UNSURE]
    probabilities = word_probabilities(loaded, sequences, max_length=12, stride=4)
    for words, probs in zip(sequences, probabilities):
        assert probs == pytest.approx([UNIFORM if w in UNSURE else 1.0 for w in words], abs=1e-5)
    assert tag_sequences(loaded, sequences, max_length=12, stride=4).n_windows > 3


def add_user(monkeypatch, db: Path, name: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{name}-password\n"))
    assert main(["annotate", "users", "add", "--db", str(db), name, "--password-stdin"]) == 0


def test_order_by_model_puts_the_least_sure_documents_first(monkeypatch, model_dir, tmp_path, capsys) -> None:
    texts = {"sure": SURE * 3, "quarter": ["alpha", "bravo", "charlie", "zulu"] * 2, "unsure": UNSURE * 4,
             "half": ["delta", "yankee"] * 3}
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": k, "text": " ".join(v)}) + "\n" for k, v in texts.items()),
                    encoding="utf-8")
    db = tmp_path / "a.db"
    add_user(monkeypatch, db, "alice")
    assert main(["annotate", "import", "--db", str(db), "p", str(docs), "--annotators", "alice", "--k", "1"]) == 0
    store = Store(db)
    scores = model_uncertainties(store, "p", model_dir, max_length=12, stride=4)
    unsure = 1 - UNIFORM
    assert scores == pytest.approx({"sure": 0.0, "quarter": unsure / 4, "unsure": unsure, "half": unsure / 2},
                                   abs=1e-5)
    capsys.readouterr()
    assert main(["annotate", "order", "--db", str(db), "p", "--model", str(model_dir), "--max-length", "12"]) == 0
    assert "set the priority of 4 documents" in capsys.readouterr().out
    assert [item["key"] for item in store.queue(store.user("alice"))] == ["unsure", "half", "quarter", "sure"]


def test_order_needs_a_scores_file_or_a_model(tmp_path, capsys, model_dir) -> None:
    db = tmp_path / "a.db"
    assert main(["annotate", "order", "--db", str(db), "p"]) == 2
    assert "give either a scores file or --model" in capsys.readouterr().err
    scores = tmp_path / "s.jsonl"
    scores.write_text("", encoding="utf-8")
    assert main(["annotate", "order", "--db", str(db), "p", str(scores), "--model", str(model_dir)]) == 2
    assert "give either a scores file or --model" in capsys.readouterr().err
    assert main(["annotate", "order", "--db", str(db), "p", "--model", str(tmp_path / "absent")]) == 2
    assert "no project 'p'" in capsys.readouterr().err
