"""``gonerd kd predict``: tag raw text, a documents parquet or CoNLL files with a trained model.

The input format is chosen by ``--input-format`` or the extension; content decides only when it
is unambiguous (:func:`input_format`), so prose ending in "I-95" stays prose. Text is tokenised
with spaCy's English tokenizer into words (the words ``gonerd label`` uses: no whitespace-only
tokens); output is JSONL labeled-document records — ``id``, ``text``, ``tokens``, ``whitespace``
(the text after each word), IOB2 ``ner_tags``, character ``spans`` and the model as
``label_source`` — or, with ``--format conll``, ``-DOCSTART- <id>`` and one ``token tag`` line per word.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from gonerd.conll import DOCSTART, iob1_to_iob2, read_conll
from gonerd.errors import InputError
from gonerd.label.merge import iob2_to_spans, token_offsets, words
from kd.config import portable_path
from kd.model import LoadedModel, load_model, model_max_length, run_windows, tag_sequences


@dataclass
class InputDoc:
    """One document to tag: its words, the text after each, leading whitespace, sentence starts (CoNLL only)."""

    id: str
    tokens: list[str]
    whitespace: list[str]
    lead: str = ""
    sentence_starts: list[int] | None = None

    @property
    def text(self) -> str:
        """The document's text, rebuilt from its words."""
        return self.lead + "".join(t + w for t, w in zip(self.tokens, self.whitespace))


INPUT_FORMATS = ("text", "conll", "jsonl", "parquet")
TEXT_SUFFIXES = (".txt", ".text", ".md")
CONLL_SUFFIXES = (".conll", ".iob", ".bio")
# A NER tag as the last CoNLL column: O, or B-/I- and a type made of letters (so "I-95", "B-52" are not).
_TAG = re.compile(r"O|[BI]-[A-Za-z][A-Za-z_]*")


def text_document(nlp, doc_id: str, text: str) -> InputDoc:
    """``text`` cut into words by ``nlp``'s tokenizer (whitespace-only tokens are not words)."""
    doc = nlp(text)
    tokens, whitespace, _ = words([t.text for t in doc], [t.idx for t in doc], text)
    lead = text[:len(text) - sum(len(t) + len(w) for t, w in zip(tokens, whitespace))]
    return InputDoc(doc_id, tokens, whitespace, lead)


