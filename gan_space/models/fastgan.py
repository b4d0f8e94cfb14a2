"""FastGAN-style generator and discriminator for 128-512 px pictures (Liu et al., 2021,
"Towards Faster and Stabilized GAN Training for High-fidelity Few-shot Image
Synthesis", arXiv 2101.04775), written from the paper at CPU-sized widths.

From the paper:

- the generator upsamples by nearest-neighbour + 3x3 convolution + BatchNorm + GLU,
  one convolution per resolution (cheap at the large sizes);
- skip-layer excitation (SLE): a 4x4 map of a low resolution (size/16) gates the
  channels of each large resolution (64 px and up): pooled to 4x4, a 4x4 convolution
  to 1x1, leaky ReLU, a 1x1 convolution and a sigmoid. A shortcut for the gradient
  and a style-like control, at almost no cost;
- the discriminator is a self-supervised auto-encoder as well: small decoders
  reconstruct, from D's 8x8 features, the whole real picture it judged (downscaled),
  and from a random quarter of its 16x16 features that quarter of the picture. The
  loss of that reconstruction is an extra discriminator term (`FastGANObjective`): D
  must keep describing what real pictures look like, not only memorise what tells them
  apart, which is what makes FastGAN train on a hundred pictures.

Changed for this library: no normalisation in the discriminator (R1/R2 and the
one-batch real+fake pass need each sample's logit to depend on that sample only),
an L1 reconstruction loss on 32x32 targets instead of a perceptual (LPIPS) one (no
pretrained network to download), no noise injection (all randomness comes from the
run's own streams), one logit per picture (the mean of the 5x5 patch logits), a
linear output clamped to [-1, 1] outside training, and small widths.
"""

import math

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from ..objectives import GANObjective
from .registry import NetworkFamily, register_family

RESOLUTIONS = (64, 128, 256, 512)
# Channels at each size as multiples of `width` (the paper's proportions): wide at the
# small sizes, where the maps are small, narrow at the large ones, where they are not.
MULTIPLIERS = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25}
RECONSTRUCTION_SIZE = 32  # the decoders' output: the real picture (or its quarter) downscaled to this
RECONSTRUCTION_WEIGHT = 1.0


def _check(resolution: int, channels: int, width: int, num_classes: int) -> None:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if width < 8:
        raise ValueError(f"width must be at least 8, got {width}")
    if num_classes < 0:
        raise ValueError(f"num_classes must be 0 (unconditional) or more, got {num_classes}")


def feature_channels(size: int, width: int) -> int:
    return max(8, int(width * MULTIPLIERS[size]))


def _sizes(resolution: int) -> list[int]:
    return [2**k for k in range(2, int(math.log2(resolution)) + 1)]


class UpBlock(nn.Sequential):
    """Nearest-neighbour 2x upsampling, 3x3 convolution, BatchNorm, GLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(in_channels, out_channels * 2, 3, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels * 2), nn.GLU(dim=1))


class SkipLayerExcitation(nn.Module):
    """Channel gates for a large map from a small one (the paper's SLE module)."""

    def __init__(self, small_channels: int, large_channels: int):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(small_channels, large_channels, 4),
                                  nn.LeakyReLU(0.1), nn.Conv2d(large_channels, large_channels, 1), nn.Sigmoid())

    def forward(self, small: torch.Tensor, large: torch.Tensor) -> torch.Tensor:
        return large * self.gate(small)


