"""The MISC labeler: ages, postal addresses and phone numbers, each found by a tool made for it.

* phone numbers: libphonenumber's matcher (:mod:`gonerd.label.misc_phone`);
* postal addresses: pyap's address patterns, checked and trimmed by usaddress
  (:mod:`gonerd.label.misc_address`);
* ages of persons: spaCy's dependency parse of the sentences with a candidate number
  (:mod:`gonerd.label.misc_age`).

Character spans from the libraries are snapped inward to token boundaries (a record's entities are
whole words). Overlaps between kinds keep the longer span. The conventions — what is and is not
MISC, with examples — are in :mod:`gonerd.schema` and ANNOTATION.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gonerd.config import LabelConfig

if TYPE_CHECKING:
    import spacy.language
    import spacy.tokens

RULES_VERSION = 4


def snap(doc: spacy.tokens.Doc, start: int, end: int) -> tuple[int, int] | None:
    """The tokens inside characters ``[start, end)`` of ``doc``, without trailing punctuation tokens.

    ``None`` when no whole token lies inside (a number glued to a word, "Tel+44 171 …", cannot be a
    span of words).
    """
    first = next((t.i for t in doc if t.idx >= start), len(doc))
    last = first
    while last < len(doc) and doc[last].idx + len(doc[last]) <= end:
        last += 1
    while last > first and (doc[last - 1].is_punct and doc[last - 1].text != ")" or doc[last - 1].is_space):
        last -= 1
    return (first, last) if last > first else None


class MiscRules:
    """The MISC labeler (ages, postal addresses, phone numbers); every match is labeled ``MISC``.

    ``matches`` additionally names the kind (age, address, phone) of each span, for evaluation.
    ``nlp`` must have a tagger and parser (used on candidate sentences only) even when they are
    disabled for labeling.
    """

    labels: frozenset[str] = frozenset({"MISC"})

    def __init__(self, nlp: spacy.language.Language, config: LabelConfig | None = None) -> None:
        from gonerd.label.misc_address import AddressFinder
        from gonerd.label.misc_age import AgeFinder
        from gonerd.label.misc_phone import PhoneFinder

        config = config or LabelConfig()
        self.source = f"rules:misc@{RULES_VERSION}"
        self.phones = PhoneFinder(config.phone_region, config.phone_other_regions, config.phone_leniency)
        self.addresses = AddressFinder(config.address_country)
        self.ages = AgeFinder(nlp)

    def matches(self, doc: spacy.tokens.Doc) -> list[tuple[int, int, str]]:
        """Non-overlapping ``(start, end, kind)`` token spans, longest first on overlap, in text order."""
        return self._kept(doc, self.ages.spans(doc))

    def spans(self, doc: spacy.tokens.Doc) -> list[tuple[int, int, str]]:
        """MISC token spans ``[start, end)`` (the :class:`gonerd.label.base.Labeler` protocol)."""
        return _as_misc(self.matches(doc))

    def spans_batch(self, docs: Sequence[spacy.tokens.Doc]) -> list[list[tuple[int, int, str]]]:
        """:meth:`spans` of each of ``docs``, with the age sentences of all of them parsed in one go
        (the :class:`gonerd.label.base.BatchLabeler` protocol)."""
        ages = self.ages.spans_batch(docs)
        return [_as_misc(self._kept(doc, doc_ages)) for doc, doc_ages in zip(docs, ages)]

    def _kept(self, doc: spacy.tokens.Doc, ages: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
        """The phones and addresses of ``doc`` with its ``ages``, without overlaps (longest kept)."""
        text = doc.text  # joined from the tokens on every access: once per doc
        phones = (snap(doc, a, b) for a, b in self.phones.spans(text))
        found = [(*span, "phone") for span in phones if span is not None]
        found += [(s, e, "address") for s, e in self.addresses.spans(doc, text)]
        found += [(s, e, "age") for s, e in ages]
        kept: list[tuple[int, int, str]] = []
        taken: set[int] = set()
        for s, e, kind in sorted(set(found), key=lambda m: (m[0] - m[1], m[0])):
            if taken.isdisjoint(range(s, e)):
                kept.append((s, e, kind))
                taken.update(range(s, e))
        return sorted(kept)


def _as_misc(matches: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    return [(s, e, "MISC") for s, e, _ in matches]
