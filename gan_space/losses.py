"""Adversarial losses and regularisers, all on raw discriminator logits.

Working on logits (never a sigmoid followed by a log) keeps the losses finite and
keeps bf16 autocast usable: a bf16 sigmoid rounds to exactly 1.0 early in training.
"""

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from . import names

# Losses that compare each real sample with a generated one (the generator's loss needs
# D's logits on real samples too).
RELATIVISTIC_LOSSES = ("rpgan",)


def _rpgan_discriminator(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    # Relativistic pairing (RpGAN; Jolicoeur-Martineau 2018, R3GAN 2025): D is asked
    # only that each real sample look more real than the generated one it is paired
    # with. With R1 + R2 this game has no mode-dropping local optimum (R3GAN, section 2).
    return F.softplus(-(real_logits - fake_logits)).mean()


def _rpgan_generator(fake_logits: torch.Tensor, real_logits: torch.Tensor | None) -> torch.Tensor:
    if real_logits is None:
        raise ValueError("loss='rpgan' compares each generated sample with a real one: pass real_logits")
    # The same pairs, the other way round; real_logits are constants for G.
    return F.softplus(-(fake_logits - real_logits.detach())).mean()


class AdversarialLoss(NamedTuple):
    discriminator: Callable  # (real_logits, fake_logits) -> D's loss
    generator: Callable  # (fake_logits, real_logits or None) -> G's loss


# Exactly the names of gan_space.names.LOSSES (checked here, at import).
_LOSS_FUNCTIONS = names.implemented("loss", names.LOSSES, {
    "non-saturating": AdversarialLoss(lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
                                      lambda fake, real: F.softplus(-fake).mean()),
    "hinge": AdversarialLoss(lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
                             lambda fake, real: -fake.mean()),
    "least-squares": AdversarialLoss(lambda real, fake: 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(),
                                     lambda fake, real: 0.5 * ((fake - 1) ** 2).mean()),
    "wgan-gp": AdversarialLoss(lambda real, fake: fake.mean() - real.mean(),
                               lambda fake, real: -fake.mean()),
    "rpgan": AdversarialLoss(_rpgan_discriminator, _rpgan_generator),
})
LOSSES = tuple(_LOSS_FUNCTIONS)


def _adversarial_loss(loss: str) -> AdversarialLoss:
    if loss not in _LOSS_FUNCTIONS:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return _LOSS_FUNCTIONS[loss]


def discriminator_loss(loss: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss for one batch of real and one of generated samples."""
    return _adversarial_loss(loss).discriminator(real_logits, fake_logits)


def generator_loss(loss: str, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    """The generator's loss: how badly its samples fooled the discriminator.
    `real_logits`: D's logits on the paired real samples (relativistic losses only)."""
    return _adversarial_loss(loss).generator(fake_logits, real_logits)


def r1_penalty(discriminator, real: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared gradient norm of D at real samples (Mescheder et al., 2018).

    Multiply by gamma / 2. It keeps D flat on the data, which stops the
    oscillation that otherwise makes small GANs collapse.
    """
    return zero_centred_penalties(discriminator, [real], [labels])[0]


def r2_penalty(discriminator, fake: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """R1's twin on generated samples: mean squared gradient norm of D at fakes. R3GAN
    (2025) shows that R1 alone lets an RpGAN diverge and R1 + R2 together converge."""
    return zero_centred_penalties(discriminator, [fake], [labels])[0]


def zero_centred_penalties(discriminator, batches: list, labels: list) -> list:
    """Mean squared gradient norm of D at each batch of samples (e.g. [real, fake] for
    R1 and R2), from ONE forward and one double backward over all of them together:
    D has no batch statistics, so each sample's gradient is what it would be alone, and
    one larger pass is cheaper than two on a CPU. Each batch must be a whole number of
    D's packs (PacGAN)."""
    sizes = [b.shape[0] for b in batches]
    inputs = torch.cat([b.detach() for b in batches]).requires_grad_(True)
    joined = None if any(lab is None for lab in labels) else torch.cat(list(labels))
    logits = discriminator(inputs, joined)
    (grad,) = torch.autograd.grad(logits.sum(), inputs, create_graph=True)
    norms = grad.pow(2).flatten(1).sum(1)
    return [part.mean() for part in norms.split(sizes)]


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
