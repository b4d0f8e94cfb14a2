"""Residual generator and discriminator without normalisation layers, for 16-128 px
pictures: the architecture of R3GAN ("The GAN is dead; long live the GAN!", Huang et
al., 2025, arXiv 2501.05441), cut to widths a CPU trains in minutes.

What is kept from the paper (written from its description, section 3):

- no BatchNorm or other normalisation anywhere: with a well-behaved loss (RpGAN + R1 +
  R2, gan_space.losses) plain residual networks train stably;
- residual blocks `x + conv(act(conv(act(x))))` whose last convolution starts at zero
  and whose first is scaled by L^-1/2 for L blocks (fix-up initialisation): every block
  starts as the identity, so a deep stack starts as a shallow, well-conditioned network;
- leaky ReLU (0.2);
- resolution changes outside the blocks: bilinear upsampling in G, 2x2 average
  pooling in D, with a 1x1 convolution where the channel count changes (done at the
  smaller resolution, where it is cheaper);
- a linear output layer (no tanh: white backgrounds sit at exactly 1, which tanh
  reaches only at infinity); samples are clamped to [-1, 1] outside training.

What is changed for the CPU: plain 3x3 convolutions instead of the paper's grouped,
inverted-bottleneck ones (grouped convolutions run far below peak on a CPU), one block
per resolution by default, and small widths: `width` channels at the largest map,
doubling at each halving up to 8x `width` (the same arithmetic at every resolution).
From 64 px the networks work on maps of 32x32 (`shuffle`): G's last convolution makes
shuffle^2 pixels per position (sub-pixel convolution, ESPCN) and D starts by folding
each shuffle x shuffle block of pixels into channels (space-to-depth). On this
project's 2-core CPU a 16-channel 64x64 convolution runs at a third of the speed of the
same arithmetic on smaller maps, and the 64x64 stage cost as much as all the others:
folded, a 64 px step costs about what a 32 px one does.
"""

import math

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .registry import NetworkFamily, register_family

RESOLUTIONS = (16, 32, 64, 128)
MAX_MULTIPLIER = 8  # channels grow by 2 per halving of the resolution, up to 8x width


