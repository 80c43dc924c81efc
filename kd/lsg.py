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

import functools

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
        """BERT's embeddings ``(B, L, h)`` with the global tokens in front: ``(B, g + L, h)``."""
        tokens = super().forward(input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                                 inputs_embeds=inputs_embeds, past_key_values_length=past_key_values_length)
        # LayerNorm is per token, so normalising the globals apart equals normalising the concatenation.
        globals_ = self.dropout(self.LayerNorm(self.global_embeddings.weight))
        return torch.cat([globals_.unsqueeze(0).expand(tokens.shape[0], -1, -1), tokens], dim=1)


# Additive bias of a masked key. Finite, so that a softmax whose keys are all masked stays finite
# (-inf would give NaN); every block also reads the global tokens, which are never masked.
MASKED = -1e30


@functools.lru_cache(maxsize=64)
def block_key_rows(n_blocks: int, block: int, g: int, step: int,
                   sparse: int) -> tuple[tuple[tuple[int, ...], torch.Tensor], ...]:
    """The keys of each block as rows of ``[g global tokens, n_blocks * block tokens, n_blocks * step
    compressed tokens]``, grouped by their number.

    Block ``i`` reads the global tokens, the compressed tokens ``(i - 1) * step - sparse .. (i - 1) * step``
    (left), its own block and its two neighbours, and the compressed tokens ``(i + 2) * step ..
    (i + 2) * step + sparse`` (right), each clipped to the sequence, so that no score is computed for a
    position beyond either end. Returns one (blocks, rows) pair per number of keys ``k``, ``rows``
    ``(len(blocks) * k,)`` holding each block's keys in turn."""
    length, compressed = n_blocks * block, n_blocks * step
    t = g + length
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for i in range(n_blocks):
        rows = [*range(g), *range(t + max(0, (i - 1) * step - sparse), t + max(0, (i - 1) * step)),
                *range(g + max(0, (i - 1) * block), g + min(length, (i + 2) * block)),
                *range(t + min(compressed, (i + 2) * step), t + min(compressed, (i + 2) * step + sparse))]
        blocks, flat = groups.setdefault(len(rows), ([], []))
        blocks.append(i)
        flat.extend(rows)
    return tuple((tuple(blocks), torch.tensor(flat)) for blocks, flat in groups.values())


# Bytes of keys and values gathered at a time, per thread: about one block of 641 keys (MiniLM, block
# 128), so that the copy is still in the cores' caches (2 MiB of L2 each here) when the attention call
# reads it, in as few calls as that allows. At 4,096 tokens an attention layer took 6% longer on one
# thread with 8 MiB, and 19% longer on two threads (busy machine) with 2 MiB in all than with 4; the
# encoder took 10% longer with 64 MiB (every block at once, above the 32 MiB from which glibc maps
# memory anew, paying a page fault per 4 KiB).
GATHER_BYTES_PER_THREAD = 2 << 20


