"""The data sets that ship with the library and need no network: scikit-learn's digits,
emoji pictures in two styles (Noto; Fluent Emoji Flat) aligned by code point, and 2-D point
sets (the PacGAN paper's mixtures of Gaussians, moons, a spiral)."""

import functools
import json
import math
from pathlib import Path

import numpy as np
import torch

from ..names import (BUILTIN_DATASETS, BUILTIN_IMAGE_SETS, BUILTIN_POINT_SETS, EMOJI_STYLES,  # noqa: F401
                     MIXTURE_SETS, implemented)
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


BUILTIN_FOLDER = Path(__file__).parent.parent / "builtin"
# Each built-in emoji set: one sprite sheet of 64x64 cells and its json (count, size, columns,
# categories, labels, codes). Source, licence and changes: the NOTICE files beside them.
EMOJI_SPRITES = implemented("emoji style", EMOJI_STYLES, {
    "emoji": BUILTIN_FOLDER / "noto-emoji-64.webp",  # Noto Emoji, Apache-2.0
    "emoji-flat": BUILTIN_FOLDER / "fluent-emoji-flat-64.webp",  # Fluent Emoji Flat, MIT
})
EMOJI_SPRITE = EMOJI_SPRITES["emoji"]


@functools.lru_cache(maxsize=None)
def _emoji_meta(name: str) -> dict:
    return json.loads(EMOJI_SPRITES[name].with_suffix(".json").read_text())


def load_emoji(resolution: int = 64, channels: int = 3, style: str = "emoji") -> Dataset:
    """A built-in emoji set, with each picture's Unicode category (9) as the class: "emoji",
    3,781 Noto Emoji pictures (64x64 on white, skin-tone variants included), or "emoji-flat",
    the 3,139 of them that Microsoft's Fluent Emoji draws, in its flat style (no country flags).
    Each is shipped as one lossless WebP sprite sheet (smaller than the same pixels as a
    compressed array) and resized with antialiasing."""
    if style not in EMOJI_SPRITES:
        raise DatasetError(f"{style!r} is not a built-in emoji set; choose one of {', '.join(EMOJI_STYLES)}")
    meta = _emoji_meta(style)
    size, columns, count = meta["size"], meta["columns"], meta["count"]
    sheet = open_picture(EMOJI_SPRITES[style].read_bytes(), channels=3)  # (the one decoder, though this file is ours)
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
    return Dataset(name=style, kind="images", samples=images.contiguous(), labels=labels,
                   num_classes=len(meta["categories"]), class_names=list(meta["categories"]))


def builtin_codes(name: str) -> tuple[str, ...] | None:
    """The emoji code point sequence of each picture of a built-in emoji set, in its rows' order
    (emoji-data's fully qualified form: "1F44D-1F3FD", "2764-FE0F-200D-1F525"); None for any
    other data (the other built-ins, a user's pictures), whose pictures have no known identity."""
    name = str(name).strip()
    return tuple(_emoji_meta(name)["codes"]) if name in EMOJI_SPRITES else None


def aligned_rows(name_a: str, name_b: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The rows of set A and of set B that show the same emoji (the same full code sequence,
    skin tone included), as two LongTensors of equal length in A's order, for data loaded by
    these names (any resolution or channels: the rows stay). None when either set's pictures
    have no known identity (see builtin_codes). For measuring translations only: the sets stay
    unpaired for training."""
    codes_a, codes_b = builtin_codes(name_a), builtin_codes(name_b)
    if codes_a is None or codes_b is None:
        return None
    row_in_b = {code: row for row, code in enumerate(codes_b)}
    pairs = [(row, row_in_b[code]) for row, code in enumerate(codes_a) if code in row_in_b]
    rows_a = torch.tensor([a for a, _ in pairs], dtype=torch.long)
    rows_b = torch.tensor([b for _, b in pairs], dtype=torch.long)
    return rows_a, rows_b
