"""The age rules' number scan (gonerd.label.misc_age._number_at): a token that cannot open a number is passed
over without building the 5-, 3- and 1-token slices (the scan runs at every token of every document, and
those slices were the MISC rules' largest cost), and every position gives what the full check gives."""

from __future__ import annotations

import pytest
import spacy

from gonerd.label import misc_age

TEXT = ("Jane Roe, 45, of Dayton said the forty-five men and seven-and-twenty women - forty five of them aged 2.5 "
        "or six - were there; five and twenty x - - forty-two; Tel+44 171 542 8863, ages 13 and 16 years old.")


def full_check(doc: spacy.tokens.Doc, i: int) -> tuple[int, float] | None:
    """What the scan gave before the early exit: every slice length tried at every position."""
    for n in (5, 3, 1):
        if i + n <= len(doc):
            value = misc_age.number_value(list(doc[i:i + n]))
            if value is not None:
                return i + n, value
    return None


@pytest.fixture(scope="module")
def doc() -> spacy.tokens.Doc:
    return spacy.blank("en")(TEXT)


def test_every_position_gives_what_the_full_check_gives(doc: spacy.tokens.Doc) -> None:
    got = [misc_age._number_at(doc, i) for i in range(len(doc))]
    assert got == [full_check(doc, i) for i in range(len(doc))]
    assert sum(g is not None for g in got) >= 10  # numbers in digits, words, with hyphens and after a dash


def test_words_that_cannot_open_a_number_are_passed_over(doc: spacy.tokens.Doc,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = misc_age.number_value

    def counting(tokens: list[spacy.tokens.Token]) -> float | None:
        checked.append(tokens[0].lower_)
        return real(tokens)

    monkeypatch.setattr(misc_age, "number_value", counting)
    for i in range(len(doc)):
        misc_age._number_at(doc, i)
    openers = {t.lower_ for t in doc if t.lower_ in misc_age.NUMBER_WORDS or t.lower_ in ("-", "–")
               or t.lower_.replace(".", "", 1).isdigit()}
    assert checked and set(checked) <= openers, sorted(set(checked) - openers)
