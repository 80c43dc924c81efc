"""Ensemble extraction: trafilatura's main text plus the paragraphs three other extractors agree on.

Bevendorff et al. (SIGIR 2023, "An Empirical Comparison of Web Content Extraction Algorithms") find
that a weighted majority vote over the outputs of several extractors beats each of them: every token
of the page gets a vote from each extractor whose output contains it in the same word n-gram context,
and tokens with enough (weighted) votes are kept. Here the vote is over lines (paragraphs) and
trafilatura, the project's extractor, is the base: its lines are always kept, and a line it missed is
added when Readability, jusText and Resiliparse all contain it (a line is "contained" when at least
half of its words sit in a word 3-gram of that extractor's output). The variants compared on the DEV
part of the shared pages (``gonerd eval-extract --split dev``; also: dropping base lines that no other
extractor has, 2-of-3 agreement, page-level choice of the most central output) gained less or lost
must-include snippets or precision.

Readability is trafilatura's fork of readability-lxml: in the vote it gave the same DEV figures as the
readability-lxml package at about a sixth of its time. The voters run one after the other while the
ones before agree on at least :data:`GATE_WORDS` words that trafilatura lacks (Resiliparse, fast C++,
on every page; then Readability; jusText, the slowest, last): an added line must be in every output, so
below that the vote could add at most that little text. On the 280 shared pages Resiliparse runs on
all, Readability on 18 and jusText on 5; the DEV figures equal those of running all three on those 18.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

import lxml.html
from lxml.etree import ParserError
from lxml.html import HtmlElement

_WORD = re.compile(r"\w+")
NGRAM = 3
MIN_SUPPORT = 0.5  # share of a line's words an extractor must contain for the line to count as its
GATE_WORDS = 200  # chosen on the DEV part: lower gates run the slow extractors on most pages for no gain
_BLOCK_TAGS = ("p", "div", "li", "td", "th", "tr", "pre", "blockquote", "br", "h1", "h2", "h3", "h4", "h5", "h6",
               "dd", "dt", "figcaption", "section", "article", "table", "ul", "ol")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if _WORD.search(line)]


class Ngrams:
    """The word n-grams (n = 1..NGRAM) of one extractor's output, to ask which lines it contains."""

    def __init__(self, text: str = "") -> None:
        self.words: list[str] = []
        self._sets: dict[int, set[tuple[str, ...]]] = {}  # built on first use: short lines are rare
        self.add(text)

    def add(self, text: str) -> None:
        """Contain ``text`` as well, as if it were appended to the output (a new line after its end)."""
        start = len(self.words)
        self.words += _words(text)
        for n, grams in self._sets.items():
            grams.update(self._ngrams(n, max(0, start - n + 1)))  # those that end in the new words

    def _ngrams(self, n: int, start: int = 0) -> zip:
        return zip(*(self.words[start + k:] for k in range(n)))

    def grams(self, n: int) -> set[tuple[str, ...]]:
        """The set of word n-grams of the output."""
        if n not in self._sets:
            self._sets[n] = set(self._ngrams(n))
        return self._sets[n]

    def support(self, line: str) -> float:
        """Share of the words of ``line`` that lie in one of its n-grams found in this output."""
        words = _words(line)
        if not words:
            return 1.0
        if len(words) < NGRAM:  # a short line (heading, byline) must appear whole
            return float(tuple(words) in self.grams(len(words)))
        grams = self.grams(NGRAM)
        hits = [gram in grams for gram in zip(*(words[k:] for k in range(NGRAM)))]
        # word i is covered when a found n-gram starts at i - NGRAM + 1 .. i
        starts = [[False] * k + hits + [False] * (NGRAM - 1 - k) for k in range(NGRAM)]
        return sum(map(any, zip(*starts))) / len(words)

    def contains(self, line: str) -> bool:
        """Whether this output contains ``line`` (at least :data:`MIN_SUPPORT` of its words)."""
        return self.support(line) >= MIN_SUPPORT


def missing_words(base: str | Ngrams, other: str, agreeing: Sequence[str | Ngrams] = ()) -> int:
    """Words in the lines of ``other`` that ``base`` does not contain and every ``agreeing`` output does:
    how much a vote among ``other`` and ``agreeing`` could add."""
    have, agree = _ngrams(base), [_ngrams(t) for t in agreeing]
    return sum(len(_words(line)) for line in _lines(other)
               if not have.contains(line) and all(g.contains(line) for g in agree))


def _ngrams(text: str | Ngrams) -> Ngrams:
    return text if isinstance(text, Ngrams) else Ngrams(text)


