"""A trained token-classification model as a ``gonerd label`` labeler (protocol in :mod:`gonerd.label.base`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from gonerd.conll import iob1_to_iob2
from gonerd.label.merge import iob2_to_spans
from kd.config import portable_path
from kd.model import load_model, model_max_length, run_windows

if TYPE_CHECKING:
    import spacy.tokens


class ModelLabeler:
    """Proposes typed token spans over a spaCy ``Doc`` with a model trained by ``gonerd kd train-ner``.

    With ``by_sentence`` and a doc that has sentence starts (``LabelConfig.sentence_starts``), each
    sentence is one sequence, as CoNLL models are trained (on CoNLL-2003 testa the CoNLL MiniLM scores
    .894 by spaCy's sentences, .886 by whole document); else the whole document is. Long sequences are
    tagged in windows of ``max_length`` sub-tokens overlapping by ``stride``; whitespace tokens, which
    have no sub-tokens, are never inside a span. ``types`` keeps only some entity types (e.g.
    ``("PER", "ORG", "LOC")`` for a CoNLL model, whose MISC is not GONERD's MISC).
    """

    def __init__(self, model_path: str | Path, *, max_length: int = 512, stride: int = 128, batch_size: int = 16,
                 types: Iterable[str] | None = None, by_sentence: bool = True) -> None:
        self._loaded = load_model(model_path)
        self.max_length = min(max_length, model_max_length(self._loaded))
        self.stride = min(stride, self.max_length // 2)
        self.batch_size = batch_size
        self.by_sentence = by_sentence
        self.source = f"model:{portable_path(self._loaded.path)}"
        own = frozenset(t[2:] for t in self._loaded.labels if t != "O")
        self.labels = own & frozenset(types) if types is not None else own

    def _sequences(self, doc: spacy.tokens.Doc) -> list[tuple[int, int]]:
        if self.by_sentence and doc.has_annotation("SENT_START"):
            return [(s.start, s.end) for s in doc.sents]
        return [(0, len(doc))]

    def scored_spans(self, doc: spacy.tokens.Doc) -> list[tuple[int, int, str, float]]:
        """Token spans ``[start, end)``, their type, and the model's confidence in them: the mean over
        the span's words of the largest tag probability (the arg-max tag's)."""
        if len(doc) == 0:
            return []
        sequences = self._sequences(doc)
        run = run_windows(self._loaded, [[t.text for t in doc[s:e]] for s, e in sequences],
                          lambda logits: logits.float().softmax(-1), max_length=self.max_length, stride=self.stride,
                          batch_size=self.batch_size)
        out = []
        for i, (offset, _) in enumerate(sequences):
            probs = run.word_values(i)
            best = [None if p is None else max(range(len(p)), key=p.__getitem__) for p in probs]
            tags = iob1_to_iob2(["O" if k is None else self._loaded.labels[k] for k in best])
            for start, end, label in iob2_to_spans(tags):
                if label in self.labels:
                    confidence = [probs[w][best[w]] for w in range(start, end) if best[w] is not None]
                    out.append((offset + start, offset + end, label, sum(confidence) / len(confidence)))
        return out

    def spans(self, doc: spacy.tokens.Doc) -> list[tuple[int, int, str]]:
        """Token spans ``[start, end)`` and their type, over ``doc``'s tokens."""
        return [(s, e, label) for s, e, label, _ in self.scored_spans(doc)]
