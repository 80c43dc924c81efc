"""Entity-level scoring, the Table 6 markdown layout, and ``gonerd kd eval`` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gonerd.cli import main
from kd.evaluate import markdown_table, score
from kd_tiny import gonerd_style_split, train_tiny

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "kd_train.txt"


def test_score_is_strict_entity_level_per_type():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["I-ORG", "I-ORG", "O"]]
    s = score(gold, pred)
    assert s["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert s["LOC"]["recall"] == 0.0 and s["LOC"]["support"] == 1
    # strict IOB2: an entity starting with I- is not an entity; the spurious B-ORG is a false positive
    assert s["ORG"]["precision"] == 0.0 and s["ORG"]["support"] == 1
    assert s["MISC"]["support"] == 0
    assert s["ALL"]["precision"] == pytest.approx(1 / 2) and s["ALL"]["recall"] == pytest.approx(1 / 3)


def test_score_rejects_misaligned_sequences():
    with pytest.raises(ValueError, match="differ"):
        score([["O", "B-PER"]], [["O"]])


def _result(name, f1s):
    m = {t: {"precision": f, "recall": f, "f1": f, "support": 10} for t, f in zip(["PER", "ORG", "LOC", "MISC", "ALL"], f1s)}
    return {"model": name, "splits": {"testb": m}}


def test_markdown_table_has_table6_columns_and_retention():
    table = markdown_table([_result("teacher", [0.9, 0.8, 0.9, 0.7, 0.85]), _result("student", [0.8] * 5)],
                           teacher="teacher")
    lines = table.strip().splitlines()
    assert lines[0].startswith("| Model | testb |")
    assert lines[2] == "|  | PER | ORG | LOC | MISC | ALL | retention % |"
    assert lines[3] == "| teacher | 90.0 | 80.0 | 90.0 | 70.0 | 85.0 | 100.0 |"
    assert lines[4] == "| student | 80.0 | 80.0 | 80.0 | 80.0 | 80.0 | 94.1 |"
    with pytest.raises(ValueError, match="teacher 'nobody'"):
        markdown_table([_result("a", [0.5] * 5)], teacher="nobody")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("kdeval")
    train_tiny(out, TRAIN)
    return out


def test_cli_eval_two_models_side_by_side(tiny, tmp_path, capsys):
    metrics, md = tmp_path / "m.json", tmp_path / "t.md"
    code = main(["kd", "eval", "--model", str(tiny / "run" / "best"), "--name", "tiny-ft",
                 "--model", str(tiny / "init"), "--name", "tiny-init", "--teacher", "tiny-ft",
                 "--data", str(DATA), "--split", "kd_train.txt", "--split", f"again={TRAIN}",
                 "--max-length", "24", "--stride", "6", "--output", str(metrics), "--markdown", str(md), "--quiet"])
    assert code == 0
    report = json.loads(metrics.read_text())
    ft, init = report["models"]
    assert (ft["model"], ft["max_length"], ft["stride"], ft["n_truncated"]) == ("tiny-ft", 24, 6, 0)
    assert set(ft["splits"]) == {"kd_train.txt", "again"}
    assert set(ft["splits"]["again"]) == {"PER", "ORG", "LOC", "MISC", "ALL"}
    assert ft["splits"]["again"]["ALL"]["support"] == 20
    assert ft["splits"]["again"]["ALL"]["f1"] > init["splits"]["again"]["ALL"]["f1"]
    out = capsys.readouterr().out
    assert out == md.read_text() and "| tiny-ft |" in out and "retention %" in out


def test_cli_eval_truncation_is_counted(tiny, tmp_path):
    metrics = tmp_path / "m.json"
    assert main(["kd", "eval", "--model", str(tiny / "run" / "best"), "--data", str(TRAIN), "--split", "x=" + str(TRAIN),
                 "--unit", "document", "--max-length", "16", "--stride", "4", "--truncate", "--output", str(metrics),
                 "--quiet"]) == 0
    assert json.loads(metrics.read_text())["models"][0]["n_truncated"] == 2


def test_cli_eval_bad_label_exits_2_naming_file_and_row(tiny, capsys):
    code = main(["kd", "eval", "--model", str(tiny / "run" / "best"), "--data", str(DATA),
                 "--split", "kd_bad_label.txt", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "kd_bad_label.txt" in err and "row 0" in err and "B-COMPANY" in err


def test_cli_eval_on_a_gonerd_style_dataset(tiny, tmp_path):
    from datasets import DatasetDict

    DatasetDict({"test": gonerd_style_split(TRAIN, ["human:test"] * 2),
                 "validation": gonerd_style_split(TRAIN, ["human:test", "spacy:en_core_web_sm"])}).save_to_disk(
        str(tmp_path / "gonerd"))
    metrics, table = tmp_path / "m.json", tmp_path / "m.md"
    assert main(["kd", "eval", "--model", str(tiny / "run" / "best"), "--data", str(tmp_path / "gonerd"),
                 "--split", "test", "--split", "validation", "--max-length", "24", "--stride", "6",
                 "--output", str(metrics), "--markdown", str(table), "--quiet"]) == 0
    (model,) = json.loads(metrics.read_text())["models"]
    assert model["dataset"] == str(tmp_path / "gonerd") and model["splits"]["test"]["ALL"]["support"] == 20
    assert model["splits"]["test"]["ALL"]["f1"] > 0.5
    assert model["label_sources"] == {"test": {"human:test": 2},
                                      "validation": {"human:test": 1, "spacy:en_core_web_sm": 1}}
    note = [line for line in table.read_text().splitlines() if line.startswith("Gold of")]
    assert note == ["Gold of `validation` is machine pre-labels, `spacy:en_core_web_sm` (1 of 2 rows): its F1 is "
                    "agreement with that labeler, not accuracy."]


def test_a_conll_file_has_no_label_sources_and_no_gold_note():
    from kd.data import load_split
    from kd.evaluate import gold_notes

    from gonerd.schema import LABELS

    assert load_split(TRAIN, "train", labels=LABELS, unit="document").label_sources == {}
    assert gold_notes([{"model": "m", "splits": {"testb": {}}}]) == []
    assert gold_notes([{"model": "m", "label_sources": {"test": {"human:gold": 6}}}]) == []


def test_cli_eval_writes_paths_relative_to_the_working_directory(tiny, tmp_path, monkeypatch):
    """Metrics JSON committed under bench/results must not name this machine's directories."""
    shutil.copy(TRAIN, tiny / "test.txt")
    monkeypatch.chdir(tiny)
    metrics = tmp_path / "m.json"
    assert main(["kd", "eval", "--model", str(tiny / "run" / "best"), "--data", str(tiny), "--split", "test.txt",
                 "--max-length", "24", "--stride", "6", "--output", str(metrics), "--quiet"]) == 0
    report = json.loads(metrics.read_text())
    (model,) = report["models"]
    assert (report["dataset"], model["dataset"], model["path"]) == (".", ".", "run/best")
    assert str(tiny) not in metrics.read_text()


