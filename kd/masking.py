"""Dynamic masking for masked-language-model training (BERT's recipe).

Each time a batch is drawn, 15% of its maskable tokens (not special, not padding) are chosen
independently; of those, 80% become the mask token, 10% a token drawn uniformly from the
vocabulary, and 10% stay as they are. Labels hold the original token at the chosen positions and
``-100`` elsewhere, so the loss is scored only where the model had to guess.

Masks come from an explicit ``torch.Generator`` (:func:`step_generator`), never from the global
random state, so a resumed run draws exactly the masks an uninterrupted run would have drawn.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

IGNORE = -100


@dataclass(frozen=True)
class MaskingScheme:
    """Token ids and proportions of one tokenizer's masking: ``special_ids`` (padding included) are never chosen."""

    mask_id: int
    vocab_size: int
    special_ids: tuple[int, ...]
    probability: float = 0.15
    mask_share: float = 0.8
    random_share: float = 0.1


def scheme_for(tokenizer, probability: float = 0.15) -> MaskingScheme:
    """The masking scheme of a Hugging Face tokenizer (its mask token, vocabulary and special ids)."""
    if tokenizer.mask_token_id is None:
        raise ValueError("the tokenizer has no mask token; masked-language-model training needs one")
    specials = set(tokenizer.all_special_ids)
    if tokenizer.pad_token_id is not None:
        specials.add(tokenizer.pad_token_id)
    return MaskingScheme(tokenizer.mask_token_id, len(tokenizer), tuple(sorted(specials)), probability)


def step_generator(seed: int, step: int, salt: int = 0) -> torch.Generator:
    """A generator determined by ``(seed, step, salt)`` alone: the same masks for the same step on any rerun."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 7_919 + salt)


def maskable(input_ids: torch.Tensor, special_ids: Iterable[int]) -> torch.Tensor:
    """Boolean tensor: where a token may be chosen (any token that is not one of ``special_ids``)."""
    return ~torch.isin(input_ids, torch.tensor(list(special_ids), dtype=input_ids.dtype))


def mask_tokens(input_ids: torch.Tensor, scheme: MaskingScheme, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, labels)`` for one batch: a masked copy of ``input_ids`` and the MLM labels.

    ``input_ids`` is left unchanged; every draw comes from ``generator``.
    """
    shape = input_ids.shape
    chosen = (torch.rand(shape, generator=generator) < scheme.probability) & maskable(input_ids, scheme.special_ids)
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE))
    fate = torch.rand(shape, generator=generator)  # < mask_share: [MASK]; next random_share: random; else kept
    to_mask = chosen & (fate < scheme.mask_share)
    to_random = chosen & (fate >= scheme.mask_share) & (fate < scheme.mask_share + scheme.random_share)
    random_ids = torch.randint(scheme.vocab_size, shape, generator=generator, dtype=input_ids.dtype)
    inputs = torch.where(to_mask, torch.full_like(input_ids, scheme.mask_id), input_ids)
    inputs = torch.where(to_random, random_ids, inputs)
    return inputs, labels
