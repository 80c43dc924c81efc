"""Config paths: relative to the working directory or under ``${GONERD_DATA}``; records name no machine paths."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gonerd.errors import ConfigError
from kd.config import NerDataConfig, NerTrainConfig, expand_path, portable_path, resolve_paths
from kd_tiny import build_model_dir, conll_words

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "kd_train.txt"
RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


def test_data_root_comes_from_the_environment_else_beside_the_repository(monkeypatch):
    monkeypatch.delenv("GONERD_DATA", raising=False)
    from gonerd.config import CHECKOUT_DATA_ROOT

    assert expand_path("${GONERD_DATA}/conll2003/eng.train", "data.train") == f"{CHECKOUT_DATA_ROOT}/conll2003/eng.train"
    assert CHECKOUT_DATA_ROOT == Path(__file__).resolve().parents[2] / "shared" / "data"
    monkeypatch.setenv("GONERD_DATA", "/data/ner/")
    cfg = resolve_paths(NerTrainConfig(model="runs/a/best", output_dir="runs/b",
                                       data=NerDataConfig(train="${GONERD_DATA}/x/train.txt", dev="dev.txt")))
    assert (cfg.model, cfg.output_dir, cfg.data.train, cfg.data.dev) == ("runs/a/best", "runs/b", "/data/ner/x/train.txt",
                                                                         "dev.txt")


def test_unknown_variable_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"data\.dev: unknown variable \$\{HOME\}"):
        resolve_paths(NerTrainConfig(data=NerDataConfig(train="t", dev="${HOME}/dev.txt")))


def test_portable_path_is_relative_to_the_working_directory_or_the_data_root(tmp_path, monkeypatch):
    (tmp_path / "repo" / "runs").mkdir(parents=True)
    (tmp_path / "data" / "conll").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")
    monkeypatch.setenv("GONERD_DATA", str(tmp_path / "data"))
    assert portable_path(tmp_path / "repo" / "runs" / "m") == "runs/m"
    assert portable_path(tmp_path / "data" / "conll") == "${GONERD_DATA}/conll"
    assert portable_path("../data/conll/eng.testb") == "${GONERD_DATA}/conll/eng.testb"
    assert portable_path("/elsewhere/x") == "/elsewhere/x"


def test_train_ner_reads_a_config_with_the_data_root_and_records_no_absolute_path(tmp_path):
    """The real CLI in a fresh working directory: ``${GONERD_DATA}`` data, ``runs/`` output, relative record."""
    root, repo = tmp_path / "data", tmp_path / "repo"
    (root / "conll").mkdir(parents=True)
    shutil.copy(TRAIN, root / "conll" / "train.txt")
    build_model_dir(repo / "models" / "init", conll_words(TRAIN), head=False)
    (repo / "cfg.toml").write_text('model = "models/init"\noutput_dir = "runs/tiny"\nrecord = "results/tiny_run.json"\n'
                                   'max_length = 24\nstride = 6\nepochs = 1.0\nbatch_size = 2\ntorch_threads = 1\n'
                                   '[data]\ntrain = "${GONERD_DATA}/conll/train.txt"\n'
                                   'dev = "${GONERD_DATA}/conll/train.txt"\n')
    env = {"PATH": "/usr/bin:/bin", "GONERD_DATA": str(root), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "gonerd.cli", "kd", "train-ner", "--config", "cfg.toml", "--quiet"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((repo / "results" / "tiny_run.json").read_text())
    assert record["train"]["model"] == "models/init" and record["train"]["output_dir"] == "runs/tiny"
    assert record["config"]["data"]["train"] == "${GONERD_DATA}/conll/train.txt"
    assert str(repo) not in json.dumps(record) and str(root) not in json.dumps(record)


def test_length_grouping_is_off_by_default():
    assert NerTrainConfig().length_group == 1


def test_committed_configs_name_no_machine_paths_and_load(monkeypatch):
    from gonerd.config import load_config

    monkeypatch.setenv("GONERD_DATA", "DATA")
    for path in sorted(RESULTS.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        assert '= "/' not in text, f"{path.name} names an absolute path"
        cfg = resolve_paths(load_config(path, NerTrainConfig))
        for value in (cfg.model, cfg.output_dir, cfg.record, cfg.data.train, cfg.data.dev):
            assert not Path(value).is_absolute() and "$" not in value, f"{path.name}: {value}"
        assert cfg.output_dir.startswith("runs/") and cfg.record in ("", f"bench/results/{path.stem}_run.json")
