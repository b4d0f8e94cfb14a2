"""Generators and discriminators: diffusers ModelMixin + ConfigMixin, so each one
saves as config.json + safetensors and loads with `from_pretrained`."""

from .dcgan import DCGANDiscriminator, DCGANGenerator, SUPPORTED_RESOLUTIONS
from .mlp import MLPDiscriminator, MLPGenerator

GENERATOR_CLASSES = {cls.__name__: cls for cls in (DCGANGenerator, MLPGenerator)}
DISCRIMINATOR_CLASSES = {cls.__name__: cls for cls in (DCGANDiscriminator, MLPDiscriminator)}

__all__ = [
    "DCGANGenerator", "DCGANDiscriminator", "MLPGenerator", "MLPDiscriminator",
    "GENERATOR_CLASSES", "DISCRIMINATOR_CLASSES", "SUPPORTED_RESOLUTIONS",
]