def test_cli_eval_bootstrap_reports_intervals_and_pairs(tiny, tmp_path, capsys):
    metrics = tmp_path / "m.json"
    assert main(["kd", "eval", "--model", str(tiny / "run" / "best"), "--name", "tiny-ft",
                 "--model", str(tiny / "init"), "--name", "tiny-init", "--data", str(DATA), "--split", "kd_train.txt",
                 "--max-length", "24", "--stride", "6", "--bootstrap", "300", "--output", str(metrics), "--quiet"]) == 0
    report = json.loads(metrics.read_text())
    boot = report["bootstrap"]["kd_train.txt"]
    assert boot["replicates"] == 300 and boot["units"] == 6  # the sentences of the file
    for model in report["models"]:
        point = boot["models"][model["model"]]
        assert point["f1"] == pytest.approx(model["splits"]["kd_train.txt"]["ALL"]["f1"])  # seqeval's estimate
        assert point["ci95"][0] <= point["f1"] <= point["ci95"][1]
        assert "unit_counts" not in model
    (pair,) = boot["pairs"]
    assert (pair["a"], pair["b"]) == ("tiny-ft", "tiny-init") and pair["diff"] > 0
    assert "| kd_train.txt | tiny-ft − tiny-init |" in capsys.readouterr().out
