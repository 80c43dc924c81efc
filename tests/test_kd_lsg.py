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
    tokens = torch.arange(8, dtype=torch.float32).view(1, 8, 1).expand(1, 8, 64)  # keys and values of 2 heads
    valid = torch.tensor([[True] * 5 + [False] * 3])
    pooled, pooled_valid = attention._sparse(tokens, valid, masked=True)
    assert pooled.shape == (1, 4, 64) and pooled[0, :, 0].tolist() == [0.5, 2.5, 4.0, 0.0]
    assert pooled_valid.tolist() == [[[True, True, True, False]]]  # (batch, 1, compressed length)
    pooled, pooled_valid = attention._sparse(tokens, torch.ones((1, 8), dtype=torch.bool), masked=False)
    assert pooled[0, :, -1].tolist() == [0.5, 2.5, 4.5, 6.5] and pooled_valid.all()


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


def compressed_reference(attention, key, value, valid):
    """Compressed keys, values ``(B, H, L/f, d)`` and validity ``(B, 1|H, L/f)`` of ``key``, ``value``
    ``(B, H, L, d)``, computed head by head as first written."""
    f = attention.sparsity_factor
    b, h, length, d = key.shape
    if attention.sparsity_type == "pooling":
        weight = valid.view(b, 1, length // f, f, 1).to(key.dtype)
        count = weight.sum(-2)
        pooled = [(x.reshape(b, h, length // f, f, d) * weight).sum(-2) / count.clamp(min=1) for x in (key, value)]
        return (*pooled, count.squeeze(-1) > 0)
    index = (torch.arange(length // f) * f).view(1, 1, -1) + (torch.arange(h) % f).view(1, h, 1)
    gather = index.unsqueeze(-1).expand(b, h, -1, d)
    picked_valid = valid.unsqueeze(1).expand(b, h, -1).gather(2, index.expand(b, h, -1))
    return key.gather(2, gather), value.gather(2, gather), picked_valid


def concatenated_blocks_reference(attention, hidden, valid):
    """The block path as first written (kept here as the reference the gathered one must equal): every
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
        sk, sv, svalid = compressed_reference(attention, k[:, :, g:], v[:, :, g:], valid[:, g:])
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
def test_block_path_equals_the_concatenated_blocks(sparsity, settings):
    """Inference and training (gradients) against the reference, at 3, 5 and 12 blocks, on a batch whose
    rows are padded within a block, from a block on, and not at all, and on one without padding (no mask)."""
    from kd.lsg import LsgSelfAttention

    torch.manual_seed(0)
    config = tiny_config(sparsity, **settings)
    attention = LsgSelfAttention(config).eval()
    g, block = config.num_global_tokens, config.block_size
    for n_blocks in (3, 5, 12):
        t = g + n_blocks * block
        hidden = torch.randn(3, t, 32)
        valid = torch.ones(3, t, dtype=torch.bool)
        with torch.no_grad():
            unpadded = attention(hidden, valid)[0]
            assert torch.allclose(unpadded, concatenated_blocks_reference(attention, hidden, valid), atol=1e-5)
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


def test_block_key_rows_list_each_blocks_keys_clipped_to_the_sequence():
    from kd.lsg import block_key_rows

    g, block, step, sparse, n_blocks = 1, 4, 2, 2, 6
    t = g + n_blocks * block  # compressed token j is row t + j
    groups = block_key_rows(n_blocks, block, g, step, sparse)
    rows_of = {}
    for blocks, rows in groups:
        per_block = rows.view(len(blocks), -1).tolist()
        rows_of.update(zip(blocks, per_block))
    assert sorted(rows_of) == list(range(n_blocks))
    assert rows_of[0] == [0, *range(1, 9), t + 4, t + 5]  # no left neighbour, no left sparse tokens
    assert rows_of[2] == [0, t + 0, t + 1, *range(5, 17), t + 8, t + 9]  # left sparse clipped at 0
    assert rows_of[3] == [0, t + 2, t + 3, *range(9, 21), t + 10, t + 11]
    assert rows_of[5] == [0, t + 6, t + 7, *range(17, 25)]  # no right neighbour, no right sparse tokens
    assert [blocks for blocks, _ in groups] == [(0, 5), (1, 4), (2, 3)]  # 11, 15 and 17 keys
    assert [len(rows) for _, rows in groups] == [22, 30, 34]
    assert block_key_rows(3, 4, 2, 2, 0)[1][1].tolist() == [0, 1, *range(2, 14)]  # no sparse part: globals, local


def test_blocks_gathered_a_few_at_a_time_attend_as_all_at_once(monkeypatch):
    import kd.lsg as lsg

    torch.manual_seed(0)
    attention = lsg.LsgSelfAttention(tiny_config("pooling")).eval()
    hidden = torch.randn(2, 1 + 12 * 4, 32)
    valid = torch.ones(2, 1 + 12 * 4, dtype=torch.bool)
    valid[1, 30:] = False
    with torch.no_grad():
        together = attention(hidden, valid)[0]
        monkeypatch.setattr(lsg, "GATHER_BYTES_PER_THREAD", 0)
        one_by_one = attention(hidden, valid)[0]
    assert torch.allclose(one_by_one, together, atol=1e-6)
    runs = lsg.gather_chunks(1, 2, 1 + 12 * 4 + 24, 256, 12, 4, 1, 2, 2)
    assert [blocks for blocks, _, _ in runs] == [(0,), (11,), (1,), (10,), *((i,) for i in range(2, 10))]
    blocks, rows, index = runs[0]  # block 0: 11 keys, read in each batch row's own rows
    assert index.tolist() == rows.tolist() + (rows + 1 + 12 * 4 + 24).tolist()
    assert [len(b) for b, _, _ in lsg.gather_chunks(4 * 17 * 2 * 256, 2, 73, 256, 12, 4, 1, 2, 2)] == [2, 2, 4, 4]
