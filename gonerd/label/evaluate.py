"""Scoring labelers against gold: CoNLL-2003 (PER/ORG/LOC) and the hand-labeled MISC gold set.

* CoNLL: the labelers run on the gold tokens (``Doc(vocab, words=tokens)`` through the pipeline),
  one whole document per sequence, so predictions align with gold token for token. CoNLL's MISC
  (nationalities, events, ...) is not GONERD MISC, so MISC is mapped to ``O`` on both sides and
  only PER/ORG/LOC are scored. Entity-level seqeval, ``mode="strict"``, ``scheme=IOB2``.
* MISC gold (span JSONL: ``id``, ``text``, ``spans: [{start, end, label, kind}]``): the full
  labeler stack runs on the text; MISC spans are compared with gold by exact character offsets,
  per kind (age, address, phone) and overall; several gold sets are shown side by side
  (:func:`side_by_side_table`).
* Hand-labelled GONERD documents (the corrections' CoNLL format, ``-DOCSTART- <id>``): the caller
  pre-labels the documents' real text as ``gonerd label`` does; the gold tokens are aligned to that
  text by character offsets and entities compared by exact character span and type, all four types.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gonerd.errors import InputError
from gonerd.label.base import Labeler
from gonerd.conll import DOCSTART, iob2_errors
from gonerd.label.merge import iob2_to_spans, resolve, spans_to_iob2
from gonerd.schema import ENTITY_TYPES, LABELS, MISC_KINDS

if TYPE_CHECKING:
    import spacy.language


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float | int]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "support": n_gold, "predicted": n_pred, "true_positives": tp}


def _without(tags: list[str], excluded: Sequence[str]) -> list[str]:
    return ["O" if t != "O" and t[2:] in excluded else t for t in tags]


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
                  types: Sequence[str] = ENTITY_TYPES) -> dict[str, dict[str, float]]:
    """Entity precision/recall/F1/support per type in ``types`` and ``ALL`` (micro), seqeval strict IOB2."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("gold and predicted sequences differ in number or length")
    report = classification_report([list(g) for g in gold], [list(p) for p in pred], mode="strict",
                                   scheme=IOB2, output_dict=True, zero_division=0)
    out: dict[str, dict[str, float]] = {}
    for name, key in [*((t, t) for t in types), ("ALL", "micro avg")]:
        r = report.get(key, {})
        out[name] = {"precision": float(r.get("precision", 0.0)), "recall": float(r.get("recall", 0.0)),
                     "f1": float(r.get("f1-score", 0.0)), "support": int(r.get("support", 0))}
    return out


def eval_conll(path: str | Path, nlp: spacy.language.Language, labelers: Sequence[Labeler],
               exclude: Sequence[str] = ("MISC",)) -> dict[str, Any]:
    """Entity-level strict IOB2 scores per type and ``ALL`` of ``labelers`` on a CoNLL file."""
    from spacy.tokens import Doc

    from gonerd.conll import read_conll

    documents = read_conll(path)
    gold, pred = [], []
    docs = (Doc(nlp.vocab, words=d.tokens) for d in documents)
    for conll_doc, doc in zip(documents, nlp.pipe(docs, batch_size=32), strict=True):
        spans = resolve([lab.spans(doc) for lab in labelers], conll_doc.tokens)
        gold.append(_without(conll_doc.tags, exclude))
        pred.append(_without(spans_to_iob2(len(doc), spans), exclude))
    present = sorted({tag[2:] for seq in (*gold, *pred) for tag in seq if tag != "O"})
    scores = entity_scores(gold, pred, present)
    return {"file": str(path), "documents": len(documents), "tokens": sum(len(g) for g in gold),
            "excluded_types": list(exclude), "scores": scores}


def read_misc_gold(path: str | Path) -> list[dict[str, Any]]:
    """The MISC gold set: records with ``id``, ``text`` and ``spans`` (``start``, ``end``, ``label``, ``kind``)."""
    from gonerd.pipeline.io import iter_jsonl

    records = []
    for lineno, rec in iter_jsonl(path):
        for k, span in enumerate(rec.get("spans", [])):
            if span.get("label") != "MISC" or span.get("kind") not in MISC_KINDS:
                raise InputError(f"expected label MISC and kind in {MISC_KINDS}", str(path), line=lineno,
                                 field=f"spans[{k}]")
            if not 0 <= span["start"] < span["end"] <= len(rec["text"]):
                raise InputError("offsets outside the text", str(path), line=lineno, field=f"spans[{k}]")
        records.append(rec)
    return records


