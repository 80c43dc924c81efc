"""``gonerd kd convert``: copy a BERT checkpoint into an efficient-attention model.

The attention implementations (:mod:`kd.lsg`) know nothing of checkpoints on disk; this module
reads the source model, maps its weights onto the new architecture and saves the result.
"""

from __future__ import annotations

from pathlib import Path

import torch
import transformers
from transformers import AutoConfig

from gonerd.errors import InputError
from kd.lsg import LSG_CLASSES, LsgBertConfig
from kd.model import load_tokenizer, resolve_model_path


def convert_bert_to_lsg(source: str | Path, target: str | Path, *, max_length: int = 4096, block_size: int = 128,
                        sparse_block_size: int = 128, sparsity_factor: int = 2, sparsity_type: str = "pooling",
                        num_global_tokens: int = 1) -> Path:
    """Write an LSG copy of the BERT checkpoint ``source`` (model + tokenizer) to ``target``.

    All BERT weights are copied. Position embeddings are tiled from the original ones up to
    ``max_length`` (the common way to extend absolute positions). The global tokens are new: each
    starts as the embedding [CLS] would get at position ``i`` (word + position + segment 0), so the
    first one begins as a copy of [CLS]; they are untrained until the model is fine-tuned or
    MLM-trained. The head of a token classifier or masked LM is kept.
    """
    source = resolve_model_path(source)
    config = AutoConfig.from_pretrained(str(source))
    if config.model_type != "bert":
        raise InputError(f"LSG conversion needs a BERT checkpoint, not {config.model_type!r}",
                         str(source / "config.json"), field="model_type")
    architecture = (config.architectures or ["BertModel"])[0]
    if architecture not in LSG_CLASSES:
        raise InputError(f"cannot convert a {architecture}; one of {', '.join(LSG_CLASSES)}",
                         str(source / "config.json"), field="architectures")
    tokenizer = load_tokenizer(source)
    bert = getattr(transformers, architecture).from_pretrained(str(source))
    fields = {k: v for k, v in config.to_dict().items() if k not in ("model_type", "architectures", "transformers_version")}
    fields["max_position_embeddings"] = max_length
    lsg_config = LsgBertConfig(block_size=block_size, sparse_block_size=sparse_block_size,
                               sparsity_factor=sparsity_factor, sparsity_type=sparsity_type,
                               num_global_tokens=num_global_tokens, **fields)
    model = LSG_CLASSES[architecture](lsg_config)
    state = bert.state_dict()
    prefix = "bert." if architecture != "BertModel" else ""
    positions = state[f"{prefix}embeddings.position_embeddings.weight"]
    repeats = -(-max_length // positions.shape[0])
    state[f"{prefix}embeddings.position_embeddings.weight"] = positions.repeat(repeats, 1)[:max_length]
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else 0
    word = state[f"{prefix}embeddings.word_embeddings.weight"][cls_id]
    segment = state[f"{prefix}embeddings.token_type_embeddings.weight"][0]
    state[f"{prefix}embeddings.global_embeddings.weight"] = torch.stack(
        [word + positions[i % positions.shape[0]] + segment for i in range(num_global_tokens)])
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and not k.endswith("token_type_ids")]
    if missing or unexpected:
        raise RuntimeError(f"LSG conversion left weights unmatched: missing {missing}, unexpected {unexpected}")
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(str(target))
    return target
