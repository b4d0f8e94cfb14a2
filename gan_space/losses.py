"""Adversarial losses and regularisers, all on raw discriminator logits.

Working on logits (never a sigmoid followed by a log) keeps the losses finite and
keeps bf16 autocast usable: a bf16 sigmoid rounds to exactly 1.0 early in training.
"""

import torch
import torch.nn.functional as F

LOSSES = ("non-saturating", "hinge", "least-squares", "wgan-gp")


def discriminator_loss(loss: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss for one batch of real and one of generated samples."""
    if loss == "non-saturating":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if loss == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    if loss == "least-squares":
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()
    if loss == "wgan-gp":
        return fake_logits.mean() - real_logits.mean()
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def generator_loss(loss: str, fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's loss: how badly its samples fooled the discriminator."""
    if loss == "non-saturating":
        return F.softplus(-fake_logits).mean()
    if loss in ("hinge", "wgan-gp"):
        return -fake_logits.mean()
    if loss == "least-squares":
        return 0.5 * ((fake_logits - 1) ** 2).mean()
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def r1_penalty(discriminator, real: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared gradient norm of D at real samples (Mescheder et al., 2018).

    Multiply by gamma / 2. It keeps D flat on the data, which stops the
    oscillation that otherwise makes small GANs collapse.
    """
    real = real.detach().requires_grad_(True)
    logits = discriminator(real, labels)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def gradient_penalty(discriminator, real: torch.Tensor, fake: torch.Tensor,
                     labels: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al., 2017): (||grad D(x_hat)|| - 1)^2 on
    random interpolates between real and generated samples."""
    alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(alpha_shape, device=real.device, generator=generator).to(real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    logits = discriminator(mixed, labels)
    (grad,) = torch.autograd.grad(logits.sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
