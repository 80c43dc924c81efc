"""PER/ORG/LOC pre-labels: spaCy's per-document fixes, the model labeler's confidences and sentences, and
the vote between a model and spaCy (``LabelConfig.ner_combine``), through the library and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc

from gonerd.cli import main
from gonerd.config import LabelConfig, from_dict
from gonerd.errors import ConfigError
from gonerd.label.combine import VoteNer, vote
from gonerd.label.spacy_ner import SpacyNer, consistent_spans, dateline_spans, document_fixes, trim_nonwords
from kd_tiny import train_tiny
from label_pipeline import pipeline

DATA = Path(__file__).parent / "data"
TESTA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003" / "eng.testa"
VOCAB = spacy.blank("en").vocab


def words(text: str) -> Doc:
    """A doc of space-separated words, as eval-labels builds CoNLL documents."""
    return Doc(VOCAB, words=text.split())


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("combine")
    train_tiny(out, DATA / "kd_train.txt")
    return out / "run" / "best"


def test_edges_without_letters_are_cut_from_spans() -> None:
    doc = words("Durham 114 and 211 , NEW YORK 1996-08-30 -- x")
    assert trim_nonwords(doc, 0, 2) == (0, 1)
    assert trim_nonwords(doc, 4, 8) == (5, 7)
    start, end = trim_nonwords(doc, 3, 4)
    assert start == end  # nothing left: the span is dropped


def test_datelines_are_places() -> None:
    doc = words("CHINA IN SURPRISE DEFEAT . BELGRADE 1996-08-30 Serbia said")
    assert dateline_spans(doc, []) == [(5, 6, "LOC")]
    doc = words("Rolf Soderlind LONGYEAR , Norway 1996-08-30 The wind")
    assert dateline_spans(doc, []) == [(2, 3, "LOC"), (4, 5, "LOC")]
    doc = words("Nadim Ladki AL-AIN , United Arab Emirates 1996-12-06 Japan")
    assert dateline_spans(doc, []) == [(2, 3, "LOC"), (4, 7, "LOC")]
    text = spacy.blank("en")("For release\nPITTSBURGH, Pa. - A man pleaded guilty.\nNEW ORLEANS – Two men")
    spans = dateline_spans(text, [(3, 4, "ORG"), (13, 15, "ORG")])  # spaCy named both places
    assert [(text[s:e].text, label) for s, e, label in spans] == [("PITTSBURGH", "LOC"), ("Pa.", "LOC"),
                                                                  ("NEW ORLEANS", "LOC")]


def test_dash_and_parenthesis_datelines_need_a_line_start_and_a_name() -> None:
    slug = words("SOCCER - JAPAN GET LUCKY WIN")
    assert dateline_spans(slug, []) == []  # a section slug: spaCy named nothing there
    assert dateline_spans(slug, [(0, 1, "ORG")]) == [(0, 1, "LOC")]
    mid = spacy.blank("en")("Agents of the FBI - the bureau - said")
    assert dateline_spans(mid, [(3, 4, "ORG")]) == []  # not at a line start
    headline = words("THEN WE SAW NEW YORK 1996-08-30")  # more capitals before the date than a place has
    assert dateline_spans(headline, []) == []


def test_a_name_keeps_one_type_and_its_other_mentions_get_it() -> None:
    doc = words("Alexander Lebed met Yeltsin . Lebed said Washington and Washington and Washington backed lebed")
    spans = [(0, 2, "PER"), (3, 4, "PER"), (7, 8, "ORG"), (9, 10, "LOC"), (11, 12, "LOC")]
    out = sorted(consistent_spans(doc, spans))
    assert out == [(0, 2, "PER"), (3, 4, "PER"), (5, 6, "PER"), (7, 8, "LOC"), (9, 10, "LOC"), (11, 12, "LOC")]
    # the surname alone is half a vote: it breaks a tie, it does not outvote a mention
    doc = words("Jane Austin left . Austin is in Texas . Austin grew")
    out = consistent_spans(doc, [(0, 2, "PER"), (4, 5, "LOC")])
    assert sorted(out) == [(0, 2, "PER"), (4, 5, "LOC"), (9, 10, "LOC")]


def test_spacy_fixes_are_a_setting_and_named_in_the_label_source() -> None:
    nlp, _ = pipeline()
    doc = nlp("For release\nBOSTON – Durham 114 was filed. Alexander Lebed met the press. Later, Lebed left.")
    plain = SpacyNer.from_config(nlp, LabelConfig(spacy_fixes=False))
    fixed = SpacyNer.from_config(nlp, LabelConfig())
    assert fixed.source == plain.source + "/fixes@1"
    assert fixed.spans(doc) == document_fixes(doc, plain.spans(doc))
    found = {(doc[s:e].text, label) for s, e, label in fixed.spans(doc)}
    assert ("BOSTON", "LOC") in found
    assert not any(t.like_num for s, e, _ in fixed.spans(doc) for t in doc[s:e])


@pytest.mark.shared
@pytest.mark.slow
def test_spacy_fixes_lift_conll_testa() -> None:
    """testa is the dev set the fixes were chosen on: .655 without them, .697 with them."""
    if not TESTA.is_file():
        pytest.skip(f"CoNLL-2003 not found at {TESTA}")
    from gonerd.label.evaluate import eval_conll

    nlp, _ = pipeline()
    plain, fixed = (eval_conll(TESTA, nlp, [SpacyNer.from_config(nlp, LabelConfig(spacy_fixes=on))])["scores"]["ALL"]
                    for on in (False, True))
    assert 0.63 <= plain["f1"] <= 0.68 and fixed["f1"] >= plain["f1"] + 0.03


def test_vote_keeps_confident_model_spans_and_the_ones_spacy_confirms() -> None:
    scored = [(0, 2, "PER", 0.95), (3, 4, "ORG", 0.5), (5, 6, "LOC", 0.4), (7, 9, "ORG", 0.79)]
    others = [(3, 4, "ORG"), (5, 6, "ORG"), (10, 11, "PER"), (7, 8, "ORG")]
    assert vote(scored, others, 0.8) == [(0, 2, "PER"), (3, 4, "ORG")]
    assert vote(scored, others, 0.0) == [s[:3] for s in scored]
    assert vote(scored, others, 1.0) == [(3, 4, "ORG")]


def test_model_labeler_scores_its_spans_and_tags_sentence_by_sentence(model: Path) -> None:
    from kd.labeler import ModelLabeler

    labeler = ModelLabeler(model, max_length=24, stride=6)
    text = "Maria Lopez joined Acme Corp in Denver . John Smith flew from Boston to Madrid for Globex ."
    sentence_ends = {0, 8}
    doc = Doc(VOCAB, words=text.split(), sent_starts=[i in sentence_ends for i in range(len(text.split()))])
    scored = labeler.scored_spans(doc)
    assert [s[:3] for s in scored] == labeler.spans(doc) and scored
    assert all(0.0 < confidence <= 1.0 for *_, confidence in scored)
    assert not any(s < 8 < e for s, e, *_ in scored)  # no span crosses the sentence start
    alone = [(s + 8, e + 8, label) for s, e, label in labeler.spans(words(" ".join(text.split()[8:])))]
    assert [s for s in labeler.spans(doc) if s[0] >= 8] == alone  # the second sentence tagged on its own
    whole = ModelLabeler(model, max_length=24, stride=6, by_sentence=False)
    assert whole.spans(doc) == labeler.spans(words(text))  # by_sentence=False ignores the sentence starts


def test_vote_labeler_thresholds_with_a_real_model(model: Path) -> None:
    from kd.labeler import ModelLabeler

    nlp, _ = pipeline()
    doc = nlp("Maria Lopez joined Acme Corp in Denver. John Smith flew from Boston to Madrid for Globex.")
    labeler = ModelLabeler(model, max_length=24, stride=6, types=("PER", "ORG", "LOC"))
    spacy_ner = SpacyNer.from_config(nlp, LabelConfig())
    assert VoteNer(labeler, spacy_ner, 0.0).spans(doc) == labeler.spans(doc)
    confirmed = [s for s in labeler.spans(doc) if s in set(spacy_ner.spans(doc))]
    assert VoteNer(labeler, spacy_ner, 1.0).spans(doc) == confirmed
    assert VoteNer(labeler, spacy_ner, 0.8).source == f"vote({labeler.source}>=0.8;{spacy_ner.source})"


def test_ner_combine_is_checked_in_the_config_and_needs_a_model() -> None:
    from gonerd.commands.label import labelers_for

    with pytest.raises(ConfigError, match="label.ner_combine: expected one of replace, vote, got 'both'"):
        from_dict(LabelConfig, {"ner_combine": "both"}, "label")
    with pytest.raises(ConfigError, match=r"label.ner_model_threshold: must be in \[0, 1\], got 1.5"):
        from_dict(LabelConfig, {"ner_model_threshold": 1.5}, "label")
    nlp, _ = pipeline()
    with pytest.raises(ConfigError, match="ner_combine 'vote' needs ner_model"):
        labelers_for(nlp, LabelConfig(ner_combine="vote"))


def test_label_and_eval_labels_run_the_vote(model: Path, tmp_path: Path) -> None:
    from gonerd.label.io import read_labeled

    text = "Maria Lopez, 45, joined Acme Corp in Denver."
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "d1", "text": text}) + "\n")
    vote_args = ["--ner-model", str(model), "--set", "ner_combine=vote", "--set", "ner_model_threshold=0.5"]
    assert main(["label", str(docs), "--out", str(tmp_path / "out"), *vote_args]) == 0
    (rec,) = read_labeled(tmp_path / "out")
    assert rec["label_source"].startswith(f"vote(model:{model}>=0.5;spacy:") and "/fixes@1)" in rec["label_source"]
    gold = tmp_path / "gold.conll"
    tags = ["B-PER", "I-PER", "O", "B-MISC", "O", "O", "B-ORG", "I-ORG", "O", "B-LOC", "O"]
    tokens = ["Maria", "Lopez", ",", "45", ",", "joined", "Acme", "Corp", "in", "Denver", "."]
    gold.write_text("-DOCSTART- d1 gold\n" + "".join(f"{w} {t}\n" for w, t in zip(tokens, tags)))
    out = tmp_path / "eval.json"
    assert main(["eval-labels", "--conll", str(DATA / "conll_snippet.txt"), "--no-misc", "--gonerd-gold", str(gold),
                 "--docs", str(docs), "--out", str(out), *vote_args]) == 0
    result = json.loads(out.read_text())
    assert result["label_source"] == rec["label_source"] == result["gonerd_gold"]["label_source"]
    assert result["gonerd_gold"]["scores"]["ALL"]["support"] == 4 and result["conll"]["scores"]["ALL"]["support"] > 0


class _Fixed:
    """A labeler with fixed spans (the model's output, given): FixedNer is what is tested."""

    labels = frozenset({"PER", "ORG", "LOC"})
    source = "given"

    def __init__(self, spans: list[tuple[int, int, str]]) -> None:
        self._spans = spans

    def spans(self, doc: Doc) -> list[tuple[int, int, str]]:
        return self._spans


def test_fixed_ner_types_names_alike_and_finds_their_later_mentions() -> None:
    from gonerd.label.combine import FixedNer

    doc = words("BELGRADE 1996-08-30 Acme hired Jane Smith . Smith said Acme 2 grew .")
    given = [(2, 3, "ORG"), (4, 6, "PER"), (9, 11, "ORG")]  # "Acme 2": a number edge
    fixed = FixedNer(_Fixed(given))
    assert fixed.source == "given/fixes@1" and fixed.labels == {"PER", "ORG", "LOC"}
    assert sorted(fixed.spans(doc)) == [(0, 1, "LOC"), (2, 3, "ORG"), (4, 6, "PER"), (7, 8, "PER"), (9, 10, "ORG")]


def test_model_fixes_wrap_the_model_or_the_vote(model: Path) -> None:
    from gonerd.commands.label import labelers_for

    nlp, _ = pipeline()
    vote_source = labelers_for(nlp, LabelConfig(ner_model=str(model), ner_combine="vote"))[-1].source
    assert vote_source.startswith("vote(") and vote_source.endswith(")/fixes@1")
    plain = labelers_for(nlp, LabelConfig(ner_model=str(model), model_fixes=False))
    assert [lab.source for lab in plain][-1] == f"model:{model}"
