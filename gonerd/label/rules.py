"""MISC rules: ages, US street addresses and phone numbers as spaCy ``Matcher`` token patterns.

Each rule is ``before + entity + after``: ``before``/``after`` are context tokens that must match
but are not labeled (the ``, … ,`` around an appositive age), ``entity`` are the labeled tokens.
The patterns only use lexical attributes (ORTH, LOWER, REGEX, IS_TITLE), so they work on any
tokenized ``Doc`` — with or without a tagger or parser. Overlapping matches keep the longest.

Near-misses the patterns are written to reject (see ``gonerd.schema.MISC_EXAMPLES``): dates, money,
percentages, years, counts and prison terms ("20 years in prison" — an age needs "old"/"of age"
or "age"/"aged"), case numbers, statute citations, bare ZIP codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import spacy.tokens
    import spacy.vocab

RULES_VERSION = 2

# An age as a number token: 1-119.
_AGE = {"TEXT": {"REGEX": r"^(?:[1-9]\d?|1[01]\d)$"}}
# Without words like "age" or "old" around it, a bare number is taken as an age only up to 99
# (cricket scores such as "Tim O'Gorman, 109," look the same).
_BARE_AGE = {"TEXT": {"REGEX": r"^[1-9]\d?$"}}
# Nouns for people that an age can follow directly: "her aunt, 47, and companion, 28, were ..."
_PERSON_NOUNS = ["man", "woman", "boy", "girl", "child", "teen", "teenager", "baby", "mother", "father", "wife",
                 "husband", "son", "daughter", "brother", "sister", "aunt", "uncle", "cousin", "grandmother",
                 "grandfather", "companion", "partner", "girlfriend", "boyfriend", "friend", "driver", "passenger",
                 "victim", "suspect", "defendant", "resident", "officer", "student", "worker", "farmer", "owner",
                 "teacher", "nurse", "doctor", "mayor", "player", "veteran", "widow", "mom", "dad"]
_AGE_OR_DECIMAL = {"TEXT": {"REGEX": r"^(?:[1-9]\d?|1[01]\d)(?:\.\d)?$"}}
_AGE_UNITS = ["year", "years", "month", "months", "week", "weeks", "day", "days"]
_NOT_AGE_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
                  "october", "november", "december", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.",
                  "sep.", "sept.", "oct.", "nov.", "dec.", "monday", "tuesday", "wednesday", "thursday",
                  "friday", "saturday", "sunday", "count", "counts", "section", "sections", "chapter",
                  "rule", "page", "pages", "no.", "nos.", "number", "title", "volume", "room", "suite"]

_D3 = {"TEXT": {"REGEX": r"^\d{3}$"}}
_D4 = {"TEXT": {"REGEX": r"^\d{4}$"}}
_DASH = {"ORTH": {"IN": ["-", "–"]}}
# no prefix, or a country code "1"/"+1" optionally followed by a dash: "1-800-…", "+1 202 …"
_COUNTRY_PREFIXES = ([], [{"ORTH": {"IN": ["1", "+1"]}}, {"ORTH": {"IN": ["-", "."]}, "OP": "?"}])
_EXTENSION = [{"LOWER": {"IN": ["ext", "ext.", "x", "extension"]}},
              {"ORTH": ".", "OP": "?"}]

_HOUSE_NUMBER = {"TEXT": {"REGEX": r"^\d{1,6}[A-Z]?$"}}
_DIRECTIONS = ["n", "s", "e", "w", "n.", "s.", "e.", "w.", "north", "south", "east", "west"]
_POST_DIRECTIONS = ["nw", "ne", "sw", "se", "n.w.", "n.e.", "s.w.", "s.e.", "northwest", "northeast",
                    "southwest", "southeast", "n", "s", "e", "w", "n.", "s.", "e.", "w."]
_STREET_SUFFIXES = ["street", "st", "st.", "avenue", "ave", "ave.", "av.", "road", "rd", "rd.", "boulevard",
                    "blvd", "blvd.", "drive", "dr", "dr.", "lane", "ln", "ln.", "way", "court", "ct", "ct.",
                    "place", "pl", "pl.", "highway", "hwy", "hwy.", "parkway", "pkwy", "pkwy.", "circle",
                    "cir", "cir.", "terrace", "ter.", "trail", "square", "plaza", "pike", "turnpike",
                    "alley", "loop", "row", "expressway", "freeway"]
_ABBREVIATED_SUFFIXES = ["st", "ave", "rd", "blvd", "dr", "ln", "ct", "pl", "hwy", "pkwy", "cir", "ter"]
# Title-case words that make "<number> <Word> Court" a court or an office, not a street.
_NOT_STREET_NAMES = ["district", "circuit", "superior", "supreme", "federal", "municipal", "bankruptcy",
                     "appeals", "county", "state", "juvenile", "family", "criminal", "tax", "claims"]
_STREET_NAME = {"TEXT": {"REGEX": r"^(?:[A-Z][A-Za-z'’.-]*|\d+(?:st|nd|rd|th))$"},
                "LOWER": {"NOT_IN": _NOT_STREET_NAMES + _STREET_SUFFIXES}}
_UNIT_WORDS = ["suite", "ste", "ste.", "apt", "apt.", "apartment", "unit", "room", "rm.", "floor", "#"]


@dataclass(frozen=True)
class Rule:
    """One token pattern: ``before`` and ``after`` are unlabeled context, ``entity`` the labeled part."""

    name: str
    kind: str
    entity: list[dict[str, Any]]
    before: tuple[dict[str, Any], ...] = ()
    after: tuple[dict[str, Any], ...] = ()


def _phone_rules() -> list[Rule]:
    bodies = {
        "paren": [{"ORTH": "("}, _D3, {"ORTH": ")"}, _D3, _DASH, _D4],
        # other area/city codes in parentheses: "(6221) 384-6364", "(36 1) 327 4040"
        "paren_area": [{"ORTH": "("}, {"TEXT": {"REGEX": r"^\d{1,5}$"}, "OP": "{1,2}"}, {"ORTH": ")"},
                       {"TEXT": {"REGEX": r"^\d{3,4}$"}}, {"ORTH": "-", "OP": "?"}, _D4],
        # area code set off by a space: "312 408-8787"
        "spaced_area": [_D3, _D3, _DASH, _D4],
        "paren_glued": [{"ORTH": "("}, {"TEXT": {"REGEX": r"^\d{3}\)\d{3}$"}}, _DASH, _D4],
        "dashed": [_D3, _DASH, _D3, _DASH, _D4],
        "dotted": [{"TEXT": {"REGEX": r"^\d{3}\.\d{3}\.\d{4}$"}}],
        "spaced": [_D3, _D3, _D4],
        "vanity": [_D3, {"ORTH": "-"}, {"TEXT": {"REGEX": r"^[A-Z0-9]{2,7}$"}}, {"ORTH": "-"},
                   {"TEXT": {"REGEX": r"^[A-Z]{2,7}$"}}],
        # seven-digit local number: "624-6456"
        "local": [_D3, {"ORTH": "-"}, _D4],
        # UK style with trunk zero: "0800 138 1016", "0345 744 4422"; "18001" is the text-relay prefix
        "trunk_zero": [{"TEXT": "18001", "OP": "?"}, {"TEXT": {"REGEX": r"^0\d{3}$"}}, _D3, _D4],
        # other country codes: "+81 158-23-2012", "+44 20 7946 0958", "+27-11 482 1003", "+381 11 2224305"
        "international": [{"TEXT": {"REGEX": r"^\+[2-9]\d{0,2}$"}},
                          {"TEXT": {"REGEX": r"^(?:\d{1,4}|-)$"}, "OP": "{1,5}"},
                          {"TEXT": {"REGEX": r"^\d{3,8}$"}}],
    }
    extension = [*_EXTENSION, {"TEXT": {"REGEX": r"^\d{1,6}$"}}]
    rules = []
    for name, body in bodies.items():
        for i, prefix in enumerate(_COUNTRY_PREFIXES):
            rules.append(Rule(f"phone_{name}_{i}", "phone", [*prefix, *body]))
            rules.append(Rule(f"phone_{name}_{i}_ext", "phone", [*prefix, *body, *extension]))
    return rules


def _address_rules() -> list[Rule]:
    head = [_HOUSE_NUMBER, {"LOWER": {"IN": _DIRECTIONS}, "OP": "?"}, {**_STREET_NAME, "OP": "{1,4}"}]
    suffix_full = {"LOWER": {"IN": _STREET_SUFFIXES}}
    suffix_abbrev = [{"LOWER": {"IN": _ABBREVIATED_SUFFIXES}}, {"ORTH": "."}]
    post_direction = [{"ORTH": ",", "OP": "?"}, {"LOWER": {"IN": _POST_DIRECTIONS}}]
    unit = [{"ORTH": ",", "OP": "?"}, {"LOWER": {"IN": _UNIT_WORDS}}, {"ORTH": ".", "OP": "?"},
            {"TEXT": {"REGEX": r"^#?[0-9]{1,6}[A-Z]?$|^[A-Z]$"}}]
    # "3170 W. County Road 600S", "1234 State Route 9"
    rural = [_HOUSE_NUMBER, {"LOWER": {"IN": _DIRECTIONS}, "OP": "?"}, {"LOWER": {"IN": ["county", "state", "farm"]}},
             {"LOWER": {"IN": ["road", "route", "highway", "rd", "rd."]}}, {"TEXT": {"REGEX": r"^\d{1,5}[NSEW]?$"}}]
    rules = [Rule("address_rural", "address", rural)]
    for sname, suffix in (("full", [suffix_full]), ("abbrev", suffix_abbrev)):
        for tname, tail in (("", []), ("_dir", post_direction), ("_unit", unit), ("_dir_unit", post_direction + unit)):
            rules.append(Rule(f"address_{sname}{tname}", "address", [*head, *suffix, *tail]))
    return rules


def _age_rules() -> list[Rule]:
    hyphen = {"ORTH": {"IN": ["-", "–"]}, "OP": "?"}
    units = {"LOWER": {"IN": _AGE_UNITS}}
    joiner = {"LOWER": {"IN": ["and", "to", "through", "-", "–"]}}
    and_a_half = [{"LOWER": "and", "OP": "?"}, {"LOWER": "a", "OP": "?"}, {"LOWER": "half", "OP": "?"}]
    capitalised = {"TEXT": {"REGEX": r"^[A-Z][A-Za-z'’.-]*$"}, "LOWER": {"NOT_IN": _NOT_AGE_NAMES}}
    after_age = {"ORTH": {"IN": [",", ";", ".", "–", "—", "--"]}}
    return [
        # "45-year-old", "45 years old", "6-month-old", "2.5-year-old"
        Rule("age_year_old", "age", [_AGE_OR_DECIMAL, hyphen, units, hyphen, {"LOWER": "old"}]),
        # "between 13 and 16 years old"
        Rule("age_range_old", "age", [_AGE, joiner, _AGE, hyphen, units, hyphen, {"LOWER": "old"}]),
        # "45 years of age", "11 months of age"
        Rule("age_of_age", "age", [_AGE, units, {"LOWER": "of"}, {"LOWER": "age"}]),
        # "age 45", "aged 52", "age 65 years", "aged 15 to 21", "ages 65 and 74 years", "age 7 and a half"
        Rule("age_word", "age", [{"LOWER": {"IN": ["age", "aged", "ages"]}}, _AGE, *and_a_half,
                                 {"LOWER": {"IN": ["years", "months", "weeks"]}, "OP": "?"}]),
        Rule("age_word_range", "age", [{"LOWER": {"IN": ["aged", "ages"]}}, _AGE, joiner, _AGE,
                                       {"LOWER": {"IN": ["years", "months", "weeks"]}, "OP": "?"}]),
        # "John Smith, 45, of Boston", "GREGORY BUTTS, 54, pleaded", "Braun, 38 – who":
        # a number set off by commas (or a dash) right after a capitalised word or a noun for a person
        Rule("age_appositive", "age", [_BARE_AGE],
             before=(capitalised, {"ORTH": ".", "OP": "?"}, {"ORTH": ","}), after=(after_age,)),
        Rule("age_after_person_noun", "age", [_BARE_AGE],
             before=({"LOWER": {"IN": _PERSON_NOUNS}}, {"ORTH": ","}), after=(after_age,)),
        # "Teresa Brady (69, Jacksonville)": the Florida US Attorneys' style
        Rule("age_parenthesised", "age", [_BARE_AGE], before=({"ORTH": "("},),
             after=({"ORTH": ","}, {"IS_TITLE": True})),
    ]


RULES: tuple[Rule, ...] = (*_age_rules(), *_address_rules(), *_phone_rules())


class MiscRules:
    """The MISC labeler: matches :data:`RULES` and labels each match ``MISC``.

    ``matches`` additionally names the kind (age, address, phone) of each span, for evaluation.
    """

    labels: frozenset[str] = frozenset({"MISC"})

    def __init__(self, vocab: spacy.vocab.Vocab, rules: tuple[Rule, ...] = RULES) -> None:
        from spacy.matcher import Matcher

        self.source = f"rules:misc@{RULES_VERSION}"
        self._rules = {r.name: r for r in rules}
        self._matcher = Matcher(vocab, validate=True)
        for rule in rules:
            self._matcher.add(rule.name, [[*rule.before, *rule.entity, *rule.after]])

    def matches(self, doc: spacy.tokens.Doc) -> list[tuple[int, int, str]]:
        """Non-overlapping ``(start, end, kind)`` token spans, longest match first, in text order."""
        found = []
        for match_id, start, end, alignment in self._matcher(doc, with_alignments=True):
            rule = self._rules[doc.vocab.strings[match_id]]
            lo, hi = len(rule.before), len(rule.before) + len(rule.entity)
            # alignment[i] is the pattern-token index that matched doc token start+i
            tokens = [start + i for i, p in enumerate(alignment) if lo <= p < hi]
            found.append((tokens[0], tokens[-1] + 1, rule.kind))
        kept: list[tuple[int, int, str]] = []
        taken: set[int] = set()
        for s, e, kind in sorted(set(found), key=lambda m: (m[0] - m[1], m[0])):
            if taken.isdisjoint(range(s, e)):
                kept.append((s, e, kind))
                taken.update(range(s, e))
        return sorted(kept)

    def spans(self, doc: spacy.tokens.Doc) -> list[tuple[int, int, str]]:
        """MISC token spans ``[start, end)`` (the :class:`gonerd.label.base.Labeler` protocol)."""
        return [(s, e, "MISC") for s, e, _ in self.matches(doc)]
