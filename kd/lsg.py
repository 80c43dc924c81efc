"""LSG (Local-Sparse-Global) attention for BERT checkpoints (Condevaux & Harispe, PAKDD 2023).

Each block of ``block_size`` tokens attends to

* **local** context: its own block and the blocks on either side (``3 * block_size`` keys);
* **sparse** context: ``sparse_block_size`` tokens on each side beyond the local window, taken
  from the sequence compressed by ``sparsity_factor`` — average pooling of each run of
  ``sparsity_factor`` tokens (``pooling``, padding left out), or every ``sparsity_factor``-th token
  with a different offset per head (``stride``); ``none`` drops this part;
* **global** tokens: ``num_global_tokens`` learned embeddings prepended to the sequence, which
  attend to every token and are attended to by every token.

A sequence no longer than ``2 * block_size`` uses full attention (plus the global tokens), as the
original does; longer ones are padded to a multiple of ``block_size``. Weight names are BERT's plus
``embeddings.global_embeddings``, so a BERT checkpoint converts by copying (:func:`kd.convert.convert_bert_to_lsg`).
The model type is ``lsg_bert``, registered with the Auto classes on import, so
``AutoModelForTokenClassification.from_pretrained`` loads a saved model from a local path.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForTokenClassification, BertConfig,
                          BertForMaskedLM, BertForTokenClassification, BertModel)
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions
from transformers.models.bert.modeling_bert import BertEmbeddings, BertSelfAttention

SPARSITY_TYPES = ("pooling", "stride", "none")


class LsgBertConfig(BertConfig):
    """A :class:`BertConfig` plus the LSG attention settings (see the module docstring)."""

    model_type = "lsg_bert"

    def __init__(self, block_size: int = 128, sparse_block_size: int = 128, sparsity_factor: int = 2,
                 sparsity_type: str = "pooling", num_global_tokens: int = 1, pool_with_global: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if sparsity_type not in SPARSITY_TYPES:
            raise ValueError(f"sparsity_type {sparsity_type!r} is not one of {', '.join(SPARSITY_TYPES)}")
        if block_size < 1 or num_global_tokens < 1:
            raise ValueError("block_size and num_global_tokens must be at least 1")
        if sparsity_type != "none" and (sparsity_factor < 1 or block_size % sparsity_factor):
            raise ValueError(f"block_size ({block_size}) must be a multiple of sparsity_factor ({sparsity_factor})")
        self.block_size = block_size
        self.sparse_block_size = sparse_block_size
        self.sparsity_factor = sparsity_factor
        self.sparsity_type = sparsity_type
        self.num_global_tokens = num_global_tokens
        self.pool_with_global = pool_with_global


class LsgBertEmbeddings(BertEmbeddings):
    """BERT embeddings with the global tokens prepended (they have no position of their own)."""

    def __init__(self, config: LsgBertConfig) -> None:
        super().__init__(config)
        self.global_embeddings = nn.Embedding(config.num_global_tokens, config.hidden_size)

    def forward(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                past_key_values_length: int = 0) -> torch.Tensor:
        tokens = super().forward(input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                                 inputs_embeds=inputs_embeds, past_key_values_length=past_key_values_length)
        # LayerNorm is per token, so normalising the globals apart equals normalising the concatenation.
        globals_ = self.dropout(self.LayerNorm(self.global_embeddings.weight))
        return torch.cat([globals_.unsqueeze(0).expand(tokens.shape[0], -1, -1), tokens], dim=1)


# Additive bias of a masked key. Finite, so that a block with no valid key in one part gets a finite
# context and a log-sum-exp so low that the part weighs nothing in the merge (-inf would give NaN).
MASKED = -1e30


def _windows(x: torch.Tensor, start: int, size: int, step: int, count: int, pad_value=0.0) -> torch.Tensor:
    """``(..., n, d)`` → ``(..., count, size, d)``: window ``i`` holds rows ``start + i * step`` to
    ``start + i * step + size`` (rows outside ``0 .. n`` read ``pad_value``). The windows are views of
    one padded copy of ``x``, however much they overlap."""
    end = start + (count - 1) * step + size
    front, back = max(0, -start), max(0, end - x.shape[-2])
    padded = nn.functional.pad(x, (0, 0, front, back), value=pad_value)
    return padded[..., start + front:end + front, :].unfold(-2, size, step).transpose(-1, -2)


def _attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, bias: torch.Tensor,
            dropout: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of ``query`` ``(N, n, q, d)`` over ``key``/``value`` ``(N, n, k, d)`` with an additive
    ``bias`` broadcast to ``(N, n, q, k)``: the context and the log-sum-exp of the scores ``(N, n, q)``.

    PyTorch's fused CPU kernel returns both, reads strided (overlapping) windows in place and never
    holds the scores; it has no dropout and its log-sum-exp carries no gradient, so training (and any
    other device) computes the same thing from explicit scores."""
    needs_grad = torch.is_grad_enabled() and (query.requires_grad or key.requires_grad or value.requires_grad)
    if query.device.type == "cpu" and not dropout and not needs_grad:
        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(query, key, value, attn_mask=bias)
    scores = torch.matmul(query, key.transpose(-1, -2)) * query.shape[-1] ** -0.5 + bias
    lse = torch.logsumexp(scores, dim=-1)
    probs = nn.functional.dropout(torch.exp(scores - lse.unsqueeze(-1)), p=dropout)
    return torch.matmul(probs, value), lse


