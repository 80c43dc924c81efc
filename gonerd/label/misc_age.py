"""Ages of persons, read from spaCy's dependency parse of the sentences that may hold one.

A number (digits, or spelled out: "six", "forty-five") is an age candidate when its words say so
("45-year-old", "15 years old", "11 months of age", "age 30", "aged 15 to 21", "the age of 7") or
when it stands where news and prose put an age: after a name or a noun for a person between commas
("Jane Roe, 52, of Dayton", "the singer, 30, said", "Teresa Brady (69, Jacksonville)"), after a
copula ("since she was 12"), after "at" ("At 15, he ...", "died at 81"), after "turned".

Only the sentences around candidates are parsed, by the model's own tagger and parser (loaded with
the pipeline even where labeling leaves them off): most text has no candidate, so labeling stays
about as fast as NER alone. The parse then decides whose number it is:

* the noun an age word modifies ("a 106-year-old schooner": ``old`` is an ``amod`` of "schooner")
  or the number is an apposition to (``appos``), or the subject of the copula or verb, must be a
  person: a PERSON entity, a proper noun that is no place/date/..., a personal pronoun, or a noun
  for a person;
* thresholds are not ages: a number after "under", "over", "at least", or followed by "or older",
  "and over" ("must be 21 or older", "children under 12", "aged 50 years and older");
* a number with its own dependents ("was 1 of 3") or followed by a unit or a time ("at 5 p.m.",
  "20 years in prison") is not an age.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gonerd.errors import ConfigError

if TYPE_CHECKING:
    import spacy.language
    import spacy.tokens

# Windows per component.pipe batch: windows are short (a sentence or two), so a batch of many costs
# little memory and few per-batch overheads.
_PARSE_BATCH = 256
_UNITS = frozenset({"year", "years", "month", "months", "week", "weeks", "day", "days"})
_AGE_WORDS = frozenset({"age", "aged", "ages"})
_ONES = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
NUMBER_WORDS: dict[str, int] = {**{w: i + 1 for i, w in enumerate(_ONES)}, **{w: 20 + 10 * i for i, w in enumerate(_TENS)}}
_PREDICATE_BEFORE = frozenset({"was", "is", "am", "'m", "were", "are", "be", "been", "turned", "turns", "turning",
                               "at", "reached", "approaches", "approaching"})
# Verbs whose object or complement may be an age: "was 12", "turned 30", "reached 100", "approaches six".
_AGE_VERBS = frozenset({"be", "turn", "reach", "approach"})
_HEDGES = frozenset({"only", "just", "barely", "about", "nearly", "almost", "some", "scarcely", "hardly", "around",
                     "roughly", "perhaps", "probably", "already"})
_THRESHOLD_BEFORE = frozenset({"under", "over", "below", "above", "least", "than", "from"})
_THRESHOLD_AFTER = frozenset({"older", "over", "above", "younger", "under", "up", "more", "less", "plus", "+"})
# not "-": "Andre Joubert , 14 -" is a shirt number in a line-up
_APPOSITION_END = frozenset({",", ";", ")", ".", "–", "—", "--"})
# A small model often calls a name a place or a product ("Martez Manning (26, …)" PRODUCT); only the
# number-like types rule a proper noun out as a person.
_NOT_PERSON_ENTS = frozenset({"DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "ORDINAL", "CARDINAL", "LAW"})
# A title-case word the model calls a noun ("The 20-year-old Woods") is a name unless its entity type
# says it is something else.
_NOT_NAME_ENTS = _NOT_PERSON_ENTS | {"ORG", "GPE", "LOC", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LANGUAGE"}
_PRONOUNS = frozenset({"i", "me", "you", "he", "him", "she", "her", "we", "us", "they", "them", "who", "whom"})
_AT_VERBS = frozenset({"die", "pass", "retire", "marry", "wed", "graduate", "start", "begin", "join", "leave",
                       "debut", "become", "enlist", "emigrate", "move", "learn", "lose", "quit", "found", "elect",
                       "publish", "write", "win", "diagnose", "adopt", "orphan", "immigrate"})
# Nouns for people (singular lemmas): the head an age modifies or is in apposition to.
PERSON_NOUNS = frozenset("""
man woman boy girl child kid baby infant toddler teen teenager youth juvenile minor adult person people
individual guy lady gentleman male female mother father mom dad parent wife husband spouse son daughter
brother sister sibling twin aunt uncle cousin nephew niece grandmother grandfather grandson granddaughter
grandchild grandparent grandma grandpa fiancé fiancée widow widower companion partner girlfriend boyfriend
friend neighbor neighbour roommate classmate colleague driver passenger pedestrian cyclist motorcyclist
victim suspect defendant offender inmate prisoner convict fugitive witness resident citizen native
immigrant migrant refugee officer deputy trooper agent detective sheriff student pupil worker employee
employer farmer owner teacher nurse doctor physician surgeon dentist mayor governor senator president
player athlete veteran soldier sailor marine pilot singer actor actress musician rapper artist writer
author poet reporter journalist editor lawyer attorney judge priest pastor minister monk nun chef cook
waiter waitress clerk cashier manager director executive founder ceo chairman chairwoman leader
politician candidate activist protester organizer volunteer member fan customer patient client
mechanic electrician plumber carpenter engineer scientist researcher professor lecturer coach captain
striker goalkeeper midfielder defender forward quarterback pitcher boxer wrestler runner swimmer golfer
model dancer reader viewer listener composer painter sculptor novelist comedian host presenter star celebrity heir heiress prince princess king queen duke
duchess monarch retiree pensioner baker butcher tailor hunter fisherman fisher soldier gunman shooter
robber thief burglar dealer trafficker smuggler hacker accomplice co-defendant rider hiker climber
camper tourist visitor traveler traveller entrepreneur businessman businesswoman banker broker
accountant consultant contractor landlord tenant homeowner shopkeeper vendor seller buyer
labourer laborer cleric imam rabbi bishop cardinal pope sheikh jockey cricketer bowler sprinter skier
champion winner finalist challenger opponent rival rookie newcomer prodigy youngster rebel militant guerrilla
hostage captive detainee dissident diplomat envoy ambassador chancellor premier official aide adviser
advisor economist analyst trader investor tycoon magnate billionaire millionaire bride groom orphan
housewife miner peasant villager shepherd servant slave nanny tutor apprentice intern trainee recruit
cadet conscript sergeant lieutenant colonel general commander admiral warlord emperor vicar preacher
missionary scholar philosopher historian physicist mathematician astronaut explorer mountaineer yachtsman
motorist chauffeur courier secretary receptionist barrister solicitor prosecutor magistrate juror
plaintiff informant spy assassin killer murderer attacker assailant bomber terrorist extremist insurgent
sniper hijacker kidnapper pirate gangster addict survivor newborn adolescent schoolchild undergraduate
freshman graduate alumnus dropout runaway bachelor spinster newlywed lover mistress suitor stranger
foreigner expatriate pilgrim settler emigrant exile defector fiance
""".split())
# Endings of compounds that name people ("schoolgirl", "policeman", "spokeswoman", "housewife").
_PERSON_ENDINGS = ("girl", "boy", "man", "men", "woman", "women", "wife", "mother", "father", "daughter",
                   "child", "children")


_AGENT_SUFFIXES = ("er", "or", "ist", "ian", "ess")
# Words with a person ending that name no person.
_NOT_PERSON_COMPOUNDS = frozenset("""omen amen semen stamen specimen abdomen regimen acumen ramen gravamen
caiman talisman ottoman""".split())
# Nouns that take an age after "of" ("a boy of seven"; not "a mother of two", "the victim of two").
AGE_OF_NOUNS = frozenset("""man woman boy girl lad lass youth lady gentleman fellow urchin maiden maid
youngster stripling bachelor spinster widow widower person""".split())


def number_value(tokens: list[spacy.tokens.Token]) -> float | None:
    """The value of a number written as one digit token ("45", "2.5") or in words ("six", "forty - five")."""
    text = "".join(t.lower_ for t in tokens)
    if len(tokens) == 1 and text.replace(".", "", 1).isdigit():
        return float(text)
    if len(tokens) == 1:
        return NUMBER_WORDS.get(text)
    words = [t.lower_ for t in tokens if t.text not in ("-", "–")]
    if len(words) == 2 and len(tokens) == 3 and words[0] in _TENS and words[1] in _ONES[:9]:
        return NUMBER_WORDS[words[0]] + NUMBER_WORDS[words[1]]  # "forty-five"
    if len(words) == 3 and words[1] == "and" and words[0] in _ONES[:9] and words[2] in _TENS:
        return NUMBER_WORDS[words[0]] + NUMBER_WORDS[words[2]]  # "five and twenty", "seven-and-twenty"
    return None


def _may_open_number(lower: str) -> bool:
    """Whether a token with lowercase text ``lower`` may be the first of a number (digits, a number
    word, or a dash :func:`number_value` skips)."""
    return lower in NUMBER_WORDS or lower in ("-", "–") or lower.replace(".", "", 1).isdigit()


def _number_at(doc: spacy.tokens.Doc, i: int) -> tuple[int, float] | None:
    """``(end, value)`` of the number that starts at token ``i`` (end exclusive), or ``None``."""
    # Called at every token: most words cannot open a number (:func:`number_value` needs digits, a
    # number word, or a dash it skips first), so they are passed over without building the slices.
    if not _may_open_number(doc[i].lower_):
        return None
    for n in (5, 3, 1):
        if i + n <= len(doc):
            value = number_value(list(doc[i:i + n]))
            if value is not None:
                return i + n, value
    return None


class AgeFinder:
    """Token spans of ages of persons in a ``Doc`` of ``nlp`` (which must have a tagger and parser)."""

    def __init__(self, nlp: spacy.language.Language) -> None:
        missing = [p for p in ("tok2vec", "tagger", "parser") if p not in nlp.component_names]
        if missing:
            raise ConfigError(f"the age rules read the dependency parse: spaCy pipeline "
                              f"{nlp.meta.get('name', '?')!r} has no {', '.join(missing)}")
        names = ("tok2vec", "tagger", "attribute_ruler", "lemmatizer", "parser")
        self._parse = [nlp.get_pipe(n) for n in names if n in nlp.component_names]

    def spans(self, doc: spacy.tokens.Doc) -> list[tuple[int, int]]:
        """Token spans ``[start, end)`` of ages of persons, in text order."""
        return self.spans_batch([doc])[0]

    def spans_batch(self, docs: Sequence[spacy.tokens.Doc]) -> list[list[tuple[int, int]]]:
        """:meth:`spans` of each of ``docs``: the candidate sentences of all docs are parsed together,
        since per document they are a handful of short texts and the parser's cost is per batch."""
        plans = []
        for doc in docs:
            candidates = _candidates(doc)
            plans.append((candidates, _windows(doc, candidates) if candidates else []))
        parsed = [doc[a:b].as_doc() for doc, (_, windows) in zip(docs, plans) for a, b in windows]
        for component in self._parse:
            parsed = list(component.pipe(parsed, batch_size=_PARSE_BATCH))
        out = []
        first = 0
        for candidates, windows in plans:
            out.append(_judged(candidates, windows, parsed[first:first + len(windows)]))
            first += len(windows)
        return out


