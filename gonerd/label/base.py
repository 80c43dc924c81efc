"""The labeler protocol: anything that reads a spaCy ``Doc`` and proposes typed token spans.

spaCy NER, the MISC rules and a token-classification model all implement it, so
:func:`gonerd.label.label_documents` can combine any of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import spacy.tokens

Span = tuple[int, int, str]  # token span [start, end) and its GONERD type


@runtime_checkable
class Labeler(Protocol):
    """A source of entity spans over a spaCy ``Doc``.

    ``source`` names the labeler and its version for ``label_source`` (``"spacy:en_core_web_sm@3.8.0"``,
    ``"rules:misc@1"``, ``"model:/path"``). ``labels`` are the entity types it may produce.
    ``spans`` returns token spans ``[start, end)`` with a type from ``labels``; spans of one labeler
    may overlap (conflicts are resolved by :mod:`gonerd.label.merge`).
    """

    source: str
    labels: frozenset[str]

    def spans(self, doc: spacy.tokens.Doc) -> list[tuple[int, int, str]]:
        """Token spans ``(start, end, label)`` of ``doc``, ``end`` exclusive."""
        ...


@runtime_checkable
class BatchLabeler(Labeler, Protocol):
    """A :class:`Labeler` that is faster on many documents at once (the MISC rules parse the age
    sentences of a whole batch together). ``spans_batch(docs)[i]`` must equal ``spans(docs[i])``."""

    def spans_batch(self, docs: Sequence[spacy.tokens.Doc]) -> list[list[tuple[int, int, str]]]:
        """``spans`` of each of ``docs``, in order."""
        ...


def spans_of_batch(labeler: Labeler, docs: Sequence[spacy.tokens.Doc]) -> list[list[tuple[int, int, str]]]:
    """``labeler.spans`` of each of ``docs``, through ``spans_batch`` when the labeler has it."""
    if isinstance(labeler, BatchLabeler):
        return labeler.spans_batch(docs)
    return [labeler.spans(doc) for doc in docs]