def read_utf8(path: Path) -> str:
    """The text of ``path``; :class:`InputError` naming the file and line of the first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[e.start]:02x}); convert the file to UTF-8", str(path),
                         line=line) from None


def looks_like_conll(text: str, lines: int = 50) -> bool:
    """Whether ``text`` can only be CoNLL: its first non-blank line is ``-DOCSTART-``, or at least two of
    its first ``lines`` non-blank lines are, every one, ``token ... TAG`` with the same number of columns."""
    rows = [line.split() for line in text.split("\n")[:lines] if line.strip()]
    if rows and rows[0][0] == DOCSTART:
        return True
    widths = {len(r) for r in rows}
    return len(rows) >= 2 and len(widths) == 1 and min(widths) >= 2 and all(_TAG.fullmatch(r[-1]) for r in rows)


def input_format(path: Path, given: str | None = None) -> str:
    """The format to read ``path`` as: ``given`` (``--input-format``), else by extension (``.jsonl``,
    ``.parquet``, ``.conll``), else CoNLL when the content is unambiguously CoNLL, else text for
    ``.txt``; any other file must be named with ``--input-format``."""
    if given is not None:
        if given not in INPUT_FORMATS:
            raise InputError(f"input format must be one of {', '.join(INPUT_FORMATS)}, got {given!r}", str(path))
        return given
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".parquet"):
        return suffix[1:]
    if suffix in CONLL_SUFFIXES or looks_like_conll(read_utf8(path)):
        return "conll"
    if suffix in TEXT_SUFFIXES:
        return "text"
    raise InputError(f"cannot tell the format of a {suffix or 'suffix-less'} file that is not clearly CoNLL; "
                     f"pass --input-format {'|'.join(INPUT_FORMATS)}", str(path))


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line; one-line errors for bad JSON or a non-object."""
    for lineno, line in enumerate(read_utf8(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"not valid JSON ({e.msg}, column {e.colno})", str(path), line=lineno) from None
        if not isinstance(rec, dict):
            raise InputError(f"not a JSON object (a {type(rec).__name__}); each line must be "
                             '{"id": ..., "text": ...}', str(path), line=lineno)
        yield lineno, rec


def _docstart_ids(text: str) -> list[str | None]:
    """The id after each ``-DOCSTART-`` whose document has tokens, in order, as :func:`read_conll` keeps
    documents (``None`` where the line names none, and for tokens before any ``-DOCSTART-``)."""
    ids: list[str | None] = []
    current, has_tokens = None, False
    for line in text.split("\n"):
        cols = line.split()
        if cols and cols[0] == DOCSTART:
            if has_tokens:
                ids.append(current)
            named = len(cols) > 1 and cols[1] not in ("-X-", "O")
            current, has_tokens = (cols[1] if named else None), False
        elif cols:
            has_tokens = True
    if has_tokens:
        ids.append(current)
    return ids


def read_inputs(path: str | Path, fmt: str | None = None) -> Iterator[InputDoc]:
    """Documents of ``path`` read as ``fmt`` (see :func:`input_format`): a text file is one document,
    JSONL lines and parquet rows are objects with ``text`` (and ``id``), a CoNLL file keeps its
    ``-DOCSTART- <id>`` documents and sentences.

    Raises :class:`InputError` naming file and line (row for parquet) for bad or empty input.
    """
    import spacy

    path = Path(path)
    if not path.is_file():
        raise InputError("no such input file", str(path))
    fmt = input_format(path, fmt)
    nlp = spacy.blank("en")  # the tokenizer only: no model to load
    if fmt == "conll":
        ids = _docstart_ids(read_utf8(path))
        docs = read_conll(path)
        for i, doc in enumerate(docs):
            name = ids[i] if len(ids) == len(docs) and ids[i] else doc.id
            yield InputDoc(name, doc.tokens, [" "] * (len(doc.tokens) - 1) + [""], "", doc.sentence_starts)
        return
    if fmt == "text":
        text = read_utf8(path)
        if not text.strip():
            raise InputError("empty document (no text)", str(path), field="text")
        yield text_document(nlp, path.stem, text)
        return
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if "text" not in table.column_names:
            raise InputError(f"no 'text' column (has: {', '.join(table.column_names)})", str(path), field="text")
        rows = [(row, {"offset": row}, rec) for row, rec in enumerate(table.to_pylist())]
    else:
        rows = [(row, {"line": lineno}, rec) for row, (lineno, rec) in enumerate(_jsonl_rows(path))]
    for row, where, rec in rows:
        text = rec.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError("empty document (no text)" if isinstance(text, str) or text is None
                             else f"text must be a string, not {type(text).__name__}", str(path), field="text",
                             **where)
        yield text_document(nlp, str(rec.get("id") or f"{path.name}:{row}"), text)


def document_record(doc: InputDoc, tags: list[str], source: str) -> dict:
    """The labeled-document fields of one tagged document (character spans are token-snapped).

    ``tags`` must be strict IOB2, as :func:`kd.model.tag_sequences` returns them.
    """
    text = doc.text
    offsets = token_offsets(doc.tokens, doc.whitespace, start=len(doc.lead))
    spans = [{"start": offsets[s][0], "end": offsets[e - 1][1], "label": kind,
              "text": text[offsets[s][0]:offsets[e - 1][1]], "token_start": s, "token_end": e}
             for s, e, kind in iob2_to_spans(tags)]
    return {"id": doc.id, "text": text, "tokens": doc.tokens, "whitespace": doc.whitespace, "ner_tags": tags,
            "spans": spans, "label_source": source}


def predict_documents(loaded: LoadedModel, docs: list[InputDoc], *, max_length: int = 512, stride: int = 128,
                      truncate: bool = False, batch_size: int = 32, progress: bool = False) -> tuple[list[list[str]], int]:
    """IOB2 tags for each document (whole document, windowed) and the number of truncated documents."""
    for d in docs:
        if not d.tokens:
            raise InputError("empty document (no tokens)", d.id, field="tokens")
    tagged = tag_sequences(loaded, [d.tokens for d in docs], max_length=max_length, stride=stride, truncate=truncate,
                           batch_size=batch_size, progress=progress)
    return tagged.tags, tagged.n_truncated


def word_probabilities(loaded: LoadedModel, sequences: Sequence[Sequence[str]], *, max_length: int = 512,
                       stride: int = 128, batch_size: int = 32) -> list[list[float | None]]:
    """The model's confidence in each word's tag: the largest softmax probability over the tags at the
    word's first sub-token, in the window :func:`kd.model.tag_sequences` tags it from (``None`` for a
    word without sub-tokens). ``max_length`` is capped at the model's; windows overlap by ``stride``."""
    length = min(max_length, model_max_length(loaded))
    run = run_windows(loaded, sequences, lambda logits: logits.float().softmax(-1).amax(-1), max_length=length,
                      stride=min(stride, length // 2), batch_size=batch_size)
    return [run.word_values(i) for i in range(len(sequences))]


def conll_lines(doc: InputDoc, tags: list[str]) -> Iterator[str]:
    """``-DOCSTART- <id>`` then ``token tag`` lines, a blank line after each sentence, as ``gonerd stats``
    and ``gonerd kd eval`` read them.

    Sentences are the input's (CoNLL) or end at line breaks (text); whitespace inside an id becomes
    ``_`` so the id stays one column.
    """
    sentences: list[list[tuple[str, str]]] = [[]]
    starts = set(doc.sentence_starts or ())
    for i, (token, tag) in enumerate(zip(doc.tokens, tags)):
        if sentences[-1] and (i in starts or "\n" in doc.whitespace[i - 1]):
            sentences.append([])
        sentences[-1].append((token, tag))
    yield f"{DOCSTART} {'_'.join(doc.id.split())}"
    yield ""
    for sentence in filter(None, sentences):
        fixed = iob1_to_iob2([tag for _, tag in sentence])  # a sentence may now start inside an entity
        yield from (f"{token} {tag}" for (token, _), tag in zip(sentence, fixed))
        yield ""


def predict_command(model: str, input_path: str, output: str, *, fmt: str = "jsonl", input_fmt: str | None = None,
                    max_length: int = 512, stride: int = 128, truncate: bool = False, batch_size: int = 32,
                    torch_threads: int | None = None, progress: bool = False) -> int:
    """Tag ``input_path`` (read as ``input_fmt``, see :func:`input_format`) and write ``output``: JSONL
    records, or CoNLL (:func:`conll_lines`) with ``fmt="conll"``; return the number of documents.

    The input is read and checked before the model is loaded, and the output is written only after
    every document is tagged.
    """
    import torch

    docs = list(read_inputs(input_path, input_fmt))
    if torch_threads:
        torch.set_num_threads(torch_threads)
    loaded = load_model(model)
    length = min(max_length, model_max_length(loaded))
    tags, n_truncated = predict_documents(loaded, docs, max_length=length, stride=min(stride, length // 2),
                                          truncate=truncate, batch_size=batch_size, progress=progress)
    if n_truncated:
        print(f"kd predict: n_truncated={n_truncated} document(s) cut to {length} sub-tokens (--truncate)")
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    source = f"model:{portable_path(loaded.path)}"
    with out.open("w", encoding="utf-8") as fh:
        for doc, doc_tags in zip(docs, tags):
            if fmt == "conll":
                fh.writelines(line + "\n" for line in conll_lines(doc, doc_tags))
            else:
                fh.write(json.dumps(document_record(doc, doc_tags, source)) + "\n")
    return len(docs)