def vote(base: str, others: Sequence[str]) -> str:
    """``base`` with, in page order, every line of ``others`` that all of ``others`` contain and ``base`` lacks.

    The order comes from the last of ``others`` (Resiliparse, which keeps the page's order): an added
    line goes before the first base line that starts later in that output.
    """
    grams = [Ngrams(t) for t in others]
    have = Ngrams(base)
    added: list[str] = []
    for text in others:
        for line in _lines(text):
            if not have.contains(line) and all(g.contains(line) for g in grams):
                added.append(line)
                have.add(line)  # one paragraph is added once, whoever has it
    if not added:
        return base
    order = _positions(others[-1])
    base_lines = base.split("\n")
    # A base line's position is its first place in the order text after the previous base line (text
    # such as headings can also stand earlier, in a table of contents); a line the order text lacks
    # takes the position of the next line it has, so a paragraph restored before that one also goes
    # before the heading.
    at: list[int | None] = []
    last = 0
    for line in base_lines:
        pos = _position(line, order, last)
        at.append(pos)
        last = last if pos is None else pos
    following = len(_words(others[-1]))
    for i in range(len(at) - 1, -1, -1):
        following = at[i] = following if at[i] is None else at[i]
    merged = []
    extra = sorted(added, key=lambda line: _position(line, order, 0) or 0)
    for line, pos in zip(base_lines, at):
        while extra and (_position(extra[0], order, 0) or 0) <= pos:
            merged.append(extra.pop(0))
        merged.append(line)
    return "\n".join(merged + extra)


def _positions(text: str) -> dict[tuple[str, ...], list[int]]:
    words = _words(text)
    places: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(words) - NGRAM + 1):
        places.setdefault(tuple(words[i:i + NGRAM]), []).append(i)
    return places


def _position(line: str, order: dict[tuple[str, ...], list[int]], after: int) -> int | None:
    """Where ``line`` first stands in the order text at or after word ``after`` (``None``: nowhere)."""
    words = _words(line)
    for i in range(len(words) - NGRAM + 1):
        places = order.get(tuple(words[i:i + NGRAM]), [])
        if (j := bisect_left(places, after)) < len(places):
            return places[j]
    return None


def _block_lines(tree: HtmlElement) -> str:
    """Text of a parsed fragment, one line per block element."""
    for element in tree.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return "\n".join(_lines(tree.text_content()))


def readability_text(html: bytes | str) -> str:
    """Main text by trafilatura's fork of readability-lxml (a port of Mozilla's Readability.js), one line per
    block: the ensemble's voter (the package's own link-density regexes make it about six times slower)."""
    from trafilatura.readability_lxml import Document
    from trafilatura.utils import load_html

    tree = load_html(html)
    summary = Document(tree).summary() if tree is not None else ""
    return _block_lines(lxml.html.fromstring(summary)) if summary.strip() else ""


def readability_lxml_text(html: bytes | str) -> str:
    """Main text by the readability-lxml package, one line per block (scored alone by ``eval-extract --grid``)."""
    from readability import Document
    from readability.readability import Unparseable

    try:
        tree = lxml.html.fromstring(Document(html).summary(html_partial=True))
    except (Unparseable, ParserError):  # an empty page, or one without any candidate block
        return ""
    return _block_lines(tree)


def justext_text(html: bytes | str) -> str:
    """Main text by jusText (paragraph classification by stop-word and link density), English stop-words."""
    import justext

    try:
        paragraphs = justext.justext(html, justext.get_stoplist("English"))
    except (justext.core.JustextError, ParserError):  # an empty or undecodable page
        return ""
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def resiliparse_text(html: bytes | str) -> str:
    """Main text by Resiliparse's ``extract_plain_text`` (main-content heuristics, no links or alt texts)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import detect_encoding
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse_from_bytes(html, detect_encoding(html)) if isinstance(html, bytes) else HTMLTree.parse(html)
    return extract_plain_text(tree, main_content=True, preserve_formatting=True, list_bullets=False, links=False,
                              alt_texts=False, noscript=False, form_fields=False, comments=False)


def ensemble_text(html: bytes | str, base: str) -> str:
    """Trafilatura's text ``base`` completed by the vote of Readability, jusText and Resiliparse.

    Each voter runs only while the ones before it agree on at least :data:`GATE_WORDS` words that
    ``base`` lacks: Resiliparse alone, then Resiliparse and Readability, then jusText (the slowest).
    """
    have = Ngrams(base)
    resiliparse = resiliparse_text(html)
    if missing_words(have, resiliparse) < GATE_WORDS:
        return base
    readability = readability_text(html)
    if missing_words(have, resiliparse, [readability]) < GATE_WORDS:
        return base
    return vote(base, [readability, justext_text(html), resiliparse])
