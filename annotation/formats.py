"""Reading documents with pre-labels into the annotation store, and writing labels back out.

Inputs (chosen by suffix):

* a ``gonerd label``/``gonerd build`` output dir or ``labeled.parquet``: labeled-document records;
* ``.jsonl``, one document a line with ``id`` and ``text``: document JSONL (``tokens``,
  ``whitespace``, ``spans`` as character offsets on those tokens' boundaries, optional
  ``annotator``/``label_source``/``meta``), span JSONL as :func:`write_jsonl` writes it, or doccano
  JSONL (``label``: ``[[start, end, label], ...]``). Without ``tokens`` the text is tokenized with
  spaCy's English rules (no model) and each span covers the tokens it touches;
* a ``gonerd build`` dataset directory or an ``hf`` export (``data/*.parquet`` or ``arrow/``): every
  split's documents; the dataset has no text, so it becomes the words joined by a space;
* ``.json``: a Label Studio export (tasks with ``data.text`` and ``annotations`` or ``predictions``
  of ``labels`` results), tokenized the same way;
* anything else: CoNLL IOB2 (``-DOCSTART- <id> [<annotator>]`` per document, ``token tag`` lines, a
  blank line between sentences) — what :func:`write_conll` writes. CoNLL has no text: it becomes the
  tokens joined by a space, each sentence on its own line;
* with ``base`` (labeled documents, as above): a correction file — span JSONL as :func:`write_jsonl`
  writes it, or CoNLL — applied to ``base`` by :func:`gonerd.label.import_corrections`.

Outputs: span JSONL and CoNLL IOB2 (the correction formats ``gonerd build --import-corrections``
reads), Label Studio JSON, doccano JSONL, and a Hugging Face dataset directory in the layout and
features of ``gonerd build`` (:func:`write_hf`). Reading an export back gives the same documents and
spans (round trip).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gonerd.config import BuildConfig
from gonerd.conll import DOCSTART, read_conll
from gonerd.errors import InputError
from gonerd.label.core import HUMAN_PREFIX
from gonerd.label.io import read_labeled
from gonerd.label.merge import iob2_to_spans, record_offsets, spans_to_iob2, words
from gonerd.schema import ENTITY_TYPES

LABELED_FIELDS = ("id", "text", "tokens", "whitespace", "ner_tags", "spans", "label_source")
FORMATS = ("jsonl", "conll", "label-studio", "doccano", "hf")


def _document(record: dict[str, Any], prelabels: list[tuple[int, int, str]], label_source: str | None,
              meta: dict[str, Any]) -> dict[str, Any]:
    return {"id": record["id"], "text": record["text"], "tokens": list(record["tokens"]),
            "whitespace": list(record["whitespace"]), "prelabels": prelabels, "label_source": label_source,
            "meta": meta}


def _source(annotator: str | None) -> str | None:
    return f"{HUMAN_PREFIX}{annotator}" if annotator else None


def read_parquet(path: Path) -> list[dict[str, Any]]:
    """Documents of a labeled-document parquet file (or ``gonerd label`` output dir)."""
    docs = []
    for row, record in enumerate(read_labeled(path)):
        try:
            spans = iob2_to_spans(record["ner_tags"])
        except ValueError as e:
            raise InputError(str(e), str(path), offset=row, field="ner_tags") from e
        meta = {k: v for k, v in record.items() if k not in LABELED_FIELDS and v is not None}
        docs.append(_document(record, spans, record.get("label_source"), meta))
    return docs


@functools.lru_cache(maxsize=1)
def _english() -> Any:
    import spacy

    return spacy.blank("en")


def tokenize(text: str) -> tuple[list[str], list[str]]:
    """The words of ``text`` and the whitespace after each (spaCy's English tokenizer rules, no model)."""
    doc = _english().make_doc(text)
    tokens, whitespace, _ = words([t.text for t in doc], [t.idx for t in doc], text)
    return tokens, whitespace


def _token_spans(record: dict[str, Any], spans: Sequence[tuple[Any, Any, Any]], where: dict[str, Any],
                 snap: bool) -> list[tuple[int, int, str]]:
    """Character spans ``(start, end, label)`` of ``record`` as token spans: on token boundaries, or
    with ``snap`` covering every token they touch."""
    offsets = record_offsets(record)
    starts = {s: i for i, (s, _) in enumerate(offsets)}
    ends = {e: i + 1 for i, (_, e) in enumerate(offsets)}
    out = []
    for k, (start, end, label) in enumerate(spans):
        field = f"spans[{k}]"
        if label not in ENTITY_TYPES:
            raise InputError(f"unknown label {label!r} (known: {', '.join(ENTITY_TYPES)})", **where, field=field)
        if not (isinstance(start, int) and isinstance(end, int) and start < end):
            raise InputError(f"offsets {start!r}-{end!r} are not a span", **where, field=field)
        if snap:
            touched = [i for i, (s, e) in enumerate(offsets) if s < end and e > start]
            if not touched:
                raise InputError(f"offsets {start}-{end} cover no token", **where, field=field)
            out.append((touched[0], touched[-1] + 1, label))
        elif start in starts and end in ends:
            out.append((starts[start], ends[end], label))
        else:
            raise InputError(f"offsets {start!r}-{end!r} are not on token boundaries", **where, field=field)
    out.sort()
    try:
        spans_to_iob2(len(record["tokens"]), out)
    except ValueError as e:
        raise InputError(str(e), **where, field="spans") from e
    return out


def _row_spans(row: dict[str, Any], where: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    """``(start, end, label)`` of a JSONL row's ``spans`` (objects) or doccano ``label``/``labels`` (lists)."""
    if "spans" in row:
        spans = row["spans"] or []
        if not all(isinstance(x, dict) for x in spans):
            raise InputError("spans must be objects with start, end and label", **where, field="spans")
        return [(x.get("start"), x.get("end"), x.get("label")) for x in spans]
    spans = row.get("label", row.get("labels")) or []
    if not all(isinstance(x, list) and len(x) == 3 for x in spans):
        raise InputError("doccano labels must be [start, end, label] lists", **where, field="label")
    return [tuple(x) for x in spans]


def _tokenized(row: dict[str, Any], where: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``row`` with ``tokens`` and ``whitespace`` (checked, or made by :func:`tokenize`), and whether it
    was tokenized here (then spans snap to tokens)."""
    for name in ("id", "text"):
        if name not in row or not isinstance(row[name], (str, int)) or isinstance(row[name], bool):
            raise InputError("missing or not a string", **where, field=name)
    row = {**row, "id": str(row["id"])}
    if "tokens" not in row:
        tokens, whitespace = tokenize(row["text"])
        return {**row, "tokens": tokens, "whitespace": whitespace}, True
    for name in ("tokens", "whitespace"):
        if not isinstance(row.get(name), list):
            raise InputError("missing or not a list", **where, field=name)
    if len(row["tokens"]) != len(row["whitespace"]):
        raise InputError("tokens and whitespace differ in length", **where, field="whitespace")
    rebuilt = "".join(t + w for t, w in zip(row["tokens"], row["whitespace"]))
    if not row["text"].endswith(rebuilt) or row["text"][:len(row["text"]) - len(rebuilt)].strip():
        raise InputError("tokens and whitespace do not rebuild the text", **where, field="tokens")
    return row, False


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Documents of a document, span or doccano JSONL file (see the module docstring)."""
    from gonerd.pipeline.io import iter_jsonl

    docs = []
    for lineno, row in iter_jsonl(path):
        where = {"path": str(path), "line": lineno}
        if not isinstance(row, dict):
            raise InputError("a line must be a JSON object", **where)
        record, snap = _tokenized(row, where)
        spans = _token_spans(record, _row_spans(row, where), where, snap)
        source = row.get("label_source") or _source(row.get("annotator"))
        docs.append(_document(record, spans, source, row.get("meta") or {}))
    return docs


def read_label_studio(path: Path) -> list[dict[str, Any]]:
    """Documents of a Label Studio JSON export: each task's first annotation (else prediction)."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", str(path), line=e.lineno) from e
    docs = []
    for k, task in enumerate(tasks if isinstance(tasks, list) else [tasks]):
        where = {"path": str(path), "offset": k}
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            raise InputError("a task needs a data object", **where, field="data")
        row = {"id": data.get("id", task.get("id")), "text": data.get("text")}
        record, _ = _tokenized(row, where)
        works = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")] or task.get("predictions") or []
        results = works[0].get("result", []) if works else []
        spans = [(r["value"].get("start"), r["value"].get("end"), (r["value"].get("labels") or [None])[0])
                 for r in results if r.get("type") == "labels" and isinstance(r.get("value"), dict)]
        annotator = data.get("annotator")
        docs.append(_document(record, _token_spans(record, spans, where, snap=True),
                              _source(annotator) if annotator else "label-studio", {}))
    return docs


def read_conll_documents(path: Path) -> list[dict[str, Any]]:
    """Documents of a CoNLL IOB2 file, ids and annotators from its ``-DOCSTART-`` lines."""
    heads = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            cols = line.split()
            if cols and cols[0] == DOCSTART:
                heads.append((cols[1] if len(cols) > 1 else None, cols[2] if len(cols) > 2 else None))
    docs = []
    for n, conll in enumerate(read_conll(path, convert_iob1=False)):
        doc_id, annotator = heads[n] if n < len(heads) and heads[n][0] else (conll.id, None)
        starts = set(conll.sentence_starts[1:])
        tokens = conll.tokens
        whitespace = ["\n" if i + 1 in starts else " " for i in range(len(tokens) - 1)] + ["\n"]
        record = {"id": doc_id, "text": "".join(t + w for t, w in zip(tokens, whitespace)), "tokens": tokens,
                  "whitespace": whitespace}
        try:
            spans = iob2_to_spans(conll.tags)
        except ValueError as e:
            raise InputError(f"document {doc_id!r}: {e}", str(path)) from e
        docs.append(_document(record, spans, _source(annotator), {"sentence_starts": conll.sentence_starts}))
    return docs


def is_dataset_dir(path: Path) -> bool:
    """Whether ``path`` is a ``gonerd build`` dataset directory or an ``hf`` export (shards or arrow copy)."""
    from gonerd.dataset import ARROW_DIR, DATA_DIR

    return path.is_dir() and ((path / DATA_DIR).is_dir()
                              or any((d / "dataset_dict.json").is_file() for d in (path / ARROW_DIR, path)))


def read_dataset(path: Path) -> list[dict[str, Any]]:
    """Documents of a ``gonerd build`` dataset directory (every split, as :func:`gonerd.dataset.load_gonerd`
    reads it). The dataset has words but no text: it becomes the words joined by a space."""
    from gonerd.dataset import load_gonerd

    docs = []
    for split, ds in load_gonerd(path).items():
        tag_name = ds.features["ner_tags"].feature.int2str
        for row, example in enumerate(ds):
            tokens = example["tokens"]
            record = {"id": example["id"], "text": " ".join(tokens), "tokens": tokens,
                      "whitespace": [" "] * (len(tokens) - 1) + [""] if tokens else []}
            try:
                spans = iob2_to_spans(tag_name(example["ner_tags"]))
            except ValueError as e:
                raise InputError(f"{split} split, document {example['id']!r}: {e}", str(path), offset=row,
                                 field="ner_tags") from e
            meta = {k: example[k] for k in ("url", "domain") if example[k] is not None}
            docs.append(_document(record, spans, example["label_source"], meta))
    return docs


def read_corrected(base: str | Path, path: Path, annotator: str | None) -> list[dict[str, Any]]:
    """The labeled documents ``base`` with the corrections of ``path`` as their pre-labels."""
    import tempfile

    from gonerd.label.corrections import import_corrections
    from gonerd.label.io import write_labeled

    with tempfile.TemporaryDirectory() as tmp:
        records = import_corrections(read_labeled(base), path, annotator)
        # through the parquet writer, so corrected records read exactly as labeled ones do
        return read_parquet(write_labeled(records, Path(tmp) / "labeled.parquet"))


def read_input(path: str | Path, base: str | Path | None = None, annotator: str | None = None) -> list[dict[str, Any]]:
    """Documents with pre-labels from ``path`` (format by suffix; see the module docstring), or with
    ``base``, the labeled documents ``base`` corrected by the file ``path`` (``annotator`` where the
    file names none)."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", str(path))
    if base is not None:
        docs = read_corrected(base, path, annotator)
    elif is_dataset_dir(path):
        docs = read_dataset(path)
    elif path.is_dir() or path.suffix == ".parquet":
        docs = read_parquet(path)
    elif path.suffix == ".jsonl":
        docs = read_jsonl(path)
    elif path.suffix == ".json":
        docs = read_label_studio(path)
    else:
        docs = read_conll_documents(path)
    seen: set[str] = set()
    for doc in docs:
        if doc["id"] in seen:
            raise InputError(f"document id {doc['id']!r} appears twice", str(path), field="id")
        seen.add(doc["id"])
    return docs


def char_spans(doc: dict[str, Any], spans: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Token spans of ``doc`` as ``{start, end, label}`` character offsets into its text."""
    offsets = record_offsets(doc)
    return [{"start": offsets[s][0], "end": offsets[e - 1][1], "label": label} for s, e, label in spans]


def write_jsonl(docs: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write ``docs`` (each with ``spans`` and ``annotator``) as span JSONL: ``id``, ``annotator``,
    ``text`` and ``spans`` (character offsets), the corrections format."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as fh:
        for doc in docs:
            row = {"id": doc["key"], "annotator": doc["annotator"], "text": doc["text"],
                   "spans": char_spans(doc, doc["spans"])}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_conll(docs: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write ``docs`` as CoNLL IOB2 (``-DOCSTART- <id> [<annotator>]``, a blank line between sentences)."""
    lines: list[str] = []
    for doc in docs:
        lines.append(" ".join(filter(None, (DOCSTART, doc["key"], doc["annotator"]))))
        starts = set(doc["meta"].get("sentence_starts") or [])
        tags = spans_to_iob2(len(doc["tokens"]), doc["spans"])
        for i, (token, tag) in enumerate(zip(doc["tokens"], tags)):
            if i in starts and i:
                lines.append("")
            lines.append(f"{token} {tag}")
        lines.append("")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_label_studio(docs: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write ``docs`` as Label Studio tasks (``data.text``, one annotation of ``labels`` results)."""
    tasks = []
    for doc in docs:
        result = [{"id": f"s{k}", "from_name": "label", "to_name": "text", "type": "labels",
                   "value": {**span, "text": doc["text"][span["start"]:span["end"]], "labels": [span.pop("label")]}}
                  for k, span in enumerate(char_spans(doc, doc["spans"]))]
        data = {"id": doc["key"], "text": doc["text"], **({"annotator": doc["annotator"]} if doc["annotator"] else {})}
        tasks.append({"data": data, "annotations": [{"result": result}]})
    path = Path(path)
    path.write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def write_doccano(docs: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write ``docs`` as doccano JSONL (``id``, ``text``, ``label``: ``[[start, end, label], ...]``)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as fh:
        for doc in docs:
            labels = [[s["start"], s["end"], s["label"]] for s in char_spans(doc, doc["spans"])]
            fh.write(json.dumps({"id": doc["key"], "text": doc["text"], "label": labels}, ensure_ascii=False) + "\n")
    return path


def labeled_documents(work: Sequence[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """The documents of a project's work (``Store.project_work``) with the ``spans`` of ``source``.

    ``source`` is ``final`` (adjudicated documents only), ``prelabels``, or an annotator's name (their
    documents marked done). Each gets ``annotator`` (for pre-labels: the person of a ``human:``
    ``label_source``, else ``None``) and its ``label_source``.
    """
    out = []
    for doc in work:
        if source == "final":
            if doc["final"] is None:
                continue
            spans, annotator = doc["final"]["spans"], doc["final"]["by"]
        elif source == "prelabels":
            source_name = doc["label_source"] or ""
            spans = doc["prelabels"]
            annotator = source_name.removeprefix(HUMAN_PREFIX) if source_name.startswith(HUMAN_PREFIX) else None
        else:
            mine = doc["annotators"].get(source)
            if mine is None or mine["status"] != "done":
                continue
            spans, annotator = mine["spans"], source
        out.append({**doc, "spans": spans, "annotator": annotator,
                    "label_source": _source(annotator) if annotator else doc["label_source"]})
    return out


def dataset_record(doc: dict[str, Any]) -> dict[str, Any]:
    """The labeled-document record of ``doc`` (with ``spans``) that :func:`gonerd.dataset.build_dataset`
    reads: its id, the ``url`` and ``domain`` it was imported with, words, IOB2 tags, label source."""
    meta = doc.get("meta") or {}
    return {"id": doc["key"], "url": meta.get("url"), "domain": meta.get("domain"), "tokens": doc["tokens"],
            "ner_tags": spans_to_iob2(len(doc["tokens"]), doc["spans"]), "label_source": doc["label_source"]}


def write_hf(docs: Sequence[dict[str, Any]], path: str | Path, config: BuildConfig | None = None) -> Path:
    """Write ``docs`` as the ``DatasetDict`` of ``gonerd build`` into the directory ``path``
    (``data/{split}-00000-of-00001.parquet`` and ``arrow/``, the same features).

    Without ``config`` every document goes to ``train``: corrected documents are usually added to a
    training set or evaluated as a whole, and a split nobody asked for would hide a tenth of them.
    With ``config`` (a ``gonerd build --build-config``) the documents are split as ``build`` splits.
    """
    from gonerd.dataset import build_dataset

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError("an HF dataset export is a directory, and this is a file", str(path))
    build_dataset([dataset_record(d) for d in docs], path, config or BuildConfig(train=1, validation=0, test=0))
    return path


def write_documents(docs: Sequence[dict[str, Any]], path: str | Path, fmt: str,
                    config: BuildConfig | None = None) -> Path:
    """Write ``docs`` in ``fmt`` (one of :data:`FORMATS`); ``config`` splits an ``hf`` export (:func:`write_hf`)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", field="format")
    if config is not None and fmt != "hf":
        raise InputError(f"a split configuration applies to the hf format only, not {fmt!r}", field="format")
    writers = {"jsonl": write_jsonl, "conll": write_conll, "label-studio": write_label_studio,
               "doccano": write_doccano, "hf": functools.partial(write_hf, config=config)}
    return writers[fmt](docs, path)
