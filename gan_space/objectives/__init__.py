"""The update steps: one GAN update (`GANObjective`, gan.py), the image-to-image one
(`TranslationObjective`, translation.py) and the unpaired ones (`CUTObjective`,
`CycleGANObjective`, unpaired.py). They sit below the network families: a family
names the objective its loss needs (FastGAN's reconstruction), a task names its own
(gan_space.tasks), and the trainer and the Lab update through whichever applies."""

from .gan import Batch, GANObjective
from .translation import TranslationObjective, VGGFeatures, pixel_loss, vgg_weights_path
from .unpaired import (CUTObjective, CycleGANObjective, HistoryBuffer, cycle_loss, identity_loss,
                       patch_nce_loss)

__all__ = ["Batch", "GANObjective", "TranslationObjective", "VGGFeatures", "pixel_loss",
           "vgg_weights_path", "CUTObjective", "CycleGANObjective", "HistoryBuffer", "cycle_loss",
           "identity_loss", "patch_nce_loss"]
