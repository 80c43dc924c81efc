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
        last = model.bert(input_ids=ids).last_hidden_state
    assert len(out.hidden_states) == 3 and all(h.shape == (2, 19, 32) for h in out.hidden_states)
    assert torch.equal(out.hidden_states[-1], last)
    assert plain.hidden_states is None and torch.allclose(out.logits, plain.logits)
    with pytest.raises(ValueError, match="attention weights"):
        model(input_ids=ids, output_attentions=True)


def concatenated_blocks_reference(attention, hidden, valid):
    """The block path as first written (kept here as the reference the strided one must equal): every
    block's keys built by concatenating the global tokens, its sparse tokens and its three local blocks."""
    sdpa = torch.nn.functional.scaled_dot_product_attention
    b, t, _ = hidden.shape
    q, k, v = (lin(hidden).view(b, t, -1, attention.attention_head_size).transpose(1, 2)
               for lin in (attention.query, attention.key, attention.value))
    g, block, heads, d = attention.num_global_tokens, attention.block_size, q.shape[1], q.shape[-1]
    n_blocks = (t - g) // block

    def local(x, pad):  # (..., L, d) -> (..., n, 3 * block, d)
        return torch.nn.functional.pad(x, (0, 0, block, block), value=pad).unfold(-2, 3 * block, block).transpose(-1, -2)

    def sparse(x, pad):  # (B, H, S, d) -> (B, H, n, 2s, d)
        step, s = block // attention.sparsity_factor, attention.sparse_block_size
        x = torch.nn.functional.pad(x, (0, 0, step + s, step + s), value=pad)
        start = torch.arange(n_blocks).unsqueeze(-1) * step + step + s
        offsets = torch.cat([torch.arange(-step - s, -step), torch.arange(2 * step, 2 * step + s)])
        return x.index_select(2, (start + offsets).reshape(-1)).view(*x.shape[:2], n_blocks, 2 * s, x.shape[-1])

    keys = [k[:, :, :g].unsqueeze(2).expand(-1, -1, n_blocks, -1, -1)]
    values = [v[:, :, :g].unsqueeze(2).expand(-1, -1, n_blocks, -1, -1)]
    masks = [valid[:, None, None, :g].expand(-1, 1, n_blocks, -1)]
    if attention.sparse_block_size:
        sk, sv, svalid = attention._sparse(k[:, :, g:], v[:, :, g:], valid[:, g:])
        keys.append(sparse(sk, 0.0))
        values.append(sparse(sv, 0.0))
        masks.append(sparse(svalid.unsqueeze(-1), False).squeeze(-1))
    keys.append(local(k[:, :, g:], 0.0))
    values.append(local(v[:, :, g:], 0.0))
    masks.append(local(valid[:, None, g:, None], False).squeeze(-1))
    mask_heads = max(m.shape[1] for m in masks)
    mask = torch.cat([m.expand(b, mask_heads, n_blocks, -1) for m in masks], dim=-1)
    blocked = q[:, :, g:].reshape(b, heads, n_blocks, block, d)
    context = sdpa(blocked, torch.cat(keys, dim=-2), torch.cat(values, dim=-2), attn_mask=mask.unsqueeze(-2))
    context = torch.cat([sdpa(q[:, :, :g], k, v, attn_mask=valid[:, None, None, :]),
                         context.reshape(b, heads, t - g, d)], dim=2)
    return context.transpose(1, 2).reshape(b, t, -1)


@pytest.mark.parametrize("sparsity", ["pooling", "stride", "none"])
@pytest.mark.parametrize("settings", [{"block_size": 4, "sparse_block_size": 2},
                                      {"block_size": 8, "sparse_block_size": 3, "num_global_tokens": 2},
                                      {"block_size": 8, "sparse_block_size": 8, "sparsity_factor": 4}],
                         ids=["b4s2", "b8s3g2", "b8s8f4"])
def test_strided_block_path_equals_the_concatenated_blocks(sparsity, settings):
    """Inference (fused kernel) and training (explicit scores, gradients) against the reference, at 3,
    5 and 12 blocks, on a batch whose rows are padded within a block, from a block on, and not at all."""
    from kd.lsg import LsgSelfAttention

    torch.manual_seed(0)
    config = tiny_config(sparsity, **settings)
    attention = LsgSelfAttention(config).eval()
    g, block = config.num_global_tokens, config.block_size
    for n_blocks in (3, 5, 12):
        t = g + n_blocks * block
        hidden = torch.randn(3, t, 32)
        valid = torch.ones(3, t, dtype=torch.bool)
        valid[1, g + 2 * block - 1:] = False
        valid[2, t - block:] = False
        with torch.no_grad():
            reference = concatenated_blocks_reference(attention, hidden, valid)
            fused = attention(hidden, valid)[0]
        assert torch.allclose(fused[valid], reference[valid], atol=1e-5)
        ours, theirs = hidden.clone().requires_grad_(), hidden.clone().requires_grad_()
        explicit = attention(ours, valid)[0]
        explicit[valid].sum().backward()
        concatenated_blocks_reference(attention, theirs, valid)[valid].sum().backward()
        assert torch.allclose(explicit[valid], reference[valid], atol=1e-5)
        assert torch.allclose(ours.grad, theirs.grad, atol=1e-5)
        assert torch.isfinite(fused).all() and torch.isfinite(explicit).all()


def test_windows_are_overlapping_views_of_one_padded_copy():
    from kd.lsg import _windows

    x = torch.arange(12, dtype=torch.float32).view(6, 2)
    windows = _windows(x, -2, 4, 2, 3, pad_value=-1.0)
    assert windows[..., 0].tolist() == [[-1, -1, 0, 2], [0, 2, 4, 6], [4, 6, 8, 10]]
    assert windows[1, 0].data_ptr() - windows[0, 0].data_ptr() == 2 * 2 * x.element_size()  # no copy per window
    assert _windows(x, 2, 2, 3, 2)[..., 0].tolist() == [[4, 6], [10, -0.0]]


def test_merging_parts_equals_one_softmax_over_all_keys():
    from kd.lsg import MASKED, _attend, _merge

    torch.manual_seed(1)
    query, keys, values = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 8)
    keys[:, :, 0], values[:, :, 0] = keys[:, :1, 0], values[:, :1, 0]  # key 0: the global key of every block
    bias = torch.zeros(2, 3, 1, 7)
    bias[0, 1, :, 1:3] = MASKED  # a part with no valid key for one block
    expected = torch.nn.functional.scaled_dot_product_attention(query, keys, values, attn_mask=bias)
    scores = query @ keys[..., :1, :].transpose(-1, -2) * 8 ** -0.5
    parts = [(slice(0, 3), *_attend(query, keys[..., 1:3, :], values[..., 1:3, :], bias[..., 1:3], 0.0)),
             (slice(1, 3), *_attend(query[:, 1:], keys[:, 1:, 3:], values[:, 1:, 3:], bias[:, 1:, :, 3:], 0.0)),
             (slice(0, 1), *_attend(query[:, :1], keys[:, :1, 3:], values[:, :1, 3:], bias[:, :1, :, 3:], 0.0))]
    merged = _merge(scores, values[:, 0, :1, :], parts, 0.0)
    assert torch.allclose(merged, expected, atol=1e-6)
