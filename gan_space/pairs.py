"""Pairs of pictures for image-to-image training: an input (what the generator is given)
and a target (what it should make of it).

Made on the fly from any picture set, on the training device, from the batch of targets
the data source draws (so streaming, shards and exact resumes work as for any run); each
task (gan_space.tasks) says which of these degradations makes its input:

- "super-resolution": the target downscaled x2 or x4 with antialiasing (bicubic, as
  MATLAB's imresize and PIL do), after an optional Gaussian blur, then optional noise
  and JPEG compression (the classical degradation order: blur, downscale, noise, JPEG);
- "colorize": the target's luma (ITU-R 601, as PIL's convert("L")) -> the target;
- "edges": a sketch of the target (dark lines on white, from the gradient of its luma)
  -> the target.

Or the user's own pairs ("paired": gan_space.data.paired's `load_paired`): a folder (or
.zip) with `A/` and `B/` holding files of matching names, or pictures with the input and
the target side by side (the layout of the pix2pix datasets).

A few pictures are held out of training (`split_held_out`): the previews show them as
(input | output | target) and the scores are measured on them. Their inputs are made
once, with a fixed seed, and kept in the run folder (`held_out.safetensors`).
"""

import io
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import Dataset, DatasetError

HELD_OUT_FILE = "held_out.safetensors"
HELD_OUT_SEED = 1_000_003  # the held-out inputs' degradations: the same in every run and every process
MAX_HELD_OUT = 64
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL's convert("L")
JPEG_BEST_QUALITY = 95  # jpeg=q draws qualities from q to this


# ---------------------------------------------------------------------------
# Degradations, on [-1, 1] pictures (N, C, H, W) on any device


def luma(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 1, H, W); grey pictures are returned as they are."""
    if images.shape[1] == 1:
        return images
    weights = torch.tensor(LUMA, device=images.device, dtype=images.dtype).reshape(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True)


def downscale(images: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic downscaling by `scale` with antialiasing (each output pixel averages the area it
    covers, as MATLAB's imresize and PIL's resize do); sizes are rounded down."""
    height, width = images.shape[-2] // scale, images.shape[-1] // scale
    if height < 1 or width < 1:
        raise ValueError(f"a {images.shape[-2]}x{images.shape[-1]} picture cannot be made {scale} times smaller")
    return F.interpolate(images.float(), size=(height, width), mode="bicubic", antialias=True,
                         align_corners=False).clamp(-1, 1)


def upscale_bicubic(images: torch.Tensor, scale: int = 0, size: tuple | None = None) -> torch.Tensor:
    """Bicubic upscaling (the baseline every super-resolution result is compared with)."""
    size = size or (images.shape[-2] * scale, images.shape[-1] * scale)
    return F.interpolate(images.float(), size=tuple(size), mode="bicubic", align_corners=False).clamp(-1, 1)


