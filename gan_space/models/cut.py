"""CUT (Park et al., 2020, "Contrastive Learning for Unpaired Image-to-Image Translation"):
one generator A -> B, kept faithful to its input by a contrastive loss on patches
(PatchNCE: a patch of the output should match the input's patch at the same place more
than the input's other patches) instead of CycleGAN's second generator and cycle; the
update step is gan_space.objectives.unpaired.CUTObjective. The default for unpaired
translation: half CycleGAN's networks, and the better FID in the paper.

The generator is CycleGAN's ResNet translator (stride-2 convolutions down, residual
blocks, back up), with three departures:

- no normalisation layers: InstanceNorm (the papers' choice) normalises by the statistics
  of the whole picture, so two tiles of one large picture would be drawn differently and
  the seams would show (gan_space.translation.apply works in tiles). In its place each
  residual block's last convolution starts at zero (Fixup, Zhang et al. 2019), so the
  blocks start as identities and the unnormalised activations cannot blow up with depth;
- resize-convolutions up (nearest neighbour x2, then a 3x3 convolution): transposed
  convolutions leave checkerboard artefacts (Odena et al., 2016), which CycleGAN's users
  report;
- a residual start (`residual=True`, what the families build): the output is the input
  plus a correction whose last layer starts at zero, so training starts from "change
  nothing", which keeps the content while the adversarial loss moves the style.

`encode_features(x, layers)` gives the encoder's activations that PatchNCE compares, and
the small MLP heads that project them (`project`) live inside the generator, so its
optimiser, EMA and checkpoints cover them; inference never uses them.

The discriminator is the PatchGAN of pix2pix/CycleGAN (gan_space.models.unet), judging B
pictures alone, with one downsampling fewer than the 70x70 one at 64 px (34x34 patches:
a style is judged on textures and parts, not the whole picture).
"""

import math

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from ..objectives.unpaired import CUTObjective
from ..pairs import match_channels
from .registry import NetworkFamily, register_family
from .unet import PatchDiscriminator, TranslatorMixin, _check_translator, no_latent_space

DEFAULT_NCE_LAYERS = (0, 1, 2, 3, 4)  # the picture, the stem, both downsamplings, the first residual block
DEFAULT_NCE_FEATURES = 256  # the projection heads' output size (CUT's)


