"""Fine-tune a token-classification model (``gonerd kd train-ner``): a readable accelerate loop.

The same code runs on one CPU or under ``accelerate launch`` / ``torchrun``: batches are sharded
by :class:`accelerate.Accelerator`, the main process evaluates on dev after each epoch, keeps the
best model by dev F1 in ``<output_dir>/best`` and logs metrics to ``<output_dir>/metrics.jsonl``.
An interrupted run resumes from ``<output_dir>/last``: after the last finished epoch, or inside an epoch
at the last ``save_every`` step, with that epoch's remaining batches in their order.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gonerd.errors import ConfigError
from gonerd.label.core import machine_labelled
from kd.checkpoint import drop_logs_after, load_checkpoint, save_checkpoint
from kd.config import NerTrainConfig, portable_path
from kd.data import NerExample, NerSplit, load_split
from kd.evaluate import evaluate_split
from kd.losses import LossTerms
from kd.model import LoadedModel, full_attention_note, load_model
from kd.record import run_record, write_record

# A batch of windows (input_ids, attention_mask, labels) and the model in training -> loss and its terms.
Objective = Callable[[Any, dict[str, Any]], LossTerms]
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

    def __init__(self, lengths: list[int], batch_size: int, seed: int, group: int = 1) -> None:
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


@dataclass
class TrainRun:
    """Everything one ``train-ner`` run works with, prepared by :func:`_setup`.

    ``state`` (epoch, step, best F1 and its epoch) is what ``last/kd_state.json`` saves for resuming.
    """

    cfg: NerTrainConfig
    accelerator: Any
    loaded: LoadedModel
    dev: NerSplit
    train_info: dict[str, Any]
    batches: LengthGroupedBatches
    model: Any
    optimizer: Any
    loader: Any
    scheduler: Any
    total_steps: int
    out: Path
    state: dict[str, Any]
    objective: Objective
    t_start: float = field(default_factory=time.time)

    @property
    def main(self) -> bool:
        """Whether this is the process that evaluates, saves and logs."""
        return self.accelerator.is_main_process

    def log(self, record: dict[str, Any]) -> None:
        """Append ``record`` (with the elapsed time) to ``metrics.jsonl``."""
        record["elapsed_s"] = round(time.time() - self.t_start, 1)
        with (self.out / "metrics.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def gold_cross_entropy(model, batch: dict[str, Any]) -> LossTerms:
    """The model's own token-classification loss (cross-entropy on the gold tags): plain fine-tuning."""
    loss = model(**batch).loss
    return LossTerms(loss, {"ce": loss.item()})


def train_ner(cfg: NerTrainConfig, *, progress: bool = True, objective: Objective = gold_cross_entropy,
              name: str = "train-ner", stop_after: int | None = None) -> dict[str, Any]:
    """Fine-tune ``cfg.model`` on ``cfg.data.train``, select by F1 on ``cfg.data.dev``; return a summary.

    ``objective`` turns a batch into the loss and its logged terms (:func:`gold_cross_entropy`, or a
    distillation loss: :mod:`kd.distill`); ``name`` labels the progress bar; ``stop_after`` ends this
    invocation after that many steps, checkpointed (run again to continue). Writes ``best/`` (model +
    tokenizer + ``kd_train.json``), ``last/`` (the resume state), ``metrics.jsonl``, ``summary.json`` and
    the run record ``run.json`` (also to ``cfg.record`` when set) under ``cfg.output_dir``.
    """
    from tqdm.auto import tqdm

    run = _setup(cfg, objective)
    bar = tqdm(total=run.total_steps, initial=run.state["step"], desc=name, unit="step",
               disable=not (progress and run.main))
    stop_at = None if stop_after is None else run.state["step"] + stop_after
    for epoch in range(run.state["epoch"], math.ceil(cfg.epochs)):
        if _train_epoch(run, epoch, bar, stop_at):
            _evaluate_and_checkpoint(run, epoch)
        if stop_at is not None and stop_at <= run.state["step"] < run.total_steps:
            bar.close()
            return _stopped(run, name)
    bar.close()
    return _finish(run)


def _stopped(run: TrainRun, name: str) -> dict[str, Any]:
    """Say that this invocation ended at its ``stop_after`` checkpoint, and what it returns then."""
    run.accelerator.print(f"kd {name}: stopped after step {run.state['step']} (checkpointed); run again to continue")
    return {"stopped": True, "steps": run.state["step"], "output_dir": portable_path(run.out)}


