"""Sub-token windows over long word sequences, and the choice of window that scores each word.

A sequence longer than the model allows is cut into overlapping windows of at most ``max_length``
sub-tokens (special tokens included) that overlap by ``stride`` sub-tokens. Each word is scored
by its first sub-token in the window where that sub-token lies farthest from a window edge, i.e.
where it sees the most context on both sides. With ``truncate`` only the first window is kept and
the words beyond it are reported, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gonerd.errors import InputError


@dataclass
class Encoding:
    """Sub-token windows of one word sequence.

    ``windows`` are ``(start, end)`` ranges into the flat sub-token list ``ids``;
    ``first[w]`` is the flat index of word ``w``'s first sub-token (``-1`` when the tokenizer
    produced none for it); ``best[w]`` the window that scores word ``w`` (``-1`` when none does).
    """

    ids: list[int]
    word_of: list[int]
    first: list[int]
    windows: list[tuple[int, int]]
    best: list[int]
    truncated: bool = False
    n_lost_words: int = 0
    window_ids: list[list[int]] = field(default_factory=list)


def split_windows(n: int, width: int, stride: int, lo: int = 0, hi: int | None = None) -> list[tuple[int, int]]:
    """Windows of at most ``width`` covering ``[lo, hi)`` of ``n`` items, consecutive ones overlapping by ``stride``.

    When the range fits in one window, that window is widened (up to ``width``) around it with
    the items on either side, so a short target is fed with its context.
    """
    hi = n if hi is None else hi
    if width <= 0:
        raise InputError(f"window width must be positive, got {width}", field="max_length")
    if not 0 <= stride < width:
        raise InputError(f"stride must be in [0, {width}) for windows of {width} sub-tokens, got {stride}",
                         field="stride")
    if hi - lo <= width:
        extra = width - (hi - lo)
        start = max(0, min(lo - extra // 2, n - width))
        return [(start, min(n, start + width))]
    out, start = [], lo
    while True:
        end = min(start + width, hi)
        out.append((start, end))
        if end == hi:
            return out
        start = end - stride


def best_windows(first: list[int], windows: list[tuple[int, int]]) -> list[int]:
    """For each word's first sub-token, the window where it is farthest from an edge (``-1``: none)."""
    best = []
    for pos in first:
        choice, margin = -1, -1
        for k, (s, e) in enumerate(windows):
            if s <= pos < e:
                m = min(pos - s, e - 1 - pos)
                if m > margin:
                    choice, margin = k, m
        best.append(choice)
    return best


def encode_words(tokenizer, words: list[str], *, max_length: int, stride: int, truncate: bool = False,
                 target: tuple[int, int] | None = None) -> Encoding:
    """Tokenise ``words`` once and cut the sub-tokens of ``target`` (default: all words) into windows.

    Windows carry the model's special tokens (``window_ids``). Raises :class:`InputError` when
    ``max_length`` leaves no room for content or the tokenizer is not a fast one (word ids needed).
    """
    if not getattr(tokenizer, "is_fast", False):
        raise InputError("a fast tokenizer is needed (word alignment); this model has only a slow one",
                         getattr(tokenizer, "name_or_path", None), field="tokenizer")
    prefix, suffix = special_tokens(tokenizer)
    width = max_length - len(prefix) - len(suffix)
    if width <= 0:
        raise InputError(f"max_length {max_length} leaves no room besides special tokens", field="max_length")
    # verbose=False: the length warning does not apply, the sequence is windowed below
    enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False, truncation=False, verbose=False)
    ids = enc["input_ids"]
    word_of = [w if w is not None else -1 for w in enc.word_ids()]
    first = [-1] * len(words)
    for i in range(len(word_of) - 1, -1, -1):
        if word_of[i] >= 0:
            first[word_of[i]] = i
    t0, t1 = target if target is not None else (0, len(words))
    # Sub-token range of the target words (words without sub-tokens contribute nothing).
    inside = [first[w] for w in range(t0, t1) if first[w] >= 0]
    lo = min(inside) if inside else 0
    hi = (max(i for i, w in enumerate(word_of) if t0 <= w < t1) + 1) if inside else 0
    windows = split_windows(len(ids), width, stride, lo, hi) if ids else [(0, 0)]
    truncated, lost = False, 0
    if truncate and len(windows) > 1:
        windows = windows[:1]
        truncated = True
    best = best_windows(first, windows)
    for w in range(len(words)):
        if not t0 <= w < t1:
            best[w] = -1
        elif best[w] < 0 and first[w] >= 0:
            lost += 1
    prefix, suffix = special_tokens(tokenizer)
    window_ids = [prefix + ids[s:e] + suffix for s, e in windows]
    return Encoding(ids, word_of, first, windows, best, truncated, lost, window_ids)


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The special-token ids a single-sequence input starts and ends with (``[CLS]``/``[SEP]``, ``<s>``/``</s>``)."""
    cached = getattr(tokenizer, "_kd_special_tokens", None)
    if cached is not None:
        return cached
    bare = tokenizer(["a"], is_split_into_words=True, add_special_tokens=False)["input_ids"]
    full = tokenizer(["a"], is_split_into_words=True, add_special_tokens=True)["input_ids"]
    at = next(i for i in range(len(full) - len(bare) + 1) if full[i:i + len(bare)] == bare)
    result = (full[:at], full[at + len(bare):])
    tokenizer._kd_special_tokens = result
    return result


def content_offset(tokenizer) -> int:
    """How many special tokens precede the content in a single-sequence input (1 for BERT/RoBERTa)."""
    return len(special_tokens(tokenizer)[0])
