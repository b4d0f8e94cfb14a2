"""Generators and discriminators: diffusers ModelMixin + ConfigMixin, so each one
saves as config.json + safetensors and loads with `from_pretrained`.

One module per network family; each registers itself (gan_space.models.registry) when
imported here. Everything else asks the registry."""

from .registry import (FAMILIES, DataSpec, NetworkFamily, discriminator_classes, family_names, family_of,
                       generator_classes, get_family, image_resolutions, picture_recipes,
                       register_family)
from .dcgan import DCGANDiscriminator, DCGANGenerator, SUPPORTED_RESOLUTIONS
from .mlp import MLPDiscriminator, MLPGenerator
from .unet import PatchDiscriminator, UNetGenerator
from .rrdb import RelativisticDiscriminator, RRDBGenerator
from .resnet import ResidualDiscriminator, ResidualGenerator
from .fastgan import FastGANDiscriminator, FastGANGenerator
from .cut import CUTDiscriminator, CUTGenerator
from .cyclegan import CycleGANDiscriminator, CycleGANGenerator

__all__ = [
    "DCGANGenerator", "DCGANDiscriminator", "MLPGenerator", "MLPDiscriminator", "SUPPORTED_RESOLUTIONS",
    "ResidualGenerator", "ResidualDiscriminator", "FastGANGenerator", "FastGANDiscriminator",
    "UNetGenerator", "PatchDiscriminator", "RRDBGenerator", "RelativisticDiscriminator",
    "CUTGenerator", "CUTDiscriminator", "CycleGANGenerator", "CycleGANDiscriminator",
    "FAMILIES", "DataSpec", "NetworkFamily", "register_family", "get_family", "family_names", "family_of",
    "generator_classes", "discriminator_classes", "image_resolutions", "picture_recipes",
]
