"""``gonerd kd distill``: train a smaller student against a teacher.

``--task mlm`` (:func:`distill_mlm`) is the paper's Convert-Then-Distill: a half-depth copy of a
(converted, MLM-pretrained) teacher trained on a packed corpus in the loop of ``gonerd kd pretrain``
with α·MLM + β·T²·KL(teacher‖student) + γ·(1 − cos) of the last hidden states
(:func:`kd.losses.mlm_distillation_loss`).

``--task ner`` (:func:`distill_ner`) trains a token-classification student against a fine-tuned
teacher.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gonerd.errors import ConfigError, InputError
from kd.config import MlmDistillConfig, NerDistillConfig
from kd.losses import LossTerms, distillation_loss, mlm_distillation_loss
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


def build_student_once(teacher: str | Path, init: Path, layers: Sequence[int] | None) -> None:
    """Write the student of ``teacher``'s ``layers`` to ``init`` unless it is there: by the main process alone
    while the others wait (under torchrun every process gets here; two writers of one folder can hand the
    other process a half-written checkpoint)."""
    import torch
    from accelerate import PartialState

    from kd.student import init_student

    # cpu=True as in kd.pretrain: on a CPU-only machine accelerate joins a launch group only so.
    state = PartialState(cpu=not torch.cuda.is_available())
    if state.is_main_process and not (init / "config.json").is_file():
        init_student(teacher, init, layers)
    state.wait_for_everyone()


def distill_ner(cfg: NerDistillConfig, *, progress: bool = True, stop_after: int | None = None) -> dict[str, Any]:
    """Distil ``cfg.teacher`` into a student on ``cfg.data.train`` with loss ``cfg.loss``; return the summary
    (``stop_after``: as :func:`kd.train.train_ner`'s).

    Outputs are those of :func:`kd.train.train_ner` (``best/``, ``last/``, ``metrics.jsonl`` with
    each loss term, ``run.json``), plus ``init/`` when the student is built from teacher layers.
    """
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
        build_student_once(cfg.teacher, init, cfg.student_layers)
        cfg = dataclasses.replace(cfg, model=str(init))
    if teacher is not None:
        if tuple(cfg.labels) != teacher.labels:
            cfg = dataclasses.replace(cfg, labels=teacher.labels)
        check_compatible(teacher, cfg.model)
    objective = TeacherObjective(teacher if cfg.loss != "ce" else None, cfg.loss, cfg.lam, cfg.temperature)
    return train_ner(cfg, progress=progress, objective=objective, name="distill", stop_after=stop_after)


class MlmDistillObjective:
    """Convert-Then-Distill's loss of a masked batch, with the frozen teacher's logits and hidden states."""

    def __init__(self, teacher, *, alpha: float, beta: float, gamma: float, temperature: float) -> None:
        self.teacher = teacher.eval()
        self.weights = {"alpha": alpha, "beta": beta, "gamma": gamma, "temperature": temperature}

    def prepare(self, accelerator) -> None:
        """Put the teacher on the accelerator's device, frozen."""
        self.teacher.to(accelerator.device)
        self.teacher.requires_grad_(False)

    def __call__(self, model, batch: dict[str, Any]) -> LossTerms:
        """The loss and its terms (``mlm``, ``kl``, ``cosine``) for one masked batch."""
        import torch

        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        length = batch["input_ids"].shape[1]
        student = model(**inputs, output_hidden_states=True)
        with torch.no_grad():
            teacher = self.teacher(**inputs, output_hidden_states=True)
        # Some attentions pad inside the model (Longformer to its window); compare the input positions only.
        return mlm_distillation_loss(student.logits[:, :length], teacher.logits[:, :length], batch["labels"],
                                     student.hidden_states[-1][:, :length], teacher.hidden_states[-1][:, :length],
                                     batch["attention_mask"], **self.weights)


def distill_mlm(cfg: MlmDistillConfig, *, progress: bool = True, stop_after: int | None = None) -> dict[str, Any]:
    """Distil ``cfg.teacher`` into a student of its every other layer (or ``cfg.student_layers``) on
    ``cfg.corpus``; outputs and resuming are those of :func:`kd.pretrain.pretrain` (``model/`` is the student)."""
    from accelerate import PartialState
    from accelerate.utils import set_seed

    from kd.pretrain import load_mlm_model, pretrain, say

    if not cfg.teacher:
        raise ConfigError("distill --task mlm needs a teacher (--teacher)")
    if min(cfg.alpha, cfg.beta, cfg.gamma) < 0 or cfg.temperature <= 0:
        raise ConfigError(f"alpha, beta, gamma must be >= 0 and temperature > 0, got {cfg.alpha}, {cfg.beta}, "
                          f"{cfg.gamma}, {cfg.temperature}")
    set_seed(cfg.seed)  # a fresh teacher head is drawn alike on every process and in every run of the config
    teacher = load_mlm_model(cfg.teacher)
    init = Path(cfg.output_dir) / "init"
    build_student_once(teacher.path, init, cfg.student_layers or None)
    if teacher.fresh:
        # An untrained head makes the KL term distil noise: pretrain the teacher first (gonerd kd pretrain).
        say(PartialState(), f"kd distill: note: the teacher's MLM head is untrained ({', '.join(teacher.fresh)}); "
            "its logits carry no knowledge until it is pretrained")
    cfg = dataclasses.replace(cfg, model=str(init))
    objective = MlmDistillObjective(teacher.model, alpha=cfg.alpha, beta=cfg.beta, gamma=cfg.gamma,
                                    temperature=cfg.temperature)
    return pretrain(cfg, progress=progress, objective=objective, name="distill", stop_after=stop_after)
