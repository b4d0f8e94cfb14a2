"""A network family that exists only for the tests: one module, registered like the
built-in ones, to prove that adding a family needs no edit anywhere else."""

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from gan_space.models.registry import NetworkFamily, register_family, unregister_family


class TinyGenerator(ModelMixin, ConfigMixin):
    """latent -> a linear layer -> a 4x4 map -> one 3x3 convolution per doubling -> image."""

    @register_to_config
    def __init__(self, resolution: int = 8, channels: int = 1, latent_dim: int = 8, width: int = 8,
                 num_classes: int = 0):
        super().__init__()
        self.label_embedding = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.stem = nn.Linear(latent_dim, width * 16)
        layers = []
        size = 4
        while size < resolution:
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.2)]
            size *= 2
        self.body = nn.Sequential(*layers, nn.Conv2d(width, channels, 3, padding=1))

    def forward(self, z, labels=None):
        if self.label_embedding is not None:
            z = z * self.label_embedding(labels)
        x = torch.nn.functional.leaky_relu(self.stem(z), 0.2).reshape(z.shape[0], self.config.width, 4, 4)
        return torch.tanh(self.body(x))


class TinyDiscriminator(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, resolution: int = 8, channels: int = 1, width: int = 8, num_classes: int = 0):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                                 nn.Flatten(), nn.Linear(width * (resolution // 2) ** 2, 1))
        self.label_projection = nn.Embedding(num_classes, 1) if num_classes else None

    def forward(self, images, labels=None):
        logits = self.net(images).squeeze(1)
        if self.label_projection is not None:
            logits = logits + self.label_projection(labels).squeeze(1)
        return logits


def build(config, data):
    channels, resolution = data.data_shape[0], data.data_shape[-1]
    return (TinyGenerator(resolution=resolution, channels=channels, latent_dim=config.latent_dim, width=config.width,
                          num_classes=data.num_classes),
            TinyDiscriminator(resolution=resolution, channels=channels, width=config.width,
                              num_classes=data.num_classes))


def first_layer(generator, latents, labels):
    z = latents if generator.label_embedding is None else latents * generator.label_embedding(labels)
    return torch.nn.functional.leaky_relu(generator.stem(z), 0.2), "stem"


FAMILY = NetworkFamily(
    name="tiny", description="a test family: a linear stem and 3x3 convolutions", generator_class=TinyGenerator,
    discriminator_class=TinyDiscriminator, build=build, first_layer=first_layer, data_kinds=("images",),
    resolutions=(8, 16), settings=("width",), channels_last=False, mixed_precision=False, tags=("tiny-test-family",))


def register() -> NetworkFamily:
    return register_family(FAMILY)


def unregister() -> None:
    unregister_family(FAMILY.name)
