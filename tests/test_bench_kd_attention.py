"""The FLOP floor of the LSG attention bench (bench/bench_kd_attention.py), counted by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import bench_kd_attention  # noqa: E402  (a script folder, not a package)

from kd.lsg import LsgBertConfig  # noqa: E402

TINY = dict(hidden_size=2, num_hidden_layers=1, intermediate_size=8, num_attention_heads=1)


def test_keys_per_token_follow_the_block_layout():
    # 8 tokens, blocks of 2, 2 compressed tokens a side (factor 2: one per block), 1 global token.
    # Block 0: global + local 0..4 + right compressed 2..4 = 7 keys; block 1: 1 + 6 + 1 = 8;
    # block 2: 1 + left 0..1 + 6 = 8; block 3: 1 + 2 + 4 = 7. Two queries per block: 60 scores,
    # plus the global token's row over 9 keys = 69 over 8 tokens.
    config = LsgBertConfig(**TINY, block_size=2, sparse_block_size=2, sparsity_factor=2)
    assert bench_kd_attention.lsg_keys_per_token(config, 8) == pytest.approx(69 / 8)
    # at most two blocks: full attention, the global token included
    assert bench_kd_attention.lsg_keys_per_token(config, 4) == 5


def test_flop_ratio_weighs_keys_against_the_weights():
    config = LsgBertConfig(**TINY, block_size=2, sparse_block_size=2, sparsity_factor=2)
    # weights 2 * 48 = 96 FLOPs per token, attention 4 * hidden per key: (96 + 69) / (96 + 64)
    assert bench_kd_attention.lsg_flop_ratio(config, 8) == pytest.approx(165 / 160)


def test_minilm_at_4096_tokens_has_a_floor_near_its_keys():
    # MiniLM's shape with the converted model's LSG settings: 641 keys for an inner block
    config = LsgBertConfig(hidden_size=384, num_hidden_layers=6, intermediate_size=1536, num_attention_heads=12)
    keys = bench_kd_attention.lsg_keys_per_token(config, 4096)
    assert 600 < keys < 642
    assert bench_kd_attention.lsg_flop_ratio(config, 4096) < 0.5 < bench_kd_attention.lsg_flop_ratio(config, 1024)
