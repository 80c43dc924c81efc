"""``gonerd kd pretrain``: masked-language-model pretraining of a (converted) teacher, a readable accelerate loop.

Read top to bottom: :func:`pretrain` sets up (:func:`_setup`), then takes one optimiser step at a
time (:func:`_train_step`) through the phases of the config (most steps at 512 tokens, a few at
4,096), evaluating the held-out MLM loss (:func:`_evaluate`) and checkpointing (:func:`_checkpoint`)
every so many steps, and finishes (:func:`_finish`) by saving the model and the run record.

Everything a step draws is a function of ``(seed, step)``: which corpus sequences form the batch
(a seeded permutation per pass over the phase's sequences) and which tokens are masked
(:func:`kd.masking.step_generator`); dropout's random state is saved with each checkpoint. So a run
stopped at any checkpoint (a session's time limit, ``stop_after``) and started again continues
exactly as if it had never stopped.

The loss is a parameter: ``objective(model, batch) -> LossTerms`` (default :func:`masked_lm_loss`,
the model's own MLM loss). A batch is ``{"input_ids", "attention_mask", "labels"}`` with ``labels``
``-100`` wherever no token was masked. An objective with a ``prepare(accelerator)`` method gets it
called once after setup (to move a frozen teacher to the device), as in ``train-ner``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gonerd.errors import ConfigError, InputError
from kd.checkpoint import checkpoint_dir, drop_logs_after, load_checkpoint, save_checkpoint
from kd.config import MlmPretrainConfig, portable_path
from kd.corpus import (SpecialIds, model_name, read_corpus_info, read_sequences, recut, special_ids,
                       vocab_fingerprint)
from kd.losses import LossTerms
from kd.masking import MaskingScheme, mask_tokens, scheme_for, step_generator
from kd.model import load_tokenizer, position_limit, resolve_model_path
from kd.ranks import CorpusShares, replicas_identical
from kd.record import run_record, write_record
from kd.train import Objective, TrainRun, adamw, training_step

# The settings a resumed run may change; every other one (a subclass's too, e.g. a teacher) decides the
# steps' batches, masks or updates and must stay as the run started.
MAY_CHANGE_ON_RESUME = ("output_dir", "log_every", "save_every", "eval_every", "eval_lengths", "eval_sequences",
                        "eval_batch_size", "torch_threads", "record")


def say(accelerator, message: str) -> None:
    """Print ``message`` to stderr from the main process (stdout carries the summary alone)."""
    if accelerator.is_main_process:
        print(message, file=sys.stderr, flush=True)


def masked_lm_loss(model, batch: dict[str, Any]) -> LossTerms:
    """The model's own masked-language-model loss (cross-entropy at the masked positions)."""
    loss = model(**batch).loss
    return LossTerms(loss, {"mlm": loss.item()})


@dataclass
class LoadedMlm:
    """A masked-LM model, its tokenizer, its folder, the weights it was given fresh and whether the
    decoder shares the word embeddings."""

    model: Any
    tokenizer: Any
    path: Path
    fresh: list[str]
    decoder_tied: bool


def load_mlm_model(name: str | Path) -> LoadedMlm:
    """Load any ``AutoModelForMaskedLM`` from a local folder or weights package.

    A checkpoint without an MLM head (MiniLM, or a model converted from it) gets one: the decoder is
    tied to the word embeddings, and the transform layer and output bias are initialised fresh by
    :func:`init_fresh`; their names are returned in ``fresh``.
    """
    from transformers import AutoModelForMaskedLM
    from transformers.utils import logging as hf_logging

    import kd.lsg  # noqa: F401  (registers the lsg_bert model type with the Auto classes)

    path = resolve_model_path(name)
    if not (path / "config.json").is_file():
        raise InputError("model directory has no config.json", str(path), field="config")
    tokenizer = load_tokenizer(path)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the missing-head report is ours, precisely
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(str(path), output_loading_info=True)
    except ValueError as e:
        raise InputError(f"cannot load as a masked language model: {e}", str(path / "config.json")) from e
    finally:
        hf_logging.set_verbosity(verbosity)
    if model.config.model_type == "nystromformer":
        from kd.nystrom import patch_nystromformer

        patch_nystromformer(model)  # the library's landmark attention breaks on padded batches
    fresh = sorted(info.get("missing_keys", []))
    init_fresh(model, fresh)
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    return LoadedMlm(model, tokenizer, path, fresh, tied)


