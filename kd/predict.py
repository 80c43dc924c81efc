"""``gonerd kd predict``: tag raw text, a documents parquet or CoNLL files with a trained model.

Text is tokenised with spaCy's English tokenizer (the tokens ``gonerd label`` uses); output is
JSONL with ``id``, ``tokens``, ``spaces``, IOB2 ``ner_tags``, character ``spans`` and the model
as ``label_source`` — or, with ``--format conll``, one ``token tag`` line per token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from gonerd.errors import InputError
from gonerd.label.merge import iob2_to_spans, token_offsets
from kd.model import LoadedModel, load_model, model_max_length, tag_sequences


@dataclass
class InputDoc:
    """One document to tag: tokens, their trailing-space flags and sentence starts (CoNLL only)."""

    id: str
    tokens: list[str]
    spaces: list[bool]
    sentence_starts: list[int] | None = None


def _tokenize(nlp, text: str) -> tuple[list[str], list[bool]]:
    doc = nlp(text)
    return [t.text for t in doc], [bool(t.whitespace_) for t in doc]


def read_inputs(path: str | Path) -> Iterator[InputDoc]:
    """Documents of a ``.txt`` file (one document), ``.jsonl``/``.parquet`` rows with ``text``, or a CoNLL file.

    Raises :class:`InputError` naming file and row for a missing or empty ``text``.
    """
    import spacy

    path = Path(path)
    if not path.is_file():
        raise InputError("no such input file", str(path))
    nlp = spacy.blank("en")
    if path.suffix in (".parquet", ".jsonl"):
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            if "text" not in table.column_names:
                raise InputError(f"no 'text' column (has: {', '.join(table.column_names)})", str(path), field="text")
            rows = table.to_pylist()
        else:
            with path.open(encoding="utf-8") as fh:
                rows = [json.loads(line) for line in fh if line.strip()]
        for row, rec in enumerate(rows):
            text = rec.get("text")
            if not isinstance(text, str) or not text.strip():
                raise InputError("empty document (no text)", str(path), offset=row, field="text")
            tokens, spaces = _tokenize(nlp, text)
            yield InputDoc(str(rec.get("id") or f"{path.name}:{row}"), tokens, spaces)
    elif path.suffix == ".txt" and not _looks_like_conll(path):
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            raise InputError("empty document (no text)", str(path), field="text")
        tokens, spaces = _tokenize(nlp, text)
        yield InputDoc(path.stem, tokens, spaces)
    else:
        from gonerd.conll import read_conll

        for doc in read_conll(path):
            yield InputDoc(doc.id, doc.tokens, [True] * len(doc.tokens), doc.sentence_starts)


def _looks_like_conll(path: Path) -> bool:
    """A ``.txt`` whose first non-blank line is ``-DOCSTART-`` or ``token ... TAG`` columns is CoNLL."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            cols = line.split()
            if cols:
                last = cols[-1]
                return cols[0] == "-DOCSTART-" or (len(cols) >= 2 and (last == "O" or last[:2] in ("B-", "I-")))
    return False


def document_record(doc: InputDoc, tags: list[str], source: str) -> dict:
    """The labeled-document fields of one tagged document (character spans are token-snapped).

    ``tags`` must be strict IOB2, as :func:`kd.model.tag_sequences` returns them.
    """
    offsets = token_offsets(doc.tokens, doc.spaces)
    spans = [{"start": offsets[s][0], "end": offsets[e - 1][1], "label": kind,
              "text": " ".join(doc.tokens[s:e]) if doc.sentence_starts is not None
              else "".join(t + (" " if sp else "") for t, sp in zip(doc.tokens[s:e], doc.spaces[s:e])).rstrip(),
              "token_start": s, "token_end": e} for s, e, kind in iob2_to_spans(tags)]
    return {"id": doc.id, "tokens": doc.tokens, "spaces": doc.spaces, "ner_tags": tags, "spans": spans,
            "label_source": source}


def predict_documents(loaded: LoadedModel, docs: list[InputDoc], *, max_length: int = 512, stride: int = 128,
                      truncate: bool = False, batch_size: int = 32, progress: bool = False) -> tuple[list[list[str]], int]:
    """IOB2 tags for each document (whole document, windowed) and the number of truncated documents."""
    for d in docs:
        if not d.tokens:
            raise InputError("empty document (no tokens)", d.id, field="tokens")
    tagged = tag_sequences(loaded, [d.tokens for d in docs], max_length=max_length, stride=stride, truncate=truncate,
                           batch_size=batch_size, progress=progress)
    return tagged.tags, tagged.n_truncated


def predict_command(model: str, input_path: str, output: str, *, fmt: str = "jsonl", max_length: int = 512,
                    stride: int = 128, truncate: bool = False, batch_size: int = 32, torch_threads: int | None = None,
                    progress: bool = False) -> int:
    """Tag ``input_path`` and write ``output`` (JSONL records or CoNLL ``token tag`` lines); return #documents."""
    import torch

    if torch_threads:
        torch.set_num_threads(torch_threads)
    loaded = load_model(model)
    docs = list(read_inputs(input_path))
    length = min(max_length, model_max_length(loaded))
    tags, n_truncated = predict_documents(loaded, docs, max_length=length, stride=min(stride, length // 2),
                                          truncate=truncate, batch_size=batch_size, progress=progress)
    if n_truncated:
        print(f"kd predict: n_truncated={n_truncated} document(s) cut to {length} sub-tokens (--truncate)")
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    source = f"model:{loaded.path}"
    with out.open("w", encoding="utf-8") as fh:
        for doc, doc_tags in zip(docs, tags):
            if fmt == "conll":
                starts = set(doc.sentence_starts or [0])
                fh.write("-DOCSTART- O\n\n")
                for i, (tok, tag) in enumerate(zip(doc.tokens, doc_tags)):
                    if i in starts and i:
                        fh.write("\n")
                    fh.write(f"{tok} {tag}\n")
                fh.write("\n")
            else:
                fh.write(json.dumps(document_record(doc, doc_tags, source)) + "\n")
    return len(docs)
