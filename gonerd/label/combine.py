"""A vote between a token-classification model and spaCy for PER/ORG/LOC (``LabelConfig.ner_combine = "vote"``).

The model's spans whose confidence (the mean over their words of the arg-max tag probability) is
at least ``threshold`` are kept; a less confident model span is kept only when spaCy's labeler
proposes exactly that span with that type; spaCy's other spans are dropped. On CoNLL-2003 testa
(the dev set the rule and the threshold 0.8 were chosen on, by spaCy's sentences) the CoNLL MiniLM
alone scores .894, the vote .904, the model with spaCy filling in where it has no span .886 — spaCy
(.697) is too weak to add spans, but its agreement tells which uncertain model spans hold.

:class:`FixedNer` then cleans a model's or a vote's spans with spaCy's per-document fixes
(``LabelConfig.model_fixes``): on testa, scored by document as ``eval-labels`` does, the vote goes from
.897 to .904 and the model alone from .886 to .889 (one type per name across the document fills in
later mentions the model missed).

This layer knows only the labeler protocols: the command layer builds the model's labeler (kd).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from gonerd.label.base import Labeler, Span
from gonerd.label.spacy_ner import document_fixes

if TYPE_CHECKING:
    import spacy.tokens


class ScoredLabeler(Labeler, Protocol):
    """A labeler that also gives each span its confidence in ``[0, 1]``."""

    def scored_spans(self, doc: spacy.tokens.Doc) -> list[tuple[int, int, str, float]]:
        """Token spans ``(start, end, label, confidence)`` of ``doc``, ``end`` exclusive."""
        ...


def vote(scored: list[tuple[int, int, str, float]], others: list[Span], threshold: float) -> list[Span]:
    """The spans of ``scored`` with confidence ≥ ``threshold``, and the others of them that ``others`` has too."""
    agreed = set(others)
    return [(s, e, label) for s, e, label, confidence in scored
            if confidence >= threshold or (s, e, label) in agreed]


class VoteNer:
    """Labeler voting between ``model`` (confident spans win) and ``spacy`` (confirms the rest); see :func:`vote`."""

    def __init__(self, model: ScoredLabeler, spacy: Labeler, threshold: float) -> None:
        self.model = model
        self.spacy = spacy
        self.threshold = threshold
        self.labels = frozenset(model.labels)
        self.source = f"vote({model.source}>={threshold:g};{spacy.source})"

    def spans(self, doc: spacy.tokens.Doc) -> list[Span]:
        """The model's confident spans and its spans spaCy agrees with."""
        return vote(self.model.scored_spans(doc), self.spacy.spans(doc), self.threshold)


class FixedNer:
    """Labeler whose spans are ``inner``'s cleaned by :func:`gonerd.label.spacy_ner.document_fixes`
    (number edges cut, news datelines as LOC, one type per name across the document)."""

    def __init__(self, inner: Labeler) -> None:
        self.inner = inner
        self.labels = frozenset(inner.labels)
        self.source = f"{inner.source}/fixes@1"

    def spans(self, doc: spacy.tokens.Doc) -> list[Span]:
        """``inner``'s spans of ``doc`` after the per-document fixes."""
        return document_fixes(doc, self.inner.spans(doc))
