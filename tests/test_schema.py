"""The label schema: tag order, entity types, and the worked MISC examples."""

from __future__ import annotations

from gonerd.conll import iob2_errors
from gonerd.schema import ENTITY_TYPES, LABEL2ID, LABELS, MISC_EXAMPLES, MISC_KINDS, TAGS, TYPE_DESCRIPTIONS, bio_tags


def test_tag_set_is_iob2_in_dataset_order() -> None:
    assert LABELS == ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
    assert TAGS is LABELS
    assert [LABEL2ID[t] for t in LABELS] == list(range(9))
    assert tuple(bio_tags()) == LABELS
    assert bio_tags(("PER",)) == ["O", "B-PER", "I-PER"]
    assert not iob2_errors(list(LABELS[1::2]))  # every B- tag is a valid start


def test_every_type_is_described_and_misc_is_narrow() -> None:
    assert set(TYPE_DESCRIPTIONS) == set(ENTITY_TYPES) == {"PER", "ORG", "LOC", "MISC"}
    assert "nothing else" in TYPE_DESCRIPTIONS["MISC"]
    assert MISC_KINDS == ("age", "address", "phone")


def test_misc_examples_are_well_formed() -> None:
    positives, negatives = MISC_EXAMPLES["positive"], MISC_EXAMPLES["negative"]
    assert {ex["kind"] for ex in positives} == set(MISC_KINDS)
    for ex in positives:
        assert ex["misc"] and all(m in ex["text"] for m in ex["misc"]), ex
    assert {"date", "money", "case number", "statute citation", "years", "percentages", "ZIP code alone",
            "eligibility threshold", "age of an animal", "age of an object", "duration"} <= {ex["why"] for ex in negatives}


def test_misc_conventions_are_those_of_issue_21() -> None:
    """Whole postal addresses (across a line break), ages of persons in the forms prose uses."""
    import gonerd.schema as schema

    addresses = [m for ex in MISC_EXAMPLES["positive"] if ex["kind"] == "address" for m in ex["misc"]]
    assert "450 Fifth Street NW, Suite 8600, Washington, D.C. 20530" in addresses
    assert any("\n" in a for a in addresses)  # across a line break
    ages = {m for ex in MISC_EXAMPLES["positive"] if ex["kind"] == "age" for m in ex["misc"]}
    assert {"52", "30", "12", "15", "81", "age of 7", "six-year-old", "twenty-five"} <= ages
    assert "street part only" not in schema.__doc__ and "whole postal address" in schema.__doc__
    assert "Only ages of persons, postal addresses and phone numbers" in TYPE_DESCRIPTIONS["MISC"]
