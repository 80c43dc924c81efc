"""Task distillation on tiny models: every loss trains, and the MAKD algebra shows in the weights."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from kd.config import NerDataConfig, NerDistillConfig
from kd.distill import distill_ner
from kd_tiny import build_model_dir, conll_words, train_tiny

TRAIN = Path(__file__).parent / "data" / "kd_train.txt"


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("teacher")
    train_tiny(out, TRAIN, epochs=6.0)
    return out / "run" / "best"


def _cfg(teacher: Path, out: Path, loss: str, **kw) -> NerDistillConfig:
    settings = dict(teacher=str(teacher), student_layers=(1,), loss=loss, output_dir=str(out),
                    data=NerDataConfig(train=str(TRAIN), dev=str(TRAIN)), max_length=24, stride=6, epochs=2.0,
                    batch_size=2, eval_batch_size=8, learning_rate=3e-3, warmup_ratio=0.1, weight_decay=0.0,
                    log_every=3, torch_threads=1)
    return NerDistillConfig(**{**settings, **kw})


def _weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / "last" / "model.safetensors"))


@pytest.mark.parametrize("loss,terms", [("ce", {"ce"}), ("hinton", {"ce", "kl"}),
                                        ("makd", {"ce", "kl", "correction"}), ("makd-sg", {"ce", "kl", "correction"})])
def test_every_loss_trains_a_half_depth_student_and_logs_its_terms(teacher, tmp_path, loss, terms):
    summary = distill_ner(_cfg(teacher, tmp_path / loss, loss, temperature=2.0 if loss == "hinton" else 1.0),
                          progress=False)
    log = [json.loads(line) for line in (tmp_path / loss / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert set(steps[0]["terms"]) == terms
    assert steps[-1]["loss"] < steps[0]["loss"]
    assert summary["best_dev_f1"] > 0.0
    student = json.loads((tmp_path / loss / "best" / "config.json").read_text())
    assert student["num_hidden_layers"] == 1
    record = json.loads((tmp_path / loss / "run.json").read_text())
    assert record["config"]["loss"] == loss and record["config"]["student_layers"] == [1]


def test_makd_trains_exactly_like_plain_ce_and_makd_sg_like_hinton(teacher, tmp_path):
    runs = {}
    for loss in ("ce", "makd", "hinton", "makd-sg"):
        distill_ner(_cfg(teacher, tmp_path / loss, loss, lam=0.3, epochs=1.0), progress=False)
        runs[loss] = _weights(tmp_path / loss)
    for a, b in (("makd", "ce"), ("makd-sg", "hinton")):
        diff = max((runs[a][k] - runs[b][k]).abs().max().item() for k in runs[a])
        assert diff < 1e-4, f"{a} vs {b}: {diff}"
    diff = max((runs["hinton"][k] - runs["ce"][k]).abs().max().item() for k in runs["ce"])
    assert diff > 1e-3  # the teacher does change training where the algebra says it should


def test_student_with_another_tokenizer_is_refused(teacher, tmp_path):
    from gonerd.errors import InputError

    other = build_model_dir(tmp_path / "other", conll_words(TRAIN)[:40], vocab_size=60)
    cfg = dataclasses.replace(_cfg(teacher, tmp_path / "run", "hinton"), student_layers=(), model=str(other))
    with pytest.raises(InputError, match="tokenizer differs"):
        distill_ner(cfg, progress=False)


def test_distillation_losses_need_a_teacher(tmp_path):
    from gonerd.errors import ConfigError

    cfg = dataclasses.replace(_cfg(Path("x"), tmp_path, "hinton"), teacher="", student_layers=())
    with pytest.raises(ConfigError, match="needs a teacher"):
        distill_ner(cfg, progress=False)


def test_cli_distils_with_flags_and_set(teacher, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "gonerd.cli", "kd", "distill", "--task", "ner", "--teacher", str(teacher),
           "--student-layers", "1", "--loss", "hinton", "--lambda", "0.4", "--temperature", "2", "--train", str(TRAIN),
           "--dev", str(TRAIN), "--output-dir", str(out), "--epochs", "1", "--quiet",
           "--set", "max_length=24", "--set", "stride=6", "--set", "batch_size=4", "--set", "torch_threads=1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    config = json.loads((out / "run.json").read_text())["config"]
    assert (config["loss"], config["lam"], config["temperature"], config["student_layers"]) == ("hinton", 0.4, 2.0, [1])
    bad = subprocess.run(cmd[:-8] + ["--set", "lam=1.5"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "lam must be in [0, 1]" in bad.stderr