def _merge(global_scores: torch.Tensor, global_values: torch.Tensor,
           parts: list[tuple[slice, torch.Tensor, torch.Tensor]], dropout: float) -> torch.Tensor:
    """One softmax over all the keys of a block, from attention computed part by part.

    ``global_scores`` ``(N, n, q, g)`` are the (scaled, biased) scores of the ``g`` keys every block
    reads, ``global_values`` ``(N, g, d)`` their values; each part is (the blocks it covers, its context
    ``(N, m, q, d)``, its log-sum-exp ``(N, m, q)``). Returns the context ``(N, n, q, d)``."""
    lses = [torch.logsumexp(global_scores, dim=-1)]
    for blocks, _, lse in parts:
        lses.append(lses[0].new_full(lses[0].shape, float("-inf")))
        lses[-1][:, blocks] = lse
    total = torch.logsumexp(torch.stack(lses), dim=0)
    rows, n_blocks, q, g = global_scores.shape
    probs = nn.functional.dropout(torch.exp(global_scores - total.unsqueeze(-1)), p=dropout)
    context = torch.matmul(probs.reshape(rows, n_blocks * q, g), global_values).view(rows, n_blocks, q, -1)
    for blocks, part, lse in parts:
        context[:, blocks].addcmul_(part, torch.exp(lse - total[:, blocks]).unsqueeze(-1))
    return context


