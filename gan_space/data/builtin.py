"""The data sets that ship with the library and need no network: scikit-learn's digits,
Noto Emoji pictures, and 2-D point sets (the PacGAN paper's mixtures of Gaussians, moons,
a spiral)."""

import json
import math
from pathlib import Path

import numpy as np
import torch

from ..names import BUILTIN_DATASETS, BUILTIN_IMAGE_SETS, BUILTIN_POINT_SETS, MIXTURE_SETS  # noqa: F401
from .dataset import Dataset, DatasetError
from .decode import open_picture



def mixture_modes(name: str) -> tuple[torch.Tensor, float]:
    """Mode centres and standard deviation of the PacGAN paper's 2-D mixtures."""
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([angles.cos(), angles.sin()], 1).float(), 0.01
    if name == "grid25":
        coords = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(coords, coords), 0.05
    raise DatasetError(f"{name!r} is not a 2-D mixture; choose one of {MIXTURE_SETS}")


def load_mixture(name: str, num_samples: int = 100_000, seed: int = 0) -> Dataset:
    generator = torch.Generator().manual_seed(seed)
    if name in MIXTURE_SETS:
        modes, std = mixture_modes(name)
        which = torch.randint(len(modes), (num_samples,), generator=generator)
        points = modes[which] + std * torch.randn(num_samples, 2, generator=generator)
    else:
        points = _point_shape(name, num_samples, generator)
    return points_dataset(name, points)


def _point_shape(name: str, num_samples: int, generator: torch.Generator) -> torch.Tensor:
    """Two interleaved half circles ("moons") or a two-armed spiral, with a little noise."""
    t = torch.rand(num_samples, generator=generator)
    arm = torch.randint(2, (num_samples,), generator=generator)
    if name == "moons":
        angle = math.pi * t
        x = torch.where(arm == 0, angle.cos(), 1 - angle.cos())
        y = torch.where(arm == 0, angle.sin(), 0.5 - angle.sin())
        noise = 0.05
    elif name == "spiral":
        angle = 0.5 * math.pi + 3 * math.pi * t.sqrt()  # sqrt: even density along the arm
        radius = angle / (3.5 * math.pi)
        sign = 1 - 2 * arm.float()
        x, y = sign * radius * angle.cos(), sign * radius * angle.sin()
        noise = 0.02
    else:
        raise DatasetError(f"{name!r} is not a built-in point set; choose one of {BUILTIN_POINT_SETS}")
    return torch.stack([x, y], 1) + noise * torch.randn(num_samples, 2, generator=generator)


def points_dataset(name: str, points) -> Dataset:
    """2-D points (N, 2) in data coordinates -> a Dataset that trains like the built-ins."""
    points = torch.as_tensor(points, dtype=torch.float32)
    if points.dim() != 2 or points.shape[1] != 2 or points.shape[0] < 2 or not torch.isfinite(points).all():
        raise DatasetError(f"points must be at least 2 finite rows of x, y; got shape {tuple(points.shape)}")
    offset = points.mean(0)
    scale = max(float(points.std(0).mean()), 1e-3)  # all points in one place: still a usable scale
    return Dataset(name=name, kind="points", samples=points, offset=offset.tolist(), scale=scale)


def load_digits(resolution: int = 8, channels: int = 1) -> Dataset:
    """scikit-learn's 1,797 8x8 handwritten digits (values 0-16), with labels."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0  # (N, 1, 8, 8) in [0, 1]
    if resolution != 8:
        images = torch.nn.functional.interpolate(images, size=(resolution, resolution), mode="bilinear",
                                                 align_corners=False)
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8).repeat(1, channels, 1, 1)
    labels = torch.tensor(digits.target, dtype=torch.long)
    return Dataset(name="digits", kind="images", samples=images, labels=labels, num_classes=10,
                   class_names=[str(i) for i in range(10)])


# Apache-2.0: see gan_space/builtin/NOTICE-noto-emoji.txt
EMOJI_SPRITE = Path(__file__).parent.parent / "builtin" / "noto-emoji-64.webp"


def load_emoji(resolution: int = 64, channels: int = 3) -> Dataset:
    """3,781 Noto Emoji pictures (64x64 on white, skin-tone variants included), with their
    Unicode category (9) as the class. Shipped as one lossless WebP sprite sheet (7.4 MB,
    smaller than the same pixels as a compressed array) and resized with antialiasing."""
    meta = json.loads(EMOJI_SPRITE.with_suffix(".json").read_text())
    size, columns, count = meta["size"], meta["columns"], meta["count"]
    sheet = open_picture(EMOJI_SPRITE.read_bytes(), channels=3)  # (the one decoder, though this file is ours)
    pixels = torch.from_numpy(np.asarray(sheet).copy())  # (rows*64, columns*64, 3)
    rows = pixels.shape[0] // size
    cells = pixels.reshape(rows, size, columns, size, 3).permute(0, 2, 4, 1, 3).reshape(rows * columns, 3, size, size)
    images = cells[:count]
    if channels == 1:  # ITU-R 601 luma, as PIL's convert("L") for uploaded pictures
        images = (images.float() * torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)).sum(1, keepdim=True)
    if resolution != size:
        images = torch.nn.functional.interpolate(images.float(), size=(resolution, resolution), mode="bilinear",
                                                 antialias=True, align_corners=False)
    images = images.float().round().clamp(0, 255).to(torch.uint8)
    labels = torch.tensor([int(c) for c in meta["labels"]], dtype=torch.long)
    return Dataset(name="emoji", kind="images", samples=images.contiguous(), labels=labels,
                   num_classes=len(meta["categories"]), class_names=list(meta["categories"]))


def aligned_rows(name_a: str, name_b: str):
    """(rows of A, rows of B) showing the same thing in two built-in sets, or None when no
    alignment is known (placeholder until the second emoji style lands)."""
    return None
