"""``gonerd kd corpus``: documents → packed, tokenized sequences for masked-language-model pretraining.

Documents (a ``gonerd docs`` documents.parquet, a labeled.parquet, JSONL with ``text``, ``.txt``
files, or folders of them) are tokenized without specials and laid end to end, each followed by the
separator (``[SEP]`` / ``</s>``): one token stream per split. The stream is cut into sequences of
exactly ``max_length`` tokens, each starting with ``[CLS]`` / ``<s>``; the last, partial sequence is
**kept, padded** with the pad token, so every token of every document is in the corpus exactly once
and in order. A seeded share of the documents (5% by default, chosen by document, never by
sequence) forms the held-out split, so no document is in both.

Because the stream is recoverable from the sequences (drop each leading ``[CLS]`` and the padding),
:func:`recut` turns a 4,096-token corpus into 512-token sequences of the same text: one corpus
serves the short and the long phase of pretraining.

Output folder: ``train.parquet`` and ``heldout.parquet`` (column ``input_ids``) and
``corpus.json`` (tokenizer, lengths, counts, sources, seed, command). Each file is written
atomically and ``corpus.json`` last: a folder with a ``corpus.json`` is complete, and a rerun of
the same command on it does nothing.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gonerd.errors import InputError, OutputError
from kd.record import portable_command

SPLITS = ("train", "heldout")
CORPUS_FILE = "corpus.json"
INPUT_SUFFIXES = (".parquet", ".jsonl", ".txt")
DOCUMENT_FILES = ("documents.parquet", "labeled.parquet")  # what `gonerd docs` / `gonerd label` write


@dataclass(frozen=True)
class CorpusDocument:
    """One input document: its id, its text and the file it came from."""

    id: str
    text: str
    source: str


@dataclass(frozen=True)
class SpecialIds:
    """The ids that frame packed sequences: start (``[CLS]``/``<s>``), separator (``[SEP]``/``</s>``), pad."""

    start: int
    sep: int
    pad: int


def special_ids(tokenizer) -> SpecialIds:
    """The framing ids of ``tokenizer`` (BERT's ``[CLS]``/``[SEP]``, or RoBERTa's ``<s>``/``</s>``)."""
    start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if start is None or sep is None or tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer needs a start ([CLS]/<s>), a separator ([SEP]/</s>) and a pad token")
    return SpecialIds(start, sep, tokenizer.pad_token_id)


def model_name(name: str | Path) -> str:
    """How a record names a model: its portable path when it is a folder, else the weights package's name."""
    from kd.config import portable_path

    return portable_path(name) if Path(name).is_dir() else str(name)


def vocab_fingerprint(tokenizer) -> str:
    """SHA-256 of the tokenizer's vocabulary (token → id): a corpus is usable only by models that share it."""
    import hashlib

    return hashlib.sha256(json.dumps(sorted(tokenizer.get_vocab().items())).encode()).hexdigest()


