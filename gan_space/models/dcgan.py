"""DCGAN-style convolutional generator and discriminator for square images.

The generator starts from a 4x4 feature map and doubles the resolution with
transposed convolutions until it reaches `resolution`; the discriminator mirrors
it with strided convolutions. Both work on logits (no final sigmoid): bf16
autocast saturates a sigmoid to exactly 1.0 and the discriminator stops learning.
"""

import math

import torch
from torch import nn
from diffusers import ModelMixin, ConfigMixin
from diffusers.configuration_utils import register_to_config

from .registry import NetworkFamily, register_family

SUPPORTED_RESOLUTIONS = (8, 16, 32, 64, 128)


def _check_image_config(resolution: int, channels: int, width: int, num_classes: int) -> None:
    if resolution not in SUPPORTED_RESOLUTIONS:
        raise ValueError(f"resolution must be one of {SUPPORTED_RESOLUTIONS}, got {resolution}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if width < 8:
        raise ValueError(f"width must be at least 8, got {width}")
    if num_classes < 0:
        raise ValueError(f"num_classes must be 0 (unconditional) or more, got {num_classes}")


def _channels_at(level: int, width: int, max_multiplier: int = 8) -> int:
    """Feature channels at `level` doublings below the output (0 = full resolution)."""
    return width * min(2**level, max_multiplier)


class DCGANGenerator(ModelMixin, ConfigMixin):
    """Maps a latent vector (and optionally a class label) to an image in [-1, 1]."""

    @register_to_config
    def __init__(
        self,
        resolution: int = 32,
        channels: int = 3,
        latent_dim: int = 100,
        width: int = 64,
        num_classes: int = 0,
    ):
        super().__init__()
        _check_image_config(resolution, channels, width, num_classes)
        num_upsamples = int(math.log2(resolution)) - 2
        self.label_embedding = nn.Embedding(num_classes, latent_dim) if num_classes else None

        start_channels = _channels_at(num_upsamples, width)
        self.project = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, start_channels, 4, 1, 0, bias=False),
            nn.BatchNorm2d(start_channels),
            nn.ReLU(inplace=True),
        )
        blocks = []
        for level in range(num_upsamples, 1, -1):
            in_ch, out_ch = _channels_at(level, width), _channels_at(level - 1, width)
            blocks += [
                nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=False),
                nn.BatchNorm2d(out_ch),
                nn.ReLU(inplace=True),
            ]
        self.blocks = nn.Sequential(*blocks)
        last_ch = _channels_at(min(1, num_upsamples), width)
        self.to_image = nn.ConvTranspose2d(last_ch, channels, 4, 2, 1)
        _dcgan_init(self)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass `labels`")
            z = z * self.label_embedding(labels)
        x = self.project(z[:, :, None, None])
        x = self.blocks(x)
        return torch.tanh(self.to_image(x))


class DCGANDiscriminator(ModelMixin, ConfigMixin):
    """Scores images (real = high logit). Optional spectral norm, PacGAN packing and
    a projection head for class labels (Miyato & Koyama, 2018)."""

    @register_to_config
    def __init__(
        self,
        resolution: int = 32,
        channels: int = 3,
        width: int = 64,
        num_classes: int = 0,
        spectral_norm: bool = False,
        pack: int = 1,
    ):
        super().__init__()
        _check_image_config(resolution, channels, width, num_classes)
        if not 1 <= pack <= 4:
            raise ValueError(f"pack must be between 1 and 4, got {pack}")
        num_downsamples = int(math.log2(resolution)) - 2
        norm = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)

        layers = [norm(nn.Conv2d(channels * pack, _channels_at(min(1, num_downsamples), width), 4, 2, 1)),
                  nn.LeakyReLU(0.2, inplace=True)]
        for level in range(1, num_downsamples):
            in_ch, out_ch = _channels_at(level, width), _channels_at(level + 1, width)
            layers += [norm(nn.Conv2d(in_ch, out_ch, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        feature_dim = _channels_at(num_downsamples, width)
        self.to_logit = norm(nn.Conv2d(feature_dim, 1, 4, 1, 0))
        # Projection discriminator: the label embedding is dotted with the pooled features.
        self.label_projection = norm(nn.Embedding(num_classes, feature_dim)) if num_classes else None
        _dcgan_init(self)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        pack = self.config.pack
        if pack > 1:
            # PacGAN: D judges `pack` samples at once, which exposes missing modes.
            images = images.reshape(images.shape[0] // pack, pack * images.shape[1], *images.shape[2:])
        h = self.features(images)
        logits = self.to_logit(h).flatten(1).squeeze(1)
        if self.label_projection is not None:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass `labels`")
            pooled = h.sum(dim=(2, 3))
            label_emb = self.label_projection(labels)
            if pack > 1:
                label_emb = label_emb.reshape(pooled.shape[0], pack, -1).mean(1)
            logits = logits + (pooled * label_emb).sum(1)
        return logits


def _dcgan_init(module: nn.Module) -> None:
    # The DCGAN paper's initialisation: N(0, 0.02) weights, BatchNorm gain N(1, 0.02).
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------
# The family, as the trainer, the app and the Hub card see it


def _build(config, data):
    channels, resolution = data.data_shape[0], data.data_shape[-1]
    generator = DCGANGenerator(resolution=resolution, channels=channels, latent_dim=config.latent_dim,
                               width=config.width, num_classes=data.num_classes)
    discriminator = DCGANDiscriminator(resolution=resolution, channels=channels, width=config.width,
                                       num_classes=data.num_classes, spectral_norm=config.spectral_norm,
                                       pack=config.pack)
    return generator, discriminator


def _first_layer(generator: DCGANGenerator, latents: torch.Tensor, labels: torch.Tensor | None):
    """The 4x4 `project` block (transposed convolution + BatchNorm + ReLU)."""
    z = latents
    if generator.label_embedding is not None:
        z = z * generator.label_embedding(labels)
    return generator.project(z[:, :, None, None]).flatten(1), "project"


# The classic recipe (Radford et al., 2015: Adam 2e-4, beta1 0.5, batch 64) plus EMA and flips.
CLASSIC_RECIPE = dict(arch="dcgan", resolution=32, channels=3, width=64, latent_dim=100, batch_size=64,
                      steps=5000, lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, r1_gamma=0.0, ema_decay=0.999,
                      lr_decay_fraction=0.0, augment="flip", sample_every=250, checkpoint_every=1000)

FAMILY = register_family(NetworkFamily(
    name="dcgan", description="DCGAN (2015): transposed convolutions with BatchNorm; the classic recipe",
    generator_class=DCGANGenerator, discriminator_class=DCGANDiscriminator, build=_build,
    first_layer=_first_layer, data_kinds=("images",), resolutions=SUPPORTED_RESOLUTIONS,
    settings=("width", "spectral_norm", "pack"), channels_last=True, mixed_precision=True, tags=("dcgan",),
    picture_recipe=CLASSIC_RECIPE))
