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


def _blocks(x: torch.Tensor, block: int, pad_value) -> torch.Tensor:
    """``(..., L, d)`` → ``(..., L // block, 3 * block, d)``: each block with its two neighbours."""
    x = nn.functional.pad(x, (0, 0, block, block), value=pad_value)
    return x.unfold(-2, 3 * block, block).transpose(-1, -2)


class LsgSelfAttention(BertSelfAttention):
    """BERT self-attention computed with the LSG pattern; ``attention_mask`` is a ``(B, T)`` bool mask."""

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

    def _sparse_blocks(self, x: torch.Tensor, n_blocks: int, pad_value) -> torch.Tensor:
        """``(B, H, S, d)`` compressed tokens → ``(B, H, n_blocks, 2s, d)``: for each block, the
        ``s = sparse_block_size`` compressed tokens just beyond each side of its local window."""
        step, s = self.block_size // self.sparsity_factor, self.sparse_block_size
        pad = step + s
        x = nn.functional.pad(x, (0, 0, pad, pad), value=pad_value)
        start = torch.arange(n_blocks, device=x.device).unsqueeze(-1) * step + pad
        offsets = torch.cat([torch.arange(-step - s, -step, device=x.device),
                             torch.arange(2 * step, 2 * step + s, device=x.device)])
        picked = x.index_select(2, (start + offsets).reshape(-1))
        return picked.view(*x.shape[:2], n_blocks, 2 * s, x.shape[-1])

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
        gk, k = key[:, :, :g], key[:, :, g:]
        gv, v = value[:, :, :g], value[:, :, g:]
        gvalid, tvalid = valid[:, :g], valid[:, g:]
        n_blocks = (t - g) // block
        keys = [gk.unsqueeze(2).expand(-1, -1, n_blocks, -1, -1)]
        values = [gv.unsqueeze(2).expand(-1, -1, n_blocks, -1, -1)]
        masks = [gvalid[:, None, None, :].expand(-1, 1, n_blocks, -1)]
        if self.sparse_block_size:
            sk, sv, svalid = self._sparse(k, v, tvalid)
            keys.append(self._sparse_blocks(sk, n_blocks, 0.0))
            values.append(self._sparse_blocks(sv, n_blocks, 0.0))
            masks.append(self._sparse_blocks(svalid.unsqueeze(-1), n_blocks, False).squeeze(-1))
        keys.append(_blocks(k, block, 0.0))
        values.append(_blocks(v, block, 0.0))
        masks.append(_blocks(tvalid.unsqueeze(1).unsqueeze(-1), block, False).squeeze(-1))
        heads, d = query.shape[1], query.shape[-1]
        mask_heads = max(m.shape[1] for m in masks)
        mask = torch.cat([m.expand(b, mask_heads, n_blocks, -1) for m in masks], dim=-1)

        def by_block(x: torch.Tensor) -> torch.Tensor:
            # (B, H, nb, n, d) -> (B * nb, H, n, d): 4-D inputs take PyTorch's fused CPU attention kernel
            return x.transpose(1, 2).reshape(b * n_blocks, x.shape[1], x.shape[-2], x.shape[-1])

        blocked_query = by_block(query[:, :, g:].reshape(b, heads, n_blocks, block, d))
        context = sdpa(blocked_query, by_block(torch.cat(keys, dim=-2)), by_block(torch.cat(values, dim=-2)),
                       attn_mask=by_block(mask.unsqueeze(-2)), dropout_p=dropout)
        context = context.reshape(b, n_blocks, heads, block, d).transpose(1, 2).reshape(b, heads, t - g, d)
        context = torch.cat([global_context, context], dim=2)
        return context.transpose(1, 2).reshape(b, t, -1), None


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
