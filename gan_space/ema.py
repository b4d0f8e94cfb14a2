"""An exponential moving average of the generator's weights *and* buffers.

Written out because the library pieces each miss something here: diffusers'
EMAModel averages parameters only (BatchNorm statistics come out zero), and
torch's AveragedModel cannot lerp the integer `num_batches_tracked` buffer.
"""

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


@torch.no_grad()
def recalibrate_batchnorm(generator: nn.Module, latent_dim: int, device, random_labels=None,
                          batches: int = 4, batch_size: int = 64) -> None:
    """Re-estimate BatchNorm running statistics for the averaged weights.

    The EMA generator carries statistics averaged from other weights; a few forward
    passes in train mode with a cumulative average make them match (BigGAN's
    "standing statistics").
    """
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved_momentum = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the passes below
    was_training = generator.training
    generator.train()
    for _ in range(batches):
        z = torch.randn(batch_size, latent_dim, device=device)
        generator(z, random_labels(batch_size) if random_labels is not None else None)
    for m, momentum in zip(norms, saved_momentum):
        m.momentum = momentum
    generator.train(was_training)
