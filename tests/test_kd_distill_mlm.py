"""Convert-Then-Distill on tiny models: every architecture distils into a half-depth student on a real corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from kd.config import MlmDistillConfig, MlmPhase
from kd.convert import convert
from kd.corpus import build_corpus
from kd.distill import distill_mlm
from kd_tiny import build_model_dir, conll_words

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "gonerd" / "sample" / "doj_releases.jsonl"
TRAIN = Path(__file__).parent / "data" / "kd_train.txt"
# Settings of each conversion at which 32-token inputs take the efficient attention path.
SPARSE = {"lsg": {"block_size": 4, "sparse_block_size": 2}, "longformer": {"window": 4},
          "bigbird": {"block_size": 2, "num_random_blocks": 1}, "nystromformer": {"num_landmarks": 4}}


@pytest.fixture(scope="module")
def bert_mlm(tmp_path_factory) -> Path:
    """A tiny random 2-layer BERT masked LM with its tokenizer."""
    from transformers import BertConfig, BertForMaskedLM

    path = build_model_dir(tmp_path_factory.mktemp("bert") / "mlm", conll_words(TRAIN), head=False, vocab_size=300)
    torch.manual_seed(1)
    BertForMaskedLM(BertConfig.from_pretrained(str(path))).save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def corpus(bert_mlm, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus([SAMPLE], bert_mlm, out, max_length=32, held_out=0.2, seed=0, progress=False)
    return out


def _cfg(teacher: Path, corpus: Path, out: Path, **kw) -> MlmDistillConfig:
    settings = dict(teacher=str(teacher), corpus=str(corpus), output_dir=str(out), phases=(MlmPhase(32, 6, 4),),
                    learning_rate=3e-3, warmup_ratio=0.1, save_every=3, eval_lengths=(32,), eval_sequences=4,
                    torch_threads=1)
    return MlmDistillConfig(**{**settings, **kw})


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_student_starts_from_every_other_teacher_layer_and_the_loss_falls(bert_mlm, corpus, tmp_path):
    out = tmp_path / "run"
    summary = distill_mlm(_cfg(bert_mlm, corpus, out, phases=(MlmPhase(32, 20, 8),)), progress=False)
    teacher, student = load_file(str(bert_mlm / "model.safetensors")), load_file(str(out / "init" / "model.safetensors"))
    assert all(torch.equal(v, teacher[k]) for k, v in student.items())  # layer 0 stays layer 0 of 2
    assert not any(".layer.1." in k for k in student)
    steps = [r for r in _log(out) if "loss" in r]
    assert all(set(r["terms"]) == {"mlm", "kl", "cosine"} for r in steps)
    assert steps[-1]["loss"] < steps[0]["loss"]
    assert json.loads((out / "model" / "config.json").read_text())["num_hidden_layers"] == 1
    assert summary["steps"] == 20 and json.loads((out / "run.json").read_text())["config"]["alpha"] == 2.0


@pytest.mark.parametrize("attention", list(SPARSE))
def test_every_converted_architecture_distils(bert_mlm, corpus, tmp_path, attention):
    teacher = convert(bert_mlm, tmp_path / attention, attention, max_length=64, **SPARSE[attention])
    out = tmp_path / "run"
    summary = distill_mlm(_cfg(teacher, corpus, out, phases=(MlmPhase(32, 2, 2),)), progress=False)
    terms = [r["terms"] for r in _log(out) if "loss" in r]
    assert len(terms) == 2 and all(all(v == v and v >= 0 for v in t.values()) for t in terms)  # finite, no NaN
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["num_hidden_layers"] == 1 and config["architectures"][0].endswith("ForMaskedLM")
    assert summary["heldout"]["32"]["loss"] == summary["heldout"]["32"]["loss"]


def test_cli_distils_and_refuses_flags_of_the_other_task(bert_mlm, corpus, tmp_path):
    base = [sys.executable, "-m", "gonerd.cli", "kd", "distill", "--task", "mlm", "--teacher", str(bert_mlm),
            "--corpus", str(corpus), "--output-dir", str(tmp_path / "cli"), "--quiet"]
    sets = ["--set", "phases=[{max_length: 32, steps: 2, batch_size: 2}]", "--set", "eval_lengths=[32]",
            "--set", "eval_sequences=2", "--set", "torch_threads=1"]
    done = subprocess.run(base + sets, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "cli" / "run.json").read_text())["config"]["teacher"] == str(bert_mlm)
    bad = subprocess.run(base + ["--loss", "hinton"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not an option of distill --task mlm: --loss" in bad.stderr
