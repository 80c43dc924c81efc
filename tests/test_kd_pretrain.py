"""``gonerd kd pretrain`` on tiny models and real text: the held-out MLM loss falls, a stopped run resumes
to the very weights of an uninterrupted one, converted long-attention models pretrain, the CLI runs end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gonerd.errors import ConfigError, InputError
from gonerd.pipeline.io import iter_jsonl
from kd.config import MlmPhase, MlmPretrainConfig
from kd.corpus import build_corpus
from kd.pretrain import batch_rows, load_mlm_model, phase_at, pretrain
from kd_tiny import build_longformer_dir, build_lsg_dir, build_model_dir

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "gonerd" / "sample" / "doj_releases.jsonl"
WORDS = " ".join(rec["text"] for _, rec in iter_jsonl(SAMPLE)).split()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """A 2-layer BERT without an MLM head (like MiniLM) and a 32-token corpus of the DOJ sample."""
    root = tmp_path_factory.mktemp("pretrain")
    model = build_model_dir(root / "bert", WORDS, head=False, vocab_size=300)
    build_corpus([SAMPLE], model, root / "corpus", max_length=32, held_out=0.2, seed=0, progress=False)
    return model, root / "corpus"


def config(model: Path, corpus: Path, out: Path, **overrides) -> MlmPretrainConfig:
    settings = dict(model=str(model), corpus=str(corpus), output_dir=str(out),
                    phases=(MlmPhase(16, 6, 4), MlmPhase(32, 2, 2)), learning_rate=3e-3, warmup_ratio=0.1,
                    save_every=3, eval_lengths=(16, 32), eval_sequences=8, torch_threads=1)
    return MlmPretrainConfig(**{**settings, **overrides})


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "model" / "model.safetensors"))


def test_fresh_head_is_reported_and_tied_to_the_word_embeddings(tiny):
    loaded = load_mlm_model(tiny[0])
    assert loaded.decoder_tied
    assert "cls.predictions.transform.dense.weight" in loaded.fresh and "cls.predictions.bias" in loaded.fresh
    assert not any(name.startswith("bert.") for name in loaded.fresh)
    head = loaded.model.cls.predictions
    assert torch.equal(head.bias, torch.zeros_like(head.bias))
    assert torch.equal(head.transform.LayerNorm.weight, torch.ones_like(head.transform.LayerNorm.weight))
    assert head.transform.dense.weight.std().item() == pytest.approx(0.02, rel=0.1)


def test_a_few_steps_lower_the_heldout_loss_and_every_step_is_logged(tiny, tmp_path):
    cfg = config(*tiny, tmp_path / "run", phases=(MlmPhase(16, 30, 8), MlmPhase(32, 2, 2)), learning_rate=1e-2,
                 eval_sequences=64, record=str(tmp_path / "record.json"))
    summary = pretrain(cfg, progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r["heldout"] for r in log if "heldout" in r]
    assert [r["step"] for r in log if "loss" in r] == list(range(1, 33))
    assert [r["max_length"] for r in log if "loss" in r] == [16] * 30 + [32] * 2
    tokens = [r["tokens"] for r in log if "loss" in r]
    assert tokens[:30] == [128 * k for k in range(1, 31)] and tokens[-1] == 30 * 128 + 2 * 64
    for length in ("16", "32"):
        # from uniform guessing (ln 300 ≈ 5.7) towards the corpus' unigram entropy (5.2): same masks both times
        assert evals[-1][length]["loss"] < evals[0][length]["loss"] - 0.25
    assert summary["heldout"] == evals[-1] and summary["steps"] == 32 and summary["stopped_by"] == "steps"
    assert summary["heldout"]["16"]["sequences"] == 64 and summary["heldout"]["16"]["tokens"] == 64 * 16
    assert 0 < summary["heldout"]["32"]["masked"] < 0.25 * summary["heldout"]["32"]["tokens"]
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["train"]["fresh_weights"] == load_mlm_model(tiny[0]).fresh
    assert record["config"]["phases"][0] == {"max_length": 16, "steps": 30, "batch_size": 8}
    reloaded = load_mlm_model(tmp_path / "run" / "model")
    assert reloaded.fresh == [] and reloaded.decoder_tied


def test_a_stopped_run_resumes_to_the_weights_of_an_uninterrupted_one(tiny, tmp_path, capsys):
    whole = pretrain(config(*tiny, tmp_path / "whole"), progress=False)
    first = pretrain(config(*tiny, tmp_path / "cut"), progress=False, stop_after=4)  # checkpoints at 3 and 4
    assert first == {"stopped": True, "steps": 4, "tokens": 4 * 64, "output_dir": str(tmp_path / "cut")}
    assert not (tmp_path / "cut" / "model").exists()
    assert "initialised fresh" in capsys.readouterr().err
    rest = pretrain(config(*tiny, tmp_path / "cut"), progress=False)
    err = capsys.readouterr().err  # the head comes back from the checkpoint: no "fresh" note on resume
    assert "resuming at step 4" in err and "initialised fresh" not in err
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "cut")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert rest["heldout"] == whole["heldout"] and rest["tokens"] == whole["tokens"]
    logged = [json.loads(line) for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "loss" in r] == list(range(1, 9))
    with pytest.raises(ConfigError, match="other learning_rate, seed"):
        pretrain(config(*tiny, tmp_path / "cut", learning_rate=1e-4, seed=5), progress=False)


def test_a_resumed_run_counts_the_time_of_earlier_sessions(tiny, tmp_path):
    pretrain(config(*tiny, tmp_path / "run"), progress=False, stop_after=4)
    state_file = tmp_path / "run" / "last" / "kd_state.json"
    state = json.loads(state_file.read_text())
    assert state["seconds"] > 0
    state["seconds"] = 1000.0  # as if the first session had trained for 1,000 s
    state_file.write_text(json.dumps(state))
    rest = pretrain(config(*tiny, tmp_path / "run"), progress=False)
    assert rest["train_seconds"] >= 1000.0
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["elapsed_s"] >= 1000.0 for r in logged if r.get("step", 0) > 4)


def test_the_token_budget_stops_the_run(tiny, tmp_path):
    summary = pretrain(config(*tiny, tmp_path / "run", max_tokens=150, eval_lengths=(16,)), progress=False)
    assert summary["steps"] == 3 and summary["tokens"] == 192 and summary["stopped_by"] == "max_tokens"


def test_phases_and_batches_are_a_function_of_the_step():
    cfg = MlmPretrainConfig(phases=(MlmPhase(16, 3, 2), MlmPhase(32, 2, 1)))
    assert [phase_at(cfg, s) for s in range(5)] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    rows = [batch_rows(5, 2, k, seed=1) for k in range(5)]
    assert sorted([*rows[0], *rows[1], rows[2][0]]) == list(range(5))  # a full pass, then the next
    assert sorted([rows[2][1], *rows[3], *rows[4]]) == list(range(5))
    assert rows == [batch_rows(5, 2, k, seed=1) for k in range(5)]
    assert rows != [batch_rows(5, 2, k, seed=2) for k in range(5)]


class TeacherKl:
    """The plug-in contract of ``pretrain(objective=...)``: the student's MLM loss plus the KL from a frozen
    teacher's predictions at the masked positions (what an MLM distillation objective does)."""

    def __init__(self, teacher) -> None:
        self.teacher, self.device = teacher, None

    def prepare(self, accelerator) -> None:
        self.device = accelerator.device
        self.teacher.to(accelerator.device).eval().requires_grad_(False)

    def __call__(self, model, batch):
        import torch.nn.functional as F

        from kd.losses import LossTerms

        out = model(**batch)
        with torch.no_grad():
            teacher = self.teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        scored = batch["labels"] != -100
        kl = F.kl_div(F.log_softmax(out.logits[scored], -1), F.log_softmax(teacher[scored], -1), log_target=True,
                      reduction="batchmean")
        return LossTerms(out.loss + kl, {"mlm": out.loss.item(), "kl": kl.item()})


