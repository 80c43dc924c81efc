"""Loading token-classification models from local paths and tagging word sequences with them."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from gonerd.conll import iob1_to_iob2
from gonerd.errors import InputError
from kd.windows import Encoding, content_offset, encode_words

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                   "tokenizer.model")


def resolve_model_path(name: str | Path) -> Path:
    """A model directory: ``name`` itself, or the ``model/`` folder of an installed weights package."""
    path = Path(name)
    if path.is_dir():
        return path
    spec = importlib.util.find_spec(str(name)) if str(name).isidentifier() else None
    if spec is not None and spec.origin is not None:
        pkg_dir = Path(spec.origin).parent / "model"
        if pkg_dir.is_dir():
            return pkg_dir
    raise InputError("no such model directory (nor an installed package with a model/ folder)", str(name))


def load_tokenizer(path: Path):
    """The fast tokenizer saved in ``path``; :class:`InputError` naming the folder when there is none."""
    from transformers import AutoTokenizer

    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise InputError(f"model directory has no tokenizer (none of {', '.join(TOKENIZER_FILES)})", str(path),
                         field="tokenizer")
    try:
        tok = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot load the tokenizer: {e}", str(path), field="tokenizer") from e
    if not tok.is_fast:
        raise InputError("the tokenizer is not a fast tokenizer (word alignment needs one)", str(path),
                         field="tokenizer")
    if "ByteLevel" in str(tok.backend_tokenizer.pre_tokenizer) and not tok.add_prefix_space:
        # RoBERTa-style BPE: a word inside running text carries a leading space ("Ġword"), so
        # pre-split words must get one too or they are tokenised as sentence-initial pieces.
        tok = AutoTokenizer.from_pretrained(str(path), add_prefix_space=True)
    return tok


@dataclass
class LoadedModel:
    """A token-classification model, its tokenizer, its tag names and the weights initialised fresh."""

    model: object
    tokenizer: object
    labels: tuple[str, ...]
    path: Path
    fresh: list[str]


def load_model(name: str | Path, labels: Sequence[str] | None = None) -> LoadedModel:
    """Load any ``AutoModelForTokenClassification`` from a local path (or an int8 export, see :mod:`kd.export`).

    With ``labels``, the head is sized for them; a checkpoint without a head (or with other labels)
    gets a freshly initialised head, and the names of those weights are returned in ``fresh``.
    Without ``labels``, the checkpoint's own ``id2label`` is used (a trained NER model).
    """
    from transformers import AutoConfig, AutoModelForTokenClassification
    from transformers.utils import logging as hf_logging

    import kd.lsg  # noqa: F401  (registers the lsg_bert model type with the Auto classes)
    from kd.onnx_model import EXPORT_RECORD, ONNX_FILE, OnnxTokenClassifier, is_export

    path = resolve_model_path(name)
    if not (path / "config.json").is_file():
        raise InputError("model directory has no config.json", str(path), field="config")
    tokenizer = load_tokenizer(path)
    config = AutoConfig.from_pretrained(str(path))
    exported = is_export(path)
    if exported and labels is not None:
        raise InputError("an int8 export is for prediction only (no new head, no training); use the fp32 model "
                         "it was made from", str(path / EXPORT_RECORD))
    if labels is None:
        id2label = getattr(config, "id2label", None) or {}
        labels = tuple(id2label[i] for i in sorted(id2label))
        if not labels or all(l.startswith("LABEL_") for l in labels):
            raise InputError("the model has no NER label names (id2label); train it with `gonerd kd train-ner`",
                             str(path / "config.json"), field="id2label")
    labels = tuple(labels)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {l: i for i, l in enumerate(labels)}
    if exported:
        return LoadedModel(OnnxTokenClassifier(path / ONNX_FILE, config), tokenizer, labels, path, [])
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the fresh-head warning is reported by us, precisely
    try:
        model, info = AutoModelForTokenClassification.from_pretrained(
            str(path), config=config, ignore_mismatched_sizes=True, output_loading_info=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    fresh = sorted(set(info.get("missing_keys", [])) | {k for k, *_ in info.get("mismatched_keys", [])})
    if config.model_type == "nystromformer":
        from kd.nystrom import patch_nystromformer

        patch_nystromformer(model)  # the library's landmark attention breaks on padded batches
    return LoadedModel(model, tokenizer, labels, path, fresh)


def model_max_length(loaded: LoadedModel) -> int:
    """The longest input the model accepts, in sub-tokens (specials included)."""
    n = getattr(loaded.tokenizer, "model_max_length", None)
    if isinstance(n, int) and 0 < n < 1_000_000:
        return n
    return int(getattr(loaded.model.config, "max_position_embeddings", 512))


# RoBERTa-style models number positions from the pad id + 1, so they hold fewer positions than they store.
OFFSET_POSITIONS = ("roberta", "longformer", "xlm-roberta")


def position_limit(config) -> int:
    """The longest input, in tokens, that the model's position embeddings cover."""
    n = int(config.max_position_embeddings)
    if config.model_type in OFFSET_POSITIONS:
        return n - int(config.pad_token_id if config.pad_token_id is not None else 1) - 1
    return n


