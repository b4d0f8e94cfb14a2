"""Fully connected generator and discriminator.

Used for 2-D point data (the PacGAN mixtures) and for tiny images such as the 8x8
digits, where a small MLP trains faster and better on a CPU than a convolutional
net. Points are modelled in a normalised space; the generator's config keeps the
offset and scale that map its output back to data coordinates (`to_data`).
"""

import math

import torch
from torch import nn
from diffusers import ModelMixin, ConfigMixin
from diffusers.configuration_utils import register_to_config

from .registry import NetworkFamily, register_family


def _check_mlp_config(data_shape, hidden_dim: int, num_layers: int, num_classes: int) -> None:
    if not data_shape or any(int(d) < 1 for d in data_shape):
        raise ValueError(f"data_shape must be a non-empty list of positive sizes, got {data_shape}")
    if hidden_dim < 4:
        raise ValueError(f"hidden_dim must be at least 4, got {hidden_dim}")
    if not 1 <= num_layers <= 8:
        raise ValueError(f"num_layers must be between 1 and 8, got {num_layers}")
    if num_classes < 0:
        raise ValueError(f"num_classes must be 0 (unconditional) or more, got {num_classes}")


def _hidden_stack(in_dim: int, hidden_dim: int, num_layers: int, norm=lambda m: m) -> list[nn.Module]:
    layers = []
    for i in range(num_layers):
        layers += [norm(nn.Linear(in_dim if i == 0 else hidden_dim, hidden_dim)), nn.LeakyReLU(0.2)]
    return layers


class MLPGenerator(ModelMixin, ConfigMixin):
    """Maps a latent vector to a point (data_shape [2]) or a small image ([C, H, W])."""

    @register_to_config
    def __init__(
        self,
        data_shape: list[int] = (2,),
        latent_dim: int = 16,
        hidden_dim: int = 128,
        num_layers: int = 3,
        num_classes: int = 0,
        output_activation: str = "none",
        data_offset: list[float] | None = None,
        data_scale: float = 1.0,
    ):
        super().__init__()
        _check_mlp_config(data_shape, hidden_dim, num_layers, num_classes)
        if output_activation not in ("none", "tanh"):
            raise ValueError(f"output_activation must be 'none' or 'tanh', got {output_activation!r}")
        self.data_shape = tuple(int(d) for d in data_shape)
        self.label_embedding = nn.Embedding(num_classes, latent_dim) if num_classes else None
        in_dim = latent_dim * (2 if num_classes else 1)
        self.net = nn.Sequential(
            *_hidden_stack(in_dim, hidden_dim, num_layers),
            nn.Linear(hidden_dim, math.prod(self.data_shape)),
        )
        self.register_buffer(
            "offset", torch.tensor(data_offset if data_offset is not None else [0.0] * self.data_shape[-1]),
            persistent=False,
        )

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass `labels`")
            z = torch.cat([z, self.label_embedding(labels)], dim=1)
        out = self.net(z)
        if self.config.output_activation == "tanh":
            out = torch.tanh(out)
        return out.reshape(z.shape[0], *self.data_shape)

    def to_data(self, samples: torch.Tensor) -> torch.Tensor:
        """Normalised point samples -> data coordinates (a no-op for images)."""
        if self.config.output_activation == "tanh":
            return samples
        return samples * self.config.data_scale + self.offset.to(samples.device, samples.dtype)


class MLPDiscriminator(ModelMixin, ConfigMixin):
    """Scores points or small images (real = high logit)."""

    @register_to_config
    def __init__(
        self,
        data_shape: list[int] = (2,),
        hidden_dim: int = 128,
        num_layers: int = 3,
        num_classes: int = 0,
        spectral_norm: bool = False,
        pack: int = 1,
    ):
        super().__init__()
        _check_mlp_config(data_shape, hidden_dim, num_layers, num_classes)
        if not 1 <= pack <= 4:
            raise ValueError(f"pack must be between 1 and 4, got {pack}")
        norm = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        self.input_dim = math.prod(int(d) for d in data_shape)
        label_dim = 16 if num_classes else 0
        self.label_embedding = nn.Embedding(num_classes, label_dim) if num_classes else None
        self.net = nn.Sequential(
            *_hidden_stack((self.input_dim + label_dim) * pack, hidden_dim, num_layers, norm),
            norm(nn.Linear(hidden_dim, 1)),
        )

    def forward(self, samples: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = samples.reshape(samples.shape[0], self.input_dim)
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass `labels`")
            x = torch.cat([x, self.label_embedding(labels)], dim=1)
        # PacGAN: D judges `pack` samples at once, which exposes missing modes.
        x = x.reshape(x.shape[0] // self.config.pack, -1)
        return self.net(x).squeeze(1)


# ---------------------------------------------------------------------------
# The family, as the trainer, the app and the Hub card see it


def _build(config, data):
    is_points = data.kind == "points"
    generator = MLPGenerator(
        data_shape=list(data.data_shape), latent_dim=config.latent_dim, hidden_dim=config.width,
        num_layers=config.num_layers, num_classes=data.num_classes,
        output_activation="none" if is_points else "tanh",
        data_offset=list(data.offset) if is_points else None, data_scale=data.scale if is_points else 1.0)
    discriminator = MLPDiscriminator(
        data_shape=list(data.data_shape), hidden_dim=config.width, num_layers=config.num_layers,
        num_classes=data.num_classes, spectral_norm=config.spectral_norm, pack=config.pack)
    return generator, discriminator


def _first_layer(generator: MLPGenerator, latents: torch.Tensor, labels: torch.Tensor | None):
    """The first hidden layer (linear + LeakyReLU)."""
    z = latents
    if generator.label_embedding is not None:
        z = torch.cat([z, generator.label_embedding(labels)], dim=1)
    return generator.net[:2](z).flatten(1), "net.0+activation"


# The MLPs stay in fp32: they are too small to gain from bf16, and 2-D points need more than
# bf16's 8 bits of mantissa to hit modes 0.01 wide.
FAMILY = register_family(NetworkFamily(
    name="mlp", description="fully connected networks: 2-D points and tiny images such as the 8x8 digits",
    generator_class=MLPGenerator, discriminator_class=MLPDiscriminator, build=_build, first_layer=_first_layer,
    data_kinds=("points", "images"), resolutions=None, min_resolution=4, max_resolution=64,
    settings=("width", "num_layers", "spectral_norm", "pack"), channels_last=False, mixed_precision=False,
    tags=("mlp",)))