def test_an_objective_with_a_frozen_teacher_plugs_in(tiny, tmp_path):
    teacher = load_mlm_model(tiny[0]).model
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    objective = TeacherKl(teacher)
    pretrain(config(*tiny, tmp_path / "run", phases=(MlmPhase(16, 3, 2),), eval_lengths=(16,)), progress=False,
             objective=objective, name="distill")
    log = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    terms = [r["terms"] for r in log if "loss" in r]
    assert len(terms) == 3 and all(set(t) == {"mlm", "kl"} and t["kl"] > 0 for t in terms)
    assert objective.device is not None
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())  # the teacher is never trained


@pytest.mark.parametrize("builder", [build_lsg_dir, build_longformer_dir], ids=["lsg", "longformer"])
def test_converted_long_attention_models_pretrain(builder, tmp_path):
    model = builder(tmp_path / "model", WORDS)
    loaded = load_mlm_model(model)
    params = dict(loaded.model.named_parameters(remove_duplicate=False))
    assert all(torch.isfinite(params[name]).all() for name in loaded.fresh)  # Longformer's lm_head.bias was NaN
    build_corpus([SAMPLE], model, tmp_path / "corpus", max_length=64, held_out=0.2, progress=False)
    cfg = config(model, tmp_path / "corpus", tmp_path / "run", phases=(MlmPhase(32, 3, 2), MlmPhase(64, 1, 1)),
                 eval_lengths=(32, 64, 4096), eval_sequences=2, learning_rate=1e-3)
    summary = pretrain(cfg, progress=False)
    assert set(summary["heldout"]) == {"32", "64"}  # 4096 is beyond the tiny model's positions: left out
    assert all(torch.isfinite(torch.tensor(v["loss"])) for v in summary["heldout"].values())
    assert summary["fresh_weights"]  # token-classification checkpoints: the MLM head is new
    assert load_mlm_model(tmp_path / "run" / "model").fresh == []


