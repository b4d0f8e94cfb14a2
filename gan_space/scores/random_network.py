"""The default feature network: a fixed random convolutional network (no download, no file)."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from .pictures import _resize

# The random network's version: its scores are comparable only between equal versions.
RANDOM_NETWORK = "random-v1"
RANDOM_SEED = 20_220_818  # its weights come from this seed (any fixed number would do; this one for good)
RANDOM_SIZE = 64  # pictures are resized to this many pixels a side before the network
RANDOM_WIDTHS = (16, 32, 64, 128)  # channels of its four 3x3, stride-2 convolutions
# Features times this come out about 1 in size on real pictures, so FD and the KID kernel
# (whose "+ 1" sets the scale) read like Inception's.
RANDOM_FEATURE_SCALE = 10.0


# ---------------------------------------------------------------------------
# The random network


class RandomFeatures:
    """Four 3x3 stride-2 convolutions with ReLU (16-32-64-128 channels) on pictures resized
    to 64 px. Features: each layer's per-channel spatial mean and standard deviation, and the
    input's per-colour mean and standard deviation (486 numbers).

    The first layer's filters have zero mean: random filters with a mean respond mostly to
    flat colour, which then swamps the statistics, while zero-mean ones respond to edges and
    texture, where blur, noise and GAN artefacts show (on the emoji set this made a 3x3 blur
    score 18 times real-vs-real instead of 2 times). The colour itself is kept by the input's
    own statistics."""

    name = "random"

    def __init__(self):
        # numpy's PCG64 stream, not torch's global RNG: the weights never depend on what
        # else ran in the process, and training code calling torch.manual_seed leaves them be.
        rng = np.random.default_rng(RANDOM_SEED)
        self.weights = []
        channels = 3
        for index, width in enumerate(RANDOM_WIDTHS):
            weight = rng.standard_normal((width, channels, 3, 3))
            if index == 0:
                weight -= weight.mean(axis=(2, 3), keepdims=True)
            weight *= math.sqrt(2.0 / (channels * 9))  # He scaling: activations keep their size through ReLUs
            self.weights.append(torch.from_numpy(weight.astype(np.float32)))
            channels = width
        self.dims = 6 + 2 * sum(RANDOM_WIDTHS)
        self.description = (f"a fixed random convolutional network ({RANDOM_NETWORK}: {len(RANDOM_WIDTHS)} layers, "
                            f"{self.dims} features, {RANDOM_SIZE} px)")
        self.batch_size = 256

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = _resize(batch, RANDOM_SIZE)
        parts = []
        for weight in [None, *self.weights]:
            if weight is not None:
                x = F.relu(F.conv2d(x, weight, stride=2, padding=1))
            std, mean = torch.std_mean(x.flatten(2), 2)
            parts += [mean, std]
        return torch.cat(parts, 1) * RANDOM_FEATURE_SCALE
