"""Distillation losses: task distillation for token classification, and Convert-Then-Distill's MLM loss.

**Task distillation**, per labelled (first sub-)token.

Every loss takes student logits ``f`` and, where it uses one, teacher logits of the same shape
``(batch, length, labels)`` and gold ``labels`` ``(batch, length)`` with ``-100`` at positions that
are not scored. Each term is a mean over the scored positions, so the terms are on one scale.

- ``ce``: cross-entropy on the gold labels; no teacher.
- ``hinton`` (Hinton et al. 2015): ``λ·CE(y, f) + (1−λ)·T²·KL(p̂_T ‖ f_T)``, with ``p̂_T`` and
  ``f_T`` the softmaxes at temperature ``T``.
- ``makd`` (cost-effective distillation, Eq. 8–9, τ = 1, exactly as written):
  ``λ·CE(y, f) + (1−λ)·[KL(p̂ ‖ f) + ⟨y − p̂, −log f⟩]``.
- ``makd-sg``: the same with a stop-gradient on ``log f`` inside the correction term.

What the algebra says, and the tests check numerically: ``KL(p̂‖f) + ⟨y − p̂, −log f⟩ =
CE(y, f) − H(p̂)``, and ``H(p̂)`` does not depend on the student, so the gradient of ``makd`` is the
gradient of plain ``ce`` for every λ — the teacher has no effect on training. With the
stop-gradient the correction term has no gradient, so ``makd-sg`` trains exactly like ``hinton``
at ``T = 1``.

**MLM distillation** (:func:`mlm_distillation_loss`, Convert-Then-Distill, as DistilBERT):
``α·MLM + β·T²·KL(teacher_T ‖ student_T) + γ·(1 − cos(h_student, h_teacher))``, the KL over the
masked positions, the cosine over the last hidden states of every real (non-pad) token; paper
defaults α = 2.0, β = 5.0, γ = 1.0, T = 2.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE = -100
LOSSES = ("ce", "hinton", "makd", "makd-sg")


@dataclass(frozen=True)
class LossTerms:
    """The total loss and its parts (detached floats), for logging each term separately."""

    loss: torch.Tensor
    terms: dict[str, float]


def _scored(student: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None):
    mask = labels != IGNORE
    return student[mask], labels[mask], (teacher[mask] if teacher is not None else None)


def cross_entropy(student: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the gold labels over the scored positions."""
    s, y, _ = _scored(student, labels)
    return F.cross_entropy(s, y)


def kl_divergence(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor,
                  temperature: float = 1.0) -> torch.Tensor:
    """Mean ``KL(p̂_T ‖ f_T)`` over the scored positions, both softmaxes at ``temperature``."""
    s, _, t = _scored(student, labels, teacher)
    log_f = F.log_softmax(s / temperature, dim=-1)
    log_p = F.log_softmax(t / temperature, dim=-1)
    return (log_p.exp() * (log_p - log_f)).sum(-1).mean()


def makd_correction(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor,
                    stop_gradient: bool = False) -> torch.Tensor:
    """Mean ``⟨y − p̂, −log f⟩`` (τ = 1) over the scored positions; ``y`` the one-hot gold label."""
    s, y, t = _scored(student, labels, teacher)
    log_f = F.log_softmax(s, dim=-1)
    if stop_gradient:
        log_f = log_f.detach()
    residual = F.one_hot(y, s.shape[-1]).to(s.dtype) - F.softmax(t, dim=-1)
    return (residual * -log_f).sum(-1).mean()


def distillation_loss(name: str, student: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None,
                      *, lam: float = 0.5, temperature: float = 1.0) -> LossTerms:
    """The loss ``name`` (one of :data:`LOSSES`) with its terms; ``lam`` weighs the gold CE."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
    ce = cross_entropy(student, labels)
    if name == "ce":
        return LossTerms(ce, {"ce": ce.item()})
    if teacher is None:
        raise ValueError(f"loss {name!r} needs teacher logits")
    teacher = teacher.detach()
    if name == "hinton":
        kl = kl_divergence(student, teacher, labels, temperature)
        loss = lam * ce + (1 - lam) * temperature**2 * kl
        return LossTerms(loss, {"ce": ce.item(), "kl": kl.item()})
    kl = kl_divergence(student, teacher, labels, 1.0)
    corr = makd_correction(student, teacher, labels, stop_gradient=name == "makd-sg")
    loss = lam * ce + (1 - lam) * (kl + corr)
    return LossTerms(loss, {"ce": ce.item(), "kl": kl.item(), "correction": corr.item()})


def hidden_cosine_loss(student: torch.Tensor, teacher: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean ``1 − cos`` between student and teacher hidden states ``(batch, length, hidden)`` at real tokens."""
    keep = attention_mask.bool()
    return (1 - F.cosine_similarity(student[keep], teacher[keep], dim=-1)).mean()


def mlm_distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                          student_hidden: torch.Tensor, teacher_hidden: torch.Tensor, attention_mask: torch.Tensor,
                          *, alpha: float = 2.0, beta: float = 5.0, gamma: float = 1.0,
                          temperature: float = 2.0) -> LossTerms:
    """Convert-Then-Distill's loss; ``labels`` are the MLM targets (``-100`` where nothing was masked)."""
    mlm = cross_entropy(student_logits, labels)
    kl = kl_divergence(student_logits, teacher_logits.detach(), labels, temperature)
    cos = hidden_cosine_loss(student_hidden, teacher_hidden.detach(), attention_mask)
    loss = alpha * mlm + beta * temperature**2 * kl + gamma * cos
    return LossTerms(loss, {"mlm": mlm.item(), "kl": kl.item(), "cosine": cos.item()})
