"""Sliding windows: coverage, overlap, choice of the most central window, truncation reporting."""

from __future__ import annotations

from pathlib import Path

import pytest

from gonerd.errors import InputError
from kd.windows import best_windows, content_offset, encode_words, special_tokens, split_windows
from kd_tiny import build_tokenizer, conll_words

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(conll_words(DATA / "kd_train.txt"), vocab_size=80)


def test_split_windows_cover_and_overlap_by_stride():
    wins = split_windows(100, 30, 10)
    assert wins[0] == (0, 30) and wins[-1][1] == 100
    for (s0, e0), (s1, e1) in zip(wins, wins[1:]):
        assert e0 - s1 == 10 and e1 - s1 <= 30
    assert split_windows(20, 30, 10) == [(0, 20)]


def test_split_windows_widens_short_target_with_context():
    # A 4-item target in the middle of 100 items gets a 30-item window centred on it.
    (s, e), = split_windows(100, 30, 10, lo=50, hi=54)
    assert e - s == 30 and s <= 50 and e >= 54 and abs((50 - s) - (e - 54)) <= 1


def test_split_windows_rejects_bad_stride():
    with pytest.raises(InputError, match="stride"):
        split_windows(100, 30, 30)


def test_best_window_is_the_one_with_most_context():
    wins = [(0, 10), (6, 16)]
    # position 7 is 2 from the right edge of window 0, 1 from the left edge of window 1
    assert best_windows([2, 7, 9, 14, 20], wins) == [0, 0, 1, 1, -1]


def test_special_tokens_of_bert_tokenizer(tok):
    prefix, suffix = special_tokens(tok)
    assert prefix == [tok.cls_token_id] and suffix == [tok.sep_token_id] and content_offset(tok) == 1


def test_long_sequence_every_word_scored_once_with_its_own_subtokens(tok):
    words = conll_words(DATA / "kd_train.txt") * 3
    enc = encode_words(tok, words, max_length=16, stride=4)
    assert len(enc.windows) > 5 and not enc.truncated
    assert all(len(w) <= 16 for w in enc.window_ids)
    for w, k in enumerate(enc.best):
        s, e = enc.windows[k]
        assert s <= enc.first[w] < e and enc.word_of[enc.first[w]] == w
        # the window's content really holds that sub-token
        assert enc.window_ids[k][1 + enc.first[w] - s] == enc.ids[enc.first[w]]


def test_truncation_is_counted_not_silent(tok):
    words = conll_words(DATA / "kd_train.txt")
    enc = encode_words(tok, words, max_length=16, stride=4, truncate=True)
    assert enc.truncated and len(enc.windows) == 1
    assert enc.n_lost_words == sum(1 for b in enc.best if b < 0) > 0


def test_context_target_is_scored_inside_a_window_with_context_on_both_sides(tok):
    words = conll_words(DATA / "kd_train.txt")
    enc = encode_words(tok, words, max_length=40, stride=4, target=(8, 18))
    assert len(enc.windows) == 1
    (s, e), = enc.windows
    assert [w for w, b in enumerate(enc.best) if b == 0] == list(range(8, 18))
    assert s < enc.first[8] and e > enc.first[17] + 1 and e - s == 38
