"""Nyströmformer self-attention that accepts any sequence length and padded batches.

transformers' ``NystromformerSelfAttention`` forms its landmarks by reshaping the sequence into
``num_landmarks`` segments of ``segment_means_seq_len // num_landmarks`` tokens, so in landmark mode
every input must be exactly ``segment_means_seq_len`` long, and a padded batch crashes (its
``(B, 1, L, L)`` mask is added to ``(B, H, m, L)`` scores); pad tokens would also enter the
landmark means and the value convolution.

:class:`MaskedNystromSelfAttention` computes the same thing from each row's real tokens only: a row
of ``n`` tokens is cut into ``num_landmarks`` contiguous segments (token ``t`` in segment
``t * m // n``), landmarks are the segment means, empty segments (``n < m``) are left out of the
softmaxes, and padded values are zeroed before the convolution. For an unpadded input of length
``segment_means_seq_len`` this is exactly the library's computation; a row's output does not depend
on the batch it is padded into. :func:`patch_nystromformer` swaps it into a loaded model in place.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.models.nystromformer.modeling_nystromformer import NystromformerSelfAttention


def key_padding_mask(attention_mask: torch.Tensor | None, batch: int, length: int,
                     device: torch.device) -> torch.Tensor:
    """``(batch, length)`` booleans, True for real tokens, from the model's 2-D or 4-D (bool/additive) mask."""
    if attention_mask is None:
        return torch.ones((batch, length), dtype=torch.bool, device=device)
    if attention_mask.dim() == 2:
        return attention_mask.bool()  # the user's 0/1 (or bool) mask
    # Padding-only masks are the same for every query row; row 0 is the keys' validity.
    mask = attention_mask[:, 0, 0, :]
    if mask.dtype == torch.bool:
        return mask
    # Additive: 0 keeps, a large negative drops. Read by its form, never by its values: a batch
    # without padding is all zeros, which a 0/1 reading would take for "drop every key".
    return mask > torch.finfo(mask.dtype).min / 2


def segment_weights(valid: torch.Tensor, num_landmarks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Averaging weights ``(B, L, m)`` mapping each row's real tokens to its landmark segments,
    and ``(B, m)`` booleans telling which segments hold at least one token."""
    lengths = valid.sum(-1, keepdim=True)  # (B, 1)
    positions = torch.arange(valid.shape[1], device=valid.device).unsqueeze(0)  # (1, L)
    segment = torch.div(positions * num_landmarks, lengths.clamp(min=1), rounding_mode="floor")
    segment = segment.clamp(max=num_landmarks - 1)
    one_hot = nn.functional.one_hot(segment, num_landmarks).to(torch.float32) * valid.unsqueeze(-1)
    counts = one_hot.sum(1)  # (B, m)
    return one_hot / counts.clamp(min=1).unsqueeze(1), counts > 0


class MaskedNystromSelfAttention(NystromformerSelfAttention):
    """Nyström landmark attention over each row's real tokens (see the module docstring)."""

    def iterative_inv(self, mat: torch.Tensor, n_iter: int = 6) -> torch.Tensor:
        """The library's Newton–Schulz pseudo-inverse, its start scaled per batch row.

        The "original" option scales by the largest column sum over the whole batch, which makes
        a row's result depend on its batch mates; here the maximum is over that row's heads only
        (the same number for a batch of one).
        """
        identity = torch.eye(mat.size(-1), dtype=mat.dtype, device=mat.device)
        col_sums = mat.sum(dim=-2)  # (B, H, m)
        if self.init_option == "original":
            coeff = 1 / col_sums.amax(dim=(-2, -1))[:, None, None, None]
        else:
            coeff = 1 / col_sums.amax(dim=-1)[:, :, None, None]
        value = coeff * mat.transpose(-1, -2)
        for _ in range(n_iter):
            key_value = mat @ value
            value = (0.25 * value) @ (13 * identity - key_value @ (15 * identity - key_value @ (7 * identity - key_value)))
        return value

    def forward(self, hidden_states, attention_mask=None, output_attentions=False):
        """The library's forward with padding left out of the landmarks and the keys; returns its tuple."""
        batch, length = hidden_states.shape[:2]
        hidden_shape = (batch, length, -1, self.attention_head_size)
        query = self.query(hidden_states).view(hidden_shape).transpose(1, 2)
        key = self.key(hidden_states).view(hidden_shape).transpose(1, 2)
        value = self.value(hidden_states).view(hidden_shape).transpose(1, 2)
        scale = self.attention_head_size ** 0.25
        query, key = query / scale, key / scale

        valid = key_padding_mask(attention_mask, batch, length, hidden_states.device)
        neg = torch.finfo(query.dtype).min
        key_bias = torch.zeros(valid.shape, dtype=query.dtype, device=query.device).masked_fill(~valid, neg)
        key_bias = key_bias[:, None, None, :]  # (B, 1, 1, L)

        if self.num_landmarks == self.seq_len:  # configured as exact attention
            probs = nn.functional.softmax(query @ key.transpose(-1, -2) + key_bias, dim=-1)
            context = probs @ value
        else:
            weights, has_tokens = segment_weights(valid, self.num_landmarks)
            weights = weights.to(query.dtype)[:, None]  # (B, 1, L, m)
            q_landmarks = weights.transpose(-1, -2) @ query  # (B, H, m, d)
            k_landmarks = weights.transpose(-1, -2) @ key
            landmark_bias = torch.zeros(has_tokens.shape, dtype=query.dtype, device=query.device)
            landmark_bias = landmark_bias.masked_fill(~has_tokens, neg)[:, None, None, :]  # (B, 1, 1, m)
            kernel_1 = nn.functional.softmax(query @ k_landmarks.transpose(-1, -2) + landmark_bias, dim=-1)
            kernel_2 = nn.functional.softmax(q_landmarks @ k_landmarks.transpose(-1, -2) + landmark_bias, dim=-1)
            # An empty landmark gets an identity row, so the pseudo-inverse is block-diagonal and
            # that landmark (weight 0 in kernel_1) contributes nothing.
            empty = (~has_tokens)[:, None, :, None]
            eye = torch.eye(self.num_landmarks, dtype=query.dtype, device=query.device)
            kernel_2 = torch.where(empty, eye, kernel_2)
            kernel_3 = nn.functional.softmax(q_landmarks @ key.transpose(-1, -2) + key_bias, dim=-1)
            probs = kernel_1 @ self.iterative_inv(kernel_2)
            context = probs @ (kernel_3 @ value)

        if self.conv_kernel_size is not None:
            context = context + self.conv(value * valid[:, None, :, None].to(value.dtype))

        context = context.permute(0, 2, 1, 3).reshape(batch, length, self.all_head_size)
        return (context, probs) if output_attentions else (context,)


def patch_nystromformer(model: nn.Module) -> int:
    """Swap :class:`MaskedNystromSelfAttention` into every Nyströmformer attention of ``model``
    (weights kept); returns how many modules were patched."""
    n = 0
    for module in model.modules():
        if type(module) is NystromformerSelfAttention:
            module.__class__ = MaskedNystromSelfAttention
            n += 1
    return n
