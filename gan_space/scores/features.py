"""The feature networks by name, and the features of a picture set."""

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .pictures import _as_images, _to_float
from .pretrained import Dinov2Features, InceptionFeatures, find_weights
from .random_network import RandomFeatures

FEATURE_NETWORKS = ("random", "inception", "dinov2")


@lru_cache(maxsize=4)
def _network(features: str, path: str | None):
    if features == "random":
        return RandomFeatures()
    return (InceptionFeatures if features == "inception" else Dinov2Features)(Path(path))


def feature_network(features: str = "random", weights: str | os.PathLike | None = None, download: bool = False):
    """The feature network by name (built once per process): "random", "inception" or "dinov2"."""
    if features not in FEATURE_NETWORKS:
        raise ValueError(f"features must be one of {', '.join(FEATURE_NETWORKS)}, got {features!r}")
    if features == "random":
        return _network("random", None)
    path = find_weights(features, weights, download)
    return _network(features, str(path.resolve()))


def image_features(images, features="random", weights=None, download: bool = False,
                   batch_size: int | None = None) -> np.ndarray:
    """(N, D) float64 features of pictures (N, C, H, W): uint8, or float in [-1, 1].
    Converted batch by batch, so a uint8 set (a memory map, say) is never copied whole as float."""
    network = features if not isinstance(features, str) else feature_network(features, weights, download)
    images = _as_images(images, "the pictures")
    batch_size = batch_size or network.batch_size
    rows = [network(_to_float(images[start:start + batch_size])).double()
            for start in range(0, images.shape[0], batch_size)]
    return torch.cat(rows).numpy()