class FastGANGenerator(ModelMixin, ConfigMixin):
    """latent (and class) -> 4x4 -> [upsample, SLE from size/16] -> image; in [-1, 1]
    outside training (clamped), linear in training."""

    @register_to_config
    def __init__(self, resolution: int = 256, channels: int = 3, latent_dim: int = 128, width: int = 16,
                 num_classes: int = 0):
        super().__init__()
        _check(resolution, channels, width, num_classes)
        sizes = _sizes(resolution)
        self.label_embedding = nn.Embedding(num_classes, latent_dim) if num_classes else None
        first = feature_channels(4, width)
        self.init = nn.Sequential(nn.ConvTranspose2d(latent_dim, first * 2, 4, 1, 0, bias=False),
                                  nn.BatchNorm2d(first * 2), nn.GLU(dim=1))
        self.ups = nn.ModuleDict({str(s): UpBlock(feature_channels(s // 2, width), feature_channels(s, width))
                                  for s in sizes[1:]})
        self.excite = nn.ModuleDict({str(s): SkipLayerExcitation(feature_channels(s // 16, width),
                                                                 feature_channels(s, width))
                                     for s in sizes if s >= 64})
        self.to_image = nn.Conv2d(feature_channels(resolution, width), channels, 3, padding=1)
        _init(self)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def start(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The 4x4 map: what latent directions analyse (gan_space.directions)."""
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass `labels`")
            z = z * self.label_embedding(labels)
        return self.init(z[:, :, None, None])

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.start(z, labels)
        maps = {4: x}
        for size in _sizes(self.config.resolution)[1:]:
            x = self.ups[str(size)](x)
            if str(size) in self.excite:
                x = self.excite[str(size)](maps[size // 16], x)
            maps[size] = x
        images = self.to_image(x)
        return images if self.training else images.clamp(-1, 1)


class DownBlock(nn.Module):
    """Half the size: (4x4 stride-2 conv, 3x3 conv) averaged with (2x2 pooling, 1x1 conv)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(in_channels, out_channels, 4, 2, 1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.LeakyReLU(0.2))
        self.skip = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(in_channels, out_channels, 1), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.skip(x)) / 2


class Decoder(nn.Sequential):
    """8x8 features -> a RECONSTRUCTION_SIZE picture (two upsamplings)."""

    def __init__(self, in_channels: int, channels: int):
        hidden = max(16, in_channels // 2)
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_channels, hidden * 2, 3, padding=1),
                         nn.GLU(dim=1), nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(hidden, hidden, 3, padding=1), nn.LeakyReLU(0.2),
                         nn.Conv2d(hidden, channels, 3, padding=1))


class FastGANDiscriminator(ModelMixin, ConfigMixin):
    """image -> stride-2 conv -> DownBlocks to 8x8 -> patch logits (averaged); with
    decoders for the reconstruction term (`forward(..., reconstruct=n, part=q)`)."""

    @register_to_config
    def __init__(self, resolution: int = 256, channels: int = 3, width: int = 16, num_classes: int = 0):
        super().__init__()
        _check(resolution, channels, width, num_classes)
        self.from_image = nn.Sequential(nn.Conv2d(channels, feature_channels(resolution // 2, width), 4, 2, 1),
                                        nn.LeakyReLU(0.2))
        sizes = [s for s in reversed(_sizes(resolution // 2)) if s >= 16]  # block inputs: res/2 ... 16
        self.downs = nn.ModuleDict({str(s): DownBlock(feature_channels(s, width), feature_channels(s // 2, width))
                                    for s in sizes})
        c8, c16 = feature_channels(8, width), feature_channels(16, width)
        self.head = nn.Sequential(nn.Conv2d(c8, c8, 1), nn.LeakyReLU(0.2), nn.Conv2d(c8, 1, 4))
        self.label_projection = nn.Embedding(num_classes, c8) if num_classes else None
        if self.label_projection is not None:
            nn.init.normal_(self.label_projection.weight, 0.0, c8 ** -0.5)
        self.decode_whole = Decoder(c8, channels)
        self.decode_part = Decoder(c16, channels)
        _init(self)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None, reconstruct: int = 0,
                part: int = 0):
        """Logits, one per picture. With `reconstruct` = n > 0, also the decoders' pictures
        for the first n: (logits, whole, quarter `part`: 0 top-left, 1 top-right, 2
        bottom-left, 3 bottom-right)."""
        x = self.from_image(images)
        maps = {}
        for size, block in self.downs.items():
            x = block(x)
            maps[int(size) // 2] = x
        h8 = maps[8]
        logits = self.head(h8).mean(dim=(1, 2, 3))
        if self.label_projection is not None:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass `labels`")
            logits = logits + (h8.mean(dim=(2, 3)) * self.label_projection(labels)).sum(1)
        if not reconstruct:
            return logits
        row, col = divmod(part, 2)
        quarter = maps[16][:reconstruct, :, row * 8:(row + 1) * 8, col * 8:(col + 1) * 8]
        return logits, self.decode_whole(h8[:reconstruct]), self.decode_part(quarter)


def _init(module: nn.Module) -> None:
    """He initialisation for leaky ReLU. PyTorch's default shrinks each layer's output by
    about 0.6 (it assumes a gain of 1/sqrt(3)); with no normalisation in D that left its
    logits near 1e-3 after ten layers, and at 128 px D hardly learnt in 500 steps (D loss
    0.691 = log 2). (FastGAN's code inits N(0, 0.02) and relies on spectral norm, not used here.)"""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class FastGANObjective(GANObjective):
    """The adversarial loss and penalties of GANObjective, plus FastGAN's reconstruction
    term for the discriminator (L1 between its decoders' pictures and the real pictures
    it judged, downscaled; logged as "recon")."""

    def discriminate(self, networks, images, labels, logs):
        num_real = images.shape[0] // 2  # reals first, then as many fakes
        # One quarter per step for the whole batch, as in the paper; drawn from the run's stream.
        part = int(torch.randint(4, (1,), device=images.device, generator=self.randomness.noise))
        logits, whole, quarter = networks.D_forward(images, labels, reconstruct=num_real, part=part)
        real = images[:num_real].float()
        half = real.shape[-1] // 2
        row, col = divmod(part, 2)
        real_quarter = real[..., row * half:(row + 1) * half, col * half:(col + 1) * half]
        size = (RECONSTRUCTION_SIZE, RECONSTRUCTION_SIZE)
        # "area" averages the pixels each target pixel covers: an antialiased downscale.
        loss = (F.l1_loss(whole.float(), F.interpolate(real, size=size, mode="area"))
                + F.l1_loss(quarter.float(), F.interpolate(real_quarter, size=size, mode="area")))
        logs["recon"] = loss.detach()
        return logits, {"reconstruction": RECONSTRUCTION_WEIGHT * loss}


# ---------------------------------------------------------------------------
# The family, as the trainer, the app and the Hub card see it


def _build(config, data):
    channels, resolution = data.data_shape[0], data.data_shape[-1]
    generator = FastGANGenerator(resolution=resolution, channels=channels, latent_dim=config.latent_dim,
                                 width=config.width, num_classes=data.num_classes)
    discriminator = FastGANDiscriminator(resolution=resolution, channels=channels, width=config.width,
                                         num_classes=data.num_classes)
    return generator, discriminator


def _first_layer(generator: FastGANGenerator, latents: torch.Tensor, labels: torch.Tensor | None):
    """The 4x4 map (transposed convolution + BatchNorm + GLU)."""
    return generator.start(latents, labels).flatten(1), "init"


FAMILY = register_family(NetworkFamily(
    name="fastgan",
    description="FastGAN (2021): skip-layer excitation, a self-supervised discriminator; the default from 128 px",
    generator_class=FastGANGenerator, discriminator_class=FastGANDiscriminator, build=_build,
    first_layer=_first_layer, data_kinds=("images",), resolutions=RESOLUTIONS, settings=("width",),
    # channels_last=False: measured faster here (BatchNorm backward in channels_last runs slowly on
    # the CPU: G 225 vs 327 ms, D 143 vs 102 ms for a 128 px step of 16).
    channels_last=False, mixed_precision=True, tags=("fastgan",), objective=FastGANObjective))
