"""``gonerd kd distill --task ner``: train a token-classification student against a fine-tuned teacher.

The student trains in the very loop of ``gonerd kd train-ner`` (same windows, batches, seeds,
logging, resume, ``accelerate``); only the loss differs (:mod:`kd.losses`): at every scored
(first sub-)token the teacher's logits on the same window are the soft target. Teacher and student
must share the tokenizer — their windows are then identical — and the tag set.

The student is either any checkpoint (``model``) or, with ``student_layers``, a copy of the teacher
with those layers (:func:`kd.student.init_student`; ``[0, 2, 4]`` of a 6-layer teacher), written to
``<output_dir>/init`` before training.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from gonerd.errors import ConfigError, InputError
from kd.config import NerDistillConfig
from kd.losses import LossTerms, distillation_loss
from kd.model import LoadedModel, load_model, load_tokenizer, resolve_model_path


class TeacherObjective:
    """The distillation loss of a student batch, with the frozen teacher's logits as soft targets."""

    def __init__(self, teacher: LoadedModel | None, loss: str, lam: float, temperature: float) -> None:
        self.teacher = teacher.model.eval() if teacher is not None else None
        self.loss, self.lam, self.temperature = loss, lam, temperature

    def prepare(self, accelerator) -> None:
        """Put the teacher on the accelerator's device (it is never optimised, so not wrapped)."""
        if self.teacher is not None:
            self.teacher.to(accelerator.device)
            self.teacher.requires_grad_(False)

    def __call__(self, model, batch: dict[str, Any]) -> LossTerms:
        """The loss and its terms for one batch of windows (``input_ids``, ``attention_mask``, ``labels``)."""
        import torch

        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        student = model(**inputs).logits
        teacher = None
        if self.teacher is not None:
            with torch.no_grad():
                teacher = self.teacher(**inputs).logits
        return distillation_loss(self.loss, student, batch["labels"], teacher, lam=self.lam,
                                 temperature=self.temperature)


def check_compatible(teacher: LoadedModel, student_path: str | Path) -> None:
    """Refuse a student whose tokenizer or tag set differs from the teacher's (windows would not align)."""
    if load_tokenizer(resolve_model_path(student_path)).get_vocab() != teacher.tokenizer.get_vocab():
        raise InputError("the student's tokenizer differs from the teacher's; task distillation compares "
                         "them token by token, so both need the same vocabulary", str(student_path), field="tokenizer")


def distill_ner(cfg: NerDistillConfig, *, progress: bool = True) -> dict[str, Any]:
    """Distil ``cfg.teacher`` into a student on ``cfg.data.train`` with loss ``cfg.loss``; return the summary.

    Outputs are those of :func:`kd.train.train_ner` (``best/``, ``last/``, ``metrics.jsonl`` with
    each loss term, ``run.json``), plus ``init/`` when the student is built from teacher layers.
    """
    from kd.student import init_student
    from kd.train import train_ner

    if cfg.loss != "ce" and not cfg.teacher:
        raise ConfigError(f"loss {cfg.loss!r} needs a teacher (--teacher)")
    if not 0.0 <= cfg.lam <= 1.0 or cfg.temperature <= 0:
        raise ConfigError(f"lam must be in [0, 1] and temperature > 0, got lam={cfg.lam}, temperature={cfg.temperature}")
    teacher = load_model(cfg.teacher) if cfg.teacher else None
    if cfg.student_layers:
        if not cfg.teacher:
            raise ConfigError("student_layers builds the student from the teacher: set teacher too")
        init = Path(cfg.output_dir) / "init"
        if not (init / "config.json").is_file():
            init_student(cfg.teacher, init, cfg.student_layers)
        cfg = dataclasses.replace(cfg, model=str(init))
    if teacher is not None:
        if tuple(cfg.labels) != teacher.labels:
            cfg = dataclasses.replace(cfg, labels=teacher.labels)
        check_compatible(teacher, cfg.model)
    objective = TeacherObjective(teacher if cfg.loss != "ce" else None, cfg.loss, cfg.lam, cfg.temperature)
    return train_ner(cfg, progress=progress, objective=objective, name="distill")
