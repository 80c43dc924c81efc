"""Fine-tuning a tiny model for a few steps: the loss falls, F1 rises, best model and logs are kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gonerd.schema import LABELS
from kd.data import conll_examples
from kd.model import load_model
from kd.evaluate import evaluate_split
from kd.train import LengthGroupedBatches, window_features
from kd_tiny import build_model_dir, conll_words, gonerd_style_split, train_tiny

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "kd_train.txt"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("kdtrain")
    cfg, summary = train_tiny(out, TRAIN)
    return out, cfg, summary


def test_loss_falls_and_f1_on_training_slice_rises(trained):
    out, cfg, summary = trained
    split = conll_examples(TRAIN, labels=LABELS)
    before = evaluate_split(load_model(out / "init", LABELS), split, max_length=24, stride=6)["scores"]["ALL"]["f1"]
    after = evaluate_split(load_model(out / "run" / "best"), split, max_length=24, stride=6)["scores"]["ALL"]["f1"]
    log = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < 0.5 * losses[0]
    assert after > before + 0.3 and after == pytest.approx(summary["best_dev_f1"])
    assert [r["epoch"] for r in log if "dev" in r] == list(range(1, 13))


def test_run_records_fresh_head_best_checkpoint_and_summary(trained):
    out, cfg, summary = trained
    assert summary["fresh_head"] == ["classifier.bias", "classifier.weight"]
    assert summary["steps"] == 12 * 3 and summary["n_truncated_train"] == 0 and summary["num_processes"] == 1
    best = json.loads((out / "run" / "best" / "kd_train.json").read_text())
    assert best["epoch"] == summary["best_epoch"] and best["config"]["seed"] == cfg.seed
    assert load_model(out / "run" / "best").labels == LABELS


def test_run_record_is_written_by_the_command(trained, tmp_path):
    from kd.record import run_record

    out, cfg, summary = trained
    record = json.loads((out / "run" / "run.json").read_text())
    assert record["config"]["seed"] == cfg.seed and record["train"]["steps"] == summary["steps"]
    assert [r["epoch"] for r in record["dev_by_epoch"]] == list(range(1, 13))
    assert max(r["f1"]["ALL"] for r in record["dev_by_epoch"]) == round(summary["best_dev_f1"], 4)
    assert len(record["git"]["commit"]) == 40 and record["versions"]["torch"].startswith("2.13.0")
    from kd.record import CODE_COMMIT, git_commit

    assert record["git"] == CODE_COMMIT  # the code the run imported, whatever HEAD is when it ends
    assert CODE_COMMIT["commit"] == git_commit()["commit"]
    assert record["machine"]["num_processes"] == 1 and record["machine"]["cpu_count"] >= 1
    again = run_record("x", cfg, summary, tmp_path / "missing.jsonl", argv=["kd", "train-ner"])
    assert again["dev_by_epoch"] == [] and again["command"].endswith("kd train-ner")


def test_a_record_names_no_absolute_path(monkeypatch, tmp_path):
    from kd.record import portable_command, portable_paths

    monkeypatch.setenv("GONERD_DATA", str(tmp_path / "data"))
    config = {"data": {"train": str(tmp_path / "data" / "conll2003" / "eng.train"), "dev": "relative/eng.testa"},
              "model": str(Path.cwd() / "bench" / "m"), "labels": ["PER", "ORG"], "other": "/nowhere/known"}
    assert portable_paths(config) == {"data": {"train": "${GONERD_DATA}/conll2003/eng.train",
                                               "dev": "relative/eng.testa"},
                                      "model": "bench/m", "labels": ["PER", "ORG"], "other": "/nowhere/known"}
    args = ["--data", str(tmp_path / "data" / "conll2003"), f"--pair=lsg={Path.cwd() / 'bench' / 'x'}",
            "--split", f"testb={tmp_path / 'data' / 'conll2003' / 'eng.testb'}", "--out", "runs/y", "/nowhere"]
    assert portable_command("gonerd", args) == (
        "gonerd --data ${GONERD_DATA}/conll2003 --pair=lsg=bench/x --split testb=${GONERD_DATA}/conll2003/eng.testb "
        "--out runs/y /nowhere")


def test_rerun_resumes_after_the_last_finished_epoch(trained, capsys):
    from kd.train import train_ner

    out, cfg, summary = trained
    again = train_ner(cfg, progress=False)
    assert "resuming after epoch 12" in capsys.readouterr().out
    assert again["steps"] == summary["steps"] and again["best_dev_f1"] == summary["best_dev_f1"]


def test_labels_on_first_subtoken_or_all_subtokens(tmp_path):
    from kd.windows import encode_words

    loaded = load_model(build_model_dir(tmp_path / "m", conll_words(TRAIN), vocab_size=60), LABELS)
    ex = conll_examples(TRAIN).examples[:1]
    first, _ = window_features(loaded, ex, max_length=64, stride=8)
    every, _ = window_features(loaded, ex, max_length=64, stride=8, label_all_subtokens=True)
    enc = encode_words(loaded.tokenizer, ex[0].tokens, max_length=64, stride=8)
    assert sum(l != -100 for l in first[0]["labels"]) == len(ex[0].tokens) < len(enc.ids)
    assert sum(l != -100 for l in every[0]["labels"]) == len(enc.ids)
    for pos, w in enumerate(enc.word_of):
        tag = ex[0].tags[w]
        want = tag if pos == enc.first[w] else ("I-" + tag[2:] if tag != "O" else "O")
        assert LABELS[every[0]["labels"][1 + pos]] == want
        assert first[0]["labels"][1 + pos] == (LABELS.index(tag) if pos == enc.first[w] else -100)


def test_length_grouped_batches_cover_every_window_once_and_differ_by_epoch():
    lengths = [i % 17 for i in range(203)]
    sampler = LengthGroupedBatches(lengths, batch_size=8, seed=1, group=4)
    a, b = list(sampler), list(sampler)
    assert sorted(i for batch in a for i in batch) == list(range(203)) and len(a) == len(sampler)
    assert a != b


def test_longformer_trains_on_whole_documents_in_windows(tmp_path):
    from kd.config import NerDataConfig, NerTrainConfig
    from kd.train import train_ner
    from kd_tiny import build_longformer_dir

    model = build_longformer_dir(tmp_path / "init", conll_words(TRAIN))
    loaded = load_model(model, LABELS)
    # byte-level BPE: pre-split words are encoded as in running text (leading space)
    assert loaded.tokenizer.add_prefix_space
    cfg = NerTrainConfig(model=str(model), output_dir=str(tmp_path / "run"),
                         data=NerDataConfig(train=str(TRAIN), dev=str(TRAIN), unit="document"), max_length=24,
                         stride=6, epochs=12, batch_size=2, learning_rate=3e-3, log_every=5, torch_threads=1)
    summary = train_ner(cfg, progress=False)
    assert summary["train_examples"] == 2 and summary["train_windows"] > 6 and summary["n_truncated_train"] == 0
    log = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < 0.5 * losses[0] and summary["best_dev_f1"] > 0.5


@pytest.mark.parametrize("builder, unit", [("build_bigbird_dir", "document"), ("build_nystromformer_dir", "sentence"),
                                           ("build_lsg_dir", "document")])
def test_long_attention_models_train_in_windows(tmp_path, builder, unit):
    """BigBird; Nyströmformer on padded batches of varied length; LSG with 4-token blocks, so 24-token
    windows take its local/sparse/global path, not the short-input one."""
    import kd_tiny
    from kd.config import NerDataConfig, NerTrainConfig
    from kd.train import train_ner

    model = getattr(kd_tiny, builder)(tmp_path / "init", conll_words(TRAIN))
    cfg = NerTrainConfig(model=str(model), output_dir=str(tmp_path / "run"),
                         data=NerDataConfig(train=str(TRAIN), dev=str(TRAIN), unit=unit), max_length=24,
                         stride=6, epochs=12, batch_size=2, learning_rate=3e-3, log_every=5, torch_threads=1)
    summary = train_ner(cfg, progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert summary["n_truncated_train"] == 0 and losses[-1] < 0.75 * losses[0] and summary["best_dev_f1"] > 0.5
    assert type(load_model(tmp_path / "run" / "best").model) is type(load_model(model, LABELS).model)


def test_load_model_swaps_in_the_padding_safe_nystromformer_attention(tmp_path):
    from kd.nystrom import MaskedNystromSelfAttention
    from kd_tiny import build_nystromformer_dir

    loaded = load_model(build_nystromformer_dir(tmp_path / "ny", conll_words(TRAIN)))
    assert sum(isinstance(m, MaskedNystromSelfAttention) for m in loaded.model.modules()) == 2


def test_cli_train_ner_reads_yaml_config_and_overrides(tmp_path, capsys):
    from gonerd.cli import main

    model = build_model_dir(tmp_path / "init", conll_words(TRAIN), head=False)
    cfg = tmp_path / "ner.yaml"
    cfg.write_text(f"model: {model}\noutput_dir: {tmp_path / 'run'}\nmax_length: 24\nstride: 6\nbatch_size: 4\n"
                   f"torch_threads: 1\ndata:\n  train: {TRAIN}\n  dev: {TRAIN}\n")
    assert main(["kd", "train-ner", "--config", str(cfg), "--epochs", "1", "--set", "data.max_train_examples=4",
                 "--quiet"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["train_examples"] == 4 and summary["steps"] == 1
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["max_train_examples"] == 4
    assert main(["kd", "train-ner", "--config", str(cfg), "--set", "data.nope=1"]) == 2
    assert "unknown key 'nope'" in capsys.readouterr().err


def _deterministic_model(path: Path) -> Path:
    """A tiny BERT without dropout: its training depends on the batches alone, so a resumed run can be
    compared bit for bit with an uninterrupted one."""
    from transformers import AutoConfig

    build_model_dir(path, conll_words(TRAIN), head=False)
    config = AutoConfig.from_pretrained(str(path))
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0
    config.save_pretrained(str(path))
    return path


class _BatchLog:
    """The plain cross-entropy objective, remembering every batch it trained on; raises after ``crash_after``
    steps, as a process killed mid-epoch would stop."""

    def __init__(self, crash_after: int | None = None) -> None:
        self.seen: list[tuple[int, ...]] = []
        self.crash_after = crash_after

    def __call__(self, model, batch):
        from kd.train import gold_cross_entropy

        if self.crash_after is not None and len(self.seen) == self.crash_after:
            raise KeyboardInterrupt("killed")
        self.seen.append(tuple(batch["input_ids"].flatten().tolist()))
        return gold_cross_entropy(model, batch)


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_a_run_killed_mid_epoch_resumes_at_its_last_checkpoint_to_the_uninterrupted_weights(tmp_path, capsys):
    from kd.config import NerDataConfig, NerTrainConfig
    from kd.train import train_ner

    model = _deterministic_model(tmp_path / "init")

    def config(out: str) -> NerTrainConfig:
        return NerTrainConfig(model=str(model), output_dir=str(tmp_path / out),
                              data=NerDataConfig(train=str(TRAIN), dev=str(TRAIN)), max_length=24, stride=6,
                              epochs=2.0, batch_size=1, eval_batch_size=8, learning_rate=3e-3, warmup_ratio=0.1,
                              weight_decay=0.0, log_every=1, torch_threads=1, save_every=2)

    whole = _BatchLog()
    full = train_ner(config("whole"), progress=False, objective=whole)
    per_epoch = full["steps"] // 2
    assert per_epoch >= 3  # a checkpoint inside the first epoch
    cut = _BatchLog(crash_after=per_epoch + 3)  # killed in epoch 2, one step after its checkpoint at +2
    with pytest.raises(KeyboardInterrupt):
        train_ner(config("cut"), progress=False, objective=cut)
    assert json.loads((tmp_path / "cut" / "last" / "kd_state.json").read_text())["batches_done"] == 2
    again = _BatchLog()
    resumed = train_ner(config("cut"), progress=False, objective=again)
    assert "resuming in epoch 2 at step" in capsys.readouterr().out
    # The resumed run trains on exactly the batches the killed one had not finished, in their order.
    assert cut.seen[:per_epoch + 2] + again.seen == whole.seen
    assert resumed["steps"] == full["steps"] and resumed["best_dev_f1"] == full["best_dev_f1"]
    a, b = _weights(tmp_path / "whole" / "best"), _weights(tmp_path / "cut" / "best")
    assert all(torch_equal(a[k], b[k]) for k in a)
    # Each step is logged once: the step the killed run took after its checkpoint is logged again, not twice.
    steps = [r["step"] for r in map(json.loads, (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines())
             if "loss" in r]
    assert steps == list(range(1, full["steps"] + 1))


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


@pytest.mark.parametrize("clock", ["checkpoint", "log"])
def test_stop_after_checkpoints_and_a_second_run_finishes(tmp_path, capsys, clock):
    from gonerd.cli import main

    model = build_model_dir(tmp_path / "init", conll_words(TRAIN), head=False)
    cfg = tmp_path / "ner.yaml"
    cfg.write_text(f"model: {model}\noutput_dir: {tmp_path / 'run'}\nmax_length: 24\nstride: 6\nbatch_size: 2\n"
                   f"torch_threads: 1\nlog_every: 1\ndata:\n  train: {TRAIN}\n  dev: {TRAIN}\n")
    assert main(["kd", "train-ner", "--config", str(cfg), "--epochs", "2", "--stop-after", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "stopped after step 2" in out and json.loads(out[out.index("{"):])["stopped"] is True
    assert json.loads((tmp_path / "run" / "last" / "kd_state.json").read_text())["batches_done"] == 2
    assert not (tmp_path / "run" / "run.json").exists()
    state_file = tmp_path / "run" / "last" / "kd_state.json"
    state = json.loads(state_file.read_text())
    assert state["seconds"] > 0
    if clock == "checkpoint":
        state_file.write_text(json.dumps({**state, "seconds": 1000.0}))  # as if the first session took 1,000 s
    else:  # a checkpoint saved before the clock was kept: the log's clock at its step is taken instead
        state_file.write_text(json.dumps({k: v for k, v in state.items() if k != "seconds"}))
        metrics = tmp_path / "run" / "metrics.jsonl"
        records = [json.loads(line) for line in metrics.read_text().splitlines()]
        metrics.write_text("".join(json.dumps({**r, "elapsed_s": r["elapsed_s"] + 1000.0}) + "\n" for r in records))
    assert main(["kd", "train-ner", "--config", str(cfg), "--epochs", "2", "--quiet"]) == 0
    assert "resuming in epoch 1 at step 2" in capsys.readouterr().out
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["train"]["steps"] == 6 and record["train"]["train_seconds"] >= 1000.0
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["elapsed_s"] >= 1000.0 for r in logged if r["step"] > 2)


def test_a_gonerd_style_build_records_its_label_sources_and_warns_of_a_pre_labelled_dev_split(tmp_path, capsys):
    """A GONERD build's train and validation splits are pre-labels: the run says so, records the sources,
    and the model card names them as a limitation."""
    from datasets import DatasetDict

    from gonerd.cli import main
    from kd.card import model_card

    prelabels = "spacy:en_core_web_sm@3.8.0+rules:misc@3"
    DatasetDict({"train": gonerd_style_split(TRAIN, [prelabels, "human:ana"]),
                 "validation": gonerd_style_split(TRAIN, [prelabels] * 2)}).save_to_disk(str(tmp_path / "build"))
    model = build_model_dir(tmp_path / "init", conll_words(TRAIN), head=False)
    assert main(["kd", "train-ner", "--model", str(model), "--output-dir", str(tmp_path / "run"),
                 "--set", f"data.train={tmp_path / 'build'}", "--set", f"data.dev={tmp_path / 'build'}",
                 "--set", "max_length=24", "--set", "stride=6", "--set", "torch_threads=1", "--epochs", "1",
                 "--quiet"]) == 0
    assert (f"kd train-ner: note: 2 of 2 dev examples are machine pre-labels ({prelabels}): the best epoch is the "
            "one that agrees most with that labeler") in capsys.readouterr().out
    train = json.loads((tmp_path / "run" / "run.json").read_text())["train"]
    assert train["train_label_sources"] == {"human:ana": 1, prelabels: 1}
    assert train["dev_label_sources"] == {prelabels: 2}
    card = model_card(tmp_path / "run" / "best", "gonerd-team/tiny-ner")
    assert (f"Trained on machine pre-labels for 1 of 2 documents (`{prelabels}`), not hand labels: it learns that "
            "labeler's decisions, its mistakes included.") in card
