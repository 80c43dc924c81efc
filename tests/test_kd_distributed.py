"""The kd training commands under torchrun: two CPU processes (gloo on loopback) share the work.

``train-ner`` shares the batches of its data loader; ``pretrain`` and ``distill --task mlm`` (one loop,
:mod:`kd.pretrain`) give each process its own rows of every batch drawn from the packed corpus. Each
run checks that both processes joined, that their shares of the corpus are disjoint and together cover
it, that the weights stayed the same on both, and that the main process alone wrote the outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from gonerd.pipeline.io import iter_jsonl
from kd.config import MlmDistillConfig, MlmPhase, MlmPretrainConfig
from kd.corpus import build_corpus, read_sequences, recut, special_ids
from kd.distill import distill_mlm
from kd.model import load_tokenizer
from kd.pretrain import load_mlm_model, pretrain
from kd_tiny import build_model_dir, conll_words

ROOT = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data"
TRAIN = DATA / "kd_train.txt"
SAMPLE = ROOT / "gonerd" / "sample" / "doj_releases.jsonl"
# Phase 0 draws 2 steps x 2 processes x 4 = 16 sequences of 16 tokens (less than one pass: no repeats);
# phase 1 draws 3 x 2 x 6 = 36 of 32 tokens (more than one pass over the 32-token corpus: all covered).
PHASES = "phases=[{max_length: 16, steps: 2, batch_size: 4}, {max_length: 32, steps: 3, batch_size: 6}]"


def torchrun(*args: str) -> subprocess.CompletedProcess:
    """Run ``gonerd kd ARGS`` in two CPU processes under torchrun; fail with the first traceback if it fails."""
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1",
           "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "gonerd.cli", "kd", *args, "--set", "torch_threads=1", "--quiet"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[proc.stderr.find("Traceback"):][:4000]
    return proc


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_train_ner_runs_under_torchrun_with_two_processes(tmp_path):
    model = build_model_dir(tmp_path / "init", conll_words(TRAIN), head=False)
    proc = torchrun("train-ner", "--model", str(model), "--train", str(TRAIN), "--dev", str(TRAIN),
                    "--output-dir", str(tmp_path / "run"), "--epochs", "2", "--set", "batch_size=2",
                    "--set", "max_length=24", "--set", "stride=6")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # 6 windows in batches of 2 = 3 batches per epoch, split over 2 processes -> 2 steps each
    assert summary["num_processes"] == 2 and summary["steps"] == 4
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
    assert proc.stdout.count('"num_processes"') == 1


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """A 2-layer BERT without an MLM head (like MiniLM) and a 32-token corpus of the three shortest DOJ sample
    releases (two for training)."""
    root = tmp_path_factory.mktemp("distributed")
    shortest = sorted((rec for _, rec in iter_jsonl(SAMPLE)), key=lambda rec: len(rec["text"]))[:3]
    docs = root / "docs.jsonl"
    docs.write_text("".join(json.dumps(rec) + "\n" for rec in shortest))
    words = " ".join(rec["text"] for rec in shortest).split()
    model = build_model_dir(root / "bert", words, head=False, vocab_size=300)
    build_corpus([docs], model, root / "corpus", max_length=32, held_out=0.2, seed=0, progress=False)
    return model, root / "corpus"


def corpus_sizes(model: Path, corpus: Path) -> dict[int, int]:
    """Training sequences of the corpus cut at 16 and at 32 tokens (the phases' lengths)."""
    train, ids = read_sequences(corpus), special_ids(load_tokenizer(model))
    return {0: len(recut(train, 16, ids)), 1: len(recut(train, 32, ids))}


def check_shared_run(out: Path, proc: subprocess.CompletedProcess, sizes: dict[int, int]) -> dict:
    """The checks of a two-process pretrain/distill run with :data:`PHASES`; returns its summary."""
    assert 16 < sizes[0] and sizes[1] <= 36  # the phases' draws make less than one pass, then more than one
    summary = json.loads((out / "summary.json").read_text())
    # tokens are counted over both processes: more than one process can draw (2 x 4 x 16 + 3 x 6 x 32), at
    # most both (a drawn sequence may be short: the tiny vocabulary, and so the packing, varies with the hash seed)
    one_process = 2 * 4 * 16 + 3 * 6 * 32
    assert summary["num_processes"] == 2 and summary["steps"] == 5
    assert one_process < summary["tokens"] <= 2 * one_process
    assert json.loads((out / "run.json").read_text())["machine"]["num_processes"] == 2
    first, second = summary["shares"]
    # within a pass no sequence went to both processes; over more than a pass together they covered the corpus
    assert first == {"phase": 0, "sequences": sizes[0], "drawn_by_process": [8, 8], "distinct": 16,
                     "on_several_processes": 0}
    assert second["drawn_by_process"] == [18, 18] and second["distinct"] == second["sequences"] == sizes[1]
    assert summary["replicas_identical"] is True
    # the main process alone logged, evaluated and printed: each step once, the held-out loss at start and end
    log = metrics(out)
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5]
    assert [r["step"] for r in log if "heldout" in r] == [0, 5]
    assert proc.stderr.count("held-out MLM loss") == 2 and proc.stdout.count('"num_processes"') == 1
    assert sorted(p.name for p in (out / "last").glob("shares_*.pt")) == ["shares_0.pt", "shares_1.pt"]
    assert load_mlm_model(out / "model").fresh == []
    return summary


