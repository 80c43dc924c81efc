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
  ages of persons ("45-year-old", "age 45", "aged 45", the "45" in "John Smith, 45, of Boston"),
  postal addresses ("1600 Pennsylvania Avenue NW, Washington, DC 20500") and
  phone numbers ("(202) 514-2000", "+44 20 7946 0958", "1-800-FLOWERS").
  Dates, money, percentages, case numbers, statute citations, years, bare ZIP codes,
  nationalities, events and products are *not* MISC (CoNLL's MISC is a different type).

MISC conventions (issue 21; the hand-labelled gold sets in ``gonerd/data`` follow them):

* an **age** is the age of a person or of a group of people, with its words ("aged 15 to 21",
  "13 and 16 years old", "11 months of age", "age of 7", "six-year-old"); where the number stands
  alone only the number: in an apposition ("Jane Roe, 52, of Dayton", "the singer, 30, said",
  "Teresa Brady (69, Jacksonville)"), after a copula ("since she was 12"), after "at"
  ("At 15, he left", "died at 81"), after a noun for a person ("a boy of seven"). Spelled-out numbers
  count ("was twenty-five"). Not ages: ages of animals, objects, works or organisations
  ("the dog, 3,", "a 106-year-old schooner", "the 12-year-old conflict"); eligibility thresholds
  ("must be 21 or older", "children under 12", "aged 50 years and older"); durations and prison
  terms ("20 years in prison", "a 20-year veteran"); times ("at 5 p.m.");
* an **address** is the whole postal address the text gives: house number (or P.O. Box) through
  street, suite or floor, city, state/region and postcode, also across a line break
  ("450 Fifth Street NW, Suite 8600, Washington, D.C. 20530"); where the text gives the street part
  only, that part ("of 1909 Jolinda Drive."). The country name after the postcode, building names
  alone and postcodes alone are not part of it or not addresses;
* a **phone number** includes its country or relay prefix and extension ("+1 212-859-1761",
  "18001 0800 107 2149", "(202) 514-2000 ext. 12"), in any national format, vanity numbers too
  ("1-800-FLOWERS").

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
    "MISC": "Only ages of persons, postal addresses and phone numbers — nothing else.",
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
        {"text": "Jane Roe, 52, of Dayton, was arrested.", "misc": ["52"], "kind": "age"},
        {"text": "The singer, 30, said she would return.", "misc": ["30"], "kind": "age"},
        {"text": "She has played the piano since she was 12.", "misc": ["12"], "kind": "age"},
        {"text": "At 15, he left home for the city.", "misc": ["15"], "kind": "age"},
        {"text": "The composer died at 81 in Vienna.", "misc": ["81"], "kind": "age"},
        {"text": "She learned to read at the age of 7.", "misc": ["age of 7"], "kind": "age"},
        {"text": "A six-year-old boy was hurt in the crash.", "misc": ["six-year-old"], "kind": "age"},
        {"text": "In 1913, when Anthony Patch was twenty-five, he moved to New York.", "misc": ["twenty-five"],
         "kind": "age"},
        {"text": "A 34-year-old man from Miami was charged.", "misc": ["34-year-old"], "kind": "age"},
        {"text": "The defendant, aged 52, was sentenced to 10 years.", "misc": ["aged 52"], "kind": "age"},
        {"text": "The boy was 15 years old when the abuse began.", "misc": ["15 years old"], "kind": "age"},
        {"text": "Comments may be sent to 450 Fifth Street NW, Suite 8600, Washington, D.C. 20530.",
         "misc": ["450 Fifth Street NW, Suite 8600, Washington, D.C. 20530"], "kind": "address"},
        {"text": "Write to us at 520 Third Street, Suite 350\nSan Francisco, CA 94107 by Friday.",
         "misc": ["520 Third Street, Suite 350\nSan Francisco, CA 94107"], "kind": "address"},
        {"text": "Officers stopped a vehicle driven by a man of 1909 Jolinda Drive. He fled.",
         "misc": ["1909 Jolinda Drive"], "kind": "address"},
        {"text": "Call the Office of Public Affairs at (202) 514-2007.", "misc": ["(202) 514-2007"], "kind": "phone"},
        {"text": "Tips may be reported at 202-514-2000.", "misc": ["202-514-2000"], "kind": "phone"},
        {"text": "Our London office is on +44 20 7946 0958, or +1 (202) 514-2000 ext. 12 in Washington.",
         "misc": ["+44 20 7946 0958", "+1 (202) 514-2000 ext. 12"], "kind": "phone"},
        {"text": "Order roses at 1-800-FLOWERS today.", "misc": ["1-800-FLOWERS"], "kind": "phone"},
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
        {"text": "Applicants must be 21 or older to enter.", "why": "eligibility threshold"},
        {"text": "Children under 12 ride the ferry free.", "why": "eligibility threshold"},
        {"text": "The dog, 3, was rescued from the river.", "why": "age of an animal"},
        {"text": "The 106-year-old schooner sank off the coast.", "why": "age of an object"},
        {"text": "She has been a nurse for 30 years.", "why": "duration"},
        {"text": "The meeting starts at 5 p.m. in the hall.", "why": "time"},
    ],
}


def bio_tags(entity_types: tuple[str, ...] = ENTITY_TYPES) -> list[str]:
    """The IOB2 tags for ``entity_types`` in schema order, ``O`` first."""
    return ["O"] + [f"{p}-{t}" for t in entity_types for p in ("B", "I")]