def test_config_and_corpus_errors_are_one_line(tiny, tmp_path):
    with pytest.raises(ConfigError, match="exceeds the model's 64 positions"):
        pretrain(config(*tiny, tmp_path / "a", phases=(MlmPhase(128, 1, 1),)), progress=False)
    with pytest.raises(InputError, match="corpus.json"):
        pretrain(config(tiny[0], tmp_path, tmp_path / "b"), progress=False)
    other = build_model_dir(tmp_path / "other", WORDS[:400], head=False, vocab_size=120)
    with pytest.raises(InputError, match="another vocabulary"):
        pretrain(config(other, tiny[1], tmp_path / "c"), progress=False)


def test_cli_corpus_then_pretrain_end_to_end(tiny, tmp_path, capsys, monkeypatch):
    from gonerd.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["kd", "corpus", str(SAMPLE), "--tokenizer", str(tiny[0]), "--out", "corpus", "--max-length", "32",
                 "--held-out", "0.2", "--quiet"]) == 0
    assert "25 documents -> " in capsys.readouterr().err
    cfg = tmp_path / "pretrain.toml"
    cfg.write_text(f'model = "{tiny[0]}"\ncorpus = "corpus"\noutput_dir = "run"\neval_lengths = [32]\n'
                   'phases = [{max_length = 16, steps = 2, batch_size = 2},\n'
                   '          {max_length = 32, steps = 1, batch_size = 1}]\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "gonerd.cli", "kd", "pretrain", "--config", str(cfg),
                          "--set", "torch_threads=1", "--quiet"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["steps"] == 3 and (tmp_path / "run" / "run.json").is_file()
    assert "initialised fresh" in run.stderr and "held-out MLM loss" in run.stderr


def test_cli_config_errors_are_one_line(tiny, tmp_path, capsys):
    from gonerd.cli import main

    assert main(["kd", "pretrain", "--corpus", str(tiny[1]), "--set", "phases=[{steps: x}]"]) == 2
    err = capsys.readouterr().err
    assert "phases[0].steps: expected int" in err and len(err.strip().splitlines()) == 1