def _judged(candidates: list[tuple[int, int, str]], windows: list[tuple[int, int]],
            parsed: list[spacy.tokens.Doc]) -> list[tuple[int, int]]:
    """The candidates that :func:`_is_age` keeps, each judged in the parsed window that holds it."""
    found = []
    for start, end, form in candidates:
        k = next(k for k, (a, b) in enumerate(windows) if a <= start < b)
        a = windows[k][0]
        if _is_age(parsed[k], start - a, end - a, form):
            found.append((start, end))
    return found


def _candidates(doc: spacy.tokens.Doc) -> list[tuple[int, int, str]]:
    """``(start, end, form)`` of numbers that may be ages: the span an age would have, and its form."""
    out: list[tuple[int, int, str]] = []
    # the test _number_at starts with, on a list: most tokens open no number, and Doc indexing is slow;
    # spaCy's like_num (digits, decimals, number words) and the dashes narrow it down without a Token per word
    opens = [False] * len(doc)
    for i in _maybe_numbers(doc):
        opens[i] = _may_open_number(doc[i].lower_)
    i = 0
    while i < len(doc):
        number = _number_at(doc, i) if opens[i] else None
        if number is None:
            i += 1
            continue
        end, value = number
        form_span = _with_age_words(doc, i, end, value)
        if form_span is not None:
            out.append(form_span)
            i = form_span[1]
            continue
        prev = doc[i - 1].lower_ if i else ""
        nxt = doc[end].text if end < len(doc) else "."
        if 1 <= value <= 99 and value == int(value):
            # "Brady (69, Jacksonville)" but not "Honiball ( 2 )" or "( Wayne Fyvie , 75 )": counts, minutes
            if prev in (",", "(") and nxt in _APPOSITION_END and not (nxt == ")" and prev in (",", "(")):
                out.append((i, end, "apposition"))
            elif prev in _PREDICATE_BEFORE or prev in _HEDGES and i > 1 and doc[i - 2].lower_ in _PREDICATE_BEFORE:
                out.append((i, end, "predicate"))
            elif prev == "of" or prev in _HEDGES and i > 1 and doc[i - 2].lower_ == "of":
                out.append((i, _range_end(doc, end), "of_person"))
        i = end
    return out


