"""``gonerd kd corpus`` and dynamic masking: packing is exact, re-cutting keeps the text, the held-out
split is by document, masks follow BERT's proportions and never touch special tokens."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from gonerd.errors import InputError, OutputError
from gonerd.pipeline.io import iter_jsonl
from kd.corpus import (SpecialIds, build_corpus, pack, read_corpus_info, read_file_documents, read_sequences,
                       recut, special_ids, unpack)
from kd.masking import MaskingScheme, mask_tokens, scheme_for, step_generator
from kd_tiny import build_model_dir, build_tokenizer

SAMPLE = Path(__file__).parents[1] / "gonerd" / "sample" / "doj_releases.jsonl"


def sample_texts() -> list[str]:
    return [rec["text"] for _, rec in iter_jsonl(SAMPLE)]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    words = " ".join(sample_texts()).split()
    return build_model_dir(tmp_path_factory.mktemp("corpus") / "bert", words, head=False, vocab_size=300)


@pytest.fixture(scope="module")
def corpus(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "c"
    info = build_corpus([SAMPLE], tiny_model, out, max_length=32, held_out=0.2, seed=3, progress=False)
    return out, info


def test_packing_keeps_every_token_of_every_document_once_in_order(corpus, tiny_model):
    out, info = corpus
    from kd.model import load_tokenizer

    tok = load_tokenizer(tiny_model)
    ids = special_ids(tok)
    docs = read_file_documents(SAMPLE)
    held = set(info["heldout_document_ids"])
    assert 0 < len(held) < len(docs) and info["splits"]["heldout"]["documents"] == len(held) == 5  # ceil(0.2·25)
    splits = {"train": [d for d in docs if d.id not in held], "heldout": [d for d in docs if d.id in held]}
    for split, members in splits.items():
        seqs = read_sequences(out, split)
        assert all(len(s) == 32 and s[0] == ids.start for s in seqs)
        assert all(ids.pad not in s for s in seqs[:-1])  # only the last sequence is padded
        expected = [t for d in members for t in tok(d.text, add_special_tokens=False)["input_ids"] + [ids.sep]]
        assert unpack(seqs, ids) == expected
        assert info["splits"][split]["tokens"] == len(expected) - len(members)
        assert info["splits"][split]["sequences"] == len(seqs)
    assert pq.read_table(out / "train.parquet").column_names == ["input_ids"]


def test_no_document_is_in_both_splits_and_the_split_is_seeded(corpus, tiny_model, tmp_path):
    out, info = corpus
    same = build_corpus([SAMPLE], tiny_model, tmp_path / "same", max_length=32, held_out=0.2, seed=3, progress=False)
    other = build_corpus([SAMPLE], tiny_model, tmp_path / "other", max_length=32, held_out=0.2, seed=4, progress=False)
    assert same["heldout_document_ids"] == info["heldout_document_ids"]
    assert other["heldout_document_ids"] != info["heldout_document_ids"]
    train_texts = {tuple(s) for s in read_sequences(out, "train")}
    assert not train_texts & {tuple(s) for s in read_sequences(out, "heldout")}


def test_recut_gives_the_same_text_at_another_length():
    ids = SpecialIds(start=1, sep=2, pad=0)
    stream = [5, 6, 7, 2, 8, 9, 2, 10, 11, 12, 13, 2]
    long = pack(stream, 8, ids)
    assert long == [[1, 5, 6, 7, 2, 8, 9, 2], [1, 10, 11, 12, 13, 2, 0, 0]]
    short = recut(long, 4, ids)
    assert short == [[1, 5, 6, 7], [1, 2, 8, 9], [1, 2, 10, 11], [1, 12, 13, 2]]
    assert unpack(short, ids) == stream and recut(short, 8, ids) == long


def test_rerun_returns_the_finished_corpus_and_other_settings_are_refused(corpus, tiny_model):
    out, info = corpus
    before = (out / "train.parquet").stat().st_mtime_ns
    again = build_corpus([SAMPLE], tiny_model, out, max_length=32, held_out=0.2, seed=3, progress=False)
    assert again == info and (out / "train.parquet").stat().st_mtime_ns == before
    with pytest.raises(OutputError, match="other settings"):
        build_corpus([SAMPLE], tiny_model, out, max_length=64, held_out=0.2, seed=3, progress=False)
    assert read_corpus_info(out) == info  # nothing already written is lost


def test_reads_docs_parquet_text_files_and_folders(tiny_model, tmp_path):
    from gonerd.pipeline.io import write_documents

    texts = sample_texts()[:4]
    docs_dir = tmp_path / "docs"
    write_documents([{"id": f"d{i}", "url": None, "domain": "justice.gov", "source": "x", "fetched_at": None,
                      "title": None, "author": None, "date": None, "text": t, "n_tokens": len(t.split()),
                      "filters": []} for i, t in enumerate(texts[:2])], docs_dir / "documents.parquet")
    (docs_dir / "exclusions.jsonl").write_text('{"id": "x", "reason": "short"}\n')  # not documents: ignored
    txt_dir = tmp_path / "txt"
    txt_dir.mkdir()
    for i, t in enumerate(texts[2:]):
        (txt_dir / f"{i}.txt").write_text(t)
    info = build_corpus([docs_dir, txt_dir], tiny_model, tmp_path / "out", max_length=32, held_out=0.0,
                        progress=False)
    assert info["documents"] == 4 and info["splits"]["heldout"]["sequences"] == 0
    assert [s["documents"] for s in info["sources"]] == [2, 1, 1]


@pytest.mark.parametrize("name,content,message", [
    ("bad.jsonl", '{"text": "fine"}\n{"id": "x", "text": 3}\n', "line 2, field 'text'"),
    ("bad.jsonl", '{"text": "fine"}\n[1, 2]\n', "line 2"),
    ("bad.csv", "a,b\n", "cannot read a .csv file"),
])
def test_bad_input_names_the_file_and_place(tiny_model, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        build_corpus([path], tiny_model, tmp_path / "out", max_length=32, progress=False)
    assert str(path) in str(err.value) and not (tmp_path / "out").exists()


def test_masking_proportions_on_a_large_batch():
    scheme = MaskingScheme(mask_id=4, vocab_size=1000, special_ids=(0, 1, 2, 3, 4))
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (400, 512), generator=gen)
    ids[:, 0], ids[:, -1], ids[-50:, 300:] = 2, 3, 0  # [CLS], [SEP], padding
    inputs, labels = mask_tokens(ids, scheme, step_generator(0, 1))
    eligible = int(((ids > 4)).sum())
    chosen = labels != -100
    n = int(chosen.sum())
    assert n / eligible == pytest.approx(0.15, abs=0.003)  # ~180k draws: sd ≈ 0.0008
    assert torch.equal(labels[chosen], ids[chosen])
    masked = int((inputs[chosen] == 4).sum())
    unchanged = int((inputs[chosen] == ids[chosen]).sum())
    assert masked / n == pytest.approx(0.8, abs=0.01)
    assert unchanged / n == pytest.approx(0.1 + 0.1 / 1000, abs=0.01)  # kept, or replaced by itself
    assert (n - masked - unchanged) / n == pytest.approx(0.1 * (1 - 1 / 1000), abs=0.01)
    assert not chosen[ids <= 4].any()  # specials and padding are never chosen
    assert torch.equal(inputs[~chosen], ids[~chosen])


def test_masks_are_a_function_of_seed_and_step(tiny_model):
    from kd.model import load_tokenizer

    scheme = scheme_for(load_tokenizer(tiny_model))
    ids = torch.tensor([[2, 30, 31, 32, 33, 34, 35, 36, 3, 0]] * 64)
    a = mask_tokens(ids, scheme, step_generator(7, 5))
    b = mask_tokens(ids, scheme, step_generator(7, 5))
    c = mask_tokens(ids, scheme, step_generator(7, 6))
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and not torch.equal(a[1], c[1])
    assert set(scheme.special_ids) >= {0, 2, 3} and scheme.mask_id in scheme.special_ids


def test_tokenizer_without_specials_is_refused():
    tok = build_tokenizer(["a", "b"])
    tok.pad_token = None
    with pytest.raises(ValueError, match="pad token"):
        special_ids(tok)


def test_the_recorded_command_names_the_data_root_not_the_machine(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("GONERD_DATA", str(tmp_path))
    (tmp_path / "a.txt").write_text("Some text of a document. " * 5)
    monkeypatch.setattr(sys, "argv", ["cli.py", "kd", "corpus", str(tmp_path / "a.txt"), "--out", "x"])
    info = build_corpus([tmp_path / "a.txt"], tiny_model, tmp_path / "out", max_length=32, held_out=0.0,
                        progress=False)
    assert info["command"] == "cli.py kd corpus ${GONERD_DATA}/a.txt --out x"
