"""pix2pix (Isola et al., 2017) for image-to-image translation: a U-Net generator that maps
a picture to a picture, and a PatchGAN discriminator that judges overlapping patches of
(input, output) pairs.

Two departures from the paper, both so that a model trained on small pictures can be
applied to large ones in tiles (gan_space.translation.apply): no normalisation layers
(a BatchNorm or InstanceNorm output depends on the statistics of the whole tile, so two
tiles of one picture would be drawn differently and the seams would show; ESRGAN drops
BatchNorm for the same reason), and no dropout (the paper notes its generator learns to
ignore it). Upsampling is nearest-neighbour followed by a 3x3 convolution, which avoids
the checkerboard pattern of transposed convolutions (Odena et al., 2016).

Colourisation and super-resolution are residual: the generator adds to its input (grey
repeated to three channels, or the bicubic upscale), and its last layer starts at zero,
so training starts from that baseline instead of from noise.
"""

import math

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from ..pairs import match_channels
from .registry import NetworkFamily, register_family

MAX_WIDTH_MULTIPLIER = 8


def _widths(width: int, levels: int, most: int = MAX_WIDTH_MULTIPLIER) -> list[int]:
    return [width * min(2**level, most) for level in range(levels + 1)]


def _check_translator(in_channels: int, channels: int, scale: int, width: int, frames: int = 1) -> None:
    if frames < 1 or in_channels % frames or in_channels // frames not in (1, 3) or channels not in (1, 3):
        raise ValueError(f"in_channels (per frame, of {frames} frame(s)) and channels must be 1 (grey) or 3 (RGB), "
                         f"got {in_channels} and {channels}")
    if scale not in (1, 2, 4):
        raise ValueError(f"scale must be 1, 2 or 4, got {scale}")
    if width < 4:
        raise ValueError(f"width must be at least 4, got {width}")


class TranslatorMixin:
    """What every image-to-image generator offers: `forward(condition)` maps [-1, 1]
    pictures (N, in_channels, h, w) to [-1, 1] pictures (N, channels, h*scale, w*scale),
    for any h and w; `multiple` says what sizes it computes without padding (the tiled
    apply pads the rest)."""

    is_translator = True

    @property
    def multiple(self) -> int:
        return 1

    def baseline(self, condition: torch.Tensor) -> torch.Tensor:
        """The residual models' starting point: the input upscaled (bicubic) and matched in channels;
        of several frames stacked in channels (next-frame prediction), the last one."""
        x = condition
        frames = self.config.get("frames", 1)
        if frames > 1:
            x = x[:, -(x.shape[1] // frames):]
        if self.config.scale > 1:
            x = F.interpolate(x, scale_factor=self.config.scale, mode="bicubic", align_corners=False)
        return match_channels(x, self.config.channels)


class UNetGenerator(TranslatorMixin, ModelMixin, ConfigMixin):
    """A U-Net: `depth` times (stride-2 convolution, convolution) down, the same up with the
    skip connections of the paper, then a 3x3 convolution to the output channels."""

    @register_to_config
    def __init__(self, in_channels: int = 1, channels: int = 3, scale: int = 1, width: int = 32, depth: int = 4,
                 residual: bool = False, task: str = "paired", frames: int = 1):
        super().__init__()
        _check_translator(in_channels, channels, scale, width, frames)
        if not 1 <= depth <= 7:
            raise ValueError(f"depth must be from 1 to 7, got {depth}")
        widths = _widths(width, depth)
        act = lambda: nn.LeakyReLU(0.2, inplace=True)  # noqa: E731
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1), act())
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1), act(),
                          nn.Conv2d(widths[i + 1], widths[i + 1], 3, 1, 1), act())
            for i in range(depth))
        self.up = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(widths[i + 1], widths[i], 3, 1, 1),
                          act())
            for i in range(depth))
        self.merge = nn.ModuleList(nn.Sequential(nn.Conv2d(2 * widths[i], widths[i], 3, 1, 1), act())
                                   for i in range(depth))
        self.head = nn.Conv2d(widths[0], channels, 3, 1, 1)
        if residual:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @property
    def multiple(self) -> int:
        return 2 ** self.config.depth

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        scale, depth = self.config.scale, self.config.depth
        x = condition
        if scale > 1:  # super-resolution: the U-Net works at the output size, on the bicubic upscale
            x = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
        height, width = x.shape[-2:]
        step = 2**depth
        pad_h, pad_w = (-height) % step, (-width) % step
        if pad_h or pad_w:  # any size works: pad to a multiple of 2**depth, crop after
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        h = self.stem(x)
        skips = []
        for block in self.down:
            skips.append(h)
            h = block(h)
        for i in reversed(range(depth)):
            h = self.merge[i](torch.cat([self.up[i](h), skips[i]], 1))
        out = self.head(h)[..., :height, :width]
        if self.config.residual:
            return self.baseline(condition) + out
        return torch.tanh(out)


