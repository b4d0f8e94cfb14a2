"""An exponential moving average of the generator's weights *and* buffers.

Written out because the library pieces each miss something here: diffusers'
EMAModel averages parameters only (BatchNorm statistics come out zero), and
torch's AveragedModel cannot lerp the integer `num_batches_tracked` buffer.
"""

import contextlib
import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.decay = decay
        self.num_updates = 0
        self.model = copy.deepcopy(model).requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.num_updates += 1
        # Warm-up: early on, follow the model closely instead of averaging in the random init.
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        ema_floats, model_floats = [], []
        for ema_t, model_t in zip(_tensors(self.model), _tensors(model)):
            if ema_t.dtype.is_floating_point:
                ema_floats.append(ema_t)
                model_floats.append(model_t)
            else:
                ema_t.copy_(model_t)
        torch._foreach_lerp_(ema_floats, model_floats, 1.0 - decay)


def _tensors(model: nn.Module):
    yield from (p.data for p in model.parameters())
    yield from model.buffers()


def batchnorm_layers(model: nn.Module) -> list:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_batchnorm(generator: nn.Module, latent_dim: int, device, num_classes: int = 0,
                          batches: int = 4, batch_size: int = 64) -> None:
    """Re-estimate BatchNorm running statistics for the averaged weights.

    The EMA generator carries statistics averaged from other weights; a few forward
    passes in train mode with a cumulative average make them match (BigGAN's
    "standing statistics"). The latents come from a fixed stream of their own
    (gan_space.randomness), never from the run's.
    """
    from .randomness import recalibration_generator

    norms = batchnorm_layers(generator)
    if not norms:
        return
    rng = recalibration_generator(device)
    saved_momentum = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the passes below
    was_training = generator.training
    generator.train()
    for _ in range(batches):
        z = torch.randn(batch_size, latent_dim, device=device, generator=rng)
        labels = torch.randint(num_classes, (batch_size,), device=device, generator=rng) if num_classes else None
        generator(z, labels)
    for m, momentum in zip(norms, saved_momentum):
        m.momentum = momentum
    generator.train(was_training)


@contextlib.contextmanager
def recalibrated_batchnorm(generator: nn.Module, latent_dim: int, device, num_classes: int = 0):
    """BatchNorm statistics redrawn for the EMA weights while inside, the averaged ones
    restored after: sampling and saving never change what the EMA goes on averaging."""
    norms = batchnorm_layers(generator)
    saved = [{name: buffer.clone() for name, buffer in m.named_buffers()} for m in norms]
    try:
        recalibrate_batchnorm(generator, latent_dim, device, num_classes)
        yield generator
    finally:
        with torch.no_grad():
            for m, buffers in zip(norms, saved):
                for name, value in buffers.items():
                    getattr(m, name).copy_(value)
