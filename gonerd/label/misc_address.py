"""Postal addresses: detected by ``pyap``'s address patterns, checked and trimmed with ``usaddress``.

The span is the whole postal address the text gives — house number (or P.O. Box) through street,
suite or floor, city, state/region and postcode — also across a line break; when the text gives the
street part only ("of 1909 Jolinda Drive."), that is the span.

1. Detection: pyap's street pattern (``full_street`` of ``pyap.source_<COUNTRY>.data``: a house
   number, a street name, a USPS street type, then optional direction, floor, building, suite) or
   its P.O. Box pattern is
   searched in a copy of the text whose whitespace runs are single spaces (or one line break), and
   offsets are mapped back to the text. A street line does not run across a line break; its suite,
   city, state and postcode may follow on the next lines.
2. Check and trim: the candidate and the next few words are tagged by ``usaddress`` (a CRF trained on
   US addresses). The address is the longest run of address components in their postal order that
   opens with a house number or a P.O. Box and has a street type or a box; a trailing city is kept
   only with a state that pyap's state pattern accepts (and an optional ZIP code) after it — otherwise
   "…Place, Harris said" would make "Harris" a city.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from operator import itemgetter
from typing import TYPE_CHECKING

from gonerd.errors import ConfigError

if TYPE_CHECKING:
    import spacy.tokens

# usaddress components in postal order; a component may repeat but the order may not go back.
_ORDER = {
    "AddressNumberPrefix": 0, "AddressNumber": 0, "AddressNumberSuffix": 0,
    "USPSBoxType": 0, "USPSBoxID": 0, "USPSBoxGroupType": 0, "USPSBoxGroupID": 0,
    "StreetNamePreModifier": 1, "StreetNamePreDirectional": 1, "StreetNamePreType": 1, "StreetName": 1,
    "StreetNamePostType": 2, "StreetNamePostDirectional": 3, "StreetNamePostModifier": 3,
    "SubaddressType": 4, "SubaddressIdentifier": 4, "OccupancyType": 4, "OccupancyIdentifier": 4,
    "BuildingName": 4,
    "PlaceName": 5, "StateName": 6, "ZipCode": 7,
}
_OCCUPANCY = 4  # suite, floor, building: may follow the street on the next line
_PLACE = 5  # components from this stage on are the city, state and postcode
_WHITESPACE = re.compile(r"\s+")
_BREAKING_WHITESPACE = re.compile(r"\s*\n\s*")
_OTHER_WHITESPACE = re.compile(r"[^\S\n]+")
_DIGIT = re.compile(r"\d")


def _flex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.VERBOSE | re.UNICODE)


class AddressFinder:
    """Token spans of postal addresses in a spaCy ``Doc`` (pyap detects, usaddress checks)."""

    def __init__(self, country: str = "US") -> None:
        import importlib

        try:
            data = importlib.import_module(f"pyap.source_{country.upper()}.data")
        except ImportError as e:
            raise ConfigError(f"address_country {country!r}: pyap has address patterns for US, CA and GB only") from e
        self.country = country.upper()
        # pyap's street pattern, or its P.O. Box pattern alone ("P.O. Box 1234, Springfield, IL 62701");
        # its street name has at least 3 characters, which leaves out Washington's lettered streets
        # ("1625 K Street"): usaddress checks every candidate, so 1 is allowed
        street = data.full_street.replace("[a-zA-Z0-9\\ \\.]{3,31}", "[a-zA-Z0-9\\ \\.]{1,31}")
        self._street = _flex(f"(?:{street})|(?:{data.po_box})")
        self._street_types = {t.lower() for t in data.street_type_list}
        self._state = _flex(data.region1.replace("(?P<region1>", "(?:"))

    def char_spans(self, text: str) -> list[tuple[int, int]]:
        """Non-overlapping ``(start, end)`` character spans of addresses in ``text``, in order."""
        flat = _single_spaced(text)
        spans: list[tuple[int, int]] = []
        pos = 0
        while (m := self._street.search(flat, pos)) is not None:
            # an address opens a word: not the "8" of "QGIS 2.8", nor the minutes of "11:56 AM EST"
            opens_word = m.start() == 0 or flat[m.start() - 1] in " \n,;:(\"“" and not re.match(
                r"\d:", flat[max(0, m.start() - 2):m.start()])
            after_article = flat[max(0, m.start() - 4):m.start()].lower() in (" the", "the ", " an ") or \
                flat[max(0, m.start() - 3):m.start()].lower() == " a "
            span = self._checked(flat, m.start()) if opens_word and not after_article else None
            if span is None:
                pos = m.start() + 1
                continue
            spans.append(span)
            pos = span[1]
        # back to offsets in ``text``, for the few addresses found only
        runs = _whitespace_runs(text) if spans else []
        return [(_text_offset(runs, a), _text_offset(runs, b - 1) + 1) for a, b in spans]

    def spans(self, doc: spacy.tokens.Doc, text: str | None = None) -> list[tuple[int, int]]:
        """Token spans ``[start, end)`` of addresses, snapped inward to token boundaries; ``text`` is
        ``doc.text`` when the caller has it already (spaCy joins it from the tokens on every access)."""
        from gonerd.label.rules import snap

        text = doc.text if text is None else text
        if _DIGIT.search(text) is None:  # every address has a house number or a box number
            return []
        return [s for s in (snap(doc, a, b) for a, b in self.char_spans(text)) if s is not None]

    def _checked(self, flat: str, start: int) -> tuple[int, int] | None:
        """The address that opens at ``flat[start]`` by usaddress's components, or ``None``."""
        import usaddress

        window = flat[start:start + 150]
        try:
            tagged = usaddress.parse(window)
        except Exception:  # noqa: BLE001 — usaddress raises bare errors on odd input; then it is no address
            return None
        if not tagged or not (tagged[0][1] == "USPSBoxType" or tagged[0][1] == "AddressNumber"
                              and tagged[0][0][:1].isdigit()):
            return None
        ends, labels, stage, pos = [], [], 0, 0
        tagged = [(token.strip(), label) for token, label in tagged]  # usaddress keeps a line break on a token
        for token, label in tagged:
            order = _ORDER.get(label)
            if order is None or order < stage:
                break
            at = window.index(token, pos)
            if "\n" in window[pos:at] and order < _OCCUPANCY:
                break  # a street goes on to its suite or city on the next line, not to its name
            pos = at + len(token)
            ends.append(pos)
            labels.append(label)
            stage = order
            if token.endswith((".", ";")) and not _abbreviation(token) or label == "ZipCode":
                break  # a sentence ends here, or the address does
        if not {"StreetNamePostType", "USPSBoxID", "StreetNamePreType"} & set(labels):
            return None
        types = [t.rstrip(".,") for t, label in tagged[:len(labels)] if label == "StreetNamePostType"]
        if not all(t.lower() in self._street_types and t[:1].isupper() for t in types):
            return None  # a capitalised USPS street type, by pyap's list: not "… not out 46 … run out"
        names = [t for t, label in tagged[:len(labels)] if label == "StreetName"]
        if not all(n[:1].isupper() or n[:1].isdigit() for n in names):
            return None  # "90 per cent", "500 strandings and is": street names are capitalised
        keep = _street_and_place(labels, [window[:e] for e in ends], self._state)
        if keep == 0:
            return None
        end = ends[keep - 1]
        while end > 0 and window[end - 1] in ",;: ":
            end -= 1
        return start, start + end