def _maybe_numbers(doc: spacy.tokens.Doc) -> list[int]:
    """Indexes of the tokens that are like a number (spaCy's ``like_num``) or a dash, from the Doc's arrays."""
    from spacy.attrs import LIKE_NUM, ORTH

    if not len(doc):
        return []
    array = doc.to_array([LIKE_NUM, ORTH])
    dashes = [doc.vocab.strings[d] for d in ("-", "–")]
    return [int(i) for i in ((array[:, 0] == 1) | (array[:, 1] == dashes[0]) | (array[:, 1] == dashes[1])).nonzero()[0]]


def _with_age_words(doc: spacy.tokens.Doc, i: int, end: int, value: float) -> tuple[int, int, str] | None:
    """The span of an age written with its words around the number at ``[i, end)``, if it is one."""
    if not 0 < value < 120:
        return None
    words = [t.lower_ for t in doc[end:end + 6]]
    # "N and M years old", "N to M years of age": a range before the unit
    if words[:1] and words[0] in ("and", "to", "-", "–") and end + 1 < len(doc):
        second = _number_at(doc, end + 1)
        if second is not None:
            ranged = _with_age_words(doc, i, second[0], second[1])
            if ranged is not None:
                return ranged
    j = end + (1 if words[:1] in (["-"], ["–"]) else 0)
    if j < len(doc) and doc[j].lower_ in _UNITS:
        k = j + 1 + (1 if _is_hyphen(doc, j + 1) else 0)
        if k < len(doc) and doc[k].lower_ == "old":
            return i, k + 1, "old"
        if k + 1 < len(doc) and doc[j + 1].lower_ == "of" and doc[j + 2].lower_ == "age":
            return i, j + 3, "of_age"
    before = [t.lower_ for t in doc[max(0, i - 3):i]]
    if before[-1:] and before[-1] in _AGE_WORDS or before[-2:] == ["age", "-"]:
        start = i - 1 if before[-1] in _AGE_WORDS else i - 2
        return start, _age_word_end(doc, end), "age_word"
    if before[-2:] == ["age", "of"]:
        return i - 2, end, "age_word"
    return None