def full_attention_note(config, max_length: int) -> str | None:
    """A warning when every ``max_length`` window makes an efficient-attention model run full
    attention (so the efficient path is neither trained nor measured); ``None`` otherwise."""
    kind = config.model_type
    if kind == "big_bird" and config.attention_type == "block_sparse":
        # BigBird falls back to full attention up to (5 + 2 * random blocks) * block size tokens
        limit = (5 + 2 * config.num_random_blocks) * config.block_size
    elif kind == "lsg_bert":
        limit = 2 * config.block_size  # as in the original: local blocks cover such inputs whole
    elif kind == "nystromformer" and config.num_landmarks != config.segment_means_seq_len:
        limit = config.num_landmarks  # as many landmarks as tokens: exact attention
    else:
        return None
    if max_length > limit:
        return None
    return (f"{kind}: windows of {max_length} sub-tokens run full attention (its efficient path starts above "
            f"{limit}); raise max_length to train and measure the efficient attention")


@dataclass
class Tagged:
    """Predicted IOB2 tags per sequence, plus how many sequences were truncated and words left unscored."""

    tags: list[list[str]]
    n_truncated: int
    n_lost_words: int
    n_windows: int


@dataclass
class WindowRun:
    """The model run over every window of some word sequences: their encodings, one list of
    per-sub-token values per ``(sequence, window)``, and how many special tokens precede the content."""

    encodings: list[Encoding]
    rows: dict[tuple[int, int], list]
    offset: int

    def word_values(self, i: int) -> list:
        """The value of each word of sequence ``i`` at its first sub-token in its best window (``None``
        for a word no window scores: outside the target, without sub-tokens, or cut by truncation)."""
        e = self.encodings[i]
        return [None if k < 0 else self.rows[(i, k)][self.offset + first - e.windows[k][0]]
                for first, k in zip(e.first, e.best)]


def run_windows(loaded: LoadedModel, sequences: Sequence[Sequence[str]], reduce: Callable[[Any], Any], *,
                max_length: int, stride: int, truncate: bool = False, batch_size: int = 32,
                targets: Sequence[tuple[int, int] | None] | None = None, progress: bool = False) -> WindowRun:
    """Cut each word sequence into windows (:func:`kd.windows.encode_words`) and run the model over them in
    batches of similar length; ``reduce`` turns a batch's logits ``(batch, sub-tokens, labels)`` into one
    value per sub-token (e.g. the arg-max label)."""
    import torch
    from tqdm.auto import tqdm

    model, tok = loaded.model, loaded.tokenizer
    encs: list[Encoding] = [encode_words(tok, list(words), max_length=max_length, stride=stride, truncate=truncate,
                                         target=targets[i] if targets else None)
                            for i, words in enumerate(sequences)]
    jobs = [(i, k) for i, e in enumerate(encs) for k in range(len(e.windows))]
    jobs.sort(key=lambda j: len(encs[j[0]].window_ids[j[1]]))  # similar lengths batch with little padding
    rows_out: dict[tuple[int, int], list] = {}
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    device = model.device
    with torch.inference_mode():
        for b in tqdm(range(0, len(jobs), batch_size), desc="tagging", unit="batch", disable=not progress):
            batch = jobs[b:b + batch_size]
            rows = [encs[i].window_ids[k] for i, k in batch]
            width = max(len(r) for r in rows)
            ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, row in enumerate(rows):
                ids[r, :len(row)] = torch.tensor(row)
                mask[r, :len(row)] = 1
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            for (i, k), row in zip(batch, reduce(logits).tolist()):
                rows_out[(i, k)] = row
    model.train(was_training)
    return WindowRun(encs, rows_out, content_offset(tok))


def tag_sequences(loaded: LoadedModel, sequences: Sequence[Sequence[str]], *, max_length: int, stride: int,
                  truncate: bool = False, batch_size: int = 32,
                  targets: Sequence[tuple[int, int] | None] | None = None, progress: bool = False) -> Tagged:
    """Tag each word sequence with the model, window by window; each word scored from its best window.

    Words outside a sequence's ``target`` (context only) are returned as ``O``; words the
    tokenizer maps to no sub-token, or that truncation cut off, are ``O`` and counted.
    """
    run = run_windows(loaded, sequences, lambda logits: logits.argmax(-1), max_length=max_length, stride=stride,
                      truncate=truncate, batch_size=batch_size, targets=targets, progress=progress)
    out = []
    for i in range(len(sequences)):
        tags = ["O" if k is None else loaded.labels[k] for k in run.word_values(i)]
        out.append(iob1_to_iob2(tags))  # a stray predicted I-X starts an entity
    return Tagged(out, sum(e.truncated for e in run.encodings), sum(e.n_lost_words for e in run.encodings),
                  len(run.rows))
