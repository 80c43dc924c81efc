"""A trained token-classification model as a ``gonerd label`` labeler (protocol in :mod:`gonerd.label.base`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from gonerd.label.merge import iob2_to_spans
from kd.config import portable_path
from kd.model import load_model, model_max_length, tag_sequences

if TYPE_CHECKING:
    import spacy.tokens


class ModelLabeler:
    """Proposes typed token spans over a spaCy ``Doc`` with a model trained by ``gonerd kd train-ner``.

    Long documents are tagged in windows of ``max_length`` sub-tokens overlapping by ``stride``;
    whitespace tokens, which have no sub-tokens, are never inside a span. ``types`` keeps only some
    entity types (e.g. ``("PER", "ORG", "LOC")`` for a CoNLL model, whose MISC is not GONERD's MISC).
    """

    def __init__(self, model_path: str | Path, *, max_length: int = 512, stride: int = 128, batch_size: int = 16,
                 types: Iterable[str] | None = None) -> None:
        self._loaded = load_model(model_path)
        self.max_length = min(max_length, model_max_length(self._loaded))
        self.stride = min(stride, self.max_length // 2)
        self.batch_size = batch_size
        self.source = f"model:{portable_path(self._loaded.path)}"
        own = frozenset(t[2:] for t in self._loaded.labels if t != "O")
        self.labels = own & frozenset(types) if types is not None else own

    def spans(self, doc: spacy.tokens.Doc) -> list[tuple[int, int, str]]:
        """Token spans ``[start, end)`` and their type, over ``doc``'s tokens."""
        if len(doc) == 0:
            return []
        tags = tag_sequences(self._loaded, [[t.text for t in doc]], max_length=self.max_length, stride=self.stride,
                             batch_size=self.batch_size).tags[0]
        return [s for s in iob2_to_spans(tags) if s[2] in self.labels]
