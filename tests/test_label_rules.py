"""MISC labeler: phones (libphonenumber), postal addresses (pyap + usaddress), ages of persons (the parse).

Real sentences from the bundled DOJ releases, news and fiction; each positive and negative form of
the conventions (gonerd/schema.py, ANNOTATION.md) has a case.
"""

from __future__ import annotations

import pytest

from gonerd.config import LabelConfig
from gonerd.errors import ConfigError
from gonerd.label import Labeler
from gonerd.label.misc_address import AddressFinder
from gonerd.label.misc_phone import PhoneFinder
from gonerd.label.rules import MiscRules, snap
from gonerd.schema import MISC_EXAMPLES
from label_pipeline import pipeline


@pytest.fixture(scope="module")
def nlp():  # type: ignore[no-untyped-def]
    return pipeline()[0]  # the labeling pipeline: NER + senter on, tagger and parser loaded but off


@pytest.fixture(scope="module")
def rules(nlp) -> MiscRules:  # type: ignore[no-untyped-def]
    return MiscRules(nlp)


def found(nlp, rules: MiscRules, text: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    doc = nlp(text)
    return [(doc[s:e].text, kind) for s, e, kind in rules.matches(doc)]


def test_rules_are_a_labeler(rules: MiscRules, nlp) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(rules, Labeler)
    assert rules.source == "rules:misc@4" and rules.labels == {"MISC"}
    assert "parser" not in nlp.pipe_names  # the parse runs on candidate sentences only


@pytest.mark.parametrize("example", MISC_EXAMPLES["positive"], ids=lambda ex: ex["text"][:40])
def test_schema_positive_examples(nlp, rules, example) -> None:  # type: ignore[no-untyped-def]
    assert found(nlp, rules, example["text"]) == [(m, example["kind"]) for m in example["misc"]]


@pytest.mark.parametrize("example", MISC_EXAMPLES["negative"], ids=lambda ex: ex["why"])
def test_schema_negative_examples(nlp, rules, example) -> None:  # type: ignore[no-untyped-def]
    assert found(nlp, rules, example["text"]) == []


# Sentences from the bundled DOJ releases (gonerd/sample/doj_releases.jsonl), news pages and LitBank novels.
REAL = [
    ("Vanessa Roberts Avery, United States Attorney for the District of Connecticut, announced that "
     "GREGORY BUTTS, 54, pleaded guilty today before U.S. District Judge Sarala V. Nagala.", [("54", "age")]),
    ("Evans announced that SHI GANG ZHENG (“ZHENG”), age 55, a Chinese national residing in New Orleans, "
     "was sentenced on January 16, 2025.", [("age 55", "age")]),
    ("EVANSVILLE— Arties Dushawn Brown., 35, of Evansville, Indiana, has been sentenced to fifteen years "
     "in federal prison.", [("35", "age")]),
    ("Attorney Roger B. Handberg announces the unsealing of an indictment charging Teresa Brady (69, "
     "Jacksonville) and Ruby George (81, Jacksonville) with conspiracy.", [("69", "age"), ("81", "age")]),
    ("Her aunt, 47, and companion, 28, were killed in the crash.", [("47", "age"), ("28", "age")]),
    ("The investigation involved children between 13 and 16 years old in the Monroe area.",
     [("13 and 16 years old", "age")]),
    ("He was a tall boy of fifteen, slight and narrow-chested.", [("fifteen", "age")]),
    ("Whale whisperer Hori Parata was just seven years old when he attended his first stranding.",
     [("seven years old", "age")]),
    ("The law provides for a total sentence of 20 years in prison. Sentencing is set for April 15, 2025.", []),
    ("Anyone with information can report it by calling the Department of Justice’s National Center for "
     "Disaster Fraud (NCDF) Hotline at 866-720-5721 or via the NCDF Web Complaint Form.",
     [("866-720-5721", "phone")]),
    ("Officers stopped a vehicle driven by Jonathan P. Blair, 29, of 1909 Jolinda Drive.",
     [("29", "age"), ("1909 Jolinda Drive", "address")]),
    ("Dr. Dobkin: University of California, Santa Cruz, 1156 High Street, Santa Cruz, CA 95064.",
     [("1156 High Street, Santa Cruz, CA 95064", "address")]),
    ("Officers arrested Christopher D. Battin, 33, who resides at 2134 Caldwell Place, Harris said.",
     [("33", "age"), ("2134 Caldwell Place", "address")]),
    ("Send the form to P.O. Box 1234, Springfield, IL 62701 before May.",
     [("P.O. Box 1234, Springfield, IL 62701", "address")]),
    ("In the US, call the National Suicide Prevention Lifeline at 1-800-273-8255.", [("1-800-273-8255", "phone")]),
    ("Please call 0800 024 8997 or 18001 0800 024 8997 (Next Generation Text).",
     [("0800 024 8997", "phone"), ("18001 0800 024 8997", "phone")]),
    ("Contact: 624-6456; 225-8452 or by email.", [("624-6456", "phone"), ("225-8452", "phone")]),
    ("Japan\n+81 158-23-2012", [("+81 158-23-2012", "phone")]),
    ("Report tips to 1-800-CALL-FBI.", [("1-800-CALL-FBI", "phone")]),
    # ages: compounds for people, a possessive, a name the model calls a noun, prose forms
    ("German police searching for a missing 10-year-old schoolgirl said on Friday.", [("10-year-old", "age")]),
    ("Officials ordered investigations into the 66-year-old's death.", [("66-year-old", "age")]),
    ("The 60-year-old Moslem cleric , jailed since 1993 , was freed .", [("60-year-old", "age")]),
    ("This was Anthony at five , the year of his mother's death.", [("five", "age")]),
    ("His uncle never married, but died triumphantly in bed , at ninety-two .", [("ninety-two", "age")]),
    ("The summer when Anthony was eleven they went abroad .", [("eleven", "age")]),
    ("She , as you know , approaches six .", [("six", "age")]),
    # Reuters contact lines: numbers libphonenumber's plans no longer know, country codes without "+"
    ("-- Jim Ballantyne , London Newsroom +44 171 542 8062", [("+44 171 542 8062", "phone")]),
    ("-- Bucharest Newsroom 40-1 3120264", [("40-1 3120264", "phone")]),
    ("-- Budapest newsroom ( 36 1 ) 327 4040", [("( 36 1 ) 327 4040", "phone")]),
    ("-- Singapore newsroom ( 65 8703080 )", [("65 8703080", "phone")]),
    ("Telephone : ( 6221 ) 384-6364 .", [("( 6221 ) 384-6364", "phone")]),
    ("Contact Office: Kingston Tel: 1 (876) 926-3590-4 1 (876) 926-3740-6 Email: info",
     [("1 (876) 926-3590", "phone"), ("1 (876) 926-3740", "phone")]),
    # Washington's lettered streets
    ("The Hill 1625 K Street, NW Suite 900 Washington DC 20006 | 202-628-8500 tel",
     [("1625 K Street, NW Suite 900 Washington DC 20006", "address"), ("202-628-8500", "phone")]),
]


@pytest.mark.parametrize(("text", "expected"), REAL, ids=lambda v: v[:40] if isinstance(v, str) else "")
def test_real_sentences(nlp, rules, text, expected) -> None:  # type: ignore[no-untyped-def]
    assert found(nlp, rules, text) == expected


NEAR_MISSES = [
    "ZHENG pleaded guilty to violating 18 U.S.C. §§ 922(g)(5)(A) and 924(a)(8), and 21 U.S.C. § 841(b)(1)(C).",
    "United States v. Coe, Case No. 1:23-cr-00045, was filed on 1/16/2025 in the Southern District.",
    "He obtained $149,950 in PPP loans, about 12% of the total, between 2019-2021.",
    "On Oct. 3, 2024, and Dec. 6, 2024, the defendants, ages unknown, pleaded guilty.",
    "The indictment charges 45 counts; on May 8, 2024, Bond pleaded guilty to Count 1, 2, and 3.",
    "Mail it to Washington, DC 20530 or ZIP 20530-0001 by 5:00 p.m.",
    "The 20-year veteran served 25 years of supervised release after a 45-month sentence.",
    "Investigators found 131 videos and 49 images, and 619 firearms were forfeited.",
    "The pipeline was version 3.6.0; see Section 4, 12 and Chapter 7, 11 for details.",
    "His Social Security number 123-45-6789 was used to open account 4417-1234-5678-9113.",
    "Plague can be fatal in up to 90 per cent of people infected.",
    "Parata has now overseen more than 500 strandings and is renowned in New Zealand.",
    "The company, founded 50 years ago, employs 300 people.",
    "Tim O'Gorman, 109, was out before lunch.",
    "In 2015, 55% of Māori adults (aged 15 years and over) reported knowledge of the language.",
    "We arrived in a snowstorm at eleven last night.",
    "She was posing as the mother of two young girls.",
    "doi:10.1136/bmjopen-2016-011092 Crossref Medline",
    "Mapping and data mining with QGIS 2.8 QGIS is a free-software geographic information system.",
    "The 12-year-old conflict has displaced millions.",
    # tables and line-ups of sports results
    "Leeds 3 1 0 6 1 10\nYork 3 0 1 13 10\nBury 3 0 1 2 9 7",
    "Hull beat Jan Smid 6-3 1-6 6-3 4-6 6-4 in the final.",
    "A. Black not out 46\nB. White run out 9\nC. Grey b Brown 12",
    "Penalties: Smith (2), Jones (3).",
    "Replacements: 16 - Tom Brown (Jack Green, 75), 17 - Sam Hill.",
    "He is a veteran of the 1989 Market Square protests.",
    "The houses of Europe have shown that you are one who may safely be trusted.",
    "A 106-year-old schooner sank off the coast.",
    # digit runs near a phone cue that are dates, times, decimals, years or identifiers
    "Mobile features. Mozilla. Retrieved 2012-06-26.",
    "Treasury bills 152.80 +0.300 - 11.900",
    "By Tess Bonn - 11/19/19 06:56 AM EST South Dakota Gov. Kristi Noem",
    "Call for papers: Budget 2014/2015 and the 2016-2019 plan.",
    "Contact desk. PMID: 15692073 doi:10.1093/aje/kwi049",
]


@pytest.mark.parametrize("text", NEAR_MISSES, ids=lambda t: t[:40])
def test_near_misses(nlp, rules, text) -> None:  # type: ignore[no-untyped-def]
    assert found(nlp, rules, text) == []


def test_spans_are_the_matches_labeled_misc(nlp, rules) -> None:  # type: ignore[no-untyped-def]
    doc = nlp("Call (202) 514-2007 about the 45-year-old defendant.")
    assert rules.spans(doc) == [(s, e, "MISC") for s, e, _ in rules.matches(doc)]
    assert [doc[s:e].text for s, e, _ in rules.spans(doc)] == ["(202) 514-2007", "45-year-old"]


def test_phone_settings_come_from_the_config(nlp) -> None:  # type: ignore[no-untyped-def]
    text = "Numbers: 0800 024 8997 or 202-514-2000."
    us_only = MiscRules(nlp, LabelConfig(phone_other_regions=[]))
    assert found(nlp, us_only, text) == [("202-514-2000", "phone")]
    gb = MiscRules(nlp, LabelConfig(phone_region="GB", phone_other_regions=[]))
    assert found(nlp, gb, text) == [("0800 024 8997", "phone")]
    # POSSIBLE accepts any number of a possible length: a 7-digit group anywhere
    assert PhoneFinder("US", [], "POSSIBLE").spans("Room 555-1234 is on the left.") == [(5, 13)]
    assert PhoneFinder("US", [], "VALID").spans("Room 555-1234 is on the left.") == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"phone_leniency": "LOOSE"}, "phone_leniency 'LOOSE': expected one of POSSIBLE, VALID"),
    ({"phone_region": "XX"}, "phone region 'XX' is not a region libphonenumber knows"),
    ({"address_country": "JP"}, "address_country 'JP': pyap has address patterns for US, CA and GB only"),
])
def test_bad_settings_are_clear_errors(nlp, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        MiscRules(nlp, LabelConfig(**kwargs))


def test_ages_need_a_parser() -> None:
    import spacy

    with pytest.raises(ConfigError, match="the age rules read the dependency parse"):
        MiscRules(spacy.blank("en"))


def test_address_across_a_line_break_keeps_offsets_of_the_text() -> None:
    text = "Mail:\n520  Third Street\n\nSan Francisco, CA 94107\nThanks"
    (start, end), = AddressFinder("US").char_spans(text)
    assert text[start:end] == "520  Third Street\n\nSan Francisco, CA 94107"


def test_snap_keeps_whole_tokens_only(nlp) -> None:  # type: ignore[no-untyped-def]
    doc = nlp("Tel+44 171 542 7171 and (202) 514-2007.")
    assert snap(doc, 3, 19) == (1, 4)  # "+44" glued to "Tel": only the whole tokens inside
    end = doc.text.index(".")
    assert doc[slice(*snap(doc, doc.text.index("("), end + 1))].text == "(202) 514-2007"  # the stop is left out


def test_vanity_numbers_are_read_on_the_keypad() -> None:
    finder = PhoneFinder("US", [], "VALID")
    assert finder.valid_vanity("1-800-FLOWERS") and finder.valid_vanity("1-800-CALL-FBI")
    assert not finder.valid_vanity("555-ABCDEFGHIJ")  # too many digits for a US number
    assert finder.spans("ISBN 978-ABC-DEF and CASE 123-FOO-BAR") == []


def test_number_values_digits_and_words(nlp) -> None:  # type: ignore[no-untyped-def]
    from gonerd.label.misc_age import number_value

    doc = nlp("45 2.5 six forty-five five and twenty seven-and-twenty forty")
    assert number_value([doc[0]]) == 45 and number_value([doc[1]]) == 2.5 and number_value([doc[2]]) == 6
    assert number_value(list(doc[3:6])) == 45
    assert number_value(list(doc[6:9])) == 25 and number_value(list(doc[9:14])) == 27
    assert number_value(list(doc[2:5])) is None  # "six forty -" is not one number


def test_digit_runs_split_range_suffixes_and_drop_enclosing_parentheses() -> None:
    from gonerd.label.misc_phone import digit_runs

    text = "Tel: 1 (876) 926-3590-4 1 (876) 926-3740-6 and ( 65 8703080 ) or ( 852 ) 2843 6368"
    assert [text[a:b] for a, b in digit_runs(text)] == [
        "1 (876) 926-3590", "1 (876) 926-3740", "65 8703080", "( 852 ) 2843 6368"]


def test_a_run_without_plus_needs_its_cue_nearby() -> None:
    finder = PhoneFinder("US", [], "STRICT_GROUPING")
    assert finder.phone_run("40-1 3120264", cued=True)
    assert not finder.phone_run("40-1 3120264", cued=False)
    assert finder.phone_run("+44 171 542 8062", cued=False)  # "+" and a known country code anywhere
    assert not finder.phone_run("+0.300 - 11.900", cued=True)  # no country code opens with 0
    assert not finder.phone_run("2016-2019 12", cued=True)  # a year opens it
    far = "Newsroom " + "x" * 50 + " 40-1 3120264"
    assert finder.spans(far) == [] and finder.spans("Newsroom 40-1 3120264") == [(9, 21)]


def test_a_list_of_numbers_keeps_its_cue() -> None:
    text = "Contact: 624-6456; 225-8452; 225-8458; 225-8463; 225-8465; 225-8473 or 225-8491.\nRoom 555-1234 is left."
    found = PhoneFinder("US", [], "STRICT_GROUPING").spans(text)
    assert [text[a:b] for a, b in found] == ["624-6456", "225-8452", "225-8458", "225-8463", "225-8465",
                                             "225-8473", "225-8491"]