def input_files(inputs: list[str | Path]) -> list[Path]:
    """The files to read: each file given, and for a folder its documents.parquet or labeled.parquet
    when it has one, else every .parquet/.jsonl/.txt file under it (sorted)."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_file():
            files.append(item)
        elif item.is_dir():
            own = [item / name for name in DOCUMENT_FILES if (item / name).is_file()]
            found = own[:1] or sorted(p for p in item.rglob("*") if p.is_file() and p.suffix in INPUT_SUFFIXES)
            if not found:
                raise InputError(f"no documents here (no {' or '.join(DOCUMENT_FILES)}, "
                                 f"no {'/'.join(INPUT_SUFFIXES)} files)", str(item))
            files += found
        else:
            raise InputError("no such file or folder", str(item))
    return files


def _text(value: Any, path: Path, **where: Any) -> str:
    if not isinstance(value, str):
        raise InputError(f"text must be a string, not {type(value).__name__}", str(path), field="text", **where)
    return value


def read_file_documents(path: Path) -> list[CorpusDocument]:
    """The documents of one input file: parquet rows or JSONL lines with ``text`` (and ``id``), or a
    whole ``.txt`` file; :class:`InputError` naming the file (and row or line) for bad input."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        try:
            return [CorpusDocument(path.name, path.read_text(encoding="utf-8"), str(path))]
        except UnicodeDecodeError as e:
            raise InputError(f"not UTF-8 text (byte offset {e.start}); convert the file to UTF-8", str(path)) from None
    if suffix == ".parquet":
        from gonerd.pipeline.io import read_parquet_records

        rows = read_parquet_records(path, path.name, ("text",), "gonerd docs")
        return [CorpusDocument(str(r.get("id") or f"{path.name}:{i}"), _text(r.get("text"), path, offset=i), str(path))
                for i, r in enumerate(rows)]
    if suffix == ".jsonl":
        from gonerd.pipeline.io import iter_jsonl

        docs = []
        for lineno, rec in iter_jsonl(path):
            if not isinstance(rec, dict):
                raise InputError("not a JSON object; each line must be {\"id\": ..., \"text\": ...}", str(path),
                                 line=lineno)
            docs.append(CorpusDocument(str(rec.get("id") or f"{path.name}:{lineno}"),
                                       _text(rec.get("text"), path, line=lineno), str(path)))
        return docs
    raise InputError(f"cannot read a {suffix or 'suffix-less'} file as documents "
                     f"(expected {', '.join(INPUT_SUFFIXES)})", str(path))


def heldout_indices(n_documents: int, share: float, seed: int) -> set[int]:
    """Which of ``n_documents`` go to the held-out split: ``ceil(share · n)`` of them, chosen by a seeded
    permutation (at least one when ``share > 0`` and there are two documents or more)."""
    import torch

    if share <= 0 or n_documents < 2:
        return set()
    k = min(n_documents - 1, max(1, math.ceil(share * n_documents)))
    order = torch.randperm(n_documents, generator=torch.Generator().manual_seed(seed)).tolist()
    return set(order[:k])


def token_stream(documents: list[list[int]], sep: int) -> list[int]:
    """The documents' tokens end to end, each document followed by the separator."""
    stream: list[int] = []
    for ids in documents:
        stream += ids
        stream.append(sep)
    return stream


def pack(stream: list[int], max_length: int, ids: SpecialIds) -> list[list[int]]:
    """Sequences of exactly ``max_length``: the start token, then the next ``max_length − 1`` stream
    tokens; the last sequence padded."""
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2, got {max_length}")
    width = max_length - 1
    seqs = [[ids.start] + stream[i:i + width] for i in range(0, len(stream), width)]
    if seqs:
        seqs[-1] += [ids.pad] * (max_length - len(seqs[-1]))
    return seqs


def unpack(sequences: list[list[int]], ids: SpecialIds) -> list[int]:
    """The token stream packed into ``sequences`` (each leading start token and all padding dropped)."""
    return [t for seq in sequences for t in seq[1:] if t != ids.pad]


def recut(sequences: list[list[int]], max_length: int, ids: SpecialIds) -> list[list[int]]:
    """The same text packed at another length (e.g. a 4,096-token corpus as 512-token sequences)."""
    return pack(unpack(sequences, ids), max_length, ids)


