"""``gonerd kd push`` against a real HTTP Hub stub on 127.0.0.1; the generated model card."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from huggingface_hub import constants

from gonerd.cli import main
from gonerd.errors import GonerdError, InputError
from hub_stub import HubStub
from kd.card import GENERATED_MARK, model_card
from kd.push import plan_model_upload, push_model
from kd_tiny import train_tiny

DATA = Path(__file__).parent / "data"
TOKEN = "hf_stub_token"
REPO = "gonerd-team/tiny-ner"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("kdpush")
    train_tiny(out, DATA / "kd_train.txt")
    return out / "run" / "best"


@pytest.fixture(scope="module")
def metrics(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("kdpush_eval") / "metrics.json"
    assert main(["kd", "eval", "--model", str(model), "--data", str(DATA), "--split", "kd_train.txt",
                 "--max-length", "24", "--stride", "6", "--output", str(path), "--quiet"]) == 0
    return path


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # the stub speaks LFS, not Xet
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    with HubStub(tokens=(TOKEN,)) as stub:
        yield stub


def card_meta(text: str) -> dict:
    return yaml.safe_load(text.split("---\n")[1])


def test_card_yaml_and_body_come_from_the_records(model, metrics):
    text = model_card(model, REPO, metrics_path=metrics)
    meta = card_meta(text)
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "token-classification"
    assert meta["license"] == "apache-2.0" and meta["datasets"] == ["data"]  # the training file's folder
    scores = json.loads(metrics.read_text())["models"][0]["splits"]["kd_train.txt"]
    (result,) = meta["model-index"][0]["results"]
    assert result["dataset"]["split"] == "kd_train.txt"
    got = {m["name"]: m["value"] for m in result["metrics"]}
    assert got["F1 PER"] == round(scores["PER"]["f1"], 4) and got["F1 (all types)"] == round(scores["ALL"]["f1"], 4)
    run = json.loads((model.parent / "run.json").read_text())
    assert f"| learning rate | {run['config']['learning_rate']} |" in text
    assert "Uncased" in text and "at most 64 sub-tokens" in text  # the tiny tokenizer lowercases; 64 positions
    assert GENERATED_MARK in text and "## Intended use" in text
    assert "pre-labels" not in text  # a CoNLL file: no label_source to warn about


def test_card_says_when_a_split_is_scored_against_pre_labels(model, metrics, tmp_path):
    report = json.loads(metrics.read_text())
    report["models"][0]["label_sources"] = {"kd_train.txt": {"spacy:en_core_web_sm@3.8.0": 2}}
    prelabelled = tmp_path / "metrics.json"
    prelabelled.write_text(json.dumps(report))
    text = model_card(model, REPO, metrics_path=prelabelled)
    assert ("Gold of `kd_train.txt` is machine pre-labels, `spacy:en_core_web_sm@3.8.0` (2 of 2 rows): its F1 is "
            "agreement with that labeler, not accuracy.") in text


def test_dry_run_writes_the_card_lists_files_and_sends_nothing(model, metrics, hub, capsys):
    assert main(["kd", "push", str(model), "--repo-id", REPO, "--eval", str(metrics), "--endpoint", hub.url,
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("would upload") and hub.requests == []
    names = {i.path_in_repo for i in plan_model_upload(model)}
    assert {"config.json", "model.safetensors", "tokenizer.json", "kd_train.json"} <= names
    for name in names | {"README.md"}:
        assert f"  {name}  " in out
    assert "model-index" in card_meta((model / "README.md").read_text())


def test_push_commits_every_file_once_with_the_token_given(model, metrics, hub, capsys):
    assert main(["kd", "push", str(model), "--repo-id", REPO, "--eval", str(metrics), "--endpoint", hub.url,
                 "--token", TOKEN, "--private"]) == 0
    files = hub.repos[REPO]["main"]
    assert len(hub.commits) == 1 and hub.private[REPO]
    for item in plan_model_upload(model):
        assert files[item.path_in_repo] == item.local_path.read_bytes(), item.path_in_repo
    assert files["README.md"] == (model / "README.md").read_bytes()
    weights = (model / "model.safetensors").read_bytes()
    assert f"/lfs-upload/{hashlib.sha256(weights).hexdigest()}" in [p for _, p in hub.requests]
    assert f"commit {hub.commits[-1]['oid']}" in capsys.readouterr().out


def test_rejected_token_and_bad_inputs_give_one_line_errors(model, hub, tmp_path, capsys):
    assert main(["kd", "push", str(model), "--repo-id", REPO, "--endpoint", hub.url, "--token", "hf_wrong"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "authentication failed" in err and "HTTP 401" in err and REPO not in hub.repos
    with pytest.raises(InputError, match="OWNER/NAME"):
        push_model(model, "no-owner", dry_run=True)
    with pytest.raises(InputError, match="no config.json"):
        push_model(tmp_path, REPO, dry_run=True)
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": []}')
    with pytest.raises(InputError, match="no 'models' list"):
        push_model(model, REPO, eval_path=bad, dry_run=True)


def test_hand_written_readme_is_never_replaced(model, tmp_path):
    import shutil

    copy = Path(shutil.copytree(model, tmp_path / "m"))
    (copy / "README.md").write_text("# my notes\n")
    with pytest.raises(GonerdError, match="not generated by `gonerd kd push`"):
        push_model(copy, REPO, dry_run=True)
    assert (copy / "README.md").read_text() == "# my notes\n"