def _activation() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class ResidualBlock(nn.Module):
    """x + conv(act(conv(x))), the second convolution starting at zero (the block starts as
    the identity: what stands in for the normalisation layers this translator has not)."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), _activation(), nn.Conv2d(width, width, 3, 1, 1))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    """CycleGAN's ResNet generator without normalisation: a 7x7 stem, `downsamplings`
    stride-2 convolutions, `blocks` residual blocks, as many resize-convolutions up, a 7x7
    head. Pictures of any size (padded to a multiple of 2**downsamplings, cropped after).
    A plain module: CUT's generator holds one, CycleGAN's two."""

    def __init__(self, in_channels: int, channels: int, width: int, downsamplings: int, blocks: int, residual: bool):
        super().__init__()
        if not 1 <= downsamplings <= 4:
            raise ValueError(f"downsamplings must be from 1 to 4, got {downsamplings}")
        if not 1 <= blocks <= 12:
            raise ValueError(f"blocks must be from 1 to 12, got {blocks}")
        self.in_channels, self.channels, self.residual = in_channels, channels, residual
        self.downsamplings = downsamplings
        widths = [width * 2**level for level in range(downsamplings + 1)]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 7, 1, 3), _activation())
        self.down = nn.ModuleList(nn.Sequential(nn.Conv2d(widths[i], widths[i + 1], 3, 2, 1), _activation())
                                  for i in range(downsamplings))
        self.blocks = nn.ModuleList(ResidualBlock(widths[-1]) for _ in range(blocks))
        self.up = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(widths[i + 1], widths[i], 3, 1, 1),
                          _activation())
            for i in reversed(range(downsamplings)))
        self.head = nn.Conv2d(widths[0], channels, 7, 1, 3)
        if residual:  # the correction starts at zero: the output starts as the input
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        # What each index of `stage_widths` / `encode` means: 0 the picture, 1 the stem, then each
        # downsampling, then each residual block.
        self.stage_widths = [in_channels, widths[0], *widths[1:], *([widths[-1]] * blocks)]

    @property
    def multiple(self) -> int:
        return 2**self.downsamplings

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = (-x.shape[-2]) % self.multiple, (-x.shape[-1]) % self.multiple
        return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x

    def encode(self, x: torch.Tensor, layers) -> list[torch.Tensor]:
        """The activations of the stages named in `layers` (indices into `stage_widths`), in that order."""
        wanted = set(layers)
        if not wanted or min(wanted) < 0 or max(wanted) >= len(self.stage_widths):
            raise ValueError(f"layers must be indices from 0 to {len(self.stage_widths) - 1}, got {list(layers)}")
        found = {}
        h = self._pad(x)
        stages = [self.stem, *self.down, *self.blocks]
        if 0 in wanted:
            found[0] = h
        for index, stage in enumerate(stages, start=1):
            if index > max(wanted):
                break
            h = stage(h)
            if index in wanted:
                found[index] = h
        return [found[index] for index in layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        h = self.stem(self._pad(x))
        for stage in (*self.down, *self.blocks, *self.up):
            h = stage(h)
        out = self.head(h)[..., :height, :width]
        if self.residual:
            return match_channels(x, self.channels) + out
        return torch.tanh(out)


class UnpairedTranslatorMixin(TranslatorMixin):
    """What an unpaired translator adds to TranslatorMixin: the directions it maps
    (`directions`) and `translator(direction)`, a module that maps that way, with a config
    saying its channels, for the tiled apply (gan_space.translation)."""

    directions = ("AtoB",)

    @property
    def multiple(self) -> int:
        return 2**self.config.downsamplings

    def translator(self, direction: str = "AtoB") -> nn.Module:
        if direction not in self.directions:
            raise ValueError(f"{type(self).__name__} maps {' and '.join(self.directions)} only, not {direction!r}"
                             + ("; CycleGAN (arch='cyclegan') learns both directions" if direction == "BtoA" else ""))
        return self


def _check_nce(nce_layers, nce_features: int, stages: int) -> None:
    if not nce_layers or any(not isinstance(i, int) or not 0 <= i < stages for i in nce_layers) \
            or len(set(nce_layers)) != len(nce_layers):
        raise ValueError(f"nce_layers must be distinct stage indices from 0 to {stages - 1}, got {list(nce_layers)}")
    if not 8 <= nce_features <= 1024:
        raise ValueError(f"nce_features must be from 8 to 1024, got {nce_features}")


class CUTGenerator(UnpairedTranslatorMixin, ModelMixin, ConfigMixin):
    """CUT's generator: a ResnetTranslator A -> B, and one projection head (Linear, ReLU,
    Linear, then unit length) per encoder layer that PatchNCE compares (`nce_layers`)."""

    @register_to_config
    def __init__(self, in_channels: int = 3, channels: int = 3, scale: int = 1, width: int = 16,
                 downsamplings: int = 2, blocks: int = 4, residual: bool = True,
                 nce_layers: tuple = DEFAULT_NCE_LAYERS, nce_features: int = DEFAULT_NCE_FEATURES,
                 task: str = "unpaired"):
        super().__init__()
        _check_translator(in_channels, channels, scale, width)
        if scale != 1:
            raise ValueError(f"unpaired translation keeps the size: scale must be 1, got {scale}")
        self.translator_a_to_b = ResnetTranslator(in_channels, channels, width, downsamplings, blocks, residual)
        stage_widths = self.translator_a_to_b.stage_widths
        _check_nce(list(nce_layers), nce_features, len(stage_widths))
        self.projections = nn.ModuleList(
            nn.Sequential(nn.Linear(stage_widths[layer], nce_features), nn.ReLU(), nn.Linear(nce_features, nce_features))
            for layer in nce_layers)

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        return self.translator_a_to_b(condition)

    def encode_features(self, x: torch.Tensor, layers=None) -> list[torch.Tensor]:
        """The encoder's activations (N, C_l, h_l, w_l) at `layers` (default: config.nce_layers)."""
        return self.translator_a_to_b.encode(x, list(self.config.nce_layers) if layers is None else list(layers))

    def project(self, head: int, features: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Head `head`'s (of config.nce_layers) unit-length projections of `features`
        (N, C, h, w) at the flat `positions` (P,) of each picture: (N, P, nce_features)."""
        picked = features.flatten(2)[:, :, positions].transpose(1, 2)  # (N, P, C)
        return F.normalize(self.projections[head](picked), dim=-1)


class CUTDiscriminator(PatchDiscriminator):
    """A PatchGAN on B pictures alone (condition_channels=0): pix2pix's discriminator, a
    class of its own so that a saved one names its family."""


def resnet_blocks(resolution: int) -> int:
    """Residual blocks at the 1/4 scale: 4 up to 64 px (a CPU budget; the bottleneck's
    receptive field then spans the picture), 6 at 128 px (CycleGAN's), 9 above (CycleGAN's)."""
    return 4 if resolution <= 64 else 6 if resolution <= 128 else 9


def unpaired_discriminator_layers(resolution: int) -> int:
    """PatchGAN downsamplings: 2 at 64 px (34x34 patches), 3 (70x70, the papers') from 128 px."""
    return max(1, min(3, int(math.log2(resolution)) - 4))


def _build(config, data):
    generator = CUTGenerator(in_channels=data.condition_shape[0], channels=data.data_shape[0], width=config.width,
                             blocks=resnet_blocks(data.data_shape[-1]))
    discriminator = CUTDiscriminator(channels=data.data_shape[0], width=config.width,
                                     layers=unpaired_discriminator_layers(data.data_shape[-1]),
                                     spectral_norm=config.spectral_norm)
    return generator, discriminator


FAMILY = register_family(NetworkFamily(
    name="cut", description="CUT (2020): one ResNet generator A -> B kept to its input by a contrastive loss on "
                            "patches, PatchGAN discriminator; unpaired translation (the default)",
    generator_class=CUTGenerator, discriminator_class=CUTDiscriminator, build=_build,
    first_layer=no_latent_space, data_kinds=("unpaired",), min_resolution=16, max_resolution=256,
    settings=("width", "spectral_norm", "nce_weight", "identity_weight"), channels_last=True,
    mixed_precision=True, tags=("cut", "contrastive-unpaired-translation", "image-to-image"),
    objective=CUTObjective))