def _range_end(doc: spacy.tokens.Doc, end: int) -> int:
    """The end of a number that may go on as a range: "nine or ten", "13 to 16"."""
    if end + 1 < len(doc) and doc[end].lower_ in ("or", "to", "and", "-", "–"):
        second = _number_at(doc, end + 1)
        if second is not None:
            return second[0]
    return end


def _is_hyphen(doc: spacy.tokens.Doc, k: int) -> bool:
    """True when token ``k`` is a hyphen or dash ("year-old" is three tokens)."""
    return k < len(doc) and doc[k].text in ("-", "–")


def _age_word_end(doc: spacy.tokens.Doc, end: int) -> int:
    """The end of "age N" with what follows the number: "and a half", a range "to M", "years"."""
    rest = [t.lower_ for t in doc[end:end + 3]]
    if rest == ["and", "a", "half"]:
        end += 3
    elif rest[:1] and rest[0] in ("to", "and", "-", "–", "through") and end + 1 < len(doc):
        second = _number_at(doc, end + 1)
        if second is not None:
            end = second[0]
    if end < len(doc) and doc[end].lower_ in ("years", "months", "weeks"):
        end += 1
    return end


def _is_age(sent: spacy.tokens.Doc, start: int, end: int, form: str) -> bool:
    """Whether the candidate ``[start, end)`` of the parsed ``sent`` is the age of a person."""
    if _threshold(sent, start, end):
        return False
    if form == "old":
        old = sent[end - 1]
        if any(c.dep_ == "case" for c in old.children):
            return True  # "the 66-year-old's suicide": the age names the person
        if old.dep_ == "amod" and old.head.pos_ in ("NOUN", "PROPN"):
            return _person(old.head) or _name(old.head)
        if old.dep_ in ("acomp", "attr", "advmod", "npadvmod"):
            return _subject_is_person(old.head, default=True)
        return True  # "the 23-year-old flew": the age names the person
    if form in ("of_age", "age_word"):
        return not (sent[start].lower_ == "age" and sent[start].pos_ == "VERB")  # "made her age 20 years"
    number = sent[start:end].root
    if form == "apposition":  # "Brady (69, Jacksonville)": what follows may hang on the number
        before = next((t for t in reversed(sent[:start - 1]) if not (t.is_punct or t.is_space)), None)
        return bool(number.dep_ == "appos" and _person(number.head)) or (before is not None and _person(before))
    if form == "of_person":  # "a boy of seven", "a man of about thirty", "an urchin of nine or ten"
        of = next((t for t in reversed(sent[:start]) if t.lower_ == "of"), None)
        following = sent[end] if end < len(sent) else None
        return (of is not None and of.head.lemma_.lower() in AGE_OF_NOUNS
                and (following is None or following.pos_ not in ("NOUN", "PROPN", "NUM", "ADJ")))
    if any(c.dep_ not in ("punct", "cc", "conj", "advmod", "quantmod") and not start <= c.i < end
           and not _clause(c) for c in number.children):
        return False
    following = sent[end] if end < len(sent) else None
    if following is not None and (following.pos_ in ("NOUN", "PROPN", "NUM") or following.text in (":", "%")):
        return False  # "was 12 hours", "at 5 p.m.", "at 81 Main"
    head = number.head
    if number.dep_ == "pobj" and head.lower_ == "at":
        verb = head.head
        if head.i == _first_word(sent) or head.text == "At":  # "At 15, he left", "At sixteen he had lived"
            return _first_subject_is_person(sent)
        if verb.lemma_ == "be":  # "This was Anthony at five"
            return any(c.dep_ == "attr" and _person(c) for c in verb.children)
        # the subject of "died at 81" is left out in a coordination ("… and died, at ninety-two")
        return verb.lemma_ in _AT_VERBS and _subject_is_person(verb, default=True)
    if number.dep_ in ("attr", "acomp", "dobj", "npadvmod", "oprd") and head.lemma_ in _AGE_VERBS:
        return _subject_is_person(head, default=False)
    return False


