"""Phone numbers found by libphonenumber (``phonenumbers.PhoneNumberMatcher``), Google's phone-number library.

The matcher reads international formats with their ``+`` country code, national formats of a
default region, and extensions ("ext. 12", "x5"). A number without a country code is read as a
number of ``region``, then of each of ``other_regions`` (a UK "0800 024 8997" is not a US number);
``leniency`` decides how strict the check is (``VALID``: a number the region's numbering plan can
assign; ``STRICT_GROUPING``, the default: also grouped as the region writes its numbers, so a league
table's "3 1 0 6 1 10" is not one). Two things the library does not find, and a small rule adds on top:

* vanity numbers ("1-800-FLOWERS", "1-800-CALL-FBI"): the matcher's candidates are digits only,
  while ``phonenumbers.parse`` reads letters on a keypad — so a digit group followed by letter groups
  is handed to ``parse`` and kept when the number is valid;
* the UK text-relay prefix ``18001`` dialled before a number ("18001 0800 107 2149");
* local numbers without an area code ("Contact: 624-6456; 225-8452"): on a line that says it gives
  phone numbers ("call", "tel", "phone", "contact", "fax", ...) the matcher runs again with leniency
  ``POSSIBLE``, which accepts a number of a possible length for the region; elsewhere digit groups
  like these are too often something else.
"""

from __future__ import annotations

import re

from gonerd.errors import ConfigError

LENIENCIES = ("POSSIBLE", "VALID", "STRICT_GROUPING", "EXACT_GROUPING")
# A vanity number: an optional "1-", a 3-digit area code, then groups in which letters occur.
_VANITY = re.compile(r"(?<![\w+-])(?:1[-. ])?\(?\d{3}\)?[-. ](?=[\dA-Z-]*[A-Z])[\dA-Z]{2,7}(?:-[\dA-Z]{2,7}){0,2}(?![\w-])")
_RELAY_PREFIX = "18001 "
_CUE_LINE = re.compile(r"^.*\b(?:tel|telephone|phone|call|calling|contact|fax|hotline|whatsapp|mobile|cell)\b.*$",
                       re.IGNORECASE | re.MULTILINE)
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
                    if sum(c.isdigit() for c in m.raw_string) >= _MIN_LOCAL_DIGITS:
                        found.append((line.start() + m.start, line.start() + m.end))
        found += [(m.start(), m.end()) for m in _VANITY.finditer(text) if self.valid_vanity(m.group())]
        return _first_come(found)

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


def _first_come(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` without those overlapping an earlier one (earlier regions and rules win), sorted."""
    kept: list[tuple[int, int]] = []
    for s, e in spans:
        if all(e <= ks or s >= ke for ks, ke in kept):
            kept.append((s, e))
    return sorted(kept)
