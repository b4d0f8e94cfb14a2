"""ESRGAN (Wang et al., 2018) for super-resolution, made small: a generator of
residual-in-residual dense blocks (RRDB) without BatchNorm, and a relativistic
discriminator.

The generator works at the input's size and upscales at the end as ESRGAN does (nearest
neighbour x2 and a convolution per doubling, two more convolutions at the output size;
`upsampler="shuffle"`, ESPCN's sub-pixel convolution, is cheaper but under the adversarial
loss it drew a regular dot pattern on flat areas, and on the emoji benchmark it also trained
to 1 dB less PSNR in the same steps); it adds what it computes to the bicubic upscale of
its input, and its last layer starts at zero, so it begins as bicubic and learns the
detail bicubic misses (VDSR's global residual: on a CPU budget it converges far sooner).
Residual scaling (0.2) and a small initialisation (x0.1) keep a deep stack of blocks
stable without normalisation, as the paper does.

The discriminator is a PatchGAN over the output alone (ESRGAN's D sees only the large
picture); "relativistic" is the loss: with loss="rpgan" each real picture is judged
against the output made from its own input (the natural pairing here), the relativistic
game ESRGAN uses, through the shared update step. An L1-only setting
(adversarial_weight=0) trains the same generator as the paper's PSNR-oriented
"RRDB_PSNR" / SRResNet baseline.
"""

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .registry import NetworkFamily, register_family
from .unet import PatchDiscriminator, TranslatorMixin, _check_translator, discriminator_layers, \
    no_latent_space

RESIDUAL_SCALE = 0.2
UPSAMPLERS = ("nearest", "shuffle")


class _DenseBlock(nn.Module):
    """Five 3x3 convolutions, each seeing every earlier output (dense connections)."""

    def __init__(self, width: int, growth: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(width + i * growth, growth if i < 4 else width, 3, 1, 1)
                                   for i in range(5))
        self.act = nn.LeakyReLU(0.2, inplace=True)
        for conv in self.convs:  # ESRGAN's initialisation: Kaiming, scaled by 0.1
            nn.init.kaiming_normal_(conv.weight, a=0.2)
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x):
        outputs = [x]
        for conv in self.convs[:-1]:
            outputs.append(self.act(conv(torch.cat(outputs, 1))))
        return x + RESIDUAL_SCALE * self.convs[-1](torch.cat(outputs, 1))


class _RRDB(nn.Module):
    def __init__(self, width: int, growth: int):
        super().__init__()
        self.blocks = nn.Sequential(*(_DenseBlock(width, growth) for _ in range(3)))

    def forward(self, x):
        return x + RESIDUAL_SCALE * self.blocks(x)


class RRDBGenerator(TranslatorMixin, ModelMixin, ConfigMixin):
    """Input (N, in_channels, h, w) -> output (N, channels, h*scale, w*scale), any h and w."""

    @register_to_config
    def __init__(self, in_channels: int = 3, channels: int = 3, scale: int = 4, width: int = 32, blocks: int = 2,
                 growth: int = 16, residual: bool = True, task: str = "super-resolution", upsampler: str = "nearest"):
        super().__init__()
        _check_translator(in_channels, channels, scale, width)
        if not 1 <= blocks <= 23:
            raise ValueError(f"blocks must be from 1 to 23 (ESRGAN's full size), got {blocks}")
        if upsampler not in UPSAMPLERS:
            raise ValueError(f"upsampler must be one of {UPSAMPLERS}, got {upsampler!r}")
        act = lambda: nn.LeakyReLU(0.2, inplace=True)  # noqa: E731
        self.first = nn.Conv2d(in_channels, width, 3, 1, 1)
        self.body = nn.Sequential(*(_RRDB(width, growth) for _ in range(blocks)))
        self.body_end = nn.Conv2d(width, width, 3, 1, 1)
        if upsampler == "nearest":
            # ESRGAN's: nearest-neighbour x2 and a convolution per doubling, then two at the output size.
            # Every output pixel is computed alike, so the adversarial loss cannot pull the sub-pixel
            # positions apart (with the sub-pixel convolution it drew a regular dot pattern on flat areas).
            self.upsample = nn.Sequential(*(
                layer for _ in range(int(scale).bit_length() - 1)
                for layer in (nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, width, 3, 1, 1), act())))
            self.high = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), act())
            self.last = nn.Conv2d(width, channels, 3, 1, 1)
            self.shuffle = nn.Identity()
        else:
            # ESPCN's sub-pixel convolution as the last layer: every output pixel computed at the input's
            # size and rearranged (pixel shuffle), 10-20x cheaper than convolving at the output's size.
            self.upsample = nn.Identity()
            self.high = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), act())
            self.last = nn.Conv2d(width, channels * scale * scale, 3, 1, 1)
            self.shuffle = nn.PixelShuffle(scale)
        if residual:
            nn.init.zeros_(self.last.weight)
            nn.init.zeros_(self.last.bias)

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        features = self.first(condition)
        features = features + self.body_end(self.body(features))
        out = self.shuffle(self.last(self.high(self.upsample(features))))
        if self.config.residual:
            return self.baseline(condition) + out
        return torch.tanh(out)


class RelativisticDiscriminator(PatchDiscriminator):
    """ESRGAN's discriminator role: judges the large picture alone (condition_channels=0),
    trained with a relativistic loss (see the module's docstring)."""


def _build(config, data):
    in_channels, out_channels = data.condition_shape[0], data.data_shape[0]
    resolution = data.data_shape[-1]
    scale = resolution // data.condition_shape[-1]
    generator = RRDBGenerator(in_channels=in_channels, channels=out_channels, scale=scale, width=config.width,
                              blocks=config.num_layers, growth=max(8, config.width // 2),
                              residual=data.residual, task=config.task)
    discriminator = RelativisticDiscriminator(channels=out_channels, condition_channels=0, width=config.width,
                                              layers=discriminator_layers(resolution),
                                              spectral_norm=config.spectral_norm)
    return generator, discriminator


FAMILY = register_family(NetworkFamily(
    name="rrdb", description="ESRGAN (2018), small: residual-in-residual dense blocks, relativistic PatchGAN "
                             "discriminator; super-resolution x2/x4 (also colourisation and your pairs)",
    generator_class=RRDBGenerator, discriminator_class=RelativisticDiscriminator, build=_build,
    first_layer=no_latent_space, data_kinds=("pairs",), min_resolution=16, max_resolution=256,
    settings=("width", "num_layers", "spectral_norm"), channels_last=True, mixed_precision=True,
    tags=("esrgan", "super-resolution", "image-to-image")))