def _abbreviation(token: str) -> bool:
    """A token whose final period is its own ("St.", "Ave.", "D.C.", "N."), not a sentence's."""
    word = token.rstrip(".,;")
    return len(word) <= 4 and word.replace(".", "").isalpha()


def _street_and_place(labels: list[str], prefixes: list[str], state: re.Pattern[str]) -> int:
    """How many of the tagged tokens the address keeps: the street line, plus city, state and ZIP
    code when a state pyap accepts follows the city."""
    street = 0
    for i, label in enumerate(labels):
        if _ORDER[label] < _PLACE:
            street = i + 1
        else:
            break
    states = [i for i, label in enumerate(labels) if label == "StateName"]
    if not states:
        return street
    first, last = states[0], states[-1]
    state_text = prefixes[last][len(prefixes[first - 1]) if first else 0:].strip(" ,")
    if not state.fullmatch(state_text.replace(".", "")):  # "D.C." is pyap's "DC"
        return street
    return len(labels) if labels[-1] == "ZipCode" else last + 1


def _single_spaced(text: str) -> str:
    """``text`` with every whitespace run as one space (one line break if it holds one)."""
    # a run with a line break is matched from its first character: ``\s*`` cannot start earlier
    return _OTHER_WHITESPACE.sub(" ", _BREAKING_WHITESPACE.sub("\n", text))


def _whitespace_runs(text: str) -> list[tuple[int, int, int]]:
    """The whitespace runs of ``text`` as ``(index in _single_spaced(text), start, end in text)``."""
    runs = []
    collapsed = 0  # characters the runs so far lost in the single-spaced text
    for m in _WHITESPACE.finditer(text):
        runs.append((m.start() - collapsed, m.start(), m.end()))
        collapsed += m.end() - m.start() - 1
    return runs


def _text_offset(runs: list[tuple[int, int, int]], flat_index: int) -> int:
    """The offset in the original text of character ``flat_index`` of :func:`_single_spaced`'s text
    (a collapsed whitespace run maps to its start); ``runs`` are :func:`_whitespace_runs` of the text."""
    k = bisect_right(runs, flat_index, key=itemgetter(0)) - 1
    if k < 0:
        return flat_index
    at, start, end = runs[k]
    return start if flat_index == at else end + flat_index - at - 1
