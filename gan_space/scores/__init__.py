"""A score for any image set: Fréchet distance (FD) and kernel inception distance (KID)
between generated samples and real pictures, in the features of an image network.

Feature networks:

- "random" (the default): a fixed random convolutional network. It needs no download and
  no file: its weights are drawn from a fixed seed every time (never saved or loaded), so
  the same pictures always get the same features. Random features evaluate generative
  models much as trained ones do (Lee, Kim and Lee, "Demystifying randomly initialized
  networks for evaluating generative models", arXiv 2208.09218), and they are cheap: 1,000
  pictures take under a CPU-second. Its scores are comparable with each other (same network, same
  protocol), not with published FIDs.
- "inception": pytorch-fid's FID Inception (the network behind published FIDs), and
- "dinov2": DINOv2's CLS token (the FD_DINOv2 of Stein et al., 2023), both when their
  weights are on this machine as safetensors (a path setting, an environment variable or
  the Hugging Face cache) or, on explicit request (download=True), from the Hub. Pickled
  weights (.pth, .pt, .bin, ...) are refused: loading them could run any code.

FD = ||mu_a - mu_b||^2 + Tr(A + B - 2 (A B)^(1/2)) of the two feature Gaussians; it is
biased upwards at small sample counts, so every score comes with what real held-out
pictures get at the same count (`ImageReference`). KID is the unbiased estimate of the
squared MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over
random subsets: its expectation does not depend on the sample count (0 for the data's own
distribution).


The package, one module a part: pictures.py (pictures in), random_network.py,
pretrained.py (from safetensors), features.py (a network by name, a set's features),
distances.py (FD, KID) and reference.py (real statistics, scores against them). Pure
mathematics over pictures and generators: reading a run folder is gan_space.checkpoints'.
"""

from .distances import frechet_distance, kernel_inception_distance
from .features import FEATURE_NETWORKS, feature_network, image_features
from .pretrained import Dinov2Features, InceptionFeatures, find_weights, inception_conv_names
from .random_network import RandomFeatures
from .reference import (ImageReference, RealStatistics, calibration_pictures, frechet_distance_images,
                        generator_score, image_score, real_statistics)

__all__ = ["FEATURE_NETWORKS", "ImageReference", "RealStatistics", "RandomFeatures", "InceptionFeatures",
           "Dinov2Features", "feature_network", "find_weights", "image_features", "image_score", "real_statistics",
           "frechet_distance", "kernel_inception_distance", "inception_conv_names",
           "frechet_distance_images", "generator_score", "calibration_pictures"]