def default_shuffle(resolution: int) -> int:
    """Pixels per side folded into one position: the networks' largest map is 32x32."""
    return max(1, resolution // 32)


def _check(resolution: int, channels: int, width: int, num_classes: int, blocks: int, shuffle: int) -> None:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if width < 8:
        raise ValueError(f"width must be at least 8, got {width}")
    if num_classes < 0:
        raise ValueError(f"num_classes must be 0 (unconditional) or more, got {num_classes}")
    if not 1 <= blocks <= 4:
        raise ValueError(f"blocks must be from 1 to 4, got {blocks}")
    if shuffle not in (1, 2, 4) or resolution // shuffle < 8:
        raise ValueError(f"shuffle must be 1, 2 or 4 and leave maps of at least 8x8, got {shuffle}")


def stage_channels(resolution: int, width: int, shuffle: int = 1) -> list[tuple[int, int]]:
    """(size, channels) of each stage, from 4x4 up to the largest map (resolution / shuffle)."""
    top = resolution // shuffle
    sizes = [4 * 2**i for i in range(int(math.log2(top)) - 1)]
    return [(size, width * min(top // size, MAX_MULTIPLIER)) for size in sizes]


class ResidualBlock(nn.Module):
    """x + conv(lrelu(conv(lrelu(x)))), with fix-up initialisation (see the module)."""

    def __init__(self, channels: int, num_blocks: int):
        super().__init__()
        self.conv_a = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_b = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.kaiming_normal_(self.conv_a.weight, a=0.2, nonlinearity="leaky_relu")
        with torch.no_grad():
            self.conv_a.weight.mul_(num_blocks ** -0.5)
        nn.init.zeros_(self.conv_a.bias)
        nn.init.zeros_(self.conv_b.weight)  # the block starts as the identity
        nn.init.zeros_(self.conv_b.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_b(F.leaky_relu(self.conv_a(F.leaky_relu(x, 0.2)), 0.2))


def _linear_init(module: nn.Module, gain: float = 1.0) -> nn.Module:
    nn.init.kaiming_normal_(module.weight, nonlinearity="linear")
    with torch.no_grad():
        module.weight.mul_(gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


class ResidualGenerator(ModelMixin, ConfigMixin):
    """latent (and class) -> a 4x4 basis -> [residual blocks, bilinear upsampling] -> image.
    Images in [-1, 1] outside training (clamped); in training the output is linear."""

    @register_to_config
    def __init__(self, resolution: int = 32, channels: int = 3, latent_dim: int = 64, width: int = 32,
                 num_classes: int = 0, blocks: int = 1, shuffle: int | None = None):
        super().__init__()
        self.shuffle = default_shuffle(resolution) if shuffle is None else shuffle
        _check(resolution, channels, width, num_classes, blocks, self.shuffle)
        stages = stage_channels(resolution, width, self.shuffle)
        total_blocks = len(stages) * blocks
        self.label_embedding = nn.Embedding(num_classes, latent_dim) if num_classes else None
        first = stages[0][1]
        self.basis = _linear_init(nn.Linear(latent_dim, first * 16), gain=math.sqrt(2 / (1 + 0.2**2)))
        self.stages = nn.ModuleList()
        self.transitions = nn.ModuleList()
        for i, (_, ch) in enumerate(stages):
            self.stages.append(nn.Sequential(*[ResidualBlock(ch, total_blocks) for _ in range(blocks)]))
            if i + 1 < len(stages):
                out = stages[i + 1][1]
                # Channels change at the lower resolution (cheaper), then bilinear upsampling.
                self.transitions.append(_linear_init(nn.Conv2d(ch, out, 1)) if out != ch else nn.Identity())
        # shuffle^2 pixels per position (1: a plain 1x1 convolution to the picture); 3x3 so that
        # neighbouring blocks of pixels agree.
        kernel = 1 if self.shuffle == 1 else 3
        self.to_image = _linear_init(nn.Conv2d(stages[-1][1], channels * self.shuffle**2, kernel, padding=kernel // 2))

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def start(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The 4x4 basis: what latent directions analyse (gan_space.directions)."""
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass `labels`")
            z = z * self.label_embedding(labels)
        x = self.basis(z).reshape(z.shape[0], -1, 4, 4)
        return F.leaky_relu(x, 0.2)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.start(z, labels)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.transitions):
                x = F.interpolate(self.transitions[i](x), scale_factor=2, mode="bilinear", align_corners=False)
        images = self.to_image(F.leaky_relu(x, 0.2))
        if self.shuffle > 1:
            images = F.pixel_shuffle(images, self.shuffle)
        # Sampling (eval mode) keeps the promise of pictures in [-1, 1]; training keeps the
        # gradient of every pixel (a clamp would stop pixels that overshoot from coming back).
        return images if self.training else images.clamp(-1, 1)


class ResidualDiscriminator(ModelMixin, ConfigMixin):
    """image -> 1x1 conv -> [residual blocks, 2x2 average pooling] -> 4x4 -> linear -> logit.
    Class-conditional by projection (Miyato & Koyama, 2018)."""

    @register_to_config
    def __init__(self, resolution: int = 32, channels: int = 3, width: int = 32, num_classes: int = 0,
                 blocks: int = 1, shuffle: int | None = None):
        super().__init__()
        self.shuffle = default_shuffle(resolution) if shuffle is None else shuffle
        _check(resolution, channels, width, num_classes, blocks, self.shuffle)
        stages = list(reversed(stage_channels(resolution, width, self.shuffle)))  # from the largest map to 4x4
        total_blocks = len(stages) * blocks
        self.from_image = _linear_init(nn.Conv2d(channels * self.shuffle**2, stages[0][1], 1))
        self.stages = nn.ModuleList()
        self.transitions = nn.ModuleList()
        for i, (_, ch) in enumerate(stages):
            self.stages.append(nn.Sequential(*[ResidualBlock(ch, total_blocks) for _ in range(blocks)]))
            if i + 1 < len(stages):
                out = stages[i + 1][1]
                self.transitions.append(_linear_init(nn.Conv2d(ch, out, 1)) if out != ch else nn.Identity())
        last = stages[-1][1]
        self.head = _linear_init(nn.Linear(last * 16, last), gain=math.sqrt(2 / (1 + 0.2**2)))
        self.to_logit = _linear_init(nn.Linear(last, 1))
        self.label_projection = nn.Embedding(num_classes, last) if num_classes else None
        if self.label_projection is not None:
            nn.init.normal_(self.label_projection.weight, 0.0, last ** -0.5)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.shuffle > 1:
            images = F.pixel_unshuffle(images, self.shuffle)  # each block of pixels becomes one position
        x = self.from_image(images)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.transitions):
                # Pool first, then change channels at the lower resolution (a quarter of the work).
                x = self.transitions[i](F.avg_pool2d(x, 2))
        h = F.leaky_relu(self.head(F.leaky_relu(x, 0.2).flatten(1)), 0.2)
        logits = self.to_logit(h).squeeze(1)
        if self.label_projection is not None:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass `labels`")
            logits = logits + (h * self.label_projection(labels)).sum(1)
        return logits


# ---------------------------------------------------------------------------
# The family, as the trainer, the app and the Hub card see it


def _build(config, data):
    channels, resolution = data.data_shape[0], data.data_shape[-1]
    generator = ResidualGenerator(resolution=resolution, channels=channels, latent_dim=config.latent_dim,
                                  width=config.width, num_classes=data.num_classes)
    discriminator = ResidualDiscriminator(resolution=resolution, channels=channels, width=config.width,
                                          num_classes=data.num_classes)
    return generator, discriminator


def _first_layer(generator: ResidualGenerator, latents: torch.Tensor, labels: torch.Tensor | None):
    """The 4x4 basis (linear projection of the latent + leaky ReLU)."""
    return generator.start(latents, labels).flatten(1), "basis"


FAMILY = register_family(NetworkFamily(
    name="resnet",
    description="R3GAN-style residual networks without normalisation (2025); the default for 16-64 px pictures",
    generator_class=ResidualGenerator, discriminator_class=ResidualDiscriminator, build=_build,
    first_layer=_first_layer, data_kinds=("images",), resolutions=RESOLUTIONS, settings=("width",),
    channels_last=True, mixed_precision=True, tags=("r3gan", "resnet")))