@functools.lru_cache(maxsize=64)
def gather_chunks(max_bytes: int, batch: int, source_rows: int, row_bytes: int, *shape: int):
    """:func:`block_key_rows` ``(*shape)`` cut into runs of blocks whose keys take at most ``max_bytes``
    (one block at least) for a batch of ``batch`` sources of ``source_rows`` rows of ``row_bytes`` stacked
    one after the other: (blocks, each block's rows ``(len(blocks) * k,)``, the rows in the stacked sources
    ``(batch * len(blocks) * k,)``) per run."""
    offsets = torch.arange(batch).unsqueeze(1) * source_rows
    chunks = []
    for blocks, rows in block_key_rows(*shape):
        keys = len(rows) // len(blocks)
        size = max(1, max_bytes // (batch * keys * row_bytes))
        for first in range(0, len(blocks), size):
            part = rows[first * keys:(first + size) * keys]
            chunks.append((blocks[first:first + size], part, (part.unsqueeze(0) + offsets).reshape(-1)))
    return tuple(chunks)


def _block_selection(blocks: tuple[int, ...]) -> slice | list[int]:
    """``blocks`` as a slice when they are evenly spaced (a view instead of a copy of the queries)."""
    steps = {j - i for i, j in zip(blocks, blocks[1:])}
    if len(steps) <= 1:
        step = steps.pop() if steps else 1
        return slice(blocks[0], blocks[-1] + 1, step)
    return list(blocks)


class LsgSelfAttention(BertSelfAttention):
    """BERT self-attention computed with the LSG pattern; ``attention_mask`` is a ``(B, T)`` bool mask.

    The keys and values of each block — the global tokens, the sparse tokens on its left, its local
    window, the sparse tokens on its right (:func:`block_key_rows`) — are gathered into one run of rows
    (a copy of whole token rows, a few blocks at a time), and one fused attention call per run of blocks
    with the same number of keys computes the softmax over them: no merge of partial softmaxes. The runs
    are clipped to the sequence, so no score is computed for a position beyond either end, and an input
    without padding needs no mask."""

    def __init__(self, config: LsgBertConfig, layer_idx: int | None = None) -> None:
        super().__init__(config, layer_idx=layer_idx)
        self.block_size = config.block_size
        self.sparse_block_size = config.sparse_block_size if config.sparsity_type != "none" else 0
        self.sparsity_factor = config.sparsity_factor
        self.sparsity_type = config.sparsity_type
        self.num_global_tokens = config.num_global_tokens

    def _sparse(self, tokens: torch.Tensor, valid: torch.Tensor, masked: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The compressed sequence of ``tokens`` ``(B, L, H * d)`` (keys or values): ``(B, L/f, H * d)`` and its
        validity ``(B, 1|H, L/f)``; ``masked``: some token is padding."""
        f = self.sparsity_factor
        b, length, width = tokens.shape
        if self.sparsity_type == "pooling":
            groups = tokens.view(b, length // f, f, width)
            if not masked:  # every count is f
                return groups.sum(2).div_(f), torch.ones((b, 1, length // f), dtype=torch.bool, device=tokens.device)
            weight = valid.view(b, length // f, f, 1).to(tokens.dtype)
            count = weight.sum(2)
            return (groups * weight).sum(2) / count.clamp(min=1), (count.view(b, 1, -1) > 0)
        # stride: head j reads tokens j % f, j % f + f, ... so the heads together see every token
        heads = self.num_attention_heads
        offset = torch.arange(heads, device=tokens.device) % f
        picked = tokens.view(b, length // f, f, heads, -1)[:, :, offset, torch.arange(heads, device=tokens.device)]
        picked_valid = valid.view(b, length // f, f)[:, :, offset].transpose(1, 2)
        return picked.reshape(b, length // f, width), picked_valid

    def forward(self, hidden_states, attention_mask=None, past_key_values=None, **kwargs):
        """Context ``(B, g + L, H * d)`` of the global tokens and the ``L`` tokens, and ``None`` for the
        attention weights (never materialised); ``attention_mask`` is ``(B, g + L)`` booleans."""
        b, t, _ = hidden_states.shape
        heads, d = self.num_attention_heads, self.attention_head_size
        valid = attention_mask if attention_mask is not None else torch.ones((b, t), dtype=torch.bool,
                                                                               device=hidden_states.device)
        dropout = self.dropout.p if self.training else 0.0
        sdpa = nn.functional.scaled_dot_product_attention
        g, block = self.num_global_tokens, self.block_size
        masked = not bool(valid.all())
        query, key, value = (linear(hidden_states) for linear in (self.query, self.key, self.value))
        key_heads, value_heads = (x.view(b, t, heads, d).transpose(1, 2) for x in (key, value))
        mask = valid[:, None, None, :] if masked else None
        if t - g <= 2 * block:
            context = sdpa(query.view(b, t, heads, d).transpose(1, 2), key_heads, value_heads, attn_mask=mask,
                           dropout_p=dropout)
            return context.transpose(1, 2).reshape(b, t, -1), None
        global_context = sdpa(query[:, :g].view(b, g, heads, d).transpose(1, 2), key_heads, value_heads,
                              attn_mask=mask, dropout_p=dropout)
        pieces = self._block_attention(query[:, g:], (key, value), valid, masked, dropout)
        return torch.cat([global_context.transpose(1, 2).reshape(b, g, -1), *pieces], dim=1), None

    def _block_attention(self, query: torch.Tensor, key_value: tuple[torch.Tensor, torch.Tensor], valid: torch.Tensor,
                         masked: bool, dropout: float) -> list[torch.Tensor]:
        """Context of the ``L`` tokens of ``query`` ``(B, L, H * d)`` as pieces ``(B, l, H * d)`` in token
        order; the keys and values ``(B, g + L, H * d)`` and ``valid`` ``(B, g + L)`` hold the ``g`` global
        tokens first."""
        b, length, width = query.shape
        heads, d = self.num_attention_heads, self.attention_head_size
        g, block = self.num_global_tokens, self.block_size
        n_blocks, step = length // block, block // self.sparsity_factor
        sources, keep = list(key_value), valid.unsqueeze(1)
        if self.sparse_block_size:
            for i, x in enumerate(sources):
                compressed, compressed_valid = self._sparse(x[:, g:], valid[:, g:], masked)
                sources[i] = torch.cat([x, compressed], dim=1)
            keep = torch.cat([keep.expand(-1, compressed_valid.shape[1], -1), compressed_valid], dim=2)
        source_rows = sources[0].shape[1]
        sources = [x.reshape(b * source_rows, width) for x in sources]
        blocked_query = query.view(b, n_blocks, block, heads, d)
        outputs = {}
        shape = (n_blocks, block, g, step, self.sparse_block_size)
        row_bytes = 2 * width * query.element_size()  # a key and a value
        budget = GATHER_BYTES_PER_THREAD * torch.get_num_threads()
        for blocks, rows, index in gather_chunks(budget, b, source_rows, row_bytes, *shape):
            count = len(blocks)
            index = index.to(query.device)
            keys, values = (x.index_select(0, index).view(b * count, -1, heads, d).transpose(1, 2) for x in sources)
            bias = None
            if masked:  # (B * count, 1|H, 1, k): the padded positions among each block's keys
                kept = keep.index_select(2, rows.to(query.device)).view(b, keep.shape[1], count, -1).transpose(1, 2)
                bias = torch.zeros(kept.shape, dtype=query.dtype, device=query.device).masked_fill_(~kept, MASKED)
                bias = bias.reshape(b * count, keep.shape[1], 1, -1)
            block_query = blocked_query[:, _block_selection(blocks)].reshape(b * count, block, heads, d).transpose(1, 2)
            context = nn.functional.scaled_dot_product_attention(block_query, keys, values, attn_mask=bias,
                                                                 dropout_p=dropout)
            context = context.transpose(1, 2).reshape(b, count, block, width)
            outputs.update({i: (context, position) for position, i in enumerate(blocks)})
        pieces, i = [], 0
        while i < n_blocks:  # runs of blocks that lie side by side in one group's output become one piece
            context, first = outputs[i]
            last = first
            while i + 1 < n_blocks and outputs[i + 1][0] is context and outputs[i + 1][1] == last + 1:
                i, last = i + 1, last + 1
            pieces.append(context[:, first:last + 1].reshape(b, -1, width))
            i += 1
        return pieces


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
