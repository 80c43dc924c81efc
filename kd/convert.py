"""``gonerd kd convert``: copy a BERT checkpoint into an efficient-attention model.

One function per target — LSG (:mod:`kd.lsg`), Longformer, BigBird, Nyströmformer — over shared
steps: read the source (:func:`load_source`), tile the position embeddings up to ``max_length``
(the usual way to extend learned absolute positions, :func:`tiled_positions`), copy every weight
(``_build``) and save model and tokenizer (``_save``). The head of a token classifier
or masked LM becomes the target's head of the same kind, so the Auto classes (``AutoModel``,
``AutoModelForTokenClassification``, ``AutoModelForMaskedLM``) load the result. Each target is set
up so that, where its attention is full attention (short inputs), it computes what BERT computes;
``tests/test_kd_convert.py`` measures that on MiniLM.

The attention implementations know nothing of checkpoints on disk and never import this module.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, BigBirdConfig, LongformerConfig, NystromformerConfig

from gonerd.errors import ConfigError, InputError
from kd.lsg import LSG_CLASSES, LsgBertConfig
from kd.model import load_tokenizer, resolve_model_path

HEADS = ("Model", "ForTokenClassification", "ForMaskedLM")
# The config fields every target shares with BERT (the rest of a BertConfig means nothing to them).
SHARED_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                 "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "type_vocab_size",
                 "initializer_range", "layer_norm_eps", "pad_token_id", "classifier_dropout", "id2label", "label2id")
POSITIONS = "embeddings.position_embeddings.weight"


@dataclass
class Source:
    """A BERT checkpoint ready to copy: ``body`` holds the encoder's weights named as in ``BertModel``
    (embeddings, layers, pooler), ``head_state`` the classifier or MLM head under its own names."""

    config: transformers.BertConfig
    head: str  # one of HEADS
    tokenizer: object
    body: dict[str, torch.Tensor]
    head_state: dict[str, torch.Tensor]


def load_source(source: str | Path, target_name: str) -> Source:
    """Read the BERT checkpoint ``source`` (a folder or weights package); :class:`InputError` naming its
    ``config.json`` when it is not a BERT model, token classifier or masked LM."""
    path = resolve_model_path(source)
    config = AutoConfig.from_pretrained(str(path))
    if config.model_type != "bert":
        raise InputError(f"{target_name} conversion needs a BERT checkpoint, not {config.model_type!r}",
                         str(path / "config.json"), field="model_type")
    architecture = (config.architectures or ["BertModel"])[0]
    head = architecture.removeprefix("Bert")
    if head not in HEADS:
        raise InputError(f"cannot convert a {architecture}; one of {', '.join('Bert' + h for h in HEADS)}",
                         str(path / "config.json"), field="architectures")
    tokenizer = load_tokenizer(path)
    state = getattr(transformers, architecture).from_pretrained(str(path)).state_dict()
    if head == "Model":
        return Source(config, head, tokenizer, state, {})
    body = {k.removeprefix("bert."): v for k, v in state.items() if k.startswith("bert.")}
    return Source(config, head, tokenizer, body, {k: v for k, v in state.items() if not k.startswith("bert.")})


def _shared_fields(src: Source) -> dict:
    """Config keywords carried over from BERT, plus the tokenizer's special ids (the targets' own
    defaults name RoBERTa's, which are other tokens in a BERT vocabulary)."""
    fields = {k: v for k, v in src.config.to_dict().items() if k in SHARED_FIELDS}
    tok = src.tokenizer
    return {**fields, "bos_token_id": tok.cls_token_id, "eos_token_id": tok.sep_token_id,
            "sep_token_id": tok.sep_token_id}


def tiled_positions(table: torch.Tensor, length: int, offset: int = 0) -> torch.Tensor:
    """``offset`` zero rows (ids the target never gives a token), then ``table`` repeated to ``length`` rows."""
    repeats = -(-length // table.shape[0])
    return torch.cat([table.new_zeros(offset, table.shape[1]), table.repeat(repeats, 1)[:length]])


def renamed(state: dict[str, torch.Tensor], names: dict[str, str]) -> dict[str, torch.Tensor]:
    """``state`` with each key's leading ``old`` part replaced by ``names[old]`` (other keys as they are)."""
    out = {}
    for key, value in state.items():
        old = next((o for o in names if key.startswith(o)), None)
        out[key if old is None else names[old] + key[len(old):]] = value
    return out


def _build(target_name: str, classes: dict[str, type] | str, config, src: Source, body: dict[str, torch.Tensor],
          head_names: dict[str, str] | None = None, new: tuple[str, ...] = ()):
    """The target model of ``src``'s head kind with ``body`` and the (renamed) head copied in.

    ``classes`` maps ``Bert*`` class names to target classes, or is the transformers name stem
    (``"Longformer"`` → ``LongformerForMaskedLM``, …). Weights whose name contains one of ``new``
    are the only ones allowed to keep their initial values; anything else unmatched is a bug.
    """
    cls = classes["Bert" + src.head] if isinstance(classes, dict) else getattr(transformers, classes + src.head)
    model = cls(config)
    prefix = "" if src.head == "Model" else model.base_model_prefix + "."
    state = {prefix + k: v for k, v in body.items()} | renamed(src.head_state, head_names or {})
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not any(n in k for n in new)]
    if missing or unexpected:
        raise RuntimeError(f"{target_name} conversion left weights unmatched: missing {missing}, "
                           f"unexpected {unexpected}")
    return model


