"""The Convert-Then-Distill driver (bench/kd_ctd.py): its committed configs, smoke budgets and result tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gonerd.commands.options import parse_overrides
from gonerd.config import load_config, with_overrides
from kd.config import MlmDistillConfig, MlmPretrainConfig, NerTrainConfig, resolve_paths

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import kd_ctd  # noqa: E402  (a script folder, not a package)

CONFIGS = REPO / kd_ctd.CONFIGS
CLASSES = {"ctd_pretrain": MlmPretrainConfig, "ctd_distill": MlmDistillConfig, "ctd_conll": NerTrainConfig,
           "ctd_gonerd": NerTrainConfig}


def _load(stem: str):
    return load_config(CONFIGS / f"{stem}.toml", CLASSES[stem])


def test_every_committed_config_loads_and_names_no_machine_path(monkeypatch):
    monkeypatch.setenv("GONERD_DATA", "DATA")
    assert sorted(p.stem for p in CONFIGS.glob("ctd_*.toml")) == sorted(CLASSES)
    for stem in CLASSES:
        assert '= "/' not in (CONFIGS / f"{stem}.toml").read_text(encoding="utf-8"), stem
    for stem in ("ctd_conll", "ctd_gonerd"):
        cfg = resolve_paths(_load(stem))
        assert not any(Path(v).is_absolute() for v in (cfg.data.train, cfg.data.dev)), stem


def test_teachers_and_students_get_one_token_budget():
    pretrain, distill = _load("ctd_pretrain"), _load("ctd_distill")
    assert (pretrain.phases, pretrain.max_tokens) == (distill.phases, distill.max_tokens)
    assert pretrain.max_tokens == sum(p.steps * p.batch_size * p.max_length for p in pretrain.phases)
    assert [p.max_length for p in pretrain.phases] == [512, 4096]
    assert (distill.alpha, distill.beta, distill.gamma, distill.temperature) == (2.0, 5.0, 1.0, 2.0)
    kd_ctd.check_same_budget(CONFIGS / "ctd_pretrain.toml", CONFIGS / "ctd_distill.toml")  # does not exit


def test_a_different_distillation_budget_is_refused(tmp_path):
    text = (CONFIGS / "ctd_distill.toml").read_text(encoding="utf-8")
    changed = tmp_path / "distill.toml"
    changed.write_text(text.replace("max_tokens = 1310720", "max_tokens = 1000"), encoding="utf-8")
    with pytest.raises(SystemExit, match="differ in phases or max_tokens"):
        kd_ctd.check_same_budget(CONFIGS / "ctd_pretrain.toml", changed)


def test_conll_recipe_is_the_recorded_minilm_document_one():
    reference = load_config(REPO / "bench" / "results" / "kd_conll_minilm_doc.toml", NerTrainConfig)
    ours = _load("ctd_conll")
    same = ("data", "max_length", "stride", "batch_size", "learning_rate", "warmup_ratio", "weight_decay", "seed",
            "epochs")
    assert all(getattr(ours, k) == getattr(reference, k) for k in same)


@pytest.mark.parametrize("kind,stem", [("mlm", "ctd_pretrain"), ("mlm", "ctd_distill"), ("conll", "ctd_conll"),
                                       ("gonerd", "ctd_gonerd")])
def test_smoke_budgets_are_valid_settings_and_smaller(kind, stem):
    args = kd_ctd.SMOKE.sets(kind)
    assert kd_ctd.REAL.sets(kind) == [] and args[::2] == ["--set"] * (len(args) // 2)
    cfg = with_overrides(_load(stem), parse_overrides(args[1::2]))
    if kind == "mlm":
        assert sum(p.steps for p in cfg.phases) < sum(p.steps for p in _load(stem).phases)
    else:
        assert cfg.data.max_train_examples and cfg.data.max_train_examples <= 200


def _report(f1: dict[str, dict[str, float]]) -> dict:
    """A ``kd eval`` report (the NER-metrics contract) of models with these ALL F1 per split."""
    return {"models": [{"model": name, "splits": {s: {t: {"precision": v, "recall": v, "f1": v, "support": 10}
                                                      for t in ("PER", "ORG", "LOC", "MISC", "ALL")}
                                                  for s, v in splits.items()}} for name, splits in f1.items()]}


def _record(seconds: float, heldout: dict[str, float]) -> dict:
    return {"git": None, "train": {"steps": 5, "tokens": 5120, "stopped_by": "steps", "train_seconds": seconds,
                                   "heldout": {n: {"loss": v} for n, v in heldout.items()},
                                   "train_examples": 200, "best_dev_f1": 0.5}}


def test_tables_are_assembled_from_records_with_retention_against_the_own_teacher(tmp_path):
    layout = kd_ctd.Layout(tmp_path / "runs", tmp_path / "records", tmp_path / "results", smoke=True)
    layout.records.mkdir()
    scores = {"lsg teacher": {"testb": 0.80, "conllpp": 0.82}, "lsg student": {"testb": 0.76, "conllpp": 0.82},
              "lsg control": {"testb": 0.40}}
    layout.scores("lsg", "conll").write_text(json.dumps(_report(scores)))
    for stage, loss in (("pretrain", 7.5), ("distill", 6.0)):
        layout.record("lsg", stage).write_text(json.dumps(_record(120.0, {"512": loss, "4096": loss + 1})))
        metrics = layout.out("lsg", stage) / "metrics.jsonl"
        metrics.parent.mkdir(parents=True)
        metrics.write_text(json.dumps({"step": 0, "heldout": {"512": {"loss": 10.5}}}) + "\n")
    layout.record("lsg", "conll_student").write_text(json.dumps(_record(90.0, {})))
    result = kd_ctd.collect(layout, "lsg")
    models = result["models"]
    assert models["student"]["retention"] == pytest.approx({"testb": 0.95, "conllpp": 1.0})
    assert models["control"]["retention"] == pytest.approx({"testb": 0.5})
    assert models["teacher"]["scores"]["gonerd"] is None and models["teacher"]["fine_tune"]["conll"] is None
    assert result["mlm"]["pretrain"]["heldout_loss_start"] == {"512": 10.5}
    assert result["mlm"]["distill"]["heldout_loss_end"] == {"512": 6.0, "4096": 7.0}
    table = kd_ctd.markdown({"lsg": result})
    assert "| ↳ student (distilled) | 76.0 | 76.0 | 76.0 | 76.0 | 76.0 | 95.0 | 82.0 | 100.0 | – | – | 1.5 / – |" in table
    assert "reference" not in table  # the converted model is not scored in this report
    assert "distilled − control" not in table  # no bootstrap in this report
    report = _report(scores)
    report["bootstrap"] = {"testb": {"units": 231, "replicates": 1000, "pairs": [
        {"a": "lsg teacher", "b": "lsg student", "diff": 0.04, "ci95": [0.02, 0.06], "share_a_not_above_b": 0.0},
        {"a": "lsg student", "b": "lsg control", "diff": 0.018, "ci95": [-0.004, 0.041], "share_a_not_above_b": 0.052}]}}
    layout.scores("lsg", "conll").write_text(json.dumps(report))
    result = kd_ctd.collect(layout, "lsg")
    assert set(result["distilled_vs_control"]) == {"testb"}
    assert "| lsg | testb | the file's tags | 231 | +1.8 | [-0.4, +4.1] | 5.2% |" in kd_ctd.markdown({"lsg": result})
    scores["lsg converted"] = {"testb": 0.88}
    layout.scores("lsg", "conll").write_text(json.dumps(_report(scores)))
    result = kd_ctd.collect(layout, "lsg")
    assert result["models"]["converted"]["retention"] == pytest.approx({"testb": 1.1})
    assert "| ↳ reference: converted, not pretrained | 88.0 |" in kd_ctd.markdown({"lsg": result})
    assert "| lsg | pretrain | 5 | 5,120 | 10.500 → 7.500 | – → 8.500 | 2.0 |" in table


def test_a_report_without_a_model_of_the_chain_is_scored_again(tmp_path):
    path = tmp_path / "lsg_eval_conll.json"
    names = [kd_ctd.model_name("lsg", role) for role in kd_ctd.data_roles("conll")]
    assert names[-1] == "lsg converted" and kd_ctd.data_roles("gonerd") == kd_ctd.ROLES
    assert not kd_ctd.stale_report(path, names)  # not scored yet: the stage runs anyway
    path.write_text(json.dumps({"models": [{"model": n} for n in names[:3]]}))
    assert kd_ctd.stale_report(path, names)
    path.write_text(json.dumps({"models": [{"model": n} for n in names]}))
    assert kd_ctd.stale_report(path, names)  # every model, but scored before the bootstrap
    path.write_text(json.dumps({"models": [{"model": n} for n in names], "bootstrap": {}}))
    assert not kd_ctd.stale_report(path, names)


def test_the_gonerd_build_is_copied_once_so_every_architecture_trains_on_the_same_data(tmp_path):
    source, target = tmp_path / "demo_out", tmp_path / "runs" / "gonerd_build"
    (source / "data").mkdir(parents=True)
    (source / "data" / "train-00000-of-00001.parquet").write_bytes(b"first build")
    target.parent.mkdir()
    first = kd_ctd.snapshot_build(source, target)
    assert first["sha256"] == {"data/train-00000-of-00001.parquet":  # sha256 of b"first build"
                               "f3adf3a4014af2dc15376ed0b22ac63cae9073430512bad33659b8f352c9fb30"}
    (source / "data" / "train-00000-of-00001.parquet").write_bytes(b"a later make demo")
    assert kd_ctd.snapshot_build(source, target) == first
    assert (target / "data" / "train-00000-of-00001.parquet").read_bytes() == b"first build"
    assert not target.with_name("gonerd_build.new").exists()


def test_the_plan_lets_a_second_worker_fine_tune_while_the_student_distils(tmp_path):
    layout = kd_ctd.Layout(tmp_path / "runs", tmp_path / "records", tmp_path / "results", smoke=True)
    steps = kd_ctd.plan(layout, kd_ctd.Stages(layout.runs / "locks"), ["lsg"], 1, True, [tmp_path / "doc.txt"])
    by_name = {s.name: s for s in steps}
    assert [s.name for s in steps] == list(kd_ctd.stage_names())
    distill = layout.out("lsg", "distill")
    assert by_name["conll_teacher"].needs == (layout.out("lsg", "pretrain") / "run.json",)
    assert by_name["conll_converted"].needs == (Path("runs/minilm_lsg/config.json"),)
    assert by_name["conll_student"].needs == (distill / "run.json",)
    # The control starts from distill/init, complete once kd_student.json (written last) is there.
    assert by_name["conll_control"].needs == (distill / "init" / "kd_student.json",)
    assert set(by_name["conll_eval"].needs) == {by_name[f"conll_{r}"].done for r in kd_ctd.data_roles("conll")}
    assert by_name["gonerd_student"].needs == (by_name["conll_student"].done,)
    assert "--limit" in by_name["gonerd_eval"].args  # smoke budgets reach the scoring too
    # Without the reference, its fine-tune is not planned and the CoNLL scoring neither waits for it nor names it.
    lean = {s.name: s for s in kd_ctd.plan(layout, kd_ctd.Stages(layout.runs / "locks"), ["lsg"], 1, True,
                                          [tmp_path / "doc.txt"], reference=False)}
    assert set(by_name) - set(lean) == {"conll_converted"}
    assert set(lean["conll_eval"].needs) == {by_name[f"conll_{r}"].done for r in kd_ctd.ROLES}
    assert "lsg converted" not in lean["conll_eval"].args and "lsg converted" in by_name["conll_eval"].args


def test_the_tables_show_every_architecture_with_a_record(tmp_path):
    layout = kd_ctd.Layout(tmp_path / "runs", tmp_path / "records", tmp_path / "results", smoke=True)
    layout.records.mkdir()
    assert kd_ctd.recorded_archs(layout) == []
    layout.record("longformer", "pretrain").write_text("{}")
    layout.scores("lsg", "conll").write_text("{}")
    assert kd_ctd.recorded_archs(layout) == ["lsg", "longformer"]


def test_the_results_files_hold_the_tables_the_corpus_size_and_no_machine_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    layout = kd_ctd.Layout(Path("runs"), Path("records"), Path("results"), smoke=True)
    layout.records.mkdir()
    layout.scores("lsg", "conll").write_text(json.dumps(_report({"lsg teacher": {"testb": 0.8},
                                                                 "lsg student": {"testb": 0.76}})))
    layout.corpus.mkdir(parents=True)
    splits = {"train": {"documents": 9, "sequences": 4, "tokens": 900}, "heldout": {"documents": 1, "sequences": 1,
                                                                                      "tokens": 90}}
    (layout.corpus / "corpus.json").write_text(json.dumps({
        "documents": 10, "max_length": 4096, "held_out": 0.05, "seed": 0, "splits": splits,
        "command": f"cli.py kd corpus {tmp_path}/data --out runs/ctd/corpus"}))
    kd_ctd.write_results(layout, kd_ctd.recorded_archs(layout))
    result = json.loads((layout.results / "kd_ctd.json").read_text())
    assert result["corpus"] == {"documents": 10, "max_length": 4096, "held_out": 0.05, "seed": 0, "splits": splits}
    assert list(result["archs"]) == ["lsg"] and result["table"] == (layout.results / "kd_ctd.md").read_text()
    assert "| **lsg** teacher | 80.0 |" in result["table"]
    assert str(tmp_path) not in (layout.results / "kd_ctd.json").read_text()


def test_the_distilled_minus_control_rows_say_whether_the_gold_is_hand_labels_or_pre_labels(tmp_path):
    layout = kd_ctd.Layout(tmp_path / "runs", tmp_path / "records", tmp_path / "results", smoke=True)
    layout.records.mkdir()
    report = _report({"lsg student": {"test": 0.6, "validation": 0.5}, "lsg control": {"test": 0.5, "validation": 0.6}})
    for m in report["models"]:
        m["label_sources"] = {"test": {"human:gold": 6}, "validation": {"spacy:en_core_web_sm@3.8.0": 7}}
    pair = {"a": "lsg student", "b": "lsg control", "diff": 0.1, "ci95": [0.0, 0.2], "share_a_not_above_b": 0.1}
    report["bootstrap"] = {s: {"units": 6, "replicates": 1000, "pairs": [pair]} for s in ("test", "validation")}
    layout.scores("lsg", "gonerd").write_text(json.dumps(report))
    table = kd_ctd.markdown({"lsg": kd_ctd.collect(layout, "lsg")})
    assert "| lsg | test | hand labels | 6 |" in table
    assert "| lsg | validation | pre-labels | 6 |" in table
    assert kd_ctd.gold_kind({"models": [{"label_sources": {"x": {"human:a": 1, "rules": 1}}}]}, "x") == "mixed"