def _clause(token: spacy.tokens.Token) -> bool:
    """A clause with its own subject that the parser hung on the number ("when Anthony was eleven they went");
    not a relative clause on it ("you are one who may be trusted": "one" is a pronoun there)."""
    return token.dep_ in ("relcl", "acl", "advcl") and any(
        c.dep_ in ("nsubj", "nsubjpass") and c.lower_ not in ("who", "that", "which") for c in token.children)


def _threshold(sent: spacy.tokens.Doc, start: int, end: int) -> bool:
    """"under 12", "at least 18", "21 or older", "50 years and over": a limit, not someone's age."""
    before = [t.lower_ for t in sent[max(0, start - 3):start] if t.lower_ != "the"]
    after = [t.lower_ for t in sent[end:end + 2]]
    return bool(before and before[-1] in _THRESHOLD_BEFORE
                or len(after) == 2 and after[0] in ("or", "and") and after[1] in _THRESHOLD_AFTER
                or after[:1] == ["+"] or after[:1] == ["threshold"])


def _person(token: spacy.tokens.Token) -> bool:
    """A person: a PERSON entity, a proper noun that is no place/date/..., a pronoun, a noun for a person."""
    if token.ent_type_ == "PERSON" or token.lower_ in _PRONOUNS:
        return True
    if token.pos_ == "PROPN" or token.ent_type_ == "NORP":
        return token.ent_type_ not in _NOT_PERSON_ENTS
    lower = token.lower_
    return (token.lemma_.lower() in PERSON_NOUNS or lower.rstrip("s") in PERSON_NOUNS
            or lower.endswith(_PERSON_ENDINGS) and lower not in _NOT_PERSON_COMPOUNDS)


