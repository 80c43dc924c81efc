"""The padding-safe Nyströmformer attention: same as the library where the library works, batch-invariant."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model():
    from transformers import NystromformerConfig, NystromformerForTokenClassification

    torch.manual_seed(0)
    config = NystromformerConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=80, num_landmarks=4,
                                 segment_means_seq_len=16, conv_kernel_size=3, num_labels=5, pad_token_id=0)
    return NystromformerForTokenClassification(config).eval()


def test_patched_equals_library_on_unpadded_input_of_segment_length(model):
    from kd.nystrom import patch_nystromformer

    patched = copy.deepcopy(model)
    assert patch_nystromformer(patched) == 2
    ids = torch.randint(1, 100, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, patched(input_ids=ids).logits, atol=1e-5)


def test_each_row_is_scored_as_if_alone_in_a_padded_batch(model):
    from kd.nystrom import patch_nystromformer

    patched = copy.deepcopy(model)
    patch_nystromformer(patched)
    gen = torch.Generator().manual_seed(2)
    short, long_, tiny = (torch.randint(1, 100, (1, n), generator=gen) for n in (11, 23, 3))
    batch = torch.zeros((3, 23), dtype=torch.long)
    batch[0, :11], batch[1], batch[2, :3] = short, long_, tiny
    with torch.no_grad():
        together = patched(input_ids=batch, attention_mask=(batch > 0).long()).logits
        for row, seq in enumerate((short, long_, tiny)):
            alone = patched(input_ids=seq).logits[0]
            assert torch.allclose(alone, together[row, :seq.shape[1]], atol=1e-5)


def test_landmarks_average_only_real_tokens_of_each_segment():
    from kd.nystrom import segment_weights

    valid = torch.tensor([[True] * 8, [True] * 3 + [False] * 5])
    weights, has_tokens = segment_weights(valid, 4)
    assert weights[0].argmax(-1).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert torch.allclose(weights[0].sum(0), torch.ones(4))
    assert has_tokens[1].tolist() == [True, True, True, False]  # 3 tokens cannot fill 4 landmarks
    assert weights[1, 3:].abs().sum() == 0  # padding weighs nothing


def test_key_padding_mask_reads_2d_bool_and_additive_4d_masks():
    from kd.nystrom import key_padding_mask

    keep = torch.tensor([[1, 1, 0]])
    additive = torch.zeros((1, 1, 3, 3)).masked_fill(keep[:, None, None, :] == 0, torch.finfo(torch.float32).min)
    for mask in (keep, keep.bool(), additive):
        assert key_padding_mask(mask, 1, 3, torch.device("cpu")).tolist() == [[True, True, False]]
    assert key_padding_mask(None, 2, 3, torch.device("cpu")).all()


def _encoder_outputs(model, ids, mask):
    """The patched model's encoder output for ``ids`` under the 4-D ``mask`` handed to every layer."""
    with torch.no_grad():
        embedded = model.nystromformer.embeddings(input_ids=ids)
        return model.nystromformer.encoder(embedded, attention_mask=mask).last_hidden_state


def test_all_zero_additive_4d_mask_keeps_every_key(model):
    """A 4-D additive mask of zeros (no padding) means "attend to everything", as ``None`` does."""
    from kd.nystrom import key_padding_mask, patch_nystromformer

    patched = copy.deepcopy(model)
    patch_nystromformer(patched)
    ids = torch.randint(1, 100, (2, 16), generator=torch.Generator().manual_seed(3))
    zeros = torch.zeros((2, 1, 16, 16))
    assert key_padding_mask(zeros, 2, 16, torch.device("cpu")).all()
    assert torch.allclose(_encoder_outputs(patched, ids, zeros), _encoder_outputs(patched, ids, None), atol=1e-6)


def test_padded_additive_4d_mask_equals_the_library_mask_path(model):
    """The eager additive mask transformers builds for a padded batch gives the model's own output."""
    from transformers.masking_utils import create_bidirectional_mask

    from kd.nystrom import patch_nystromformer

    patched = copy.deepcopy(model)
    patch_nystromformer(patched)
    ids = torch.randint(1, 100, (2, 20), generator=torch.Generator().manual_seed(4))
    ids[0, 13:] = 0
    keep = (ids > 0).long()
    config = copy.deepcopy(patched.config)
    config._attn_implementation = "eager"
    with torch.no_grad():
        embedded = patched.nystromformer.embeddings(input_ids=ids)
        additive = create_bidirectional_mask(config=config, inputs_embeds=embedded, attention_mask=keep)
        expected = patched(input_ids=ids, attention_mask=keep, output_hidden_states=True).hidden_states[-1]
    assert additive.dtype == torch.float32 and additive.min() < -1e30 and additive.max() == 0
    got = _encoder_outputs(patched, ids, additive)
    assert torch.allclose(got[0, :13], expected[0, :13], atol=1e-5)
    assert torch.allclose(got[1], expected[1], atol=1e-5)
