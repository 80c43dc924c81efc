"""LSG attention: equal to dense attention under the LSG pattern, batch-invariant, converted from BERT."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

TRAIN = Path(__file__).parent / "data" / "kd_train.txt"


def tiny_config(sparsity_type: str, **extra):
    from kd.lsg import LsgBertConfig

    settings = {"block_size": 4, "sparse_block_size": 2, "sparsity_factor": 2, **extra}
    return LsgBertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128, sparsity_type=sparsity_type,
                         num_labels=5, pad_token_id=0, **settings)


def lsg_pattern(n_tokens: int, g: int, block: int, sparse: int, factor: int, heads: int, sparsity: str):
    """The (heads, T, T) keys each query may see, written out position by position."""
    t = g + n_tokens
    allowed = torch.zeros((heads, t, t), dtype=torch.bool)
    allowed[:, :g, :] = True
    allowed[:, :, :g] = True
    for q in range(n_tokens):
        i = q // block
        for k in range(n_tokens):
            local = (i - 1) * block <= k < (i + 2) * block
            allowed[:, g + q, g + k] |= local
            if sparsity == "stride" and not local:
                p, step = k // factor, block // factor
                in_range = (i - 1) * step - sparse <= p < (i - 1) * step or (i + 2) * step <= p < (i + 2) * step + sparse
                for h in range(heads):
                    allowed[h, g + q, g + k] |= in_range and k % factor == h % factor
    return allowed


@pytest.mark.parametrize("sparsity", ["none", "stride"])
def test_block_attention_equals_dense_attention_under_the_lsg_pattern(sparsity):
    from kd.lsg import LsgSelfAttention

    torch.manual_seed(0)
    config = tiny_config(sparsity)
    attention = LsgSelfAttention(config).eval()
    n_tokens, g = 24, 1
    hidden = torch.randn(2, g + n_tokens, 32)
    valid = torch.ones(2, g + n_tokens, dtype=torch.bool)
    valid[1, g + 17:] = False  # row 1: 17 real tokens, padded within its last blocks
    with torch.no_grad():
        out, _ = attention(hidden, valid)
        q, k, v = (lin(hidden).view(2, -1, 2, 16).transpose(1, 2) for lin in
                   (attention.query, attention.key, attention.value))
        allowed = lsg_pattern(n_tokens, g, 4, 2, 2, 2, sparsity).unsqueeze(0) & valid[:, None, None, :]
        dense = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        dense = dense.transpose(1, 2).reshape(2, g + n_tokens, 32)
    assert torch.allclose(out[0], dense[0], atol=1e-5)
    assert torch.allclose(out[1, :g + 17], dense[1, :g + 17], atol=1e-5)


@pytest.mark.parametrize("sparsity", ["pooling", "stride", "none"])
def test_each_row_is_scored_as_if_alone_in_a_padded_batch(sparsity):
    from kd.lsg import LsgBertForTokenClassification

    torch.manual_seed(0)
    model = LsgBertForTokenClassification(tiny_config(sparsity)).eval()
    gen = torch.Generator().manual_seed(3)
    rows = [torch.randint(1, 100, (1, n), generator=gen) for n in (11, 23, 5)]  # LSG path, LSG path, full
    batch = torch.zeros((3, 23), dtype=torch.long)
    for r, row in enumerate(rows):
        batch[r, :row.shape[1]] = row
    with torch.no_grad():
        together = model(input_ids=batch, attention_mask=(batch > 0).long()).logits
        for r, row in enumerate(rows):
            assert torch.allclose(model(input_ids=row).logits[0], together[r, :row.shape[1]], atol=1e-5)


def test_pooled_sparse_tokens_average_only_real_tokens():
    from kd.lsg import LsgSelfAttention

    attention = LsgSelfAttention(tiny_config("pooling"))
    key = torch.arange(8, dtype=torch.float32).view(1, 1, 8, 1).expand(1, 2, 8, 1)
    valid = torch.tensor([[True] * 5 + [False] * 3])
    pooled, _, pooled_valid = attention._sparse(key, key, valid)
    assert pooled[0, 0, :, 0].tolist() == [0.5, 2.5, 4.0, 0.0]
    assert pooled_valid.tolist() == [[[True, True, True, False]]]  # (batch, 1, compressed length)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="multiple of sparsity_factor"):
        tiny_config("pooling", block_size=6, sparsity_factor=4)
    with pytest.raises(ValueError, match="sparsity_type"):
        tiny_config("lsh")


def test_conversion_copies_bert_tiles_positions_and_loads_as_token_classifier(tmp_path):
    from transformers import BertForTokenClassification

    from kd.lsg import LsgBertForTokenClassification
    from kd.model import load_model
    from kd_tiny import build_lsg_dir, conll_words

    lsg_dir = build_lsg_dir(tmp_path / "lsg", conll_words(TRAIN))
    bert = BertForTokenClassification.from_pretrained(str(tmp_path / "lsg-bert"))
    loaded = load_model(lsg_dir)
    assert isinstance(loaded.model, LsgBertForTokenClassification) and loaded.fresh == []
    lsg, ref = loaded.model.state_dict(), bert.state_dict()
    positions = ref["bert.embeddings.position_embeddings.weight"]
    assert torch.equal(lsg["bert.embeddings.position_embeddings.weight"], torch.cat([positions, positions]))
    assert torch.equal(lsg["classifier.weight"], ref["classifier.weight"])
    cls = loaded.tokenizer.cls_token_id
    expected_global = (ref["bert.embeddings.word_embeddings.weight"][cls] + positions[0]
                       + ref["bert.embeddings.token_type_embeddings.weight"][0])
    assert torch.allclose(lsg["bert.embeddings.global_embeddings.weight"][0], expected_global)
    assert loaded.tokenizer.model_max_length == 128


def test_conversion_refuses_a_model_that_is_not_bert(tmp_path):
    from gonerd.errors import InputError
    from kd.convert import convert_bert_to_lsg
    from kd_tiny import build_longformer_dir, conll_words

    longformer = build_longformer_dir(tmp_path / "lf", conll_words(TRAIN))
    with pytest.raises(InputError, match="needs a BERT checkpoint") as err:
        convert_bert_to_lsg(longformer, tmp_path / "out")
    assert "config.json" in str(err.value)


def test_cli_convert_writes_a_loadable_lsg_model(tmp_path):
    from gonerd.cli import main
    from kd.model import load_model
    from kd_tiny import build_model_dir, conll_words

    bert = build_model_dir(tmp_path / "bert", conll_words(TRAIN), head=False)
    code = main(["kd", "convert", "--model", str(bert), "--output", str(tmp_path / "lsg"), "--max-length", "256",
                 "--block-size", "8", "--sparse-block-size", "4", "--sparsity-type", "stride"])
    assert code == 0
    loaded = load_model(tmp_path / "lsg", labels=("O", "B-PER", "I-PER"))
    assert loaded.model.config.model_type == "lsg_bert" and loaded.model.config.sparsity_type == "stride"
    assert loaded.model.config.max_position_embeddings == 256
    assert loaded.fresh == ["classifier.bias", "classifier.weight"]  # a headless BERT gets a new head


def test_hidden_states_cover_the_input_tokens_of_every_layer():
    from kd.lsg import LsgBertForTokenClassification

    torch.manual_seed(0)
    model = LsgBertForTokenClassification(tiny_config("pooling")).eval()
    ids = torch.randint(1, 100, (2, 19))
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
        plain = model(input_ids=ids)
    assert len(out.hidden_states) == 3 and all(h.shape == (2, 19, 32) for h in out.hidden_states)
    assert torch.equal(out.hidden_states[-1], model.bert(input_ids=ids).last_hidden_state)
    assert plain.hidden_states is None and torch.allclose(out.logits, plain.logits)
    with pytest.raises(ValueError, match="attention weights"):
        model(input_ids=ids, output_attentions=True)
