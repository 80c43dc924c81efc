"""Pre-labeling: run labelers over whole documents and build labeled-document records.

A labeled record (:data:`gonerd.records.LABELED_FIELDS`) holds the document's words: spaCy's tokens
without whitespace-only ones, each with the whitespace that follows it (``whitespace``), so
``text == leading whitespace + "".join(token + whitespace)``; spans that crossed a dropped
whitespace token (an entity over a line break) stay one span.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import TYPE_CHECKING, Any

from gonerd.conll import iob2_errors
from gonerd.config import LabelConfig
from gonerd.errors import ConfigError, InputError
from gonerd.label.base import Labeler, spans_of_batch
from gonerd.label.merge import char_spans, resolve, spans_to_iob2, word_spans, words
from gonerd.schema import ENTITY_TYPES

if TYPE_CHECKING:
    import spacy.language
    import spacy.tokens

HUMAN_PREFIX = "human:"


def is_human(record: dict[str, Any]) -> bool:
    """True when the record's labels were made or corrected by a person (never overwritten)."""
    return str(record.get("label_source") or "").startswith(HUMAN_PREFIX)


def machine_labelled(label_sources: dict[str, int]) -> dict[str, int]:
    """The entries of ``label_sources`` (``label_source`` → rows) that are not hand labels (``human:…``)."""
    return {src: n for src, n in label_sources.items() if not src.startswith(HUMAN_PREFIX)}


def build_labelers(nlp: spacy.language.Language, config: LabelConfig, ner: Labeler | None = None) -> list[Labeler]:
    """The labelers of ``config`` in priority order: MISC rules (if on) first, then the NER.

    The NER is ``ner`` when given — the command layer builds a token-classification model's labeler
    for ``config.ner_model`` and hands it in — else spaCy's. This layer knows only the
    :class:`Labeler` protocol, so ``config.ner_model`` without ``ner`` is a :class:`ConfigError`.
    """
    from gonerd.label.rules import MiscRules
    from gonerd.label.spacy_ner import SpacyNer

    if config.ner_model is not None and ner is None:
        raise ConfigError(f"ner_model {config.ner_model!r} is set but no labeler was built for it "
                          "(`gonerd label --ner-model` builds one)")
    labelers: list[Labeler] = [MiscRules(nlp, config)] if config.misc_rules else []
    labelers.append(ner if ner is not None else SpacyNer.from_config(nlp, config))
    return labelers


def label_source(labelers: Sequence[Labeler]) -> str:
    """The ``label_source`` string of a labeler list, NER first: ``spacy:…@3.8.0+rules:misc@1``."""
    return "+".join(sorted((lab.source for lab in labelers), key=lambda s: s.startswith("rules:")))


def checked_spans(labeler: Labeler, doc: spacy.tokens.Doc,
                  spans: list[tuple[int, int, str]] | None = None) -> list[tuple[int, int, str]]:
    """``labeler.spans(doc)`` (or the ``spans`` it already gave for ``doc``), rejecting spans outside
    the doc or with a type outside the schema.

    A third-party labeler (say a model whose config still says ``PERSON``) fails here, with its
    source named, instead of writing tags the dataset's ``ClassLabel`` cannot hold.
    """
    spans = labeler.spans(doc) if spans is None else spans
    for start, end, label in spans:
        if label not in ENTITY_TYPES or label not in labeler.labels:
            raise ConfigError(f"labeler {labeler.source!r} produced label {label!r}; it declares "
                              f"{sorted(labeler.labels)} and the schema has {list(ENTITY_TYPES)}")
        if not 0 <= start < end <= len(doc):
            raise ConfigError(f"labeler {labeler.source!r} produced span {start}-{end} outside the "
                              f"document's {len(doc)} tokens")
    return spans