def _setup(cfg: NerTrainConfig, objective: Objective) -> TrainRun:
    """Seed, load model and data, build batches, optimiser and schedule; resume from ``last/`` if there."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import get_linear_schedule_with_warmup

    if not cfg.data.train or not cfg.data.dev:
        raise ConfigError("data.train and data.dev must name a CoNLL file or a dataset path")
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    # On a CPU-only machine accelerate joins a torchrun/launch process group only with cpu=True.
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    set_seed(cfg.seed)
    out = Path(cfg.output_dir)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    loaded = load_model(cfg.model, cfg.labels)
    feats, dev, train_info = _load_data(cfg, loaded, accelerator)
    pad_id = loaded.tokenizer.pad_token_id or 0
    batches = LengthGroupedBatches([len(f["input_ids"]) for f in feats], cfg.batch_size, cfg.seed,
                                   group=cfg.length_group)
    loader = torch.utils.data.DataLoader(feats, batch_sampler=batches, collate_fn=lambda b: collate(b, pad_id))
    model, optimizer, loader = accelerator.prepare(loaded.model, adamw(loaded.model, cfg), loader)
    total_steps = max(1, math.ceil(cfg.epochs * len(loader)))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    accelerator.register_for_checkpointing(scheduler)
    if hasattr(objective, "prepare"):
        objective.prepare(accelerator)
    run = TrainRun(cfg, accelerator, loaded, dev, train_info, batches, model, optimizer, loader, scheduler,
                   total_steps, out, _resume(accelerator, out), objective, t_start)
    run.t_start -= run.state.get("seconds", 0.0)
    if run.main and run.state["step"] == 0:
        (out / "metrics.jsonl").write_text("")
        (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    elif run.main:
        logged = drop_logs_after(out / "metrics.jsonl", run.state["step"])
        if "seconds" not in run.state:  # a checkpoint saved before its clock was kept: the log's clock stands in
            run.t_start -= logged
    return run


def _load_data(cfg: NerTrainConfig, loaded: LoadedModel, accelerator) -> tuple[list[dict[str, list[int]]], NerSplit,
                                                                              dict[str, Any]]:
    """Training windows, the dev split, and the counts and label sources the summary reports; notes printed once."""
    train = load_split(cfg.data.train, cfg.data.train_split, labels=cfg.labels, unit=cfg.data.unit,
                       limit=cfg.data.max_train_examples)
    dev = load_split(cfg.data.dev, cfg.data.dev_split, labels=cfg.labels, unit=cfg.data.unit,
                     limit=cfg.data.max_dev_examples)
    feats, n_truncated = window_features(loaded, train.examples, max_length=cfg.max_length, stride=cfg.stride,
                                         truncate=cfg.truncate, label_all_subtokens=cfg.label_all_subtokens)
    if accelerator.is_main_process:
        if loaded.fresh:
            accelerator.print(f"kd train-ner: initialised fresh (not in the checkpoint): {', '.join(loaded.fresh)}")
        if note := full_attention_note(loaded.model.config, cfg.max_length):
            accelerator.print(f"kd train-ner: note: {note}")
        accelerator.print(f"kd train-ner: {len(train.examples)} train examples -> {len(feats)} windows "
                          f"(n_truncated={n_truncated}); {len(dev.examples)} dev examples")
        if machine := machine_labelled(dev.label_sources):
            accelerator.print(f"kd train-ner: note: {sum(machine.values())} of {len(dev.examples)} dev examples are "
                              f"machine pre-labels ({', '.join(machine)}): the best epoch is the one that agrees "
                              "most with that labeler")
    sources = {f"{name}_label_sources": split.label_sources for name, split in (("train", train), ("dev", dev))
               if split.label_sources}
    return feats, dev, {"train_examples": len(train.examples), "train_windows": len(feats),
                        "n_truncated_train": n_truncated, **sources}


def training_step(accelerator, model, optimizer, scheduler, objective: Objective, batch: dict[str, Any],
                  max_grad_norm: float | None) -> LossTerms:
    """One optimiser step on ``batch``: the loss by ``objective``, backward, clipping, step, schedule."""
    out = objective(model, batch)
    accelerator.backward(out.loss)
    if max_grad_norm:
        accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    return out


def adamw(model, cfg) -> Any:
    """AdamW at ``cfg.learning_rate``, ``cfg.weight_decay`` on every weight except biases and norm weights."""
    import torch

    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate)


def _resume(accelerator, out: Path) -> dict[str, Any]:
    """The run state at the last checkpoint (weights, optimiser, schedule and random states restored), or a
    fresh one. ``batches_done`` counts the batches of the unfinished epoch a mid-epoch checkpoint was taken in."""
    state = load_checkpoint(accelerator, out)
    if state is None:
        return {"epoch": 0, "step": 0, "best_f1": -1.0, "best_epoch": None}
    if state.get("batches_done"):
        accelerator.print(f"kd train-ner: resuming in epoch {state['epoch'] + 1} at step {state['step']} "
                          f"({state['batches_done']} of its batches done)")
    else:
        accelerator.print(f"kd train-ner: resuming after epoch {state['epoch']} (step {state['step']})")
    return state


def _train_epoch(run: TrainRun, epoch: int, bar, stop_at: int | None = None) -> bool:
    """One pass over the training batches (stopping at the step budget), loss logged every ``log_every`` steps,
    a checkpoint every ``save_every`` steps; skips the batches a mid-epoch checkpoint had done. Returns
    ``False`` when it stopped at ``stop_at`` (checkpointed) before the end of the epoch."""
    cfg, accelerator, state = run.cfg, run.accelerator, run.state
    run.batches.epoch = epoch  # the same shuffles whether or not the run was resumed
    skip = state.pop("batches_done", 0)
    run.model.train()
    run_loss, run_terms, run_n = 0.0, Counter(), 0
    for k, batch in enumerate(run.loader):
        if k < skip:
            continue
        if state["step"] >= run.total_steps:
            break
        out = training_step(accelerator, run.model, run.optimizer, run.scheduler, run.objective, batch,
                            cfg.max_grad_norm)
        state["step"] += 1
        run_loss += out.loss.item()
        run_terms.update(out.terms)
        run_n += 1
        bar.update(1)
        if state["step"] % cfg.log_every == 0 and run.main:
            bar.set_postfix(loss=f"{run_loss / run_n:.4f}")
            run.log({"step": state["step"], "epoch": epoch + 1, "loss": run_loss / run_n,
                     "terms": {k: v / run_n for k, v in run_terms.items()}, "lr": run.scheduler.get_last_lr()[0]})
            run_loss, run_terms, run_n = 0.0, Counter(), 0
        last_batch = k + 1 == len(run.loader) or state["step"] >= run.total_steps
        stopping = stop_at is not None and state["step"] >= stop_at and not last_batch
        if not last_batch and ((cfg.save_every and state["step"] % cfg.save_every == 0) or stopping):
            _checkpoint(run, batches_done=k + 1)
        if stopping:
            return False
    run.accelerator.wait_for_everyone()
    state["epoch"] = epoch + 1
    return True


def _evaluate_and_checkpoint(run: TrainRun, epoch: int) -> None:
    """Main process: score dev, log it, save ``best/`` on a new best F1; all: save ``last/`` to resume from."""
    cfg, accelerator, state, loaded = run.cfg, run.accelerator, run.state, run.loaded
    if run.main:
        unwrapped = accelerator.unwrap_model(run.model)
        ev = evaluate_split(LoadedModel(unwrapped, loaded.tokenizer, loaded.labels, loaded.path, []), run.dev,
                            max_length=cfg.max_length, stride=cfg.stride, truncate=cfg.truncate,
                            batch_size=cfg.eval_batch_size)
        f1 = ev["scores"]["ALL"]["f1"]
        run.log({"epoch": epoch + 1, "step": state["step"], "dev": ev["scores"], "dev_n_truncated": ev["n_truncated"]})
        accelerator.print(f"kd train-ner: epoch {epoch + 1} step {state['step']} dev F1 {f1:.4f}")
        if f1 > state["best_f1"]:
            state["best_f1"], state["best_epoch"] = f1, epoch + 1
            best = run.out / "best"
            unwrapped.save_pretrained(str(best))
            loaded.tokenizer.save_pretrained(str(best))
            (best / "kd_train.json").write_text(json.dumps(
                {"config": dataclasses.asdict(cfg), "epoch": epoch + 1, "step": state["step"], "dev": ev["scores"],
                 "fresh_head": loaded.fresh}, indent=2))
    if cfg.save_every_epoch:
        _checkpoint(run)
    accelerator.wait_for_everyone()


def _checkpoint(run: TrainRun, **extra: Any) -> None:
    """Save the resume state with the seconds trained so far, so a resumed run's clock counts every session."""
    run.state["seconds"] = time.time() - run.t_start  # unrounded: a tiny run can take under 50 ms
    save_checkpoint(run.accelerator, run.out, {**run.state, **extra})


def _finish(run: TrainRun) -> dict[str, Any]:
    """The run's summary, written with the run record (``run.json``, and ``cfg.record`` when set) by the main process."""
    cfg, state = run.cfg, run.state
    summary = {"model": portable_path(run.loaded.path), "output_dir": portable_path(run.out), "steps": state["step"],
               "epochs": cfg.epochs, "best_epoch": state["best_epoch"], "best_dev_f1": state["best_f1"],
               **run.train_info, "fresh_head": run.loaded.fresh, "num_processes": run.accelerator.num_processes,
               "train_seconds": round(time.time() - run.t_start, 1)}
    if run.main:
        (run.out / "summary.json").write_text(json.dumps(summary, indent=2))
        record = run_record(run.out.name, cfg, summary, run.out / "metrics.jsonl",
                            num_processes=run.accelerator.num_processes)
        write_record(record, run.out / "run.json", *([cfg.record] if cfg.record else []))
    return summary
