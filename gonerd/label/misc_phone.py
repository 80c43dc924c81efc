"""Phone numbers found by libphonenumber (``phonenumbers.PhoneNumberMatcher``), Google's phone-number library.

The matcher reads international formats with their ``+`` country code, national formats of a
default region, and extensions ("ext. 12", "x5"). A number without a country code is read as a
number of ``region``, then of each of ``other_regions`` (a UK "0800 024 8997" is not a US number);
``leniency`` decides how strict the check is (``VALID``: a number the region's numbering plan can
assign; ``STRICT_GROUPING``, the default: also grouped as the region writes its numbers, so a league
table's "3 1 0 6 1 10" is not one). What the library does not find, small rules add on top:

* vanity numbers ("1-800-FLOWERS", "1-800-CALL-FBI"): the matcher's candidates are digits only,
  while ``phonenumbers.parse`` reads letters on a keypad — so a digit group followed by letter groups
  is handed to ``parse`` and kept when the number is valid;
* the UK text-relay prefix ``18001`` dialled before a number ("18001 0800 107 2149");
* local numbers without an area code ("Contact: 624-6456; 225-8452"): shortly after a word that says
  phone numbers follow ("call", "tel", "phone", "contact", "fax", "newsroom", "desk", ...; at most 40
  characters before, on the same line, or before the list of numbers it opens) the matcher runs again
  with leniency ``POSSIBLE``, which accepts a number of a possible length for the region; elsewhere
  digit groups like these are too often something else;
* numbers the numbering plans no longer know, and country codes written without ``+`` — as in
  newswire contact lines ("London Newsroom +44 171 542 8062", "Bucharest Newsroom 40-1 3120264",
  "( 852 ) 2843 6368"): a run of digit groups (7–15 digits, the last group at least two) is a phone
  when it starts with ``+`` and a country code libphonenumber knows, or, shortly after a phone cue,
  when it is a possible number of the default region or its first group (at most 5 digits) opens with
  a known country code; dates and runs opening with a year are not phones. Such a run replaces the
  shorter numbers the matcher found inside it ("( 6221 ) 384-6364", not "384-6364"). Runs are split at
  a range suffix ("926-3590-4 1 (876) 926-3740" is two numbers) and lose parentheses that enclose the
  whole number.
"""

from __future__ import annotations

import re

from gonerd.errors import ConfigError

LENIENCIES = ("POSSIBLE", "VALID", "STRICT_GROUPING", "EXACT_GROUPING")
# A vanity number: an optional "1-", a 3-digit area code, then groups in which letters occur.
_VANITY = re.compile(r"(?<![\w+-])(?:1[-. ])?\(?\d{3}\)?[-. ](?=[\dA-Z-]*[A-Z])[\dA-Z]{2,7}(?:-[\dA-Z]{2,7}){0,2}(?![\w-])")
_RELAY_PREFIX = "18001 "
_CUE = r"\b(?:tel|telephone|phone|call|calling|contact|fax|hotline|whatsapp|mobile|cell|newsroom|news room|desk|bureau)\b"
_CUE_LINE = re.compile(rf"^.*{_CUE}.*$", re.IGNORECASE | re.MULTILINE)
_CUE_WORD = re.compile(_CUE, re.IGNORECASE)
# A run is read with its cue when the cue ends at most this many characters before it on its line
# ("Tel: 1 (876) 926-3590-4 1 (876) 926-3740"): a page flattened to one line is not one cue line.
_CUE_REACH = 40
_LIST_REACH = 300  # a list of numbers longer than this is a table, not a contact line
_NUMBER_LIST_TAIL = re.compile(r"(?:[\d\s()+.\-/;,]|\bor\b|\band\b)*$")
# Digit groups joined by single spaces, "-", ".", "/" or parentheses, opening with "+", "(" or a digit.
_RUN = re.compile(r"(?<![\w+.\-/])(?:\(\s?)?\+?\s?\d[\d().\-/ ]*\d(?:\s?\))?")
# "926-3590-4 1 (876) …": a one- or two-digit range suffix after a long group ends a number.
_RANGE_SUFFIX = re.compile(r"(?<=\d{4})-\d{1,2}(?= |$)")
_RUN_DIGITS = (7, 15)
_DATE = re.compile(r"\d{4}([-./])\d{1,2}\1\d{1,2}|\d{1,2}([-./])\d{1,2}\2\d{2,4}")
_MIN_LOCAL_DIGITS = 7
# A number glued to what precedes it is part of something else ("bmjopen-2016-011092", "/12345").
_GLUE = frozenset("-/.:_#=")