def _name(token: spacy.tokens.Token) -> bool:
    """A title-case word inside the sentence that no entity type rules out as a name ("the 20-year-old Woods")."""
    return token.is_title and token.i != _first_word(token.doc) and token.ent_type_ not in _NOT_NAME_ENTS


def _subject_is_person(verb: spacy.tokens.Token, *, default: bool) -> bool:
    """Whether ``verb``'s subject is a person; as the subject of a verb a noun for an agent counts
    too ("the composer died at 81"), and "age" does ("the average age ... was 29.6 years old")."""
    subjects = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")]
    if not subjects:
        return default
    subject = subjects[0]
    return _person(subject) or subject.lower_ == "age" or subject.pos_ == "NOUN" and subject.lower_.endswith(
        _AGENT_SUFFIXES)


def _first_word(sent: spacy.tokens.Doc) -> int:
    return next((t.i for t in sent if not (t.is_space or t.is_punct)), 0)


def _first_subject_is_person(sent: spacy.tokens.Doc) -> bool:
    subject = next((t for t in sent if t.dep_ in ("nsubj", "nsubjpass")), None)
    return subject is not None and _person(subject)


def _windows(doc: spacy.tokens.Doc, candidates: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """The sentences around the candidates as non-overlapping token ranges: from the last sentence end
    or line break before a candidate to the next one after it (at most 40 tokens either side);
    overlapping ranges are merged."""
    windows: list[tuple[int, int]] = []
    for start, end, _ in candidates:
        a = start
        while a > max(0, start - 40) and not _boundary(doc, a - 1):
            a -= 1
        b = end
        while b < min(len(doc), end + 40) and not _boundary(doc, b - 1):
            b += 1
        if windows and a < windows[-1][1]:
            windows[-1] = (windows[-1][0], max(b, windows[-1][1]))
        else:
            windows.append((a, b))
    return windows


def _boundary(doc: spacy.tokens.Doc, k: int) -> bool:
    """Token ``k`` ends a sentence (a final stop not followed by a comma: "Brown., 35," goes on) or a line."""
    token = doc[k]
    if token.is_space:
        return "\n" in token.text
    return token.text in (".", "!", "?") and not (k + 1 < len(doc) and doc[k + 1].text in (",", ")"))