def eval_misc(gold: Sequence[dict[str, Any]], nlp: spacy.language.Language,
              labelers: Sequence[Labeler]) -> dict[str, Any]:
    """Precision/recall/F1 of predicted MISC spans against ``gold``, per kind and overall.

    A prediction is correct when its character span equals a gold span exactly. The kind of a
    false positive comes from the rule that produced it (``"other"`` for labelers without kinds).
    """
    tp: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    errors: list[dict[str, Any]] = []
    for rec, doc in zip(gold, nlp.pipe((r["text"] for r in gold), batch_size=32), strict=True):
        kinds = {}
        for lab in labelers:
            if hasattr(lab, "matches"):
                kinds.update({(s, e): k for s, e, k in lab.matches(doc)})
        spans = resolve([lab.spans(doc) for lab in labelers], [t.text for t in doc])
        predicted = {(doc[s].idx, doc[e - 1].idx + len(doc[e - 1])): kinds.get((s, e), "other")
                     for s, e, label in spans if label == "MISC"}
        expected = {(s["start"], s["end"]): s["kind"] for s in rec["spans"]}
        for (s, e), kind in predicted.items():
            n_pred[kind] += 1
            if (s, e) in expected:
                tp[expected[(s, e)]] += 1
            else:
                errors.append({"id": rec["id"], "type": "false_positive", "kind": kind, "text": rec["text"][s:e],
                               "context": rec["text"][max(0, s - 40):e + 20]})
        for (s, e), kind in expected.items():
            n_gold[kind] += 1
            if (s, e) not in predicted:
                errors.append({"id": rec["id"], "type": "false_negative", "kind": kind, "text": rec["text"][s:e],
                               "context": rec["text"][max(0, s - 40):e + 20]})
    kinds_seen = [k for k in (*MISC_KINDS, "other") if n_gold[k] or n_pred[k]]
    scores = {k: _prf(tp[k], n_pred[k], n_gold[k]) for k in kinds_seen}
    scores["ALL"] = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return {"documents": len(gold), "scores": scores, "errors": errors}


