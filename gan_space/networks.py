"""A run's networks: the generator and discriminator its family builds, their optimisers
and gradient scalers, and the EMA generator that samples.

    networks = Networks.build(config, data_spec, device, precision)
    networks.set_learning_rates(lr_g, lr_d)
    networks.update_ema()
    samples = networks.sample(latents, labels)      # EMA weights, BatchNorm statistics redrawn

`state()` / `load_state()` carry what a checkpoint needs beyond the weights (optimiser
moments, the EMA's own buffers), as tensors and JSON: nothing is pickled.
"""

import contextlib

import torch

from . import devices
from .ema import EMA, recalibrated_batchnorm
from .models import get_family
from .randomness import seeded_construction
from .sampling import generate


class Networks:
    def __init__(self, generator, discriminator, config, device: torch.device, precision: str = "fp32",
                 keep_ema: bool = True, family=None):
        self.family = family or get_family(config.arch)
        self.device = device
        self.latent_dim = config.latent_dim
        # (image-to-image generators take a picture, not classes: their configs have no num_classes)
        self.num_classes = int(generator.config.get("num_classes", 0) or 0)
        self.memory_format = torch.channels_last if self.family.channels_last else torch.contiguous_format
        self.generator = generator.to(device, memory_format=self.memory_format)
        self.discriminator = discriminator.to(device, memory_format=self.memory_format)
        self.generator.train()
        self.discriminator.train()
        # Several processes: rank 0 alone keeps the EMA generator (it alone samples and saves).
        self.ema = EMA(self.generator, config.ema_decay) if config.ema_decay > 0 and keep_ema else None
        # compile=True: the steps' forward passes go through torch.compile; the modules stay eager
        # for everything else (checkpoints, the EMA copy, previews, R1's double backward).
        self.G_forward = torch.compile(self.generator) if config.compile else self.generator
        self.D_forward = torch.compile(self.discriminator) if config.compile else self.discriminator

        adam = dict(betas=(config.beta1, config.beta2))
        if devices.has_fused_adam(device):
            adam["fused"] = True
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, **adam)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, **adam)
        self.scaler_g = devices.grad_scaler(device, precision)  # a no-op but in fp16
        self.scaler_d = devices.grad_scaler(device, precision)

    @classmethod
    def build(cls, config, data_spec, device: torch.device, precision: str, keep_ema: bool = True) -> "Networks":
        """The family's networks for this data, initialised from the run's seed."""
        family = get_family(config.arch)
        with seeded_construction(config.seed):
            generator, discriminator = family.build(config, data_spec)
        return cls(generator, discriminator, config, device, precision, keep_ema=keep_ema, family=family)

    # -- training ---------------------------------------------------------------------

    def set_learning_rates(self, lr_g: float, lr_d: float) -> None:
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g
        for group in self.opt_d.param_groups:
            group["lr"] = lr_d

    def update_ema(self) -> None:
        if self.ema is not None:
            self.ema.update(self.generator)

    # -- sampling ---------------------------------------------------------------------

    def sampling_generator(self):
        """The generator to sample from: the EMA copy when there is one."""
        return self.ema.model if self.ema is not None else self.generator

    def sampling_weights(self):
        """A context in which `sampling_generator()` is ready to sample or save: the EMA
        copy's BatchNorm statistics redrawn for its averaged weights, restored after."""
        generator = self.sampling_generator()
        if self.ema is None:
            return contextlib.nullcontext(generator)
        return recalibrated_batchnorm(generator, self.latent_dim, self.device, self.num_classes)

    @torch.no_grad()
    def sample(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Samples for these latents, in fp32 on the CPU: images in [-1, 1], points in
        data coordinates. Changes nothing the training depends on."""
        with self.sampling_weights() as generator:
            return generate(generator, latents=latents, labels=labels)

    # -- checkpoints ------------------------------------------------------------------

    def state(self) -> tuple[dict, dict]:
        """(tensors, JSON-able metadata) of the optimisers and the EMA, for a checkpoint."""
        from .checkpoints import optimiser_state

        tensors, meta = {}, {}
        for prefix, optimiser in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            optimiser_tensors, meta[prefix] = optimiser_state(prefix, optimiser)
            tensors.update(optimiser_tensors)
        if self.ema is not None:
            # The EMA's own buffers: the saved sampling generator holds redrawn BatchNorm
            # statistics, the averaging goes on from these.
            for name, buffer in self.ema.model.named_buffers():
                tensors[f"ema_buffer.{name}"] = buffer.detach().cpu().contiguous()
            meta["ema_updates"] = self.ema.num_updates
        return tensors, meta

    def load_state(self, tensors: dict, meta: dict) -> None:
        from .checkpoints import load_optimiser_state

        for prefix, optimiser in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            load_optimiser_state(optimiser, prefix, tensors, meta[prefix])
        if self.ema is not None:
            with torch.no_grad():
                for name, buffer in self.ema.model.named_buffers():
                    if f"ema_buffer.{name}" in tensors:
                        buffer.copy_(tensors[f"ema_buffer.{name}"])
            self.ema.num_updates = meta.get("ema_updates", 0)


__all__ = ["Networks"]