def _save(model, tokenizer, target: str | Path, max_length: int) -> Path:
    """Write ``model`` (``save_pretrained``) and ``tokenizer`` (``model_max_length`` = ``max_length``) to ``target``."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(str(target))
    return target


def _as_flags(names: list[str]) -> str:
    """Keyword names as the command's options: ``["block_size"]`` → ``"--block-size"``."""
    return ", ".join("--" + name.replace("_", "-") for name in names)


def _check_positive(**values: int) -> None:
    """:class:`ConfigError` naming the first of ``values`` that is not a positive integer."""
    for name, value in values.items():
        if value < 1:
            raise ConfigError(f"{_as_flags([name])} must be at least 1, got {value}")


def convert_bert_to_lsg(source: str | Path, target: str | Path, *, max_length: int = 4096, block_size: int = 128,
                        sparse_block_size: int = 128, sparsity_factor: int = 2, sparsity_type: str = "pooling",
                        num_global_tokens: int = 1) -> Path:
    """Write an LSG copy of the BERT checkpoint ``source`` (model + tokenizer) to ``target``.

    All BERT weights are copied, positions tiled. The global tokens are new: each starts as the
    embedding [CLS] would get at position ``i`` (word + position + segment 0), so the first one
    begins as a copy of [CLS]; they are untrained until the model is fine-tuned or MLM-trained.
    Inputs of up to ``2 * block_size`` tokens get full attention plus the global tokens, so the
    model equals BERT there once the global tokens' keys are masked.
    """
    _check_positive(max_length=max_length)
    src = load_source(source, "LSG")
    fields = {k: v for k, v in src.config.to_dict().items() if k not in ("model_type", "architectures",
                                                                        "transformers_version")}
    try:
        config = LsgBertConfig(**{**fields, "max_position_embeddings": max_length}, block_size=block_size,
                               sparse_block_size=sparse_block_size, sparsity_factor=sparsity_factor,
                               sparsity_type=sparsity_type, num_global_tokens=num_global_tokens)
    except ValueError as e:
        raise ConfigError(f"LSG: {e}") from e
    body = dict(src.body)
    positions = body[POSITIONS]
    body[POSITIONS] = tiled_positions(positions, max_length)
    cls_id = src.tokenizer.cls_token_id if src.tokenizer.cls_token_id is not None else 0
    start = body["embeddings.word_embeddings.weight"][cls_id] + body["embeddings.token_type_embeddings.weight"][0]
    body["embeddings.global_embeddings.weight"] = torch.stack(
        [start + positions[i % positions.shape[0]] for i in range(num_global_tokens)])
    return _save(_build("LSG", LSG_CLASSES, config, src, body), src.tokenizer, target, max_length)


def convert_bert_to_longformer(source: str | Path, target: str | Path, *, max_length: int = 4096,
                               window: int = 512) -> Path:
    """Write a Longformer copy of the BERT checkpoint ``source`` to ``target``.

    Each token attends to ``window / 2`` tokens on either side, so inputs of up to ``window / 2 + 1``
    tokens get full attention, and there the model equals BERT. Longformer numbers positions as
    RoBERTa does (token ``p`` gets id ``p + pad + 1``, padding gets ``pad``, the pad token id), so
    BERT's position ``p`` moves to row ``p + pad + 1`` of a ``max_length + pad + 1`` row table.
    Global attention has its own Q/K/V projections: they start as copies of the local ones. The MLM
    head becomes ``lm_head`` (Longformer's applies gelu, as MiniLM's does).
    """
    _check_positive(max_length=max_length, window=window)
    if window % 2:
        raise ConfigError(f"--window must be even (window / 2 tokens on each side), got {window}")
    src = load_source(source, "Longformer")
    pad = src.config.pad_token_id or 0
    config = LongformerConfig(**_shared_fields(src), max_position_embeddings=max_length + pad + 1,
                              attention_window=window)
    body = dict(src.body)
    body[POSITIONS] = tiled_positions(body[POSITIONS], max_length, offset=pad + 1)
    local = re.compile(r"attention\.self\.(query|key|value)\.")
    body |= {local.sub(r"attention.self.\1_global.", k): v for k, v in src.body.items() if local.search(k)}
    mlm = {"cls.predictions.transform.dense": "lm_head.dense",
           "cls.predictions.transform.LayerNorm": "lm_head.layer_norm",
           "cls.predictions.decoder": "lm_head.decoder", "cls.predictions.bias": "lm_head.bias"}
    return _save(_build("Longformer", "Longformer", config, src, body, mlm), src.tokenizer, target, max_length)