class PhoneFinder:
    """Character spans of the phone numbers in a text."""

    def __init__(self, region: str = "US", other_regions: tuple[str, ...] | list[str] = (),
                 leniency: str = "STRICT_GROUPING") -> None:
        import phonenumbers

        known = phonenumbers.SUPPORTED_REGIONS
        for r in (region, *other_regions):
            if r not in known:
                raise ConfigError(f"phone region {r!r} is not a region libphonenumber knows (e.g. US, GB, DE)")
        if leniency not in LENIENCIES:
            raise ConfigError(f"phone_leniency {leniency!r}: expected one of {', '.join(LENIENCIES)}")
        self.regions = (region, *(r for r in other_regions if r != region))
        self.leniency = getattr(phonenumbers.Leniency, leniency)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Non-overlapping ``(start, end)`` character spans of phone numbers, in text order."""
        import phonenumbers

        found: list[tuple[int, int]] = []
        # the matcher reads "18001 0800 …" as one invalid number: hide the prefix, then put it back
        unprefixed = text.replace(_RELAY_PREFIX, " " * len(_RELAY_PREFIX))
        for region in self.regions:
            for m in phonenumbers.PhoneNumberMatcher(unprefixed, region, leniency=self.leniency):
                if m.start == 0 or text[m.start - 1] not in _GLUE:
                    found.append(self._with_relay_prefix(text, m.start, m.end))
        if self.leniency != phonenumbers.Leniency.POSSIBLE:
            for line in _CUE_LINE.finditer(unprefixed):
                for m in phonenumbers.PhoneNumberMatcher(line.group(), self.regions[0],
                                                         leniency=phonenumbers.Leniency.POSSIBLE):
                    at = line.start() + m.start
                    if sum(c.isdigit() for c in m.raw_string) >= _MIN_LOCAL_DIGITS and _cued(unprefixed, at):
                        found.append((at, line.start() + m.end))
        found += [(m.start(), m.end()) for m in _VANITY.finditer(text) if self.valid_vanity(m.group())]
        runs = [(a, b) for a, b in digit_runs(unprefixed) if _RUN_DIGITS[0] <= _digit_count(unprefixed, a, b)
                and self.phone_run(unprefixed[a:b], _cued(unprefixed, a))]
        # A run is the matcher's number with its country or area code, or without a stray parenthesis:
        # it wins over what it overlaps, unless the matcher's number holds it (an extension follows).
        found = [_trim(text, a, b) for a, b in found]
        found = [(a, b) for a, b in found
                 if not any(a < e and s < b and not (a <= s and e <= b) for s, e in runs)]
        return _first_come(found + runs)

    def phone_run(self, run: str, cued: bool) -> bool:
        """Whether the digit run ``run`` (from :func:`digit_runs`) is a phone number: ``+`` and a known
        country code anywhere; shortly after a phone cue (``cued``) also a possible number of the
        default region, or a run whose first group opens with a known country code."""
        import phonenumbers

        groups = re.findall(r"\d+", run)
        digits = "".join(groups)
        if _DATE.fullmatch(run) or re.match(r"(?:19|20)\d\d\D", run):
            return False  # a date, or a year opens it: "2016-2019", "2019 18.54"
        if not _RUN_DIGITS[0] <= len(digits) <= _RUN_DIGITS[1] or len(groups[-1]) < 2:
            return False
        if re.match(r"\(?\s?\+[1-9]", run):
            return _country_code(digits) is not None
        if not cued:
            return False
        try:
            if phonenumbers.is_possible_number(phonenumbers.parse(run, self.regions[0])):
                return True
        except phonenumbers.NumberParseException:
            pass
        first = groups[0]
        if len(groups) < 2 or len(first) > 5:
            return False  # one long group is an identifier ("PMID 15692073"), not a number with its code
        code = _country_code(first)
        return code is not None and len(digits) - len(code) >= 6

    def valid_vanity(self, candidate: str) -> bool:
        """Whether ``candidate`` ("1-800-FLOWERS") read on a phone keypad is a valid number of the default region."""
        import phonenumbers

        try:
            number = phonenumbers.parse(candidate, self.regions[0])
        except phonenumbers.NumberParseException:
            return False
        return phonenumbers.is_valid_number(number)

    @staticmethod
    def _with_relay_prefix(text: str, start: int, end: int) -> tuple[int, int]:
        lead = start - len(_RELAY_PREFIX)
        return (lead, end) if lead >= 0 and text[lead:start] == _RELAY_PREFIX else (start, end)


def _digit_count(text: str, a: int, b: int) -> int:
    """How many digits ``text[a:b]`` holds."""
    return sum(c.isdigit() for c in text[a:b])


def _cued(text: str, start: int) -> bool:
    """Whether a phone cue word ends within :data:`_CUE_REACH` characters before ``start`` on its line, or
    before the list of numbers ``start`` is in ("Contact: 624-6456; 225-8452; … or 225-8491")."""
    line_start = max(text.rfind("\n", 0, start) + 1, start - _LIST_REACH)
    head = _NUMBER_LIST_TAIL.search(text, line_start, start).start()
    return _CUE_WORD.search(text, max(line_start, head - _CUE_REACH), head) is not None


def digit_runs(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the runs of digit groups in ``text`` that may be phone numbers: split at range
    suffixes, without parentheses that enclose the whole run or are left open."""
    out = []
    for m in _RUN.finditer(text):
        start = m.start()
        for piece in _RANGE_SUFFIX.split(m.group()):
            a, b = start, start + len(piece)
            start = b + len(_RANGE_SUFFIX.search(m.group(), b - m.start()).group()) if b < m.end() else b
            out.append(_trim(text, a, b))
    return [(a, b) for a, b in out if a < b]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    """``[a, b)`` without surrounding spaces and without parentheses that enclose all of it or are unmatched."""
    while a < b and text[a] == " ":
        a += 1
    while b > a and text[b - 1] == " ":
        b -= 1
    piece = text[a:b]
    if piece.startswith("(") and piece.endswith(")") and piece.count("(") == 1 and piece.count(")") == 1:
        return _trim(text, a + 1, b - 1)
    if piece.endswith(")") and piece.count(")") > piece.count("("):
        return _trim(text, a, b - 1)
    if piece.startswith("(") and piece.count("(") > piece.count(")"):
        return _trim(text, a + 1, b)
    return a, b


def _country_code(digits: str) -> str | None:
    """The country calling code ``digits`` opens with (1–3 digits), if libphonenumber knows one."""
    import phonenumbers

    if digits[:1] in ("", "0"):
        return None  # no country calling code opens with 0
    for n in range(1, min(3, len(digits)) + 1):
        if phonenumbers.region_code_for_country_code(int(digits[:n])) != "ZZ":
            return digits[:n]
    return None


def _first_come(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` without those overlapping an earlier one (earlier regions and rules win), sorted."""
    kept: list[tuple[int, int]] = []
    for s, e in spans:
        if all(e <= ks or s >= ke for ks, ke in kept):
            kept.append((s, e))
    return sorted(kept)
