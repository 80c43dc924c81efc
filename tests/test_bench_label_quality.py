"""bench/label_quality.py: every label-quality figure in one run, through `gonerd eval-labels`' own code.

The script's core runs here on a tiny subset (the CoNLL snippet, the bundled sample's hand-labelled
test split, two slices of the MISC gold) with all three labelers — spaCy, a tiny random model alone and
their vote — so the committed measurement cannot silently break.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gonerd.cli import main as gonerd_main
from kd_tiny import build_model_dir, conll_words

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import label_quality  # noqa: E402  (a script folder, not a package)

SNIPPET = REPO / "tests" / "data" / "conll_snippet.txt"


@pytest.fixture(scope="module")
def misc_halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two slices of the packaged MISC gold (10 texts each, with ages, addresses and phones among them)."""
    out = tmp_path_factory.mktemp("misc")
    lines = (label_quality.PACKAGE_DATA / "misc_gold.jsonl").read_text(encoding="utf-8").splitlines()
    halves = out / "half_a.jsonl", out / "half_b.jsonl"
    for k, path in enumerate(halves):
        path.write_text("\n".join(lines[10 * k:10 * k + 10]) + "\n", encoding="utf-8")
    return halves


@pytest.fixture(scope="module")
def measured(sample_run, misc_halves, tmp_path_factory: pytest.TempPathFactory) -> dict:
    model = build_model_dir(tmp_path_factory.mktemp("model") / "tiny", conll_words(SNIPPET))
    docs, _ = sample_run
    a, b = misc_halves
    return label_quality.measure(label_quality.labeler_configs(str(model)), [SNIPPET], label_quality.GONERD_GOLD,
                                 docs, [a, b], [], tmp_path_factory.mktemp("no_data_root"), {"a+b": [a, b]})


def test_every_labeler_is_scored_on_every_set(measured: dict) -> None:
    assert list(measured["ner"]) == ["spacy", "model", "vote"]
    for scores in measured["ner"].values():
        assert list(scores) == ["conll_snippet.txt", "GONERD test"]
    sources = {name: lab["label_source"] for name, lab in measured["labelers"].items()}
    assert sources["spacy"].startswith("spacy:") and sources["model"].startswith("model:")
    assert sources["vote"].startswith("vote(model:") and all(s.endswith("+rules:misc@4") for s in sources.values())
    assert measured["labelers"]["vote"]["settings"]["ner_combine"] == "vote"
    assert measured["labelers"]["spacy"]["settings"] == {}


def test_figures_are_the_ones_eval_labels_gives(measured: dict, sample_run, misc_halves, tmp_path: Path) -> None:
    docs, _ = sample_run
    out = tmp_path / "eval.json"
    assert gonerd_main(["eval-labels", "--conll", str(SNIPPET), "--gonerd-gold", str(label_quality.GONERD_GOLD),
                        "--docs", str(docs), "--misc-gold", *map(str, misc_halves),
                        "--data-root", str(tmp_path / "none"), "--out", str(out)]) == 0
    cli = json.loads(out.read_text(encoding="utf-8"))
    assert measured["ner"]["spacy"]["conll_snippet.txt"]["scores"] == cli["conll"]["scores"]
    assert measured["ner"]["spacy"]["GONERD test"]["scores"] == cli["gonerd_gold"]["scores"]
    assert measured["ner"]["spacy"]["GONERD test"]["scores"]["ALL"]["support"] == 178
    for name in ("half_a.jsonl", "half_b.jsonl"):
        assert measured["misc"][name]["scores"] == cli["misc"][name]["scores"]


def test_a_pool_is_scored_on_the_union_of_its_sets(measured: dict) -> None:
    pool = measured["misc_pooled"]["a+b"]
    assert pool["files"] == ["half_a.jsonl", "half_b.jsonl"] and pool["documents"] == 20
    halves = [measured["misc"][n]["scores"]["ALL"] for n in pool["files"]]
    for key in ("true_positives", "predicted", "support"):
        assert pool["scores"]["ALL"][key] == sum(h[key] for h in halves), key
    assert pool["scores"]["ALL"]["support"] > 0


def test_goals_name_value_target_and_margin() -> None:
    def scores(**f1: float) -> dict:
        return {"scores": {k: {"precision": 0.97, "recall": 0.8, "f1": v} for k, v in f1.items()}}

    result = {"ner": {"spacy": {"conllpp_test.txt": scores(ALL=0.65)}, "vote": {"conllpp_test.txt": scores(ALL=0.8)}},
              "misc": {"misc_new_test.jsonl": scores(age=0.9, phone=0.7, ALL=0.86)}, "misc_conll": {},
              "misc_pooled": {}}
    got = {g["goal"]: (g["met"], round(g["margin"], 3)) for g in label_quality.goals(result)}
    assert got == {"CoNLL++ F1 without a model": (True, 0.01), "CoNLL++ F1, MiniLM + spaCy vote": (False, -0.05),
                   "MISC misc_new_test.jsonl overall precision": (True, 0.02),
                   "MISC misc_new_test.jsonl overall recall": (False, -0.05),
                   "MISC misc_new_test.jsonl age F1": (True, 0.1), "MISC misc_new_test.jsonl phone F1": (False, -0.1)}


def test_report_has_every_table_and_no_machine_path(measured: dict,
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    temp = str(tmp_path_factory.getbasetemp())
    assert temp in json.dumps(measured)  # the documents' and the model's folders
    result = label_quality.portable({"date": "today", "command": "python bench/label_quality.py", **measured},
                                    {temp: "TMP", f"{REPO}/": ""})
    text = json.dumps(result)
    assert str(REPO) not in text and temp not in text
    markdown = label_quality.report_markdown(result)
    for row in ("| spacy |", "| model |", "| vote |", "| conll_snippet.txt | vote |", "| GONERD test | spacy |",
                "| MISC kind | half_a.jsonl P |", "| MISC kind | a+b P |"):
        assert row in markdown, row


def test_without_conll_it_skips_and_under_ci_it_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--data-root", str(tmp_path / "none"), "--out-dir", str(tmp_path / "out")]
    monkeypatch.delenv("CI", raising=False)
    assert label_quality.main(args) == 0
    assert "label_quality skipped: conll2003/conllpp_test.txt not found" in capsys.readouterr().out
    monkeypatch.setenv("CI", "true")
    assert label_quality.main(args) == 1
    assert "label_quality skipped" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