@pytest.fixture(scope="module")
def pretrained(tiny, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, tuple[str, ...]]:
    """A two-process ``kd pretrain`` run with :data:`PHASES`: its folder, its process and its arguments."""
    model, corpus = tiny
    out = tmp_path_factory.mktemp("pretrain") / "run"
    args = ("pretrain", "--model", str(model), "--corpus", str(corpus), "--output-dir", str(out), "--set", PHASES,
            "--set", "eval_lengths=[32]", "--set", "save_every=2", "--set", "log_every=1")
    return out, torchrun(*args), args


@pytest.mark.slow
def test_pretrain_runs_under_torchrun_with_two_processes(tiny, pretrained):
    out, proc, _ = pretrained
    summary = check_shared_run(out, proc, corpus_sizes(*tiny))
    assert summary["fresh_weights"] and summary["decoder_tied"]


@pytest.mark.slow
def test_a_finished_two_process_run_started_again_does_nothing(pretrained):
    out, _, args = pretrained
    before = {p: p.read_bytes() for p in (out / "metrics.jsonl", out / "run.json", out / "model" / "model.safetensors")}
    again = torchrun(*args)
    assert "holds a finished run (step 5); nothing to do" in again.stderr
    assert json.loads(again.stdout) == json.loads((out / "summary.json").read_text())
    assert all(p.read_bytes() == content for p, content in before.items())


@pytest.mark.slow
def test_distill_mlm_runs_under_torchrun_with_two_processes(tiny, tmp_path):
    teacher, corpus = tiny
    out = tmp_path / "run"
    proc = torchrun("distill", "--task", "mlm", "--teacher", str(teacher), "--corpus", str(corpus),
                    "--output-dir", str(out), "--set", PHASES, "--set", "eval_lengths=[32]", "--set", "save_every=2")
    check_shared_run(out, proc, corpus_sizes(teacher, corpus))
    assert proc.stderr.count("the teacher's MLM head is untrained") == 1
    assert all(set(r["terms"]) == {"mlm", "kl", "cosine"} for r in metrics(out) if "loss" in r)
    student = json.loads((out / "init" / "kd_student.json").read_text())
    assert student["layers"] == [0]
    assert json.loads((out / "model" / "config.json").read_text())["num_hidden_layers"] == 1


def small_config(cls, tiny: tuple[Path, Path], out: Path, **overrides):
    """A 6-step run of 16-token batches of 2, checkpointed every 3 steps, held-out loss at 16 tokens."""
    settings = dict(corpus=str(tiny[1]), output_dir=str(out), phases=(MlmPhase(16, 6, 2),), save_every=3,
                    eval_lengths=(16,), eval_sequences=4, torch_threads=1)
    return cls(**{**settings, **overrides})


def test_a_stopped_run_resumes_its_shares_of_the_corpus(tiny, tmp_path):
    def run(name: str, **kw) -> dict:
        return pretrain(small_config(MlmPretrainConfig, tiny, tmp_path / name, model=str(tiny[0])), progress=False,
                        **kw)

    whole = run("whole")
    assert whole["shares"] == [{"phase": 0, "sequences": corpus_sizes(*tiny)[0], "drawn_by_process": [12],
                                "distinct": 12, "on_several_processes": 0}]
    run("cut", stop_after=4)
    assert run("cut")["shares"] == whole["shares"]
    run("old", stop_after=4)
    (tmp_path / "old" / "last" / "shares_0.pt").unlink()  # a checkpoint of code that kept no shares
    assert run("old")["shares"] is None


def test_a_run_that_stopped_after_its_final_checkpoint_finishes_without_training_or_evaluating_again(tiny, tmp_path):
    out = tmp_path / "run"
    cfg = small_config(MlmPretrainConfig, tiny, out, model=str(tiny[0]))
    summary = pretrain(cfg, progress=False)
    weights = load_file(str(out / "model" / "model.safetensors"))
    log = (out / "metrics.jsonl").read_text()
    for record in ("summary.json", "run.json"):  # as if the process died after the final checkpoint
        (out / record).unlink()
    shutil.rmtree(out / "model")
    again = pretrain(cfg, progress=False)
    assert (out / "metrics.jsonl").read_text() == log  # no second final evaluation
    assert {k: v for k, v in again.items() if k != "train_seconds"} == \
           {k: v for k, v in summary.items() if k != "train_seconds"}
    saved = load_file(str(out / "model" / "model.safetensors"))
    assert saved.keys() == weights.keys() and all((saved[k] == weights[k]).all() for k in saved)
    assert pretrain(cfg, progress=False) == json.loads((out / "summary.json").read_text())
    assert (out / "metrics.jsonl").read_text() == log


def test_a_teacher_with_a_fresh_head_is_drawn_alike_in_every_run(tiny, tmp_path):
    # under N processes each would otherwise distil towards its own random teacher head
    runs = [distill_mlm(small_config(MlmDistillConfig, tiny, tmp_path / name, teacher=str(tiny[0]),
                                     phases=(MlmPhase(16, 2, 2),)), progress=False) for name in ("a", "b")]
    a, b = (load_file(str(tmp_path / name / "model" / "model.safetensors")) for name in ("a", "b"))
    assert all((a[k] == b[k]).all() for k in a)
    assert runs[0]["heldout"] == runs[1]["heldout"]
