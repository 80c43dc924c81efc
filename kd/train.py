"""Fine-tune a token-classification model (``gonerd kd train-ner``): a readable accelerate loop.

The same code runs on one CPU or under ``accelerate launch`` / ``torchrun``: batches are sharded
by :class:`accelerate.Accelerator`, the main process evaluates on dev after each epoch, keeps the
best model by dev F1 in ``<output_dir>/best`` and logs metrics to ``<output_dir>/metrics.jsonl``.
An interrupted run resumes from ``<output_dir>/last`` at the last finished epoch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

from gonerd.errors import ConfigError
from kd.config import NerTrainConfig
from kd.data import NerExample, load_split
from kd.evaluate import evaluate_split
from kd.model import LoadedModel, full_attention_note, load_model
from kd.record import run_record, write_record
from kd.windows import content_offset, encode_words


def window_features(loaded: LoadedModel, examples: list[NerExample], *, max_length: int, stride: int,
                    truncate: bool = False, label_all_subtokens: bool = False) -> tuple[list[dict[str, list[int]]], int]:
    """Training inputs: one ``{input_ids, labels}`` per window; the number of truncated examples.

    A word is labelled once, on its first sub-token in its best window (other positions are -100);
    with ``label_all_subtokens`` its continuation sub-tokens get the ``I-`` form of its tag.
    """
    tok, label2id = loaded.tokenizer, {l: i for i, l in enumerate(loaded.labels)}
    off = content_offset(tok)
    feats, n_truncated = [], 0
    for ex in examples:
        enc = encode_words(tok, ex.tokens, max_length=max_length, stride=stride, truncate=truncate, target=ex.target)
        n_truncated += enc.truncated
        for k, (s, e) in enumerate(enc.windows):
            labels = [-100] * len(enc.window_ids[k])
            for w, tag in enumerate(ex.tags):
                if enc.best[w] != k:
                    continue
                labels[off + enc.first[w] - s] = label2id[tag]
                if label_all_subtokens:
                    cont = label2id.get("I-" + tag[2:], label2id[tag]) if tag != "O" else label2id[tag]
                    j = enc.first[w] + 1
                    while j < e and enc.word_of[j] == w:
                        labels[off + j - s] = cont
                        j += 1
            feats.append({"input_ids": enc.window_ids[k], "labels": labels})
    return feats, n_truncated


class LengthGroupedBatches:
    """Shuffled batches of similar-length windows, so little compute goes into padding.

    Each epoch the windows are shuffled, cut into groups of ``group`` batches, sorted by length
    within a group, batched, and the batches shuffled again (as ``group_by_length`` in HF Trainer).
    ``group=1`` gives plain shuffled batches.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, group: int = 50) -> None:
        self.lengths, self.batch_size, self.seed, self.group = lengths, batch_size, seed, group
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        import torch

        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.lengths), generator=gen).tolist()
        size = self.batch_size * self.group
        batches = []
        for g in range(0, len(order), size):
            chunk = sorted(order[g:g + size], key=lambda i: self.lengths[i], reverse=True)
            batches += [chunk[b:b + self.batch_size] for b in range(0, len(chunk), self.batch_size)]
        for i in torch.randperm(len(batches), generator=gen).tolist():
            yield batches[i]