def scores_table(scores: dict[str, dict[str, Any]], title: str) -> str:
    """Markdown table of per-type precision/recall/F1/support."""
    lines = [f"| {title} | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for name, s in scores.items():
        lines.append(f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |")
    return "\n".join(lines)


def side_by_side_table(results: dict[str, dict[str, Any]], kinds: Sequence[str] = (*MISC_KINDS, "ALL")) -> str:
    """Markdown table of P/R/F1 (support) per MISC kind, one column group per gold set.

    ``results`` maps a gold set's name to its :func:`eval_misc` result; a kind a set has neither gold
    nor predictions of shows ``–``.
    """
    names = list(results)
    head = "| MISC kind | " + " | ".join(f"{n} P | R | F1 | n" for n in names) + " |"
    rule = "|---|" + "---:|---:|---:|---:|" * len(names)
    lines = [head, rule]
    for kind in kinds:
        cells = []
        for name in names:
            s = results[name]["scores"].get(kind)
            cells.append(" – | – | – | 0" if s is None else
                         f" {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']}")
        lines.append(f"| {kind} |" + " |".join(cells) + " |")
    return "\n".join(lines)


def conll_text(document: Any) -> str:
    """The text of a CoNLL document as the held-out MISC gold indexes it: tokens joined by spaces,
    sentences by newlines."""
    return "\n".join(" ".join(s.tokens) for s in document.sentences)


def read_conll_misc_gold(path: str | Path, data_root: str | Path) -> list[dict[str, Any]]:
    """MISC gold over CoNLL texts, as :func:`read_misc_gold` records — one per document of the file.

    Each line of ``path`` is ``{file, document, spans: [{start, end, label, kind, text}]}`` with
    offsets into :func:`conll_text` of document number ``document`` of ``data_root/file`` (the
    CoNLL text itself is not redistributable, so only offsets are stored); ``text`` checks them.
    A file with a line for some document without spans (``"spans": []``) lists its whole set: only
    its documents are read. Otherwise it covers the whole CoNLL file, and the documents without a
    line are negatives (no MISC).
    """
    from gonerd.conll import read_conll

    path = Path(path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    files = {r["file"] for r in rows}
    if len(files) != 1:
        raise InputError(f"expected spans over exactly one CoNLL file, got {sorted(files)}", str(path))
    (name,) = files
    documents = read_conll(Path(data_root) / name)
    spans = {r["document"]: (lineno, r["spans"]) for lineno, r in enumerate(rows, start=1)}
    listed_only = any(not r["spans"] for r in rows)
    records = []
    for i, document in enumerate(documents):
        if listed_only and i not in spans:
            continue
        text = conll_text(document)
        lineno, doc_spans = spans.get(i, (None, []))
        for k, s in enumerate(doc_spans):
            if text[s["start"]:s["end"]] != s["text"]:
                raise InputError(f"offsets {s['start']}-{s['end']} give {text[s['start']:s['end']]!r}, "
                                 f"not {s['text']!r}", str(path), line=lineno, field=f"spans[{k}]")
        records.append({"id": f"{name}:{i}", "text": text, "spans": doc_spans})
    return records


def read_gold_documents(path: str | Path) -> dict[str, tuple[int, list[str], list[str]]]:
    """Hand-labelled documents in the corrections' CoNLL format: id → (line of its ``-DOCSTART-``,
    tokens, IOB2 tags). ``-DOCSTART- <id> [<annotator>]`` starts a document, then ``token tag`` lines.

    A bad tag, a broken IOB2 sequence, a token before the first ``-DOCSTART-`` or an id given twice
    raises :class:`InputError` naming the file and line.
    """
    path = Path(path)
    docs: dict[str, tuple[int, list[str], list[str]]] = {}
    current: tuple[int, list[str], list[str]] | None = None
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            cols = line.split()
            if not cols:
                continue
            if cols[0] == DOCSTART:
                if len(cols) < 2:
                    raise InputError(f"{DOCSTART} needs a document id", str(path), line=lineno)
                if cols[1] in docs:
                    raise InputError(f"document id {cols[1]!r} given twice (first on line {docs[cols[1]][0]})",
                                     str(path), line=lineno)
                current = docs[cols[1]] = (lineno, [], [])
            elif current is None:
                raise InputError(f"token before the first '{DOCSTART} <id>' line", str(path), line=lineno)
            elif len(cols) != 2 or cols[1] not in LABELS:
                raise InputError(f"expected 'token tag' with a tag in {list(LABELS)}, got {line.strip()!r}",
                                 str(path), line=lineno)
            else:
                current[1].append(cols[0])
                current[2].append(cols[1])
    for doc_id, (lineno, _, tags) in docs.items():
        problems = iob2_errors(tags)
        if problems:
            raise InputError(f"document {doc_id!r} is not strict IOB2: {problems[0]}", str(path), line=lineno)
    return docs


def align_tokens(text: str, tokens: Sequence[str], where: str) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of each token in ``text``, in order, with only whitespace between them.

    This is how gold tokens meet the labeler's output independently of tokenization: a token not
    found at the next non-space position raises :class:`InputError` (``where`` names the document).
    """
    offsets, pos = [], 0
    for i, token in enumerate(tokens):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not text.startswith(token, pos):
            raise InputError(f"gold token {i} {token!r} is not the text's next word ({text[pos:pos + 30]!r})",
                             where, field="tokens")
        offsets.append((pos, pos + len(token)))
        pos += len(token)
    return offsets


def eval_gold_documents(gold_path: str | Path, gold: dict[str, tuple[int, list[str], list[str]]],
                        texts: dict[str, str], predicted: dict[str, Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """Entity P/R/F1 per type and ``ALL`` of predicted character spans against hand-labelled documents.

    ``gold`` is :func:`read_gold_documents` of ``gold_path``; ``texts`` and ``predicted`` map
    document id → the document's text and the pre-labeler's
    ``{start, end, label}`` character spans on it. Gold tokens are aligned to the text by character
    offsets (:func:`align_tokens`) and a prediction counts only when its start, end and type equal a
    gold entity's — entity-level strict matching, as seqeval's on one shared tokenization. A gold
    document missing from ``texts`` raises :class:`InputError` naming its line.
    """
    tp: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    for doc_id, (lineno, tokens, tags) in gold.items():
        if doc_id not in texts:
            raise InputError(f"document {doc_id!r} is not among the documents given (--docs)", str(gold_path),
                             line=lineno)
        offsets = align_tokens(texts[doc_id], tokens, f"{gold_path}: document {doc_id}")
        expected = {(offsets[s][0], offsets[e - 1][1], label) for s, e, label in iob2_to_spans(tags)}
        found = {(s["start"], s["end"], s["label"]) for s in predicted[doc_id]}
        for spans, counter in ((expected, n_gold), (found, n_pred), (expected & found, tp)):
            counter.update(label for _, _, label in spans)
    types = [t for t in ENTITY_TYPES if n_gold[t] or n_pred[t]]
    scores = {t: _prf(tp[t], n_pred[t], n_gold[t]) for t in types}
    scores["ALL"] = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return {"file": str(gold_path), "documents": len(gold), "tokens": sum(len(t) for _, t, _ in gold.values()),
            "excluded_types": [], "scores": scores}