def convert_bert_to_bigbird(source: str | Path, target: str | Path, *, max_length: int = 4096, block_size: int = 64,
                            num_random_blocks: int = 3) -> Path:
    """Write a BigBird (block-sparse) copy of the BERT checkpoint ``source`` to ``target``.

    Inputs of up to ``(5 + 2 * num_random_blocks) * block_size`` tokens (704 with the defaults) run
    full attention, and there the model equals BERT. The library then switches the loaded model to
    full attention for good: call ``model.set_attention_type("block_sparse")`` before longer inputs.
    BigBird's pooler is a bare Linear (``pooler``, BERT's ``pooler.dense``); its token classifier
    carries a pooler that it never uses, kept as initialised when the source has none.
    """
    _check_positive(max_length=max_length, block_size=block_size)
    if num_random_blocks < 0:
        raise ConfigError(f"--num-random-blocks must be 0 or more, got {num_random_blocks}")
    src = load_source(source, "BigBird")
    config = BigBirdConfig(**_shared_fields(src), max_position_embeddings=max_length, attention_type="block_sparse",
                           block_size=block_size, num_random_blocks=num_random_blocks)
    body = renamed(src.body, {"pooler.dense": "pooler"})
    body[POSITIONS] = tiled_positions(body[POSITIONS], max_length)
    new = () if "pooler.weight" in body else ("pooler.",)
    return _save(_build("BigBird", "BigBird", config, src, body, new=new), src.tokenizer, target, max_length)


def convert_bert_to_nystromformer(source: str | Path, target: str | Path, *, max_length: int = 4096,
                                  num_landmarks: int = 64) -> Path:
    """Write a Nyströmformer copy of the BERT checkpoint ``source`` to ``target``.

    ``segment_means_seq_len`` is ``max_length``; with ``num_landmarks == max_length`` the model runs
    full attention and equals BERT. With fewer landmarks it approximates softmax attention, and even
    on inputs no longer than ``num_landmarks`` (each token its own landmark) it is not exact: the
    pseudo-inverse is six Newton–Schulz iterations. Positions start at id 2 (rows 0–1 unused).
    Nyströmformer adds a depthwise convolution of the values (kernel 65) that BERT lacks, and its
    config cannot drop it: it starts at zero, adding nothing until trained. BERT's pooler is dropped
    (Nyströmformer has none). The library's landmark attention takes only inputs of exactly
    ``segment_means_seq_len`` tokens and no padding: load with :func:`kd.model.load_model` or call
    :func:`kd.nystrom.patch_nystromformer`.
    """
    _check_positive(max_length=max_length, num_landmarks=num_landmarks)
    if num_landmarks > max_length:
        raise ConfigError(f"--num-landmarks ({num_landmarks}) cannot exceed --max-length ({max_length})")
    src = load_source(source, "Nyströmformer")
    config = NystromformerConfig(**_shared_fields(src), max_position_embeddings=max_length,
                                 segment_means_seq_len=max_length, num_landmarks=num_landmarks)
    body = {k: v for k, v in src.body.items() if not k.startswith("pooler.")}
    body[POSITIONS] = tiled_positions(body[POSITIONS], max_length, offset=2)
    conv_shape = (config.num_attention_heads, 1, config.conv_kernel_size, 1)
    body |= {f"encoder.layer.{i}.attention.self.conv.weight": torch.zeros(conv_shape)
             for i in range(config.num_hidden_layers)}
    return _save(_build("Nyströmformer", "Nystromformer", config, src, body), src.tokenizer, target, max_length)


CONVERTERS = {"lsg": convert_bert_to_lsg, "longformer": convert_bert_to_longformer,
              "bigbird": convert_bert_to_bigbird, "nystromformer": convert_bert_to_nystromformer}


def convert(source: str | Path, target: str | Path, attention: str, *, max_length: int = 4096, **options) -> Path:
    """Convert ``source`` to the ``attention`` architecture (a key of :data:`CONVERTERS`) with that
    converter's ``options``; :class:`ConfigError` for an option another architecture takes."""
    if attention not in CONVERTERS:
        raise ConfigError(f"--attention must be one of {', '.join(CONVERTERS)}, got {attention!r}")
    function = CONVERTERS[attention]
    own = [p for p in inspect.signature(function).parameters if p not in ("source", "target", "max_length")]
    wrong = [name for name in options if name not in own]
    if wrong:
        raise ConfigError(f"{_as_flags(wrong)} does not apply to {attention} (its options: {_as_flags(own)})")
    return function(source, target, max_length=max_length, **options)