class PatchDiscriminator(ModelMixin, ConfigMixin):
    """PatchGAN: a map of logits, one per overlapping patch (70x70 pixels with layers=3, the
    paper's choice). With `condition_channels`, it judges the pair: the input (upscaled to
    the picture's size) stacked on the picture, as pix2pix's conditional D; it takes the
    input where class-conditional discriminators take their labels, so the shared update
    step conditions it like any other (gan_space.objectives.TranslationObjective)."""

    @register_to_config
    def __init__(self, channels: int = 3, condition_channels: int = 0, width: int = 32, layers: int = 3,
                 spectral_norm: bool = False):
        super().__init__()
        past_frames = condition_channels > 0 and condition_channels % channels == 0  # next-frame prediction
        if channels not in (1, 3) or not (condition_channels in (0, 1, 3) or past_frames):
            raise ValueError(f"channels must be 1 or 3 and condition_channels 0, 1, 3 or a multiple of channels (past "
                             f"frames), got {channels} and {condition_channels}")
        if not 1 <= layers <= 5:
            raise ValueError(f"layers must be from 1 to 5, got {layers}")
        norm = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        widths = _widths(width, layers, most=4)  # (the paper's 8x: twice the cost for little on small pictures)
        blocks = [nn.Sequential(norm(nn.Conv2d(channels + condition_channels, widths[0], 4, 2, 1)),
                                nn.LeakyReLU(0.2))]
        for i in range(1, layers):
            blocks.append(nn.Sequential(norm(nn.Conv2d(widths[i - 1], widths[i], 4, 2, 1)), nn.LeakyReLU(0.2)))
        blocks.append(nn.Sequential(norm(nn.Conv2d(widths[layers - 1], widths[layers], 4, 1, 1)), nn.LeakyReLU(0.2)))
        self.blocks = nn.ModuleList(blocks)
        self.to_logits = norm(nn.Conv2d(widths[layers], 1, 4, 1, 1))

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None, return_features: bool = False):
        """Logits (N, 1, h, w) for the patches of `images`; `labels` is the input picture when
        the discriminator is conditional. With return_features, also each block's activations
        (what feature matching compares)."""
        x = images
        if self.config.condition_channels:
            if labels is None:
                raise ValueError("this discriminator judges (input, output) pairs: pass the input as `labels`")
            condition = labels.to(images.dtype)
            if condition.shape[-2:] != images.shape[-2:]:
                condition = F.interpolate(condition, size=images.shape[-2:], mode="nearest")
            x = torch.cat([condition, x], 1)
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        logits = self.to_logits(x)
        return (logits, features) if return_features else logits


def discriminator_layers(resolution: int) -> int:
    """Downsamplings that leave a map of patches at least 8 pixels wide before the two last
    convolutions: 3 (the paper's 70x70 patches) from 64 pixels up."""
    return max(1, min(3, int(math.log2(resolution)) - 3))


def unet_depth(resolution: int) -> int:
    """Down to a 4x4 bottleneck, at most 5 levels (the tiled apply works in tiles of 128 or more)."""
    return max(1, min(5, int(math.log2(resolution)) - 2))


# ---------------------------------------------------------------------------
# The family


def _build(config, data):
    in_channels, out_channels = data.condition_shape[0], data.data_shape[0]
    resolution = data.data_shape[-1]
    scale = resolution // data.condition_shape[-1]
    generator = UNetGenerator(in_channels=in_channels, channels=out_channels, scale=scale, width=config.width,
                              depth=unet_depth(resolution), residual=data.residual, task=config.task,
                              frames=data.frames)
    discriminator = PatchDiscriminator(channels=out_channels, condition_channels=in_channels, width=config.width,
                                       layers=discriminator_layers(resolution), spectral_norm=config.spectral_norm)
    return generator, discriminator


def no_latent_space(generator, latents, labels):
    raise ValueError(f"{type(generator).__name__} maps pictures to pictures: it has no latent space to steer")


FAMILY = register_family(NetworkFamily(
    name="unet", description="pix2pix (2017): U-Net generator, conditional PatchGAN discriminator; picture -> picture "
                             "(colourisation, sketches, your pairs, super-resolution)",
    generator_class=UNetGenerator, discriminator_class=PatchDiscriminator, build=_build,
    first_layer=no_latent_space, data_kinds=("pairs",), min_resolution=16, max_resolution=256,
    settings=("width", "spectral_norm"), channels_last=True, mixed_precision=True,
    tags=("pix2pix", "image-to-image", "u-net")))
