"""eval-labels: MISC precision/recall on the hand-labeled gold, PER/ORG/LOC on CoNLL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy

from gonerd.cli import main
from gonerd.config import LabelConfig
from gonerd.errors import InputError
from gonerd.label.evaluate import (align_tokens, eval_conll, eval_gold_documents, eval_misc, read_gold_documents,
                                   read_misc_gold, scores_table)
from label_pipeline import pipeline

DATA = Path(__file__).resolve().parent / "data"
PACKAGE_DATA = Path(__file__).resolve().parents[1] / "gonerd" / "data"  # the gold sets ship with the package
GOLD = PACKAGE_DATA / "misc_gold.jsonl"
SNIPPET = DATA / "conll_snippet.txt"
TESTB = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003" / "eng.testb"


@pytest.fixture(scope="module")
def gold() -> list[dict]:
    return read_misc_gold(GOLD)


def test_gold_set_is_big_aligned_and_has_negatives(gold: list[dict]) -> None:
    kinds = [s["kind"] for r in gold for s in r["spans"]]
    assert len(kinds) >= 150 and {"age", "address", "phone"} == set(kinds)
    assert sum(not r["spans"] for r in gold) >= 20  # texts with no MISC at all
    tokenizer = spacy.blank("en")
    for r in gold:
        doc = tokenizer(r["text"])
        assert all(doc.char_span(s["start"], s["end"]) is not None for s in r["spans"]), r["id"]
    texts = " ".join(r["text"] for r in gold)
    assert "U.S.C. §" in texts and "$" in texts and "January" in texts  # near-misses are in the texts


def test_misc_scores_on_the_gold(gold: list[dict]) -> None:
    nlp, labelers = pipeline()
    result = eval_misc(gold, nlp, labelers)
    s = result["scores"]
    assert s["ALL"]["support"] == sum(len(r["spans"]) for r in gold)
    assert s["ALL"]["precision"] >= 0.95 and s["ALL"]["recall"] >= 0.95
    assert s["age"]["recall"] >= 0.94 and s["phone"]["recall"] >= 0.95 and s["address"]["recall"] >= 0.85
    fn = {e["text"] for e in result["errors"] if e["type"] == "false_negative"}
    # pyap has no Japanese address patterns; the whole postal address is gold all the same
    assert "5 Chome-3-23 Minatocho\nMombetsu, Hokkaido 094-0011" in fn
    assert "| ALL |" in scores_table(s, "MISC kind")


def test_gold_follows_the_issue_21_conventions(gold: list[dict]) -> None:
    """Whole postal addresses; ages of persons, not thresholds (gonerd/data/README.md lists the changes)."""
    spans = {(r["text"][s["start"]:s["end"]], s["kind"]) for r in gold for s in r["spans"]}
    assert ("450 Fifth Street NW, Suite 8600, Washington, D.C. 20530", "address") in spans
    assert ("1156 High Street, Santa Cruz, CA 95064", "address") in spans
    assert ("1909 Jolinda Drive", "address") in spans  # the text gives the street part only
    assert ("seven years old", "age") in spans
    assert not {("aged 50 years", "age"), ("14 years old", "age"), ("60 years of age", "age")} & spans


def test_misc_scores_count_every_error(gold: list[dict], tmp_path: Path) -> None:
    nlp, labelers = pipeline()
    record = next(r for r in gold if r["id"].startswith("doj:") and len(r["spans"]) >= 2)
    missing_one = {**record, "spans": record["spans"][1:]}
    s = eval_misc([missing_one], nlp, labelers)["scores"]["ALL"]
    assert s["predicted"] == s["true_positives"] + 1 == len(record["spans"])
    assert s["recall"] == 1.0 and s["precision"] < 1.0


def test_read_misc_gold_rejects_bad_spans(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "a", "text": "age 45", "spans": [{"start": 0, "end": 6, "label": "MISC",
                                                                        "kind": "date"}]}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl, line 1, field 'spans\[0\]'"):
        read_misc_gold(bad)


def test_conll_snippet_scores_exclude_misc() -> None:
    nlp, labelers = pipeline()
    result = eval_conll(SNIPPET, nlp, labelers)
    scores = result["scores"]
    assert result["documents"] == 2 and result["tokens"] == 44
    assert "MISC" not in scores and set(scores) <= {"PER", "ORG", "LOC", "ALL"}
    # gold without MISC: JAPAN, AL-AIN, United Arab Emirates, Brussels (LOC); CHINA, Nadim Ladki,
    # Peter Blackburn (PER); European Commission, Microsoft, Bank of England (ORG)
    assert scores["ALL"]["support"] == 10
    assert scores["PER"]["support"] == 3 and scores["LOC"]["support"] == 4
    assert 0.5 <= scores["ALL"]["f1"] <= 1.0


@pytest.mark.shared
@pytest.mark.slow
def test_conll_testb_reproduces_the_known_baseline_and_article_stripping_lifts_it() -> None:
    if not TESTB.is_file():
        pytest.skip(f"CoNLL-2003 not found at {TESTB}")
    from gonerd.label.spacy_ner import SpacyNer

    nlp, _ = pipeline()
    entity_map = LabelConfig().entity_map
    bare = eval_conll(TESTB, nlp, [SpacyNer(nlp, entity_map, strip_articles=False)])["scores"]
    assert bare["ALL"]["support"] == 5648 - 702  # 5,648 test entities of which 702 MISC
    assert 0.56 <= bare["ALL"]["f1"] <= 0.61  # plain spaCy mapped to PER/ORG/LOC: 0.586 (ENVIRONMENT.md)
    assert 0.31 <= bare["ORG"]["f1"] <= 0.37 and 0.71 <= bare["LOC"]["f1"] <= 0.77
    ours = eval_conll(TESTB, nlp, [SpacyNer(nlp, entity_map)])["scores"]  # articles stripped, no other fixes
    assert ours["ORG"]["f1"] > bare["ORG"]["f1"] + 0.03 and ours["ALL"]["f1"] > bare["ALL"]["f1"] + 0.01
    assert ours["PER"]["f1"] == pytest.approx(bare["PER"]["f1"], abs=0.005)


def test_cli_writes_tables_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval.json"
    assert main(["eval-labels", "--conll", str(SNIPPET), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| MISC kind |" in printed and "| type |" in printed and "MISC mapped to O" in printed
    result = json.loads(out.read_text())
    assert result["label_source"].endswith("+rules:misc@4")
    assert result["misc"]["misc_gold.jsonl"]["scores"]["ALL"]["support"] >= 150 and result["conll"]["documents"] == 2
    assert "misc_new_test.jsonl" not in result["misc"]  # the held-out half is scored only when named
    if TESTB.is_file():
        assert set(result["misc_conll"]) == {"misc_conll_testa.jsonl", "misc_conll_testb.jsonl",
                                             "misc_new_conll_dev.jsonl"}
        # the new set lists its documents, negatives too: only those are scored, not all of eng.train
        assert result["misc_conll"]["misc_new_conll_dev.jsonl"]["documents"] == 42


def test_cli_scores_several_misc_gold_sets_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()]
    with_phones = [r for r in records if any(s["kind"] == "phone" for s in r["spans"])]
    whole, phones = tmp_path / "whole.jsonl", tmp_path / "phones.jsonl"
    whole.write_text("".join(json.dumps(r) + "\n" for r in with_phones), encoding="utf-8")
    phones.write_text("".join(json.dumps({**r, "spans": [s for s in r["spans"] if s["kind"] == "phone"]}) + "\n"
                              for r in with_phones), encoding="utf-8")
    out = tmp_path / "eval.json"
    assert main(["eval-labels", "--no-conll", "--misc-conll", str(tmp_path / "none"), "--misc-gold", str(whole),
                 str(phones), "--out", str(out)]) == 2  # a missing file is named before any work
    assert "none: no such file" in capsys.readouterr().err and not out.exists()
    assert main(["eval-labels", "--no-conll", "--misc-gold", str(whole), str(phones), "--data-root",
                 str(tmp_path / "no-root"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("| MISC kind |"))
    assert header.index("whole.jsonl P") < header.index("phones.jsonl P")
    result = json.loads(out.read_text())["misc"]
    assert list(result) == ["whole.jsonl", "phones.jsonl"]
    a, b = result["whole.jsonl"]["scores"], result["phones.jsonl"]["scores"]
    assert a["phone"] == b["phone"] and a["phone"]["support"] >= 20  # same texts, same phones: same figures
    assert b["ALL"]["support"] == b["phone"]["support"] < a["ALL"]["support"]  # the other kinds are gone from b
    row = next(line for line in printed.splitlines() if line.startswith("| phone |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    f1, n = f"{a['phone']['f1']:.3f}", str(a["phone"]["support"])
    assert cells[1:] == [f"{a['phone']['precision']:.3f}", f"{a['phone']['recall']:.3f}", f1, n] * 2


def test_side_by_side_table_marks_kinds_a_set_lacks() -> None:
    from gonerd.label.evaluate import side_by_side_table

    score = {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 4}
    table = side_by_side_table({"a": {"scores": {"age": score, "ALL": score}}, "b": {"scores": {"ALL": score}}})
    lines = table.splitlines()
    assert lines[0] == "| MISC kind | a P | R | F1 | n | b P | R | F1 | n |"
    assert lines[2] == "| age | 1.000 | 0.500 | 0.667 | 4 | – | – | – | 0 |"
    assert lines[-1] == "| ALL | 1.000 | 0.500 | 0.667 | 4 | 1.000 | 0.500 | 0.667 | 4 |"


def test_cli_missing_gold_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-labels", "--no-conll", "--misc-gold", str(tmp_path / "none.jsonl")]) == 2
    assert "none.jsonl: no such file" in capsys.readouterr().err


def test_conll_misc_gold_reader_checks_offsets(tmp_path: Path) -> None:
    from gonerd.conll import read_conll
    from gonerd.label.evaluate import conll_text, read_conll_misc_gold

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "snip.txt").write_text(SNIPPET.read_text(encoding="utf-8"), encoding="utf-8")
    text = conll_text(read_conll(SNIPPET)[0])
    start = text.index("Nadim")
    line = {"file": "c/snip.txt", "document": 0,
            "spans": [{"start": start, "end": start + 11, "label": "MISC", "kind": "age", "text": "Nadim Ladki"}]}
    gold_path = tmp_path / "g.jsonl"
    gold_path.write_text(json.dumps(line) + "\n")
    records = read_conll_misc_gold(gold_path, tmp_path)
    assert [len(r["spans"]) for r in records] == [1, 0] and records[0]["text"] == text
    line["spans"][0]["start"] += 1
    gold_path.write_text(json.dumps(line) + "\n")
    with pytest.raises(InputError, match=r"g.jsonl, line 1, field 'spans\[0\]': offsets .* not 'Nadim Ladki'"):
        read_conll_misc_gold(gold_path, tmp_path)


@pytest.mark.shared
@pytest.mark.parametrize(("name", "support", "ranges", "age_recall"), [
    # testa refined the earlier rules; testb is held out (both labeled by hand, see data/README, relabelled
    # to issue 21's conventions on 2026-11-30). The ranges bracket what rules:misc@3 (testa P 0.953 /
    # R 0.813, testb P 0.912 / R 0.642, testb ages R 0.710) and rules:misc@4 (testa P 0.986 / R 0.960,
    # testb P 0.947 / R 0.877, testb ages R 0.742) measure on them.
    ("misc_conll_testa.jsonl", {"age": 50, "phone": 25}, {"precision": (0.93, 1.0), "recall": (0.79, 0.98)}, 0.9),
    ("misc_conll_testb.jsonl", {"age": 31, "phone": 50}, {"precision": (0.89, 0.97), "recall": (0.62, 0.90)}, 0.7),
])
def test_misc_scores_on_conll_texts(name: str, support: dict, ranges: dict, age_recall: float) -> None:
    from gonerd.label.evaluate import read_conll_misc_gold

    root = TESTB.parents[1]
    if not TESTB.is_file():
        pytest.skip(f"CoNLL-2003 not found under {root}")
    nlp, labelers = pipeline()
    s = eval_misc(read_conll_misc_gold(PACKAGE_DATA / name, root), nlp, labelers)["scores"]
    assert {k: s[k]["support"] for k in support} == support
    for metric, (low, high) in ranges.items():
        assert low <= s["ALL"][metric] <= high, (metric, s["ALL"])
    assert s["age"]["recall"] >= age_recall


def test_gonerd_gold_scores_the_pre_labels_of_the_real_text(sample_run, capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    """One procedure for the figure: `gonerd label`'s pre-labels of the documents' own text, scored
    against the hand labels (the old procedure re-tokenized the gold words and gave 0.697)."""
    from gonerd.label import label_documents, read_documents
    from gonerd.label.merge import iob2_to_spans

    out_dir, _ = sample_run
    gold = Path(__file__).resolve().parents[1] / "gonerd" / "sample" / "gold_test.conll"
    out = tmp_path / "eval.json"
    assert main(["eval-labels", "--no-conll", "--no-misc", "--gonerd-gold", str(gold), "--docs", str(out_dir),
                 "--out", str(out)]) == 0
    assert "Hand-labelled GONERD documents" in capsys.readouterr().out
    result = json.loads(out.read_text())["gonerd_gold"]
    scores = result["scores"]
    assert result["documents"] == 6 and result["excluded_types"] == []
    assert {t: scores[t]["support"] for t in ("PER", "ORG", "LOC", "MISC")} == {"PER": 43, "ORG": 83, "LOC": 49,
                                                                                 "MISC": 3}
    # The same figure by another route: label the six documents as `gonerd label` does, import the
    # hand labels onto the same records, and count exact span matches token for token.
    gold_docs = read_gold_documents(gold)
    docs = [d for d in read_documents(out_dir) if d["id"] in gold_docs]
    pre = {r["id"]: r for r in label_documents(docs, LabelConfig(), progress=False)}
    tp = n_pred = n_gold = 0
    for doc_id, (_, tokens, tags) in gold_docs.items():
        words = [t for t in pre[doc_id]["tokens"] if t.strip()]
        assert words == tokens, doc_id  # the hand labels are on the labeler's own words
        predicted = {(s["start"], s["end"], s["label"]) for s in pre[doc_id]["spans"]}
        offsets = align_tokens(pre[doc_id]["text"], tokens, doc_id)
        expected = {(offsets[a][0], offsets[b - 1][1], label) for a, b, label in iob2_to_spans(tags)}
        tp, n_pred, n_gold = tp + len(predicted & expected), n_pred + len(predicted), n_gold + len(expected)
    assert (scores["ALL"]["true_positives"], scores["ALL"]["predicted"], scores["ALL"]["support"]) == (tp, n_pred,
                                                                                                       n_gold)
    assert scores["ALL"]["f1"] == pytest.approx(2 * tp / (n_pred + n_gold))
    assert 0.68 <= scores["ALL"]["f1"] <= 0.75  # 0.712 when measured (README, data card)


def test_gold_spans_meet_predictions_by_character_offsets_whatever_the_tokenization() -> None:
    text = "Judge  Mary K. Dimke\n\nof Spokane, WA, said."
    gold_tokens = ["Judge", "Mary", "K.", "Dimke", "of", "Spokane", ",", "WA", ",", "said", "."]
    tags = ["O", "B-PER", "I-PER", "I-PER", "O", "B-LOC", "O", "B-LOC", "O", "O", "O"]
    gold = {"d": (1, gold_tokens, tags)}
    start = text.index("Mary")
    predicted = {"d": [{"start": start, "end": start + len("Mary K. Dimke"), "label": "PER"},
                       {"start": text.index("Spokane"), "end": text.index("WA") + 2, "label": "LOC"}]}
    s = eval_gold_documents("g.conll", gold, {"d": text}, predicted)["scores"]
    assert (s["PER"]["true_positives"], s["LOC"]["true_positives"], s["LOC"]["support"]) == (1, 0, 2)
    assert s["ALL"]["precision"] == 0.5 and s["ALL"]["recall"] == pytest.approx(1 / 3)
    with pytest.raises(InputError, match=r"g.conll, line 1: document 'x' is not among the documents given"):
        eval_gold_documents("g.conll", {"x": (1, ["a"], ["O"])}, {}, {})
    with pytest.raises(InputError, match=r"doc 7, field 'tokens': gold token 1 'Marie' is not the text's next word"):
        align_tokens(text, ["Judge", "Marie"], "doc 7")


@pytest.mark.parametrize(("content", "message"), [
    ("-DOCSTART- a gold\nJohn B-PER\n\n-DOCSTART- b\nx O\n-DOCSTART- a\ny O\n",
     r"g.conll, line 6: document id 'a' given twice \(first on line 1\)"),
    ("-DOCSTART- a\nJohn I-PER\n", r"g.conll, line 1: document 'a' is not strict IOB2"),
    ("John B-PER\n", r"line 1: token before the first"),
    ("-DOCSTART- a\nJohn B-PERSON\n", r"line 2: expected 'token tag'"),
])
def test_read_gold_documents_names_bad_lines(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "g.conll"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_gold_documents(path)


def test_gonerd_gold_needs_its_documents_and_conll_names_the_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    gold = Path(__file__).resolve().parents[1] / "gonerd" / "sample" / "gold_test.conll"
    assert main(["eval-labels", "--no-conll", "--no-misc", "--gonerd-gold", str(gold)]) == 2
    assert "--gonerd-gold and --docs go together" in capsys.readouterr().err
    assert main(["eval-labels", "--no-misc", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"CoNLL-2003 test file not found under the data root {tmp_path}" in err and "--no-conll" in err
    monkeypatch.setenv("GONERD_DATA", str(tmp_path / "env-root"))  # the data root kd configs use too
    assert main(["eval-labels", "--no-misc"]) == 2
    assert f"not found under the data root {tmp_path / 'env-root'}" in capsys.readouterr().err
    assert main(["eval-labels", "--no-conll", "--no-misc", "--set", "strip_articles=maybe"]) == 2
    assert "strip_articles: expected bool" in capsys.readouterr().err
