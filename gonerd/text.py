"""Small text helpers shared by the stages: token counting and normalisation for hashing."""

from __future__ import annotations

import re
import unicodedata

# Words (with inner apostrophes/hyphens) or single punctuation marks: within a few percent of
# spaCy's token count on news text, at a fraction of the cost.
_TOKEN = re.compile(r"\w+(?:['’.\-]\w+)*|[^\w\s]")
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into word and punctuation tokens (the unit of ``n_tokens`` and length filters)."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    """Number of :func:`tokenize` tokens in ``text``."""
    return sum(1 for _ in _TOKEN.finditer(text))


def normalize(text: str) -> str:
    """Case-, punctuation- and whitespace-insensitive form of ``text`` used for duplicate hashing."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _NON_WORD.sub(" ", text)).strip()
