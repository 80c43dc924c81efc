"""Task-distillation losses against hand computations, and what the MAKD algebra implies."""

from __future__ import annotations

import math

import pytest
import torch

from kd.losses import LOSSES, cross_entropy, distillation_loss, kl_divergence, makd_correction

# Two sequences of three positions over three labels; one position unscored (-100).
STUDENT = torch.tensor([[[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, 1.0, 1.0]],
                        [[-0.5, 1.5, 0.0], [3.0, -2.0, 0.5], [0.0, 0.0, 4.0]]])
TEACHER = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [5.0, 5.0, 5.0]],
                        [[0.0, 3.0, 1.0], [2.0, 0.0, 0.0], [0.0, 1.0, 2.0]]])
LABELS = torch.tensor([[0, 2, -100], [1, 0, 2]])


def _softmax(xs: list[float], t: float = 1.0) -> list[float]:
    e = [math.exp(x / t) for x in xs]
    return [v / sum(e) for v in e]


def _scored_rows():
    for b in range(2):
        for i in range(3):
            if LABELS[b, i] != -100:
                yield STUDENT[b, i].tolist(), TEACHER[b, i].tolist(), int(LABELS[b, i])


def test_cross_entropy_is_the_mean_over_scored_positions():
    want = sum(-math.log(_softmax(s)[y]) for s, _, y in _scored_rows()) / 5
    assert cross_entropy(STUDENT, LABELS).item() == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("t", [1.0, 2.0])
def test_kl_divergence_at_temperature(t):
    want = 0.0
    for s, te, _ in _scored_rows():
        p, f = _softmax(te, t), _softmax(s, t)
        want += sum(pi * math.log(pi / fi) for pi, fi in zip(p, f))
    assert kl_divergence(STUDENT, TEACHER, LABELS, t).item() == pytest.approx(want / 5, rel=1e-6)


def test_makd_correction_term():
    want = 0.0
    for s, te, y in _scored_rows():
        p, f = _softmax(te), _softmax(s)
        want += sum(((k == y) - p[k]) * -math.log(f[k]) for k in range(3))
    assert makd_correction(STUDENT, TEACHER, LABELS).item() == pytest.approx(want / 5, rel=1e-6)


def test_hinton_combines_ce_and_scaled_kl():
    lam, t = 0.3, 2.0
    got = distillation_loss("hinton", STUDENT, LABELS, TEACHER, lam=lam, temperature=t)
    want = lam * cross_entropy(STUDENT, LABELS) + (1 - lam) * t * t * kl_divergence(STUDENT, TEACHER, LABELS, t)
    assert got.loss.item() == pytest.approx(want.item(), rel=1e-6)
    assert set(got.terms) == {"ce", "kl"}


def test_makd_kd_term_is_ce_minus_teacher_entropy():
    mask = LABELS != -100
    p = torch.softmax(TEACHER[mask], -1)
    entropy = -(p * p.log()).sum(-1).mean()
    kd = kl_divergence(STUDENT, TEACHER, LABELS) + makd_correction(STUDENT, TEACHER, LABELS)
    assert kd.item() == pytest.approx((cross_entropy(STUDENT, LABELS) - entropy).item(), rel=1e-5)


def _grad(name: str, lam: float, temperature: float = 1.0) -> torch.Tensor:
    student = STUDENT.clone().requires_grad_(True)
    distillation_loss(name, student, LABELS, TEACHER, lam=lam, temperature=temperature).loss.backward()
    return student.grad


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.9])
def test_makd_gradient_equals_plain_ce_gradient_for_every_lambda(lam):
    assert torch.allclose(_grad("makd", lam), _grad("ce", lam), atol=1e-6)


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.9])
def test_makd_with_stop_gradient_trains_like_hinton_at_t1(lam):
    assert torch.allclose(_grad("makd-sg", lam), _grad("hinton", lam, 1.0), atol=1e-6)
    assert not torch.allclose(_grad("hinton", lam, 1.0), _grad("ce", lam), atol=1e-3)


def test_unscored_positions_do_not_matter():
    changed = STUDENT.clone()
    changed[0, 2] = torch.tensor([9.0, -9.0, 3.0])
    for name in LOSSES:
        a = distillation_loss(name, STUDENT, LABELS, TEACHER, lam=0.5).loss
        b = distillation_loss(name, changed, LABELS, TEACHER, lam=0.5).loss
        assert a.item() == pytest.approx(b.item())


def test_bad_loss_name_and_missing_teacher_are_errors():
    with pytest.raises(ValueError, match="unknown loss 'kl'"):
        distillation_loss("kl", STUDENT, LABELS, TEACHER)
    with pytest.raises(ValueError, match="needs teacher logits"):
        distillation_loss("hinton", STUDENT, LABELS)


def test_hidden_cosine_loss_over_real_tokens_only():
    from kd.losses import hidden_cosine_loss

    s = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])
    t = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [-1.0, 3.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert hidden_cosine_loss(s, t, mask).item() == pytest.approx(((1 - 1) + (1 - 0)) / 2)


def test_mlm_distillation_loss_weighs_its_three_terms():
    from kd.losses import hidden_cosine_loss, mlm_distillation_loss

    hidden_s, hidden_t = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0)), torch.randn(2, 3, 4)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    got = mlm_distillation_loss(STUDENT, TEACHER, LABELS, hidden_s, hidden_t, mask)
    want = (2.0 * cross_entropy(STUDENT, LABELS) + 5.0 * 4.0 * kl_divergence(STUDENT, TEACHER, LABELS, 2.0)
            + 1.0 * hidden_cosine_loss(hidden_s, hidden_t, mask))
    assert got.loss.item() == pytest.approx(want.item(), rel=1e-6)
    assert set(got.terms) == {"mlm", "kl", "cosine"}
    same = mlm_distillation_loss(TEACHER, TEACHER, LABELS, hidden_t, hidden_t, mask, alpha=0.0)
    assert same.loss.item() == pytest.approx(0.0, abs=1e-6)