def label_doc(doc: spacy.tokens.Doc, labelers: Sequence[Labeler],
              proposed: Sequence[list[tuple[int, int, str]] | None] | None = None) -> dict[str, Any]:
    """The label fields (tokens, whitespace, ner_tags, spans, label_source, sentence_starts) of one doc.

    ``proposed`` are the labelers' spans of ``doc`` when already computed (one list per labeler, as
    :func:`label_batch` does for a batch); else each labeler is asked.
    """
    proposed = proposed if proposed is not None else [None] * len(labelers)
    doc_tokens = [t.text for t in doc]
    spans = resolve([checked_spans(lab, doc, given) for lab, given in zip(labelers, proposed)], doc_tokens)
    tokens, whitespace, index = words(doc_tokens, [t.idx for t in doc], doc.text)
    spans = word_spans(spans, index)
    tags = spans_to_iob2(len(tokens), spans)
    problems = iob2_errors(tags)
    if problems:  # resolve() guarantees validity; this guards the contract against future edits
        raise AssertionError(f"invalid IOB2 produced: {problems[:3]}")
    offsets = [(doc[i].idx, doc[i].idx + len(doc[i])) for i in index]
    fields = {"tokens": tokens, "whitespace": whitespace, "ner_tags": tags, "spans": char_spans(spans, offsets),
              "label_source": label_source(labelers)}
    if doc.has_annotation("SENT_START"):
        # a sentence opening on a whitespace token starts at the next word
        starts = {bisect_left(index, s.start) for s in doc.sents}
        fields["sentence_starts"] = sorted(s for s in starts if s < len(tokens))
    else:
        fields["sentence_starts"] = None
    return fields


def label_batch(docs: Sequence[spacy.tokens.Doc], labelers: Sequence[Labeler]) -> list[dict[str, Any]]:
    """:func:`label_doc` of each of ``docs``, asking each labeler for the whole batch at once
    (:func:`gonerd.label.base.spans_of_batch`); the fields are the same as doc by doc."""
    per_labeler = [spans_of_batch(lab, docs) for lab in labelers]
    return [label_doc(doc, labelers, [spans[i] for spans in per_labeler]) for i, doc in enumerate(docs)]


def label_documents(docs: Iterable[dict[str, Any]], config: LabelConfig | None = None,
                    labelers: Sequence[Labeler] | None = None, *,
                    nlp: spacy.language.Language | None = None, progress: bool = True) -> Iterator[dict[str, Any]]:
    """Yield labeled-document records for ``docs`` (dicts with at least ``id`` and ``text``), in order.

    The spaCy pipeline of ``config.model`` tokenizes every document (one document = one sequence)
    in batches via ``nlp.pipe``; ``labelers`` (default: MISC rules, then spaCy NER — see
    :mod:`gonerd.label.merge` for how conflicts are resolved) propose spans. Records whose
    ``label_source`` starts with ``human:`` pass through unchanged. Pass ``nlp`` to reuse a loaded
    pipeline.
    """
    from tqdm import tqdm

    from gonerd.label.spacy_ner import load_pipeline

    config = config or LabelConfig()
    nlp = nlp or load_pipeline(config.model, sentence_starts=config.sentence_starts)
    labelers = list(labelers) if labelers is not None else build_labelers(nlp, config)
    pending: list[dict[str, Any]] = []
    bar = tqdm(total=len(docs) if isinstance(docs, Sized) else None, desc="label", unit="doc", disable=not progress)

    def flush() -> Iterator[dict[str, Any]]:
        todo = [r for r in pending if not is_human(r)]
        # the labelers see all docs of the flush at once: the MISC rules parse their age sentences together
        fields = iter(label_batch(list(nlp.pipe([r["text"] for r in todo], batch_size=config.batch_size)), labelers))
        for record in pending:
            yield record if is_human(record) else {**record, **next(fields)}
            bar.update(1)
        pending.clear()

    for i, record in enumerate(docs):
        if not isinstance(record.get("text"), str):
            raise InputError("document has no text", field="text", offset=i)
        pending.append(record)
        if len(pending) >= config.batch_size * 4:
            yield from flush()
    yield from flush()
    bar.close()