def gaussian_blur(images: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Each picture blurred by its own standard deviation (pixels); 0 leaves it as it is."""
    sigmas = sigmas.to(images.device, torch.float32).clamp(min=1e-3)
    radius = max(1, int(np.ceil(3 * float(sigmas.max()))))
    x = torch.arange(-radius, radius + 1, device=images.device, dtype=torch.float32)
    kernels = torch.exp(-(x[None] ** 2) / (2 * sigmas[:, None] ** 2))
    kernels = kernels / kernels.sum(1, keepdim=True)  # (N, K)
    n, c, h, w = images.shape
    flat = images.float().reshape(1, n * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="replicate")
    per_channel = kernels.repeat_interleave(c, 0)  # (N*C, K): one separable kernel per picture and channel
    flat = F.conv2d(flat, per_channel[:, None, None, :], groups=n * c)
    flat = F.conv2d(flat, per_channel[:, None, :, None], groups=n * c)
    return flat.reshape(n, c, h, w)


def jpeg_compress(images: torch.Tensor, qualities: list[int]) -> torch.Tensor:
    """Each picture saved as a JPEG of its quality and decoded again (on the CPU, with PIL)."""
    from PIL import Image

    pixels = quantise_uint8(images).cpu()
    out = torch.empty_like(pixels)
    for i, quality in enumerate(qualities):
        array = pixels[i].permute(1, 2, 0).numpy()
        picture = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=int(quality))
        decoded = np.asarray(Image.open(buffer).convert(picture.mode))
        out[i] = torch.from_numpy(decoded.reshape(array.shape).copy()).permute(2, 0, 1)
    return to_float(out).to(images.device)


def sketch(images: torch.Tensor) -> torch.Tensor:
    """A pencil-like sketch: dark lines on white where the luma changes (Sobel gradient of the
    slightly blurred luma, scaled by each picture's own strong edges so faint and contrasty
    pictures both give visible lines). (N, 1, H, W) in [-1, 1]."""
    grey = luma(images.float())
    grey = gaussian_blur(grey, torch.full((grey.shape[0],), 0.7, device=grey.device))
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=grey.device)
    padded = F.pad(grey, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, sobel[None, None])
    gy = F.conv2d(padded, sobel.t()[None, None])
    magnitude = (gx**2 + gy**2).sqrt()
    strong = torch.quantile(magnitude.flatten(1), 0.95, dim=1).clamp(min=0.05).reshape(-1, 1, 1, 1)
    lines = (magnitude / strong).clamp(0, 1)
    return 1 - 2 * lines


def quantise_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> uint8 levels, as a saved picture holds them."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def to_float(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 -> [-1, 1] float (the inverse of quantise_uint8 on its levels)."""
    return pixels.float() / 127.5 - 1.0


# ---------------------------------------------------------------------------
# A task: target rows -> (input, target)


@dataclass(frozen=True)
class Pairing:
    """How one run makes its pairs. `__call__` turns a batch of stored rows (normalised to
    [-1, 1]) into (condition, target); the randomness (flips, blur, noise and JPEG quality)
    comes from `generator`, the run's noise stream, so a resumed run makes the same pairs.
    What the input is comes from the task (gan_space.tasks: `Task.pairing(config)` makes this)."""

    task: object  # the run's gan_space.tasks.Task
    channels: int = 3  # the target's channels
    scale: int = 4  # super-resolution
    frames: int = 1  # pictures in one input, stacked in channels (next-frame prediction: the last k frames)
    blur: float = 0.0  # super-resolution: largest blur sigma, in target pixels (each picture draws from 0 to it)
    noise: float = 0.0  # super-resolution: largest noise std, in 0-255 levels
    jpeg: int = 0  # super-resolution: lowest JPEG quality (each picture draws up to 95); 0: no JPEG
    flip: bool = False  # mirror pairs left-right at random (both sides alike)

    @property
    def condition_channels(self) -> int:
        return self.task.input_channels(self.channels) * self.frames

    def condition_shape(self, target_shape) -> tuple:
        channels, height, width = target_shape
        return (self.condition_channels, height // self.scale, width // self.scale)

    def split_rows(self, rows: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Stored rows -> (stored input or None, target): rows of pairs from the data hold both, side
        by side in channels, the input's `condition_channels` first (a picture, or the past frames)."""
        if self.task.make_input is None:
            given = self.condition_channels
            return rows[:, :given], rows[:, given:]
        return None, rows

    def __call__(self, rows: torch.Tensor, generator: torch.Generator | None = None):
        if self.flip:
            mirror = torch.rand(rows.shape[0], 1, 1, 1, device=rows.device, generator=generator) < 0.5
            rows = torch.where(mirror, rows.flip(3), rows)
        given, target = self.split_rows(rows)
        condition = given if given is not None else self.make_condition(target, generator)
        return condition.contiguous(memory_format=_memory_format(rows)), target

    def make_condition(self, target: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The input for these targets, at 8-bit precision (a picture a user brings is 8-bit too)."""
        if self.task.make_input is None:
            raise ValueError(f"task {self.task.name!r} makes no inputs from targets: its pairs come from the data")
        return self.task.make_input(self, target, generator)

    def baseline(self, condition: torch.Tensor, target_size: tuple) -> torch.Tensor:
        """What the output is compared with (the task's: bicubic upscaling for super-resolution,
        else the input itself, grey repeated to the target's channels)."""
        return self.task.baseline(condition, target_size, self.channels)

    def describe(self) -> str:
        return self.task.describe_pairs(self)


def match_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey to colour by repetition, colour to grey by luma, else unchanged."""
    if images.shape[1] == channels:
        return images
    if images.shape[1] == 1:
        return images.expand(-1, channels, -1, -1)
    return luma(images)


def _memory_format(x: torch.Tensor):
    return torch.channels_last if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and \
        not x.is_contiguous() else torch.contiguous_format


# ---------------------------------------------------------------------------
# Held-out pictures


def held_out_count(num_pictures: int) -> int:
    """A tenth of the pictures, at least 1 and at most MAX_HELD_OUT."""
    if num_pictures < 2:
        raise DatasetError(f"image-to-image training needs at least 2 pictures (one is held out to measure the "
                           f"results), got {num_pictures}")
    return max(1, min(MAX_HELD_OUT, num_pictures // 10))


def held_out_rows(num_pictures: int) -> torch.Tensor:
    """Evenly spread rows, so the held-out pictures come from all over the set (every class of
    a folder sorted by class), and the same ones every time."""
    count = held_out_count(num_pictures)
    return torch.linspace(0, num_pictures - 1, count + 2)[1:-1].round().long().unique()


def split_held_out(dataset: Dataset, in_memory_limit_bytes: int = 2 * 2**30) -> tuple[Dataset, torch.Tensor]:
    """(the training pictures, the held-out rows as stored). A set that fits in memory loses
    evenly spread rows; a larger one, memory-mapped from the run's cache and streamed, keeps
    its file as it is and holds out its last rows (taking rows out of the middle would copy it)."""
    num = len(dataset)
    rows = held_out_rows(num)
    if dataset.cache_file is not None and num * dataset.row_bytes > in_memory_limit_bytes:
        keep = num - len(rows)
        held = dataset.samples[keep:].clone()
        train = replace(dataset, samples=dataset.samples[:keep],
                        labels=dataset.labels[:keep] if dataset.labels is not None else None)
        return train, held
    mask = torch.ones(num, dtype=torch.bool)
    mask[rows] = False
    held = dataset.samples[rows].clone()
    train = replace(dataset, samples=dataset.samples[mask].contiguous(), cache_file=None,
                    labels=dataset.labels[mask] if dataset.labels is not None else None)
    return train, held


def _spread(count: int, size: int) -> torch.Tensor:
    """`count` evenly spread indices of range(size) (each at most once: fewer when size is small)."""
    return torch.linspace(0, size - 1, count + 2)[1:-1].round().long().unique()


def _cycled(pool: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` indices from `pool`: its pictures in random order, again and again (each one as often
    as any other, up to one)."""
    rounds = -(-count // len(pool))
    return torch.cat([pool[torch.randperm(len(pool), generator=generator)] for _ in range(rounds)])[:count]


def unpaired_rows(domain_a: Dataset, domain_b: Dataset, alignment: tuple | None = None, seed: int = 0) -> Dataset:
    """Two picture sets that need not belong together (unpaired translation) as rows of one
    Dataset: an A picture and a B picture stacked in channels, A first.

    The rows that `split_held_out` will hold out (`held_out_rows`) get pictures kept out of
    training on both sides; every other row pairs a training A picture with a training B picture
    drawn at random, independently of it (the smaller side is repeated, in a new random order
    each round), so no row's two pictures belong together. `alignment` (rows of A, rows of B that
    show the same thing, e.g. one emoji in two styles: gan_space.data.aligned_rows) is used for
    measuring only: the held-out rows then hold true counterparts (the scores can compare a
    translation with its counterpart, `Dataset.aligned`), and the sets are narrowed to what both
    have. Without one, the held-out B pictures are only a sample of B."""
    for side, dataset in (("A (--dataset)", domain_a), ("B (--dataset-b)", domain_b)):
        if len(dataset) < 2:
            raise DatasetError(f"domain {side} holds {len(dataset)} usable picture(s) ({dataset.name}): unpaired "
                               f"translation needs at least 2 in each domain (one is held out to measure the results)")
    if domain_a.data_shape != domain_b.data_shape:
        raise DatasetError(f"the two domains' pictures differ in shape ({domain_a.data_shape} vs "
                           f"{domain_b.data_shape}): load both at the same resolution and channels")
    a, b = domain_a.samples, domain_b.samples
    if alignment is not None:
        rows_a, rows_b = alignment
        a, b = a[rows_a], b[rows_b]
    total = len(a) if alignment is not None else max(len(a), len(b))
    held = held_out_rows(total)
    if alignment is not None:  # the held-out rows are counterparts: the same places in both
        held_a = held_b = held
    else:  # a few pictures of each side, repeated over the held-out rows when a side is small
        held_a = _spread(min(len(held), held_out_count(len(a))), len(a))
        held_b = _spread(min(len(held), held_out_count(len(b))), len(b))
    generator = torch.Generator().manual_seed(seed)
    training = torch.ones(total, dtype=torch.bool)
    training[held] = False
    train_a = _cycled(_without(len(a), held_a), int(training.sum()), generator)
    train_b = _cycled(_without(len(b), held_b), int(training.sum()), generator)
    index_a, index_b = torch.empty(total, dtype=torch.long), torch.empty(total, dtype=torch.long)
    index_a[training], index_b[training] = train_a, train_b
    index_a[held] = held_a.repeat(-(-len(held) // len(held_a)))[:len(held)]
    index_b[held] = held_b.repeat(-(-len(held) // len(held_b)))[:len(held)]
    rows = torch.cat([a[index_a], b[index_b]], 1)
    skipped = [f"A: {line}" for line in domain_a.skipped] + [f"B: {line}" for line in domain_b.skipped]
    return Dataset(name=f"{domain_a.name} -> {domain_b.name}", kind="images", samples=rows.contiguous(),
                   skipped=skipped, aligned=alignment is not None)


def _without(size: int, excluded: torch.Tensor) -> torch.Tensor:
    keep = torch.ones(size, dtype=torch.bool)
    keep[excluded] = False
    return keep.nonzero().flatten()


@dataclass
class HeldOut:
    """Held-out pairs as 8-bit pictures: condition (N, Cin, h, w) and target (N, C, H, W).
    `aligned`: each target belongs to its input (False for unpaired domains: the targets are
    only pictures of the other domain, measured as a distribution)."""

    condition: torch.Tensor
    target: torch.Tensor
    aligned: bool = True

    @classmethod
    def make(cls, pairing: Pairing, rows: torch.Tensor, aligned: bool = True) -> "HeldOut":
        """From stored rows: the inputs made with a fixed seed (no flips), the same everywhere."""
        normalised = to_float(rows)
        given, target = pairing.split_rows(normalised)
        if given is None:
            generator = torch.Generator().manual_seed(HELD_OUT_SEED)
            given = replace(pairing, flip=False).make_condition(target, generator)
        return cls(condition=quantise_uint8(given), target=quantise_uint8(target), aligned=aligned)

    def __len__(self) -> int:
        return self.target.shape[0]

    def normalised(self, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
        return to_float(self.condition).to(device), to_float(self.target).to(device)

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        save_file({"condition": self.condition.contiguous(), "target": self.target.contiguous(),
                   "aligned": torch.tensor(self.aligned)}, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> "HeldOut":
        from safetensors.torch import load_file

        tensors = load_file(Path(path))
        aligned = bool(tensors["aligned"]) if "aligned" in tensors else True  # (older runs: always aligned)
        return cls(condition=tensors["condition"], target=tensors["target"], aligned=aligned)


__all__ = ["Pairing", "HeldOut", "unpaired_rows",
           "split_held_out", "held_out_rows", "luma", "downscale", "upscale_bicubic", "gaussian_blur",
           "jpeg_compress", "sketch", "match_channels", "HELD_OUT_FILE"]