def collate(batch: list[dict[str, list[int]]], pad_id: int) -> dict[str, Any]:
    """Pad a batch of windows to its longest one (labels padded with -100)."""
    import torch

    width = max(len(f["input_ids"]) for f in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for r, f in enumerate(batch):
        n = len(f["input_ids"])
        ids[r, :n] = torch.tensor(f["input_ids"])
        labels[r, :n] = torch.tensor(f["labels"])
        mask[r, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _log(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def train_ner(cfg: NerTrainConfig, *, progress: bool = True) -> dict[str, Any]:
    """Fine-tune ``cfg.model`` on ``cfg.data.train``, select by F1 on ``cfg.data.dev``; return a summary.

    Writes ``best/`` (model + tokenizer + ``kd_train.json``), ``last/`` (accelerate state for
    resuming), ``metrics.jsonl``, ``summary.json`` and the run record ``run.json`` (also to
    ``cfg.record`` when set) under ``cfg.output_dir``.
    """
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    if not cfg.data.train or not cfg.data.dev:
        raise ConfigError("data.train and data.dev must name a CoNLL file or a dataset path")
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    # On a CPU-only machine accelerate joins a torchrun/launch process group only with cpu=True.
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    set_seed(cfg.seed)
    out = Path(cfg.output_dir)
    main = accelerator.is_main_process
    if main:
        out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    loaded = load_model(cfg.model, cfg.labels)
    train = load_split(cfg.data.train, cfg.data.train_split, labels=cfg.labels, unit=cfg.data.unit,
                       limit=cfg.data.max_train_examples)
    dev = load_split(cfg.data.dev, cfg.data.dev_split, labels=cfg.labels, unit=cfg.data.unit,
                     limit=cfg.data.max_dev_examples)
    feats, n_trunc_train = window_features(loaded, train.examples, max_length=cfg.max_length, stride=cfg.stride,
                                           truncate=cfg.truncate, label_all_subtokens=cfg.label_all_subtokens)
    if main:
        if loaded.fresh:
            accelerator.print(f"kd train-ner: initialised fresh (not in the checkpoint): {', '.join(loaded.fresh)}")
        if note := full_attention_note(loaded.model.config, cfg.max_length):
            accelerator.print(f"kd train-ner: note: {note}")
        accelerator.print(f"kd train-ner: {len(train.examples)} train examples -> {len(feats)} windows "
                          f"(n_truncated={n_trunc_train}); {len(dev.examples)} dev examples")
    pad_id = loaded.tokenizer.pad_token_id or 0
    batches = LengthGroupedBatches([len(f["input_ids"]) for f in feats], cfg.batch_size, cfg.seed,
                                   group=cfg.length_group)
    loader = torch.utils.data.DataLoader(feats, batch_sampler=batches, collate_fn=lambda b: collate(b, pad_id))
    model = loaded.model
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    total_steps = max(1, math.ceil(cfg.epochs * len(loader)))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    accelerator.register_for_checkpointing(scheduler)
    n_epochs = math.ceil(cfg.epochs)

    state = {"epoch": 0, "step": 0, "best_f1": -1.0, "best_epoch": None}
    last = out / "last"
    if (last / "kd_state.json").is_file():
        accelerator.load_state(str(last))
        state = json.loads((last / "kd_state.json").read_text())
        accelerator.print(f"kd train-ner: resuming after epoch {state['epoch']} (step {state['step']})")
    if main and state["epoch"] == 0:
        (out / "metrics.jsonl").write_text("")
        (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    log_path = out / "metrics.jsonl"
    bar = tqdm(total=total_steps, initial=state["step"], desc="train-ner", unit="step", disable=not (progress and main))
    for epoch in range(state["epoch"], n_epochs):
        batches.epoch = epoch  # the same shuffles whether or not the run was resumed
        model.train()
        run_loss, run_n = 0.0, 0
        for batch in loader:
            if state["step"] >= total_steps:
                break
            loss = model(**batch).loss
            accelerator.backward(loss)
            if cfg.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            state["step"] += 1
            run_loss += loss.item()
            run_n += 1
            bar.update(1)
            if state["step"] % cfg.log_every == 0 and main:
                rec = {"step": state["step"], "epoch": epoch + 1, "loss": run_loss / run_n,
                       "lr": scheduler.get_last_lr()[0], "elapsed_s": round(time.time() - t_start, 1)}
                bar.set_postfix(loss=f"{rec['loss']:.4f}")
                _log(log_path, rec)
                run_loss, run_n = 0.0, 0
        accelerator.wait_for_everyone()
        state["epoch"] = epoch + 1
        if main:
            unwrapped = accelerator.unwrap_model(model)
            ev = evaluate_split(LoadedModel(unwrapped, loaded.tokenizer, loaded.labels, loaded.path, []), dev,
                                max_length=cfg.max_length, stride=cfg.stride, truncate=cfg.truncate,
                                batch_size=cfg.eval_batch_size)
            f1 = ev["scores"]["ALL"]["f1"]
            _log(log_path, {"epoch": epoch + 1, "step": state["step"], "dev": ev["scores"],
                            "dev_n_truncated": ev["n_truncated"], "elapsed_s": round(time.time() - t_start, 1)})
            accelerator.print(f"kd train-ner: epoch {epoch + 1} step {state['step']} dev F1 {f1:.4f}")
            if f1 > state["best_f1"]:
                state["best_f1"], state["best_epoch"] = f1, epoch + 1
                best = out / "best"
                unwrapped.save_pretrained(str(best))
                loaded.tokenizer.save_pretrained(str(best))
                (best / "kd_train.json").write_text(json.dumps(
                    {"config": dataclasses.asdict(cfg), "epoch": epoch + 1, "step": state["step"], "dev": ev["scores"],
                     "fresh_head": loaded.fresh}, indent=2))
        if cfg.save_every_epoch:
            accelerator.save_state(str(last))
            if main:
                (last / "kd_state.json").write_text(json.dumps(state))
        accelerator.wait_for_everyone()
    bar.close()
    summary = {"model": str(loaded.path), "output_dir": str(out), "steps": state["step"], "epochs": cfg.epochs,
               "best_epoch": state["best_epoch"], "best_dev_f1": state["best_f1"],
               "train_examples": len(train.examples), "train_windows": len(feats), "n_truncated_train": n_trunc_train,
               "fresh_head": loaded.fresh, "num_processes": accelerator.num_processes,
               "train_seconds": round(time.time() - t_start, 1)}
    if main:
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        record = run_record(out.name, cfg, summary, log_path, num_processes=accelerator.num_processes)
        write_record(record, out / "run.json", *([cfg.record] if cfg.record else []))
    return summary
