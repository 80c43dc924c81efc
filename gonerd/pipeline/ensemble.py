"""Ensemble extraction: trafilatura's main text plus the paragraphs three other extractors agree on.

Bevendorff et al. (SIGIR 2023, "An Empirical Comparison of Web Content Extraction Algorithms") find
that a weighted majority vote over the outputs of several extractors beats each of them: every token
of the page gets a vote from each extractor whose output contains it in the same word n-gram context,
and tokens with enough (weighted) votes are kept. Here the vote is over lines (paragraphs) and
trafilatura, the project's extractor, is the base: its lines are always kept, and a line it missed is
added when readability-lxml, jusText and Resiliparse all contain it (a line is "contained" when at
least half of its words sit in a word 3-gram of that extractor's output). The variants compared on the
DEV part of the shared pages (``gonerd eval-extract --split dev``; also: dropping base lines that no
other extractor has, 2-of-3 agreement, page-level choice of the most central output) gained less or
lost must-include snippets or precision.

Readability-lxml and jusText are slow next to trafilatura, and an added line must be in Resiliparse's
output (fast, C++), so they run only when Resiliparse has at least :data:`GATE_WORDS` words in lines
trafilatura lacks; below that, the vote could add at most that little text.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

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

    def __init__(self, text: str) -> None:
        words = _words(text)
        self.sets = {n: {tuple(words[i:i + n]) for i in range(len(words) - n + 1)} for n in range(1, NGRAM + 1)}

    def support(self, line: str) -> float:
        """Share of the words of ``line`` that lie in one of its n-grams found in this output."""
        words = _words(line)
        if not words:
            return 1.0
        if len(words) < NGRAM:  # a short line (heading, byline) must appear whole
            return float(tuple(words) in self.sets[len(words)])
        grams = self.sets[NGRAM]
        covered = [False] * len(words)
        for i in range(len(words) - NGRAM + 1):
            if tuple(words[i:i + NGRAM]) in grams:
                covered[i:i + NGRAM] = [True] * NGRAM
        return sum(covered) / len(words)

    def contains(self, line: str) -> bool:
        """Whether this output contains ``line`` (at least :data:`MIN_SUPPORT` of its words)."""
        return self.support(line) >= MIN_SUPPORT


def missing_words(base: str, other: str) -> int:
    """Words in the lines of ``other`` that ``base`` does not contain: how much a vote could add."""
    have = Ngrams(base)
    return sum(len(_words(line)) for line in _lines(other) if not have.contains(line))


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
                have = Ngrams("\n".join([base, *added]))  # one paragraph is added once, whoever has it
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


def readability_text(html: bytes | str) -> str:
    """Main text by readability-lxml (a port of Mozilla's Readability.js), one line per block."""
    import lxml.html
    from lxml.etree import ParserError
    from readability import Document
    from readability.readability import Unparseable

    try:
        tree = lxml.html.fromstring(Document(html).summary(html_partial=True))
    except (Unparseable, ParserError):  # an empty page, or one without any candidate block
        return ""
    for element in tree.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return "\n".join(_lines(tree.text_content()))


def justext_text(html: bytes | str) -> str:
    """Main text by jusText (paragraph classification by stop-word and link density), English stop-words."""
    import justext
    from lxml.etree import ParserError

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
    """Trafilatura's text ``base`` completed by the vote of readability-lxml, jusText and Resiliparse."""
    resiliparse = resiliparse_text(html)
    if missing_words(base, resiliparse) < GATE_WORDS:
        return base
    return vote(base, [readability_text(html), justext_text(html), resiliparse])