def init_fresh(model, names: list[str]) -> None:
    """Initialise the weights ``names`` as BERT initialises new weights: biases 0, normalisation weights 1,
    other weights normal(0, ``initializer_range``).

    Done here rather than left to the library: transformers 5.23 leaves a missing, tied
    ``lm_head.bias`` of Longformer uninitialised (whatever the memory held, NaN included).
    """
    import torch

    params = dict(model.named_parameters(remove_duplicate=False))
    std = getattr(model.config, "initializer_range", 0.02)
    with torch.no_grad():
        for name in names:
            p = params[name]
            if name.endswith("bias"):
                p.zero_()
            elif "norm" in name.lower():
                p.fill_(1.0)
            else:
                p.normal_(0.0, std)


def phase_at(cfg: MlmPretrainConfig, step: int) -> tuple[int, int]:
    """``(phase index, step within the phase)`` of global step ``step`` (0-based)."""
    start = 0
    for i, phase in enumerate(cfg.phases):
        if step < start + phase.steps:
            return i, step - start
        start += phase.steps
    raise IndexError(f"step {step} is past the last phase")


def batch_rows(n_sequences: int, size: int, local_step: int, seed: int) -> list[int]:
    """Rows of the ``local_step``-th batch of ``size``: consecutive slices of seeded permutations of the
    ``n_sequences`` rows, a new permutation for each pass (``seed`` distinguishes the phases)."""
    import torch

    rows, perms = [], {}
    for j in range(local_step * size, (local_step + 1) * size):
        epoch = j // n_sequences
        if epoch not in perms:
            perms[epoch] = torch.randperm(n_sequences, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        rows.append(int(perms[epoch][j % n_sequences]))
    return rows


def masked_batch(sequences, rows: list[int], scheme: MaskingScheme, pad: int, generator) -> dict[str, Any]:
    """``{"input_ids", "attention_mask", "labels"}`` of ``sequences[rows]`` with fresh masks from ``generator``."""
    ids = sequences[rows]
    inputs, labels = mask_tokens(ids, scheme, generator)
    return {"input_ids": inputs, "attention_mask": (ids != pad).long(), "labels": labels}


@dataclass
class PretrainRun:
    """Everything one ``pretrain`` run works with, prepared by :func:`_setup`.

    ``state`` (step, tokens seen, phase) is what ``last/kd_state.json`` saves for resuming.
    """

    cfg: MlmPretrainConfig
    accelerator: Any
    loaded: LoadedMlm
    scheme: MaskingScheme
    ids: SpecialIds
    corpus: dict[str, Any]
    train: list[list[int]]
    heldout: list[list[int]]
    model: Any
    optimizer: Any
    scheduler: Any
    total_steps: int
    out: Path
    state: dict[str, Any]
    objective: Objective
    eval_lengths: list[int]
    name: str
    t_start: float = field(default_factory=time.time)
    shares: CorpusShares = field(default_factory=CorpusShares)
    _cut: dict[int, Any] = field(default_factory=dict)
    _eval_batches: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    main = TrainRun.main  # the process that evaluates, saves and logs, as in train-ner
    log = TrainRun.log  # append a record (with the elapsed time) to metrics.jsonl

    def sequences(self, max_length: int):
        """The training sequences cut to ``max_length`` (a tensor, cut once per length)."""
        import torch

        if max_length not in self._cut:
            self._cut[max_length] = torch.tensor(recut(self.train, max_length, self.ids), dtype=torch.long)
        return self._cut[max_length]

    def done(self) -> bool:
        """Whether the step budget or the token budget is spent."""
        return self.state["step"] >= self.total_steps or 0 < self.cfg.max_tokens <= self.state["tokens"]


def pretrain(cfg: MlmPretrainConfig, *, progress: bool = True, objective: Objective = masked_lm_loss,
             name: str = "pretrain", stop_after: int | None = None) -> dict[str, Any]:
    """Pretrain ``cfg.model`` on the corpus ``cfg.corpus`` through ``cfg.phases``; return the summary.

    ``objective`` turns a masked batch into the loss and its logged terms; ``name`` labels the progress
    bar and messages; ``stop_after`` ends this invocation after that many steps (checkpointed; run
    again to continue). Writes ``last/`` (resume state), ``metrics.jsonl``, and at the end ``model/``
    (model + tokenizer + ``kd_pretrain.json``), ``summary.json`` and ``run.json`` (also to ``cfg.record``).
    """
    from tqdm.auto import tqdm

    run = _setup(cfg, objective, name)
    if run.done() and (run.out / "run.json").is_file():
        # Evaluating, saving and recording again would add a second final evaluation to metrics.jsonl.
        say(run.accelerator, f"kd {name}: {run.out} holds a finished run (step {run.state['step']}); nothing to do")
        return json.loads((run.out / "summary.json").read_text())
    bar = tqdm(total=run.total_steps, initial=run.state["step"], desc=name, unit="step",
               disable=not (progress and run.main))
    window: dict[str, Any] = {"loss": 0.0, "terms": Counter(), "n": 0}
    steps_now = 0
    while not run.done():
        _train_step(run, window)
        bar.update(1)
        steps_now += 1
        step = run.state["step"]
        if step % cfg.log_every == 0 and run.main:
            bar.set_postfix(loss=f"{window['loss'] / window['n']:.4f}")
            _log_window(run, window)
        if cfg.eval_every and step % cfg.eval_every == 0 and not run.done():
            _evaluate(run)
        stopping = stop_after is not None and steps_now >= stop_after and not run.done()
        # The last step's checkpoint follows the final evaluation, so a finished checkpoint is a final one.
        if (cfg.save_every and step % cfg.save_every == 0 and not run.done()) or stopping:
            _checkpoint(run)
        if stopping:
            bar.close()
            say(run.accelerator, f"kd {name}: stopped after step {step} (checkpointed); run again to continue")
            return {"stopped": True, "steps": step, "tokens": run.state["tokens"], "output_dir": portable_path(run.out)}
    bar.close()
    if window["n"] and run.main:
        _log_window(run, window)
    if steps_now:  # else the run was done at its (final) checkpoint and only model/ and the record are missing
        _evaluate(run)
        _checkpoint(run)
    return _finish(run)


def _setup(cfg: MlmPretrainConfig, objective: Objective, name: str) -> PretrainRun:
    """Check the config, seed, load model and corpus, build optimiser and schedule; resume from ``last/`` if there."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import get_linear_schedule_with_warmup

    if not cfg.corpus:
        raise ConfigError("corpus must name a `gonerd kd corpus` output folder")
    if not cfg.phases or any(p.steps < 1 or p.batch_size < 1 or p.max_length < 2 for p in cfg.phases):
        raise ConfigError("phases: each needs steps ≥ 1, batch_size ≥ 1 and max_length ≥ 2")
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    # On a CPU-only machine accelerate joins a torchrun/launch process group only with cpu=True.
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    set_seed(cfg.seed)
    t_start = time.time()
    corpus = read_corpus_info(cfg.corpus)
    loaded = load_mlm_model(cfg.model)
    limit = position_limit(loaded.model.config)
    if too_long := [p.max_length for p in cfg.phases if p.max_length > limit]:
        raise ConfigError(f"phases: max_length {too_long[0]} exceeds the model's {limit} positions ({cfg.model})")
    if corpus.get("vocab_sha256") != vocab_fingerprint(loaded.tokenizer):
        raise InputError(f"the corpus was tokenized with another vocabulary ({corpus.get('tokenizer')}) than the "
                         f"model's; build it with --tokenizer {cfg.model}", str(Path(cfg.corpus) / "corpus.json"),
                         field="tokenizer")
    ids = special_ids(loaded.tokenizer)
    train, heldout = read_sequences(cfg.corpus, "train"), read_sequences(cfg.corpus, "heldout")
    if not train:
        raise InputError("the corpus has no training sequences", str(Path(cfg.corpus) / "train.parquet"))
    lengths = [n for n in cfg.eval_lengths if n <= limit] if heldout else []
    out = Path(cfg.output_dir)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
    _check_same_run(cfg, out)
    model, optimizer = accelerator.prepare(loaded.model, adamw(loaded.model, cfg))
    total_steps = sum(p.steps for p in cfg.phases)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    accelerator.register_for_checkpointing(scheduler)
    if hasattr(objective, "prepare"):
        objective.prepare(accelerator)
    shares = CorpusShares()
    run = PretrainRun(cfg, accelerator, loaded, scheme_for(loaded.tokenizer, cfg.mlm_probability), ids, corpus,
                      train, heldout, model, optimizer, scheduler, total_steps, out,
                      _resume(accelerator, out, name, shares), objective, lengths, name, t_start, shares)
    # A resumed run's clock goes on from its checkpoint, so the record's times count every session.
    run.t_start -= run.state.get("seconds", 0.0)
    if run.main:
        _announce(run, name, limit)
        if run.state["step"] == 0:
            (out / "metrics.jsonl").write_text("")
            (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
        else:
            drop_logs_after(out / "metrics.jsonl", run.state["step"])
    if run.state["step"] == 0:
        _evaluate(run)  # the starting point the held-out losses are compared with
    return run


def _check_same_run(cfg: MlmPretrainConfig, out: Path) -> None:
    """Refuse to resume a run under settings that change what it computes (its steps would not be the ones
    an uninterrupted run takes); logging, checkpointing and evaluation settings may change."""
    saved = out / "config.json"
    if not saved.is_file() or checkpoint_dir(out) is None:
        return
    before, now = json.loads(saved.read_text()), json.loads(json.dumps(dataclasses.asdict(cfg)))
    if changed := [k for k in now if k not in MAY_CHANGE_ON_RESUME and before.get(k) != now[k]]:
        raise ConfigError(f"{out}: holds a run started with other {', '.join(changed)} ({saved}); resume it with "
                          "the same settings or choose another output_dir")


def _announce(run: PretrainRun, name: str, limit: int) -> None:
    """Print what the run starts from: fresh weights, corpus size, planned tokens, lengths left out."""
    cfg = run.cfg
    # On resume the checkpoint restores these weights too, so the note only belongs to a fresh start.
    if run.loaded.fresh and run.state["step"] == 0:
        say(run.accelerator, f"kd {name}: initialised fresh (not in the checkpoint): {', '.join(run.loaded.fresh)}"
            + ("; decoder tied to the word embeddings" if run.loaded.decoder_tied else ""))
    planned = sum(p.steps * p.batch_size * p.max_length for p in cfg.phases) * run.accelerator.num_processes
    say(run.accelerator, f"kd {name}: corpus {len(run.train)} train / {len(run.heldout)} held-out sequences of "
        f"{run.corpus['max_length']} tokens; {run.total_steps} steps, at most {planned:,} tokens planned"
        + (f", stopping at {cfg.max_tokens:,}" if cfg.max_tokens else ""))
    if skipped := sorted(set(cfg.eval_lengths) - set(run.eval_lengths)):
        say(run.accelerator, f"kd {name}: no held-out loss at {skipped} tokens "
            + ("(no held-out split)" if not run.heldout else f"(the model has {limit} positions)"))


def _shares_file(accelerator) -> str:
    """The file of this process's :class:`CorpusShares` in a checkpoint folder."""
    return f"shares_{accelerator.process_index}.pt"


def _resume(accelerator, out: Path, name: str, shares: CorpusShares) -> dict[str, Any]:
    """The state at the last checkpoint (weights, optimiser, schedule, random states and ``shares`` restored), or a
    fresh one (:mod:`kd.checkpoint`)."""
    state = load_checkpoint(accelerator, out)
    if state is None:
        return {"step": 0, "tokens": 0, "heldout": {}}
    shares.load(checkpoint_dir(out) / _shares_file(accelerator), accelerator.num_processes)
    say(accelerator, f"kd {name}: resuming at step {state['step']} ({state['tokens']:,} tokens seen)")
    return state


def _train_step(run: PretrainRun, window: dict[str, Any]) -> None:
    """Draw the step's batch (rows and masks from ``(seed, step)``), take one optimiser step, count tokens."""
    cfg, accelerator, state = run.cfg, run.accelerator, run.state
    index, local = phase_at(cfg, state["step"])
    phase = cfg.phases[index]
    sequences = run.sequences(phase.max_length)
    procs, rank = accelerator.num_processes, accelerator.process_index
    rows = batch_rows(len(sequences), phase.batch_size * procs, local, cfg.seed + index)
    full = masked_batch(sequences, rows, run.scheme, run.ids.pad, step_generator(cfg.seed, state["step"]))
    # Every process draws the whole batch (identical on all) and trains on its own slice of rows.
    mine = slice(rank * phase.batch_size, (rank + 1) * phase.batch_size)
    batch = {k: v[mine].to(accelerator.device) for k, v in full.items()}
    run.shares.mark(index, len(sequences), rows[mine])
    run.model.train()
    out = training_step(accelerator, run.model, run.optimizer, run.scheduler, run.objective, batch, cfg.max_grad_norm)
    state["step"] += 1
    state["tokens"] += int(full["attention_mask"].sum())
    state["phase"] = index
    window["loss"] += out.loss.item()
    window["terms"].update(out.terms)
    window["n"] += 1
    window["max_length"] = phase.max_length


def _log_window(run: PretrainRun, window: dict[str, Any]) -> None:
    """Log the mean loss and terms of the steps since the last log, with lr and tokens seen; reset the window."""
    n = window["n"]
    run.log({"step": run.state["step"], "phase": run.state["phase"], "max_length": window["max_length"],
             "loss": window["loss"] / n, "terms": {k: v / n for k, v in window["terms"].items()},
             "lr": run.scheduler.get_last_lr()[0], "tokens": run.state["tokens"]})
    window.update(loss=0.0, terms=Counter(), n=0)


def heldout_loss(model, batches: list[dict[str, Any]]) -> float:
    """Mean MLM cross-entropy per masked token over ``batches`` (the model's own loss, weighted by masks)."""
    import torch

    device = next(model.parameters()).device
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for batch in batches:
            n = int((batch["labels"] != -100).sum())
            if n:
                total += model(**{k: v.to(device) for k, v in batch.items()}).loss.item() * n
                count += n
    model.train(was_training)
    return total / count if count else float("nan")


def _eval_batches(run: PretrainRun, length: int) -> list[dict[str, Any]]:
    """The held-out batches at ``length`` tokens: the first ``eval_sequences`` sequences, masks fixed for the run."""
    import torch

    if length not in run._eval_batches:
        seqs = torch.tensor(recut(run.heldout, length, run.ids)[:run.cfg.eval_sequences], dtype=torch.long)
        gen = step_generator(run.cfg.seed, 0, salt=length)
        size = run.cfg.eval_batch_size
        run._eval_batches[length] = [masked_batch(seqs, list(range(i, min(i + size, len(seqs)))), run.scheme,
                                                  run.ids.pad, gen) for i in range(0, len(seqs), size)]
    return run._eval_batches[length]


def _evaluate(run: PretrainRun) -> None:
    """Main process: held-out MLM loss and perplexity at each evaluation length, logged and kept in the state."""
    if run.main and run.eval_lengths:
        model = run.accelerator.unwrap_model(run.model)
        scores = {}
        for length in run.eval_lengths:
            batches = _eval_batches(run, length)
            loss = heldout_loss(model, batches)
            # how much text the figure rests on: a held-out split shorter than `length` gives one padded sequence
            scores[str(length)] = {"loss": loss, "perplexity": math.exp(loss) if loss < 50 else float("inf"),
                                   "sequences": sum(len(b["input_ids"]) for b in batches),
                                   "tokens": sum(int(b["attention_mask"].sum()) for b in batches),
                                   "masked": sum(int((b["labels"] != -100).sum()) for b in batches)}
        run.state["heldout"] = scores
        run.log({"step": run.state["step"], "tokens": run.state["tokens"], "heldout": scores})
        say(run.accelerator, f"kd {run.name}: step {run.state['step']} held-out MLM loss "
                              + ", ".join(f"{k}: {v['loss']:.4f}" for k, v in scores.items()))
    run.accelerator.wait_for_everyone()


def _checkpoint(run: PretrainRun) -> None:
    """Save the resume state, with this process's corpus shares (:func:`kd.checkpoint.save_checkpoint`)."""
    run.state["seconds"] = round(time.time() - run.t_start, 1)
    save_checkpoint(run.accelerator, run.out, run.state,
                    extra=lambda folder: run.shares.save(folder / _shares_file(run.accelerator),
                                                         run.accelerator.num_processes))


def _finish(run: PretrainRun) -> dict[str, Any]:
    """Save ``model/`` and write the summary and the run record (main process); return the summary."""
    cfg, state, loaded = run.cfg, run.state, run.loaded
    sizes = {i: len(run.sequences(cfg.phases[i].max_length)) for i in range(state.get("phase", 0) + 1)}
    summary = {"model": model_name(cfg.model), "corpus": portable_path(cfg.corpus),
               "output_dir": portable_path(run.out), "steps": state["step"], "planned_steps": run.total_steps,
               "tokens": state["tokens"], "stopped_by": "max_tokens" if state["step"] < run.total_steps else "steps",
               "heldout": state["heldout"], "fresh_weights": loaded.fresh, "decoder_tied": loaded.decoder_tied,
               "num_processes": run.accelerator.num_processes, "shares": run.shares.gathered(run.accelerator, sizes),
               "replicas_identical": replicas_identical(run.accelerator, run.model),
               "train_seconds": round(time.time() - run.t_start, 1)}
    if run.main:
        final = run.out / "model"
        run.accelerator.unwrap_model(run.model).save_pretrained(str(final))
        loaded.tokenizer.save_pretrained(str(final))
        (final / "kd_pretrain.json").write_text(json.dumps({"config": dataclasses.asdict(cfg), **summary}, indent=2))
        (run.out / "summary.json").write_text(json.dumps(summary, indent=2))
        record = run_record(run.out.name, cfg, summary, run.out / "metrics.jsonl",
                            num_processes=run.accelerator.num_processes)
        write_record(record, run.out / "run.json", *([cfg.record] if cfg.record else []))
    run.accelerator.wait_for_everyone()
    return summary
