"""MISC rules: they fire on real sentences (DOJ releases, news) and stay silent on near-misses."""

from __future__ import annotations

import pytest
import spacy

from gonerd.label import Labeler
from gonerd.label.rules import RULES, MiscRules
from gonerd.schema import MISC_EXAMPLES


@pytest.fixture(scope="module")
def nlp() -> spacy.language.Language:
    return spacy.blank("en")  # the rules are lexical: a tokenizer is all they need


@pytest.fixture(scope="module")
def rules(nlp: spacy.language.Language) -> MiscRules:
    return MiscRules(nlp.vocab)


def found(nlp: spacy.language.Language, rules: MiscRules, text: str) -> list[tuple[str, str]]:
    doc = nlp(text)
    return [(doc[s:e].text, kind) for s, e, kind in rules.matches(doc)]


def test_rules_are_a_labeler(rules: MiscRules) -> None:
    assert isinstance(rules, Labeler)
    assert rules.source == "rules:misc@2" and rules.labels == {"MISC"}
    assert {r.kind for r in RULES} == {"age", "address", "phone"}


@pytest.mark.parametrize("example", MISC_EXAMPLES["positive"], ids=lambda ex: ex["text"][:40])
def test_schema_positive_examples(nlp, rules, example) -> None:
    assert found(nlp, rules, example["text"]) == [(m, example["kind"]) for m in example["misc"]]


@pytest.mark.parametrize("example", MISC_EXAMPLES["negative"], ids=lambda ex: ex["why"])
def test_schema_negative_examples(nlp, rules, example) -> None:
    assert found(nlp, rules, example["text"]) == []


# Sentences from the bundled DOJ releases (gonerd/sample/doj_releases.jsonl) and news pages.
REAL = [
    ("Vanessa Roberts Avery, United States Attorney for the District of Connecticut, announced that "
     "GREGORY BUTTS, 54, pleaded guilty today before U.S. District Judge Sarala V. Nagala.", [("54", "age")]),
    ("Evans announced that SHI GANG ZHENG (“ZHENG”), age 55, a Chinese national residing in New Orleans, "
     "was sentenced on January 16, 2025.", [("age 55", "age")]),
    ("EVANSVILLE— Arties Dushawn Brown., 35, of Evansville, Indiana, has been sentenced to fifteen years "
     "in federal prison.", [("35", "age")]),
    ("Willie Dean Nelson, III, 32, pleaded guilty to possession of a firearm.", [("32", "age")]),
    ("Attorney Roger B. Handberg announces the unsealing of an indictment charging Teresa Brady (69, "
     "Jacksonville) and Ruby George (81, Jacksonville) with conspiracy.", [("69", "age"), ("81", "age")]),
    ("The law provides for a total sentence of 20 years in prison. Sentencing is set for April 15, 2025.", []),
    ("Anyone with information can report it by calling the Department of Justice’s National Center for "
     "Disaster Fraud (NCDF) Hotline at 866-720-5721 or via the NCDF Web Complaint Form.",
     [("866-720-5721", "phone")]),
    ("Comments may be sent to Chief, Technology and Digital Platforms Section, Antitrust Division, "
     "Department of Justice, 450 Fifth Street NW, Suite 8600, Washington, DC 20530.",
     [("450 Fifth Street NW, Suite 8600", "address")]),
    ("Officers stopped a vehicle driven by Jonathan P. Blair, 29, of 1909 Jolinda Drive.",
     [("29", "age"), ("1909 Jolinda Drive", "address")]),
    ("Victor N. Burton, 57, of 3170 W. County Road 600S, a Bartholomew County Sheriff’s Department "
     "spokesman said.", [("57", "age"), ("3170 W. County Road 600S", "address")]),
    ("The investigation involved children between 13 and 16 years old in the Monroe area.",
     [("13 and 16 years old", "age")]),
    ("Schooling is compulsory for children aged 6 to 16, with most attending from the age of 5.",
     [("aged 6 to 16", "age")]),
    ("In the US, call the National Suicide Prevention Lifeline at 1-800-273-8255.", [("1-800-273-8255", "phone")]),
    ("Please call 0800 024 8997 or 18001 0800 024 8997 (Next Generation Text).",
     [("0800 024 8997", "phone"), ("18001 0800 024 8997", "phone")]),
    ("Contact: 624-6456; 225-8452 or by email.", [("624-6456", "phone"), ("225-8452", "phone")]),
]


@pytest.mark.parametrize(("text", "expected"), REAL, ids=lambda v: v[:40] if isinstance(v, str) else "")
def test_real_sentences(nlp, rules, text, expected) -> None:
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
]


@pytest.mark.parametrize("text", NEAR_MISSES, ids=lambda t: t[:40])
def test_near_misses(nlp, rules, text) -> None:
    assert found(nlp, rules, text) == []


def test_spans_are_the_matches_labeled_misc(nlp, rules) -> None:
    doc = nlp("Call (202) 514-2007 about the 45-year-old defendant.")
    assert rules.spans(doc) == [(s, e, "MISC") for s, e, _ in rules.matches(doc)]
    assert [doc[s:e].text for s, e, _ in rules.spans(doc)] == ["(202) 514-2007", "45-year-old"]
