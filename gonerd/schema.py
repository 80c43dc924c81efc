"""The GONERD label schema: entity types, IOB2 tag set, and worked examples of each type.

Tag set (IOB2, in this order; the order is the ``ClassLabel`` order of the dataset)::

    O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, B-MISC, I-MISC

Entity types:

* **PER** — people, by name ("Merrick B. Garland", "Coney").
* **ORG** — organisations: agencies, companies, courts, offices, bands, teams
  ("Federal Bureau of Investigation", "U.S. District Court", "Benton County Sheriff's Office").
* **LOC** — places: countries, states, cities, regions and named facilities
  ("Conway", "Arkansas", "Western District of Arkansas" as a place, "Dulles Airport").
* **MISC** — ONLY three kinds of personal detail, nothing else:
  ages ("45-year-old", "age 45", "aged 45", the "45" in "John Smith, 45, of Boston"),
  US street addresses ("1600 Pennsylvania Avenue NW", "123 Main St., Suite 4") and
  phone numbers ("(202) 514-2000", "202-514-2000", "1-800-225-5324").
  Dates, money, percentages, case numbers, statute citations, years, bare ZIP codes,
  nationalities, events and products are *not* MISC (CoNLL's MISC is a different type).

MISC conventions (those of the hand-labeled gold in ``tests/data``):

* an age is the age of a person or group of people, with its words ("aged 15 to 21",
  "13 and 16 years old", "11 months of age"); in an apposition only the number ("Smith, 45, of").
  Ages of things ("a 106-year-old schooner", "the 12-year-old conflict"), durations and prison
  terms are not MISC;
* an address is the street part only ("450 Fifth Street NW, Suite 8600"); the city and state are
  LOC, a ZIP code alone is nothing; building names are not addresses;
* a phone number includes its country or relay prefix and extension ("+1 212-859-1761",
  "18001 0800 107 2149"), in any national format.

A sequence is one whole document (no sentence splitting); tokens are words: spaCy's tokens without
the whitespace-only ones, so an entity may run across a line break.
The examples below are the schema's reference cases: tests check the rule labeler against
them and the data card renders them.
"""

from __future__ import annotations

ENTITY_TYPES: tuple[str, ...] = ("PER", "ORG", "LOC", "MISC")
LABELS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
TAGS = LABELS
LABEL2ID: dict[str, int] = {tag: i for i, tag in enumerate(LABELS)}

TYPE_DESCRIPTIONS: dict[str, str] = {
    "PER": "People, by name.",
    "ORG": "Organisations: agencies, companies, courts, offices.",
    "LOC": "Places: countries, states, cities, regions, facilities.",
    "MISC": "Only ages, US street addresses and phone numbers — nothing else.",
}

# MISC kinds; the rule labeler names each match by kind so evaluation can report them apart.
MISC_KINDS: tuple[str, ...] = ("age", "address", "phone")

# Each positive example: the sentence, the exact MISC substring(s), and their kind.
# Each negative example: a sentence in which nothing is MISC, and why.
MISC_EXAMPLES: dict[str, list[dict]] = {
    "positive": [
        {"text": "Benjamin Coney, age 30, and Emily Grace Brinley, age 26, both of Conway, Arkansas, were sentenced.",
         "misc": ["age 30", "age 26"], "kind": "age"},
        {"text": "John Smith, 45, of Boston, pleaded guilty on Monday.", "misc": ["45"], "kind": "age"},
        {"text": "A 34-year-old man from Miami was charged.", "misc": ["34-year-old"], "kind": "age"},
        {"text": "The defendant, aged 52, was sentenced to 10 years.", "misc": ["aged 52"], "kind": "age"},
        {"text": "The boy was 15 years old when the abuse began.", "misc": ["15 years old"], "kind": "age"},
        {"text": "The rally was held at 1600 Pennsylvania Avenue NW in Washington.",
         "misc": ["1600 Pennsylvania Avenue NW"], "kind": "address"},
        {"text": "Send questions to 123 Main St., Suite 4, Springfield.", "misc": ["123 Main St., Suite 4"],
         "kind": "address"},
        {"text": "Agents searched the home at 4512 West Elm Road in Tulsa.", "misc": ["4512 West Elm Road"],
         "kind": "address"},
        {"text": "Call the Office of Public Affairs at (202) 514-2007.", "misc": ["(202) 514-2007"], "kind": "phone"},
        {"text": "Tips may be reported at 202-514-2000.", "misc": ["202-514-2000"], "kind": "phone"},
        {"text": "Victims can call 1-800-225-5324 for help.", "misc": ["1-800-225-5324"], "kind": "phone"},
    ],
    "negative": [
        {"text": "On January 15, 2025, the court entered judgment.", "why": "date"},
        {"text": "He was ordered to pay $45,000 in restitution.", "why": "money"},
        {"text": "The case is United States v. Doe, Case No. 1:23-cr-00045.", "why": "case number"},
        {"text": "He was charged under 18 U.S.C. § 1343 with wire fraud.", "why": "statute citation"},
        {"text": "The scheme ran from 2019 to 2021.", "why": "years"},
        {"text": "Losses rose by 45 percent, or 12%, last year.", "why": "percentages"},
        {"text": "Residents of ZIP code 20530 were notified.", "why": "ZIP code alone"},
        {"text": "He faces a maximum of 20 years in prison.", "why": "sentence length"},
        {"text": "The indictment contains 45 counts.", "why": "count"},
    ],
}


def bio_tags(entity_types: tuple[str, ...] = ENTITY_TYPES) -> list[str]:
    """The IOB2 tags for ``entity_types`` in schema order, ``O`` first."""
    return ["O"] + [f"{p}-{t}" for t in entity_types for p in ("B", "I")]
