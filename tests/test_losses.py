import math

import pytest
import torch
from torch import nn

from gan_space.losses import LOSSES, discriminator_loss, generator_loss, gradient_penalty, r1_penalty


def test_non_saturating_values():
    real, fake = torch.zeros(4), torch.zeros(4)
    assert discriminator_loss("non-saturating", real, fake).item() == pytest.approx(2 * math.log(2))
    assert generator_loss("non-saturating", fake).item() == pytest.approx(math.log(2))


def test_losses_reward_the_right_side():
    confident_real, confident_fake = torch.full((8,), 5.0), torch.full((8,), -5.0)
    for loss in LOSSES:
        good = discriminator_loss(loss, confident_real, confident_fake)
        bad = discriminator_loss(loss, confident_fake, confident_real)
        assert good < bad, loss
        # (A relativistic loss compares each fake with a real sample: here, ones D scores 0.)
        real = torch.zeros(8) if loss == "rpgan" else None
        assert generator_loss(loss, confident_real, real) < generator_loss(loss, confident_fake, real), loss


def test_losses_stay_finite_on_extreme_logits():
    huge = torch.tensor([1e4, -1e4])
    for loss in ("non-saturating", "hinge"):
        assert torch.isfinite(discriminator_loss(loss, huge, -huge))
        assert torch.isfinite(generator_loss(loss, huge))


def test_unknown_loss_is_a_clear_error():
    with pytest.raises(ValueError, match="loss must be one of"):
        generator_loss("kl", torch.zeros(1))


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([3.0, 4.0]))

    def forward(self, x, labels=None):
        return x @ self.weight


def test_r1_penalty_of_a_linear_discriminator_is_its_squared_weight_norm():
    assert r1_penalty(Linear(), torch.randn(16, 2)).item() == pytest.approx(25.0)


def test_gradient_penalty_of_a_unit_slope_discriminator_is_zero():
    d = Linear()
    with torch.no_grad():
        d.weight.copy_(torch.tensor([0.6, 0.8]))
    assert gradient_penalty(d, torch.randn(8, 2), torch.randn(8, 2)).item() == pytest.approx(0.0, abs=1e-10)


def test_r1_penalty_reaches_the_discriminator_weights():
    d = Linear()
    r1_penalty(d, torch.randn(4, 2)).backward()
    assert torch.allclose(d.weight.grad, 2 * d.weight.detach())