def _write_parquet(sequences: list[list[int]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.table({"input_ids": pa.array(sequences, type=pa.list_(pa.int32()))}), tmp)
    os.replace(tmp, path)


def read_sequences(corpus_dir: str | Path, split: str = "train") -> list[list[int]]:
    """The packed sequences of one split (``train`` or ``heldout``) of a ``gonerd kd corpus`` folder."""
    import pyarrow.parquet as pq

    path = Path(corpus_dir) / f"{split}.parquet"
    if not path.is_file():
        raise InputError(f"no {split}.parquet here (expected a `gonerd kd corpus` output folder)", str(path.parent))
    return pq.read_table(path, columns=["input_ids"]).column("input_ids").to_pylist()


def read_corpus_info(corpus_dir: str | Path) -> dict[str, Any]:
    """The ``corpus.json`` of a finished ``gonerd kd corpus`` folder."""
    path = Path(corpus_dir) / CORPUS_FILE
    if not path.is_file():
        raise InputError(f"no {CORPUS_FILE} here: not a finished `gonerd kd corpus` output folder", str(path.parent))
    return json.loads(path.read_text(encoding="utf-8"))


def _tokenize(tokenizer, docs: list[CorpusDocument], progress: bool, batch: int = 64) -> list[list[int]]:
    from tqdm.auto import tqdm
    from transformers.utils import logging as hf_logging

    out: list[list[int]] = []
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "longer than the model's maximum" is the point: we pack, not truncate
    try:
        with tqdm(total=len(docs), desc="kd corpus", unit="doc", disable=not progress) as bar:
            for i in range(0, len(docs), batch):
                chunk = [d.text for d in docs[i:i + batch]]
                out += tokenizer(chunk, add_special_tokens=False)["input_ids"]
                bar.update(len(chunk))
    finally:
        hf_logging.set_verbosity(verbosity)
    return out


def build_corpus(inputs: list[str | Path], tokenizer: str | Path, out: str | Path, *, max_length: int = 4096,
                 held_out: float = 0.05, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Tokenize and pack the documents of ``inputs`` into ``out`` (see the module docstring); return ``corpus.json``.

    Empty documents are skipped and counted. A folder that already holds a corpus built with the same
    settings is returned as is; one built with other settings is an :class:`OutputError` (never overwritten).
    """
    from kd.config import portable_path
    from kd.model import load_tokenizer, resolve_model_path

    if not 0 <= held_out < 1:
        raise ValueError(f"held_out must be in [0, 1), got {held_out}")
    out = Path(out)
    files = input_files(inputs)
    settings = {"tokenizer": model_name(tokenizer), "max_length": max_length,
                "held_out": held_out, "seed": seed, "inputs": [portable_path(p) for p in files]}
    if (out / CORPUS_FILE).is_file():
        done = read_corpus_info(out)
        if done.get("settings") == settings:
            return done
        raise OutputError(f"{out}: holds a corpus built with other settings ({CORPUS_FILE}); "
                          "choose another --out or remove it")
    tok = load_tokenizer(resolve_model_path(tokenizer))
    ids = special_ids(tok)
    docs, sources = [], []
    for path in files:
        found = read_file_documents(path)
        sources.append({"path": portable_path(path), "documents": len(found)})
        docs += found
    tokens = _tokenize(tok, docs, progress)
    kept = [i for i, t in enumerate(tokens) if t]
    if not kept:
        raise InputError("no document has any text", ", ".join(str(p) for p in files))
    held = heldout_indices(len(kept), held_out, seed)
    split_of = {i: ("heldout" if k in held else "train") for k, i in enumerate(kept)}
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, Any] = {}
    for split in SPLITS:
        members = [i for i in kept if split_of[i] == split]
        seqs = pack(token_stream([tokens[i] for i in members], ids.sep), max_length, ids)
        _write_parquet(seqs, out / f"{split}.parquet")
        counts[split] = {"documents": len(members), "sequences": len(seqs),
                         "tokens": sum(len(tokens[i]) for i in members)}
    info = {"settings": settings, "tokenizer": settings["tokenizer"], "max_length": max_length, "seed": seed,
            "held_out": held_out, "last_sequence": "kept, padded", "special_ids": vars(ids),
            "vocab_sha256": vocab_fingerprint(tok),
            "documents": len(docs), "empty_documents_skipped": len(docs) - len(kept), "splits": counts,
            "heldout_document_ids": [docs[i].id for i in kept if split_of[i] == "heldout"], "sources": sources,
            "command": portable_command(Path(sys.argv[0]).name, sys.argv[1:])}
    tmp = out / f".{CORPUS_FILE}.tmp"
    tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / CORPUS_FILE)
    return info