class LsgSelfAttention(BertSelfAttention):
    """BERT self-attention computed with the LSG pattern; ``attention_mask`` is a ``(B, T)`` bool mask.

    The tokens' blocks attend part by part — the local window, the sparse tokens on the left and on the
    right, the global tokens — each part reading strided views of the padded keys and values (no
    per-block copy), and the parts are merged through their log-sum-exps into one softmax over all the
    keys. No part computes scores for a block that has no keys in it (the sparse sides beyond either
    end, the missing neighbour of the end blocks)."""

    def __init__(self, config: LsgBertConfig, layer_idx: int | None = None) -> None:
        super().__init__(config, layer_idx=layer_idx)
        self.block_size = config.block_size
        self.sparse_block_size = config.sparse_block_size if config.sparsity_type != "none" else 0
        self.sparsity_factor = config.sparsity_factor
        self.sparsity_type = config.sparsity_type
        self.num_global_tokens = config.num_global_tokens

    def _sparse(self, key: torch.Tensor, value: torch.Tensor, valid: torch.Tensor):
        """The compressed sequence: keys, values ``(B, H, L/f, d)`` and validity ``(B, 1|H, L/f)``."""
        f = self.sparsity_factor
        b, h, length, d = key.shape
        if self.sparsity_type == "pooling":
            weight = valid.view(b, 1, length // f, f, 1).to(key.dtype)
            count = weight.sum(-2)
            pooled_key = (key.view(b, h, length // f, f, d) * weight).sum(-2) / count.clamp(min=1)
            pooled_value = (value.view(b, h, length // f, f, d) * weight).sum(-2) / count.clamp(min=1)
            return pooled_key, pooled_value, (count.squeeze(-1) > 0)
        # stride: head j reads tokens j % f, j % f + f, ... so the heads together see every token
        index = (torch.arange(length // f, device=key.device) * f).view(1, 1, -1)
        index = index + (torch.arange(h, device=key.device) % f).view(1, h, 1)
        gather = index.unsqueeze(-1).expand(b, h, -1, d)
        picked_valid = valid.unsqueeze(1).expand(b, h, -1).gather(2, index.expand(b, h, -1))
        return key.gather(2, gather), value.gather(2, gather), picked_valid

    def forward(self, hidden_states, attention_mask=None, past_key_values=None, **kwargs):
        b, t, _ = hidden_states.shape
        shape = (b, t, -1, self.attention_head_size)
        query = self.query(hidden_states).view(shape).transpose(1, 2)
        key = self.key(hidden_states).view(shape).transpose(1, 2)
        value = self.value(hidden_states).view(shape).transpose(1, 2)
        valid = attention_mask if attention_mask is not None else torch.ones((b, t), dtype=torch.bool,
                                                                               device=hidden_states.device)
        dropout = self.dropout.p if self.training else 0.0
        sdpa = nn.functional.scaled_dot_product_attention
        g, block = self.num_global_tokens, self.block_size
        if t - g <= 2 * block:
            context = sdpa(query, key, value, attn_mask=valid[:, None, None, :], dropout_p=dropout)
            return context.transpose(1, 2).reshape(b, t, -1), None
        global_context = sdpa(query[:, :, :g], key, value, attn_mask=valid[:, None, None, :], dropout_p=dropout)
        context = torch.cat([global_context, self._block_attention(query[:, :, g:], key, value, valid, dropout)], dim=2)
        return context.transpose(1, 2).reshape(b, t, -1), None

    def _block_attention(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, valid: torch.Tensor,
                         dropout: float) -> torch.Tensor:
        """Context ``(B, H, L, d)`` of the ``L`` tokens of ``query`` ``(B, H, L, d)``; ``key`` and ``value``
        ``(B, H, g + L, d)`` and ``valid`` ``(B, g + L)`` hold the ``g`` global tokens first."""
        b, heads, length, d = query.shape
        g, block = self.num_global_tokens, self.block_size
        n_blocks = length // block
        blocked_query = query.reshape(b * heads, n_blocks, block, d)

        def part(blocks: slice, tokens: tuple, start: int, size: int, step: int):
            # the blocks' attention over windows of (keys, values, keep (B, 1|H, n)): the first of the
            # blocks reads rows start .. start + size, each next one step rows further
            count = len(range(n_blocks)[blocks])
            keys, values = (_windows(x, start, size, step, count).reshape(b * heads, count, size, d)
                            for x in tokens[:2])
            keep = _windows(tokens[2].unsqueeze(-1), start, size, step, count, pad_value=False).squeeze(-1)
            bias = torch.zeros(keep.shape, dtype=query.dtype, device=query.device).masked_fill_(~keep, MASKED)
            bias = bias.unsqueeze(-2).expand(b, heads, count, 1, size).reshape(b * heads, count, 1, size)
            return (blocks, *_attend(blocked_query[:, blocks], keys, values, bias, dropout))

        tokens = (key[:, :, g:], value[:, :, g:], valid[:, None, g:])
        # local: block i reads blocks i - 1 .. i + 1; the two end blocks, which lack a neighbour, read
        # two blocks in a part of their own so that no score is computed for padding
        parts = [part(slice(1, n_blocks - 1), tokens, 0, 3 * block, block),
                 part(slice(0, n_blocks, n_blocks - 1), tokens, 0, 2 * block, (n_blocks - 2) * block)]
        if self.sparse_block_size:
            compressed = self._sparse(*tokens[:2], valid[:, g:])
            step, s = block // self.sparsity_factor, self.sparse_block_size
            # block i reads compressed tokens (i - 1) * step - s .. (i - 1) * step on the left (none
            # before block 2) and (i + 2) * step .. (i + 2) * step + s on the right (none after n - 3)
            parts.append(part(slice(2, n_blocks), compressed, step - s, s, step))
            parts.append(part(slice(0, n_blocks - 2), compressed, 2 * step, s, step))
        global_keys, global_values = (x[:, :, :g].reshape(b * heads, g, d) for x in (key, value))
        bias = torch.zeros((b, 1, g), dtype=query.dtype, device=query.device).masked_fill_(~valid[:, None, :g], MASKED)
        scores = torch.matmul(blocked_query, global_keys.unsqueeze(1).transpose(-1, -2)) * d ** -0.5
        scores = scores + bias.expand(b, heads, g).reshape(b * heads, 1, 1, g)
        return _merge(scores, global_values, parts, dropout).reshape(b, heads, length, d)


class LsgBertModel(BertModel):
    """:class:`BertModel` with LSG attention; outputs cover the input tokens only (globals removed)."""

    config_class = LsgBertConfig

    def __init__(self, config: LsgBertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config, add_pooling_layer=add_pooling_layer)
        self.embeddings = LsgBertEmbeddings(config)
        for i, layer in enumerate(self.encoder.layer):
            layer.attention.self = LsgSelfAttention(config, layer_idx=i)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None,
                **kwargs) -> BaseModelOutputWithPoolingAndCrossAttentions:
        """BERT's outputs for the input tokens; ``hidden_states`` (embeddings, then each layer) also
        cover the input tokens only, so they line up with a BERT teacher's for distillation."""
        if output_attentions:
            raise ValueError("LsgBertModel does not return attention weights (they are blockwise)")
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        hidden = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                                 inputs_embeds=inputs_embeds)
        b, t = hidden.shape[0], hidden.shape[1]
        g, block = self.config.num_global_tokens, self.config.block_size
        length = t - g
        valid = (attention_mask.bool() if attention_mask is not None
                 else torch.ones((b, length), dtype=torch.bool, device=hidden.device))
        valid = torch.cat([torch.ones((b, g), dtype=torch.bool, device=hidden.device), valid], dim=1)
        pad = (-length) % block if length > 2 * block else 0
        if pad:
            hidden = nn.functional.pad(hidden, (0, 0, 0, pad))
            valid = nn.functional.pad(valid, (0, pad), value=False)
        states = [hidden[:, g:g + length]]
        for layer in self.encoder.layer:
            hidden = layer(hidden, valid)
            states.append(hidden[:, g:g + length])
        if self.config.pool_with_global:
            hidden = torch.cat([hidden[:, :g], hidden[:, :1], hidden[:, g + 1:]], dim=1)  # [CLS] reads global 0
        sequence = states[-1] = hidden[:, g:g + length]
        pooled = self.pooler(sequence) if self.pooler is not None else None
        return BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence, pooler_output=pooled,
            hidden_states=tuple(states) if output_hidden_states else None)


class LsgBertForTokenClassification(BertForTokenClassification):
    """BERT token classifier on :class:`LsgBertModel`."""

    config_class = LsgBertConfig

    def __init__(self, config: LsgBertConfig) -> None:
        super().__init__(config)
        self.bert = LsgBertModel(config, add_pooling_layer=False)
        self.post_init()


class LsgBertForMaskedLM(BertForMaskedLM):
    """BERT masked-LM on :class:`LsgBertModel` (for MLM pre-training of a converted model)."""

    config_class = LsgBertConfig

    def __init__(self, config: LsgBertConfig) -> None:
        super().__init__(config)
        self.bert = LsgBertModel(config, add_pooling_layer=False)
        self.post_init()


AutoConfig.register("lsg_bert", LsgBertConfig, exist_ok=True)
AutoModel.register(LsgBertConfig, LsgBertModel, exist_ok=True)
AutoModelForTokenClassification.register(LsgBertConfig, LsgBertForTokenClassification, exist_ok=True)
AutoModelForMaskedLM.register(LsgBertConfig, LsgBertForMaskedLM, exist_ok=True)

LSG_CLASSES = {"BertModel": LsgBertModel, "BertForTokenClassification": LsgBertForTokenClassification,
               "BertForMaskedLM": LsgBertForMaskedLM}
