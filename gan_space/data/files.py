"""Training data: built-in sets that need no network, image folders, .zip files of
images and Hugging Face datasets.

Pictures stay uint8 until a batch is drawn (gan_space/datasource.py normalises each batch
on the device). A set is decoded once, by several processes, into memory or, with
`cache_dir`, into a memory-mapped file (a run's `data-cache`) that any size of set fits
and that a resumed run reuses without decoding again.
"""

import contextlib
import errno
import hashlib
import io
import json
import math
import os
import re
import shutil
import stat
import sys
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

BUILTIN_IMAGE_SETS = ("digits", "emoji")
MIXTURE_SETS = ("ring8", "grid25")  # mixtures of Gaussians: modes to count (metrics.mode_metrics)
BUILTIN_POINT_SETS = MIXTURE_SETS + ("moons", "spiral")
BUILTIN_DATASETS = BUILTIN_IMAGE_SETS + BUILTIN_POINT_SETS
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
# The decoders PIL may use (it picks one by the file's content, not its name). PIL knows
# some forty formats; EPS alone would run Ghostscript on whatever a user uploads. (The JPEG
# decoder also opens the multi-picture JPEGs of phone cameras, MPO.)
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "DIB", "TIFF")

# Guards against hostile files: a decompression bomb is refused, not decoded.
MAX_IMAGE_PIXELS = 40_000_000
MAX_FILE_BYTES = 64 * 1024 * 1024  # one image file; larger ones are skipped unread
MAX_ZIP_MEMBER_BYTES = MAX_FILE_BYTES
MAX_ZIP_TOTAL_BYTES = 1024 * 1024 * 1024
DEFAULT_MAX_IMAGES = 50_000
MAX_RESOLUTION = 1024  # pixels a side; the networks train at 128 at most
CACHE_VERSION = 1  # bump when the cache's layout or the decoding changes
CACHE_META = "dataset.json"  # the cache's sidecar, written last: a cache without it is incomplete
PARALLEL_MIN_FILES = 200  # fewer files decode in this process (a pool costs more than it saves)
CHUNK_FILES = 64  # files per task sent to a decoding process
CHUNK_BYTES = 16 * 1024 * 1024  # ... or fewer when they are large
HF_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$", re.ASCII)


class DatasetError(ValueError):
    """A dataset could not be loaded; the message says why and what to do."""


@dataclass
class Dataset:
    """Samples. Images: uint8 (N, C, H, W), in memory or (`cache_file`) a read-only memory
    map of the decoded cache. Points: float32 (N, D) in data coordinates, with
    `offset`/`scale` that normalise them for training."""

    name: str
    kind: str  # "images" or "points"
    samples: torch.Tensor
    labels: torch.Tensor | None = None
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "file: reason" for each unusable file
    offset: list[float] | None = None
    scale: float = 1.0
    cache_file: str | None = None  # the file `samples` maps, when they were decoded into a cache

    def __len__(self) -> int:
        return self.samples.shape[0]

    @property
    def data_shape(self) -> list[int]:
        return list(self.samples.shape[1:])

    @property
    def row_bytes(self) -> int:
        """Bytes of one sample as stored (uint8 images, float32 points)."""
        return self.samples[:1].numel() * self.samples.element_size()

    def normalise(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows of `samples` (on any device) in the space the networks work in: images in
        [-1, 1], points centred and scaled to unit standard deviation."""
        if self.kind == "images":
            return rows.to(torch.float32, copy=True).div_(127.5).sub_(1.0)  # (x / 127.5 - 1, without temporaries)
        return (rows - torch.tensor(self.offset, device=rows.device)) / self.scale

    def normalised(self) -> torch.Tensor:
        """All samples normalised: a float32 copy of the whole set. For a large set use
        `normalised_subset` (or gan_space.datasource for batches)."""
        return self.normalise(self.samples)

    def normalised_subset(self, index: torch.Tensor) -> torch.Tensor:
        """Only the rows at `index` (a CPU index tensor), normalised."""
        return self.normalise(self.samples[torch.as_tensor(index, dtype=torch.long)])

    def summary(self) -> str:
        shape = "x".join(str(s) for s in self.data_shape)
        text = f"{self.name}: {len(self)} {self.kind} of shape {shape}"
        if self.num_classes:
            text += f", {self.num_classes} classes"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} unusable file(s)"
        return text


# ---------------------------------------------------------------------------
# Built-ins


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


EMOJI_SPRITE = Path(__file__).parent / "builtin" / "noto-emoji-64.webp"  # Apache-2.0: see builtin/NOTICE-noto-emoji.txt


def load_emoji(resolution: int = 64, channels: int = 3) -> Dataset:
    """3,781 Noto Emoji pictures (64x64 on white, skin-tone variants included), with their
    Unicode category (9) as the class. Shipped as one lossless WebP sprite sheet (7.4 MB,
    smaller than the same pixels as a compressed array) and resized with antialiasing."""
    import json

    from PIL import Image

    meta = json.loads(EMOJI_SPRITE.with_suffix(".json").read_text())
    size, columns, count = meta["size"], meta["columns"], meta["count"]
    with Image.open(EMOJI_SPRITE) as sheet:
        pixels = torch.from_numpy(np.asarray(sheet.convert("RGB")).copy())  # (rows*64, columns*64, 3)
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


# ---------------------------------------------------------------------------
# Images from files


def decode_image(data: bytes, resolution: int, channels: int) -> np.ndarray:
    """Bytes of an image file -> uint8 array (C, resolution, resolution), centre-cropped.

    Raises ValueError (with a short reason) for anything that is not a readable image.
    """
    from PIL import Image, ImageOps

    if not data:
        raise ValueError("empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                # Image.open has read the header only: a bomb is refused before any pixel is decoded.
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise ValueError(f"image too large ({image.width}x{image.height} pixels)")
                image.seek(0)  # first frame of an animation
                image.load()
                image = _to_8bit(_upright(image))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValueError("image too large (decompression bomb)") from None
        except ValueError:
            raise
        except Exception as error:  # PIL raises many types for corrupt files
            raise ValueError(f"not a readable image ({type(error).__name__})") from None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    image = image.convert("L" if channels == 1 else "RGB")
    image = ImageOps.fit(image, (resolution, resolution), Image.Resampling.BICUBIC)
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def _upright(image):
    """Phone photos are often stored sideways with an EXIF orientation tag: turn them upright."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a damaged orientation tag is not worth losing the picture for
        return image


def _to_8bit(image):
    """16-bit and float images would clip to white under PIL's convert('L')."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        return Image.fromarray((array / top * 255).clip(0, 255).astype(np.uint8), mode="L")
    return image


class _Entry(NamedTuple):
    """One file of a source, in the order the source lists it."""

    name: str  # the relative path (a first folder is the class)
    read: object  # the bytes, or a callable that returns them (or raises ValueError to refuse the file)
    stamp: object = None  # what identifies the content (sizes, times, checksums) for the cache's fingerprint


ProgressCallback = Callable[[int, int], None]


def _parts(name: str) -> list[str]:
    """PurePosixPath(name).parts of a relative name, without building a path (100,000s of files)."""
    return [part for part in name.split("/") if part not in ("", ".")]


def _is_image_name(name: str) -> bool:
    """Whether PurePosixPath(name).suffix, lower-cased, is an image file extension."""
    parts = _parts(name)
    last = parts[-1] if parts else ""
    dot = last.rfind(".")
    return 0 < dot < len(last) - 1 and last[dot:].lower() in IMAGE_EXTENSIONS


class _FileRead:
    """Reads one listed file, in this process or in a decoding process (which then reads it
    itself: the files are not copied through this one). Never through a symbolic link that
    appeared after the listing, never a pipe or a device, never more than `limit` bytes."""

    __slots__ = ("path", "size", "limit")

    def __init__(self, path: str, size: int, limit: int):
        self.path, self.size, self.limit = path, size, limit

    def __call__(self) -> bytes:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            descriptor = os.open(self.path, flags)  # (O_NONBLOCK: opening a pipe does not wait for a writer)
        except OSError as error:
            if error.errno == getattr(errno, "ELOOP", None):
                raise ValueError("a symbolic link (not followed)") from None
            raise ValueError(f"unreadable ({error.strerror or type(error).__name__})") from None
        with open(descriptor, "rb") as handle:
            mode = os.fstat(descriptor).st_mode
            if not stat.S_ISREG(mode):
                raise ValueError("not a regular file")
            data = handle.read(self.limit + 1)
        if len(data) > self.limit:
            raise ValueError(f"file too large (over {self.limit / 2**20:.0f} MiB)")
        return data


def _payload(entry: _Entry):
    """What a decoder needs for the entry: its bytes, or a _FileRead to read it with. Raises
    ValueError (with the reason the file is skipped) or OSError when it is unusable."""
    if not _is_image_name(entry.name):
        raise ValueError("not an image file extension")
    if isinstance(entry.read, _FileRead):
        return entry.read
    return entry.read() if callable(entry.read) else entry.read


def _read(entry: _Entry) -> bytes:
    payload = _payload(entry)
    return payload() if isinstance(payload, _FileRead) else payload


class _Progress:
    """progress(done, total) from 0 to total, about 200 times at most (and always at the end)."""

    def __init__(self, callback: ProgressCallback | None, total: int):
        self.callback, self.total = callback, total
        self.step = max(1, total // 200)
        self.last = None
        self(0)

    def __call__(self, done: int) -> None:
        if self.callback is None or done == self.last:
            return
        if self.last is None or done >= self.total or done - self.last >= self.step:
            self.last = done
            self.callback(done, self.total)


def _decode_entries(entries: list[_Entry], resolution: int, channels: int, max_images: int, workers: int,
                    progress: ProgressCallback | None, keep: Callable[[int, np.ndarray], None]):
    """Decode the entries in order; keep(row, array) gets each usable picture (row 0, 1, ...).
    The first `max_images` usable files are kept, whatever the number of workers: the result
    is the same as one process decoding one file after another. Returns (class_of, skipped)."""
    report = _Progress(progress, len(entries))
    candidates = sum(map(_is_image_name, (entry.name for entry in entries)))
    parallel = workers > 1 and min(candidates, max_images) >= PARALLEL_MIN_FILES
    outcomes = (_decode_in_pool(entries, resolution, channels, max_images, workers) if parallel
                else _decode_here(entries, resolution, channels))
    class_of, skipped = [], []
    try:
        for done, entry in enumerate(entries, 1):
            if len(class_of) >= max_images:
                skipped.append(f"{entry.name}: over the limit of {max_images} images")
            else:
                array, reason = next(outcomes)
                if array is None:
                    skipped.append(f"{entry.name}: {reason}")
                else:
                    keep(len(class_of), array)
                    parts = _parts(entry.name)
                    class_of.append(parts[0] if len(parts) > 1 else None)
            report(done)
    finally:
        outcomes.close()  # stops the decoding processes
    report(len(entries))
    return class_of, skipped


def _decode_here(entries: list[_Entry], resolution: int, channels: int):
    """(array, None) or (None, reason) for each entry, in this process."""
    for entry in entries:
        try:
            yield decode_image(_read(entry), resolution, channels), None
        except (ValueError, OSError) as error:
            yield None, str(error)


def _decode_chunk(datas: list, resolution: int, channels: int):
    """In a decoding process: (the usable pictures stacked, a reason or None for each file).
    datas: bytes, or a _FileRead for a file to read here."""
    arrays, reasons = [], []
    for data in datas:
        try:
            if isinstance(data, _FileRead):
                data = data()
            arrays.append(decode_image(data, resolution, channels))
            reasons.append(None)
        except (ValueError, OSError) as error:
            reasons.append(str(error))
    block = np.stack(arrays) if arrays else np.empty((0, channels, resolution, resolution), np.uint8)
    return block, reasons


def _unpack(result) -> list:
    block, reasons = result
    rows = iter(block)
    return [next(rows) if reason is None else reason for reason in reasons]


class _DecoderPool:
    """Decoding processes (threads where processes cannot fork). A file that kills its process
    (a decoder crash, the kernel's out-of-memory killer) costs that file only."""

    CRASHED = "crashed the image decoder"

    def __init__(self, workers: int, resolution: int, channels: int):
        import multiprocessing

        from PIL import Image

        Image.init()  # PIL's format plugins, imported here once rather than in each process
        self.workers, self.args = workers, (resolution, channels)
        # fork: the processes start at once, import nothing and never run the main module again
        # (spawn and forkserver would re-run a script such as app.py in each of them).
        self.context = (multiprocessing.get_context("fork")
                        if sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods() else None)
        self.executor = None
        self._renew()

    def _renew(self) -> None:
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = (ProcessPoolExecutor(self.workers, mp_context=self.context) if self.context is not None
                         else ThreadPoolExecutor(self.workers))
        self.broken = False

    def submit(self, datas: list[bytes]):
        return self.executor.submit(_decode_chunk, datas, *self.args)

    def result(self, future, datas: list[bytes]) -> list:
        """An array or a reason for each of `datas`."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            return _unpack(future.result())
        except BrokenProcessPool:
            pass
        # A process died during this chunk (or another one): decode its files one at a time
        # in fresh processes, to find the file that kills them.
        outcomes = []
        for data in datas:
            if self.broken or getattr(self.executor, "_broken", False):
                self._renew()
            try:
                outcomes.extend(_unpack(self.submit([data]).result()))
            except BrokenProcessPool:
                outcomes.append(self.CRASHED)
                self.broken = True
        return outcomes

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _decode_in_pool(entries: list[_Entry], resolution: int, channels: int, max_images: int, workers: int):
    """What _decode_here yields, decoded by `workers` processes, in chunks of files (the
    processes read files of a folder themselves; this one reads archive members); a few
    chunks are in flight at once, and none past what `max_images` could still use."""
    from collections import deque

    pool = _DecoderPool(workers, resolution, channels)
    pending = deque()  # (per entry: a reason, or None for a file sent to decode; the files; the future)
    position = in_flight = usable = 0
    try:
        while True:
            while position < len(entries) and len(pending) < 2 * workers and usable + in_flight < max_images:
                reasons, datas, size = [], [], 0
                room = min(CHUNK_FILES, max_images - usable - in_flight)
                while position < len(entries) and len(datas) < room and size < CHUNK_BYTES:
                    try:
                        data = _payload(entries[position])
                        datas.append(data)
                        reasons.append(None)
                        size += data.size if isinstance(data, _FileRead) else len(data)
                    except (ValueError, OSError) as error:
                        reasons.append(str(error))
                    position += 1
                pending.append((reasons, datas, pool.submit(datas) if datas else None))
                in_flight += len(datas)
            if not pending:
                return
            reasons, datas, future = pending.popleft()
            decoded = iter(pool.result(future, datas) if datas else [])
            in_flight -= len(datas)
            for reason in reasons:
                if reason is not None:
                    yield None, reason
                    continue
                outcome = next(decoded)
                if isinstance(outcome, str):
                    yield None, outcome
                else:
                    usable += 1
                    yield outcome, None
    finally:
        pool.close()


def _images_from_named_bytes(name: str, items, resolution: int, channels: int, max_images: int,
                             cache_dir: str | os.PathLike | None = None, progress: ProgressCallback | None = None,
                             workers: int | None = None) -> Dataset:
    """items: iterable of _Entry, or of (relative path, bytes or a callable returning bytes).
    Sub-folders are classes when every image sits in one and there are at least two."""
    entries = [item if isinstance(item, _Entry) else _Entry(*item) for item in items]
    workers = _default_workers() if workers is None else workers
    if cache_dir is not None:
        return _cached_images(name, entries, resolution, channels, max_images, Path(cache_dir), progress, workers)
    rows = _upper_bound(entries, max_images)
    _check_memory(name, rows, channels * resolution * resolution)
    images = np.empty((rows, channels, resolution, resolution), np.uint8)  # pages are only taken when written

    def keep(row, array):
        images[row] = array

    class_of, skipped = _decode_entries(entries, resolution, channels, max_images, workers, progress, keep)
    if not class_of:
        raise _no_usable_image(name, skipped)
    kept = images[:len(class_of)]
    if len(class_of) < rows // 2:
        kept = kept.copy()  # do not hold on to room for the many files that were unusable
    return _images_dataset(name, torch.from_numpy(kept), class_of, skipped)


def _images_dataset(name: str, samples: torch.Tensor, class_of: list, skipped: list[str],
                    cache_file: str | None = None) -> Dataset:
    dataset = Dataset(name=name, kind="images", samples=samples, skipped=skipped, cache_file=cache_file)
    labels, class_names = _labels(class_of)
    if labels is not None:
        dataset.labels = torch.tensor(labels, dtype=torch.long)
        dataset.num_classes, dataset.class_names = len(class_names), class_names
    return dataset


def _labels(class_of: list) -> tuple[list[int] | None, list[str]]:
    class_names = sorted({c for c in class_of if c is not None})
    if None in class_of or len(class_names) < 2:
        return None, []
    index = {c: i for i, c in enumerate(class_names)}
    return [index[c] for c in class_of], class_names


def _no_usable_image(name: str, skipped: list[str]) -> DatasetError:
    detail = f" ({len(skipped)} file(s) skipped: {'; '.join(skipped[:3])})" if skipped else ""
    return DatasetError(f"{name} holds no usable image{detail}. Supply PNG, JPEG, GIF, WebP, BMP or TIFF files.")


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))  # the cores this process may use (containers, taskset)
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _upper_bound(entries: list[_Entry], max_images: int) -> int:
    """Most pictures the entries can give."""
    return min(max_images, sum(map(_is_image_name, (entry.name for entry in entries))))


def _size(num_bytes: float) -> str:
    return f"{num_bytes / 2**30:.1f} GiB" if num_bytes >= 2**30 else f"{num_bytes / 2**20:.0f} MiB"


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _check_memory(name: str, rows: int, row_bytes: int) -> None:
    needed, available = rows * row_bytes, _available_memory()
    if available is not None and needed > available:
        raise DatasetError(f"{name}: up to {rows} images of {row_bytes} bytes need {_size(needed)} of memory, but "
                           f"only {_size(available)} are available. Decode it into a cache on disk (cache_dir; "
                           f"training does for folders, .zip files and Hugging Face datasets), or lower "
                           f"max_images or the resolution.")


# ---------------------------------------------------------------------------
# The cache: a run's decoded pictures on disk


def _fingerprint(entries: list[_Entry], resolution: int, channels: int, max_images: int) -> str:
    """What the decoded set depends on: every file's name and stamp, and the settings."""
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, resolution, channels, max_images]).encode())
    for entry in entries:
        digest.update(json.dumps([entry.name, entry.stamp], default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path):
    """One process at a time decodes into a cache; the others wait, then reuse it. Yields
    whether the lock is held (not on a system or file system without locks, nor in a
    read-only folder, where a complete cache is still read)."""
    try:
        import fcntl

        handle = open(path, "a+b")
    except (ImportError, OSError):
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except OSError:  # (a network file system without locks)
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _open_cache(folder: Path, key: str, name: str, resolution: int, channels: int) -> Dataset | None:
    """The cached set when the cache is complete and was made from these files with these
    settings; None otherwise (absent, interrupted, damaged, or made from something else)."""
    try:
        meta = json.loads((folder / CACHE_META).read_text())
        if meta.get("version") != CACHE_VERSION or meta.get("fingerprint") != key:
            return None
        shape = (int(meta["count"]), channels, resolution, resolution)
        file = folder / str(meta["file"])
        labels, class_names = meta.get("labels"), list(meta.get("class_names") or [])
        if (meta.get("shape") != list(shape[1:]) or shape[0] < 1 or Path(meta["file"]).name != meta["file"]
                or file.stat().st_size != math.prod(shape)
                or (labels is not None and (len(labels) != shape[0] or len(class_names) < 2
                                            or not all(isinstance(v, int) and 0 <= v < len(class_names)
                                                       for v in labels)))):
            return None
        skipped = [str(entry) for entry in meta.get("skipped", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # Copy-on-write: the tensor is writable for torch, and the file is never changed.
    samples = torch.from_numpy(np.memmap(file, dtype=np.uint8, mode="c", shape=shape))
    dataset = Dataset(name=name, kind="images", samples=samples, skipped=skipped, cache_file=str(file))
    if labels is not None:
        dataset.labels = torch.tensor(labels, dtype=torch.long)
        dataset.num_classes, dataset.class_names = len(class_names), class_names
    return dataset


def _cached_images(name: str, entries: list[_Entry], resolution: int, channels: int, max_images: int,
                   folder: Path, progress: ProgressCallback | None, workers: int) -> Dataset:
    """Decode into `folder` once; later calls with the same files and settings map the result.

    The pictures are written to a temporary file, made durable and renamed; the sidecar
    (count, labels, class names, skipped files, fingerprint) is written the same way and
    last. A crash at any point leaves no sidecar that names an incomplete file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetError(f"cannot create the data cache {folder}: {error.strerror or error}") from None
    key = _fingerprint(entries, resolution, channels, max_images)
    with _locked(folder / ".lock") as locked:
        found = _open_cache(folder, key, name, resolution, channels)
        if found is not None:
            return found
        if locked:  # left by a crash (we hold the lock: nobody writes them now)
            for stale in folder.glob("*.tmp"):
                stale.unlink(missing_ok=True)
        try:
            return _decode_into_cache(name, entries, resolution, channels, max_images, folder, progress, workers, key)
        except OSError as error:
            raise DatasetError(f"could not write the data cache in {folder}: "
                               f"{error.strerror or type(error).__name__}") from None


def _decode_into_cache(name: str, entries: list[_Entry], resolution: int, channels: int, max_images: int,
                       folder: Path, progress: ProgressCallback | None, workers: int, key: str) -> Dataset:
    """Decode the entries into a new cache file in `folder` (the caller holds the lock)."""
    row_bytes = channels * resolution * resolution
    rows = _upper_bound(entries, max_images)
    needed, free = rows * row_bytes, shutil.disk_usage(folder).free
    if needed + 64 * 2**20 > free:
        raise DatasetError(f"the data cache for {name} needs up to {_size(needed)} in {folder} ({rows} images "
                           f"of {channels}x{resolution}x{resolution}), but only {_size(free)} are free: free "
                           f"some space, or lower max_images or the resolution.")
    file_name = f"images-{key[:16]}.u8"
    unique = f"{os.getpid()}-{os.urandom(4).hex()}"  # (processes of several machines may share the folder)
    temporary = folder / f"{file_name}.{unique}.tmp"
    try:
        with open(temporary, "wb") as handle:
            class_of, skipped = _decode_entries(entries, resolution, channels, max_images, workers, progress,
                                                lambda row, array: handle.write(np.ascontiguousarray(array)))
            handle.flush()
            os.fsync(handle.fileno())
        if not class_of:
            raise _no_usable_image(name, skipped)
        os.replace(temporary, folder / file_name)
    finally:
        temporary.unlink(missing_ok=True)
    labels, class_names = _labels(class_of)
    meta = {"version": CACHE_VERSION, "fingerprint": key, "file": file_name, "count": len(class_of),
            "shape": [channels, resolution, resolution], "labels": labels, "class_names": class_names,
            "skipped": skipped, "max_images": max_images}
    sidecar = folder / f"{CACHE_META}.{unique}.tmp"
    try:
        with open(sidecar, "w") as handle:
            json.dump(meta, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(sidecar, folder / CACHE_META)
    finally:
        sidecar.unlink(missing_ok=True)
    _fsync_folder(folder)
    for old in folder.glob("images-*.u8"):  # an earlier source's pictures (a process still mapping them keeps them)
        if old.name != file_name:
            old.unlink(missing_ok=True)
    dataset = _open_cache(folder, key, name, resolution, channels)
    if dataset is None:
        raise DatasetError(f"the data cache in {folder} could not be read back after decoding")
    return dataset


def load_image_folder(folder: str | os.PathLike, resolution: int, channels: int,
                      max_images: int = DEFAULT_MAX_IMAGES, links_within: str | os.PathLike | None = None,
                      cache_dir: str | os.PathLike | None = None, progress: ProgressCallback | None = None,
                      workers: int | None = None) -> Dataset:
    """Image files anywhere under `folder`. Symbolic links could point anywhere on the machine:
    they are skipped (and counted), unless they resolve to a file inside `links_within` (the
    Hugging Face cache keeps a snapshot's files as links into the repo's own blob folder)."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    allowed = Path(links_within).resolve() if links_within is not None else None
    # A cache inside the folder itself is not part of the data.
    inside = None
    if cache_dir is not None:
        with contextlib.suppress(ValueError, OSError):
            inside = Path(cache_dir).resolve().relative_to(root.resolve()).parts or None

    entries = []
    for parts, item in sorted(_walk(root, ()), key=lambda pair: pair[0]):
        if inside is not None and parts[:len(inside)] == inside:
            continue
        name = "/".join(parts)
        if item.is_symlink():
            path = Path(item.path)
            if allowed is None or not _link_inside(path, allowed):
                entries.append(_Entry(name, _refuse("a symbolic link (not followed)"), "link"))
                continue
            path = path.resolve()  # a file in the allowed folder: read it there
        elif item.is_file(follow_symlinks=False):
            path = Path(item.path)
        else:  # pipes and devices are not files
            continue
        try:
            status = path.stat()
        except OSError as error:
            entries.append(_Entry(name, _refuse(f"unreadable ({error.strerror or type(error).__name__})"), "error"))
            continue
        if status.st_size > MAX_FILE_BYTES:
            entries.append(_Entry(name, _refuse(f"file too large ({status.st_size / 2**20:.0f} MiB)"), status.st_size))
            continue
        entries.append(_Entry(name, _FileRead(str(path), status.st_size, MAX_FILE_BYTES),
                              (status.st_size, status.st_mtime_ns)))

    return _images_from_named_bytes(str(folder), entries, resolution, channels, max_images, cache_dir, progress,
                                    workers)


def _walk(folder: Path, parts: tuple):
    """(relative parts, os.DirEntry) of everything under `folder`, not descending into
    linked folders (as Path.rglob); a folder that cannot be read is left out."""
    try:
        with os.scandir(folder) as listing:
            items = list(listing)
    except OSError:
        return
    for item in items:
        item_parts = parts + (item.name,)
        yield item_parts, item
        if not item.is_symlink() and item.is_dir(follow_symlinks=False):
            yield from _walk(Path(item.path), item_parts)


def _link_inside(link: Path, folder: Path) -> bool:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling, or a loop
        return False
    return target.is_relative_to(folder) and target.is_file()


def load_image_zip(zip_path: str | os.PathLike, resolution: int, channels: int,
                   max_images: int = DEFAULT_MAX_IMAGES, cache_dir: str | os.PathLike | None = None,
                   progress: ProgressCallback | None = None, workers: int | None = None) -> Dataset:
    """Reads images straight out of the archive: nothing is extracted to disk, so a
    member named '../x' or '/etc/x' cannot write anywhere."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise DatasetError(f"{Path(zip_path).name} is not a readable .zip file ({error})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        total = sum(m.file_size for m in members)
        if total > MAX_ZIP_TOTAL_BYTES:
            raise DatasetError(f"{Path(zip_path).name} unpacks to {total / 2**30:.1f} GiB, over the limit of "
                               f"{MAX_ZIP_TOTAL_BYTES / 2**30:.0f} GiB")
        entries = []
        for member in sorted(members, key=lambda m: m.filename):
            name = member.filename.replace("\\", "/").lstrip("/")
            stamp = (member.CRC, member.file_size, member.compress_size, member.compress_type, member.flag_bits)
            if member.file_size > MAX_ZIP_MEMBER_BYTES:
                entries.append(_Entry(name, _refuse(f"file too large ({member.file_size / 2**20:.0f} MiB unpacked)"),
                                      stamp))
                continue
            entries.append(_Entry(name, (lambda m=member: _read_member(archive, m)), stamp))
        return _images_from_named_bytes(Path(zip_path).name, entries, resolution, channels, max_images, cache_dir,
                                        progress, workers)


def _refuse(reason: str):
    """A reader that fails with `reason`: the file is skipped and counted like an unreadable one."""

    def read():
        raise ValueError(reason)

    return read


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    # Read at most the declared size + 1 so a member that lies about its size is caught.
    try:
        with archive.open(member) as handle:
            data = handle.read(member.file_size + 1)
    # One damaged member (bad deflate data, a wrong CRC, encrypted, an unknown compression
    # method) costs that file only, not the whole archive.
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, OSError) as error:
        reason = "encrypted" if member.flag_bits & 0x1 else f"{type(error).__name__}: {str(error)[:80]}"
        raise ValueError(f"unreadable archive member ({reason})") from None
    if len(data) > member.file_size:
        raise ValueError("archive member larger than declared")
    return data


def load_hf_dataset(repo_id: str, resolution: int, channels: int, token: str | bool | None = None,
                    max_images: int = DEFAULT_MAX_IMAGES, cache_dir: str | os.PathLike | None = None,
                    progress: ProgressCallback | None = None, workers: int | None = None) -> Dataset:
    """Image files (or .zip files of images) in a Hugging Face dataset repository.
    This is the only data source that uses the network. token=None: huggingface_hub's own
    (HF_TOKEN, a stored login); False: none. The files are decoded (into `cache_dir`, when
    given) as a folder or a .zip is."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    try:
        folder = snapshot_download(repo_id, repo_type="dataset", token=token,
                                   allow_patterns=[f"*{ext}" for ext in IMAGE_EXTENSIONS] + ["*.zip"])
    except RepositoryNotFoundError:
        raise DatasetError(f"no dataset {repo_id!r} on the Hugging Face Hub (or it is private: pass a token)") from None
    except (HfHubHTTPError, OSError) as error:
        raise DatasetError(f"could not reach the Hugging Face Hub to fetch dataset {repo_id!r}: "
                           f"{type(error).__name__}. Check the network, or use a built-in dataset, "
                           f"a folder or a .zip of images.") from None
    zips = sorted(Path(folder).rglob("*.zip"))
    if zips and not any(p.suffix.lower() in IMAGE_EXTENSIONS for p in Path(folder).rglob("*")):
        return load_image_zip(zips[0], resolution, channels, max_images, cache_dir, progress, workers)
    # The snapshot's files are links into the repo's blob folder, two levels up.
    dataset = load_image_folder(folder, resolution, channels, max_images, links_within=Path(folder).parents[1],
                                cache_dir=cache_dir, progress=progress, workers=workers)
    dataset.name = repo_id
    return dataset


# ---------------------------------------------------------------------------
# One entry point


def load_dataset(source: str, resolution: int = 32, channels: int = 1, token: str | bool | None = None,
                 max_images: int = DEFAULT_MAX_IMAGES, seed: int = 0, cache_dir: str | os.PathLike | None = None,
                 progress: ProgressCallback | None = None, workers: int | None = None) -> Dataset:
    """A built-in name, a folder, a .zip file, or a Hugging Face dataset id.

    Files are decoded by `workers` processes (default: one per core) and, while they are,
    progress(done, total) is called (from 0 to the number of files). Without `cache_dir` the
    pictures are held in memory; with it (a run's data cache) they are decoded into a file
    there and mapped, so a set of any size fits, and a later call with the same files and
    settings maps that file again instead of decoding (also across processes: one decodes,
    the others wait and reuse it). Built-in sets are always in memory and ignore all three.
    """
    source = str(source).strip()
    if not source:
        raise DatasetError("no dataset given: name a built-in (" + ", ".join(BUILTIN_DATASETS) +
                           "), a folder or .zip of images, or a Hugging Face dataset id")
    _check_settings(resolution, channels, max_images, workers)
    if source == "digits":
        return load_digits(resolution, channels)
    if source == "emoji":
        return load_emoji(resolution, channels)
    if source in BUILTIN_POINT_SETS:
        return load_mixture(source, seed=seed)
    path = Path(os.path.expanduser(source))  # (Path.expanduser raises for '~nobody/x')
    files = dict(cache_dir=cache_dir, progress=progress, workers=workers)
    if path.is_dir():
        return load_image_folder(path, resolution, channels, max_images, **files)
    if path.is_file():
        if zipfile.is_zipfile(path) or path.suffix.lower() == ".zip":  # a damaged .zip says why
            return load_image_zip(path, resolution, channels, max_images, **files)
        raise DatasetError(f"{source} is a file but not a .zip archive; give a folder of images or a .zip")
    if HF_REPO_ID.match(source) and not source.startswith((".", "/", "~")):
        return load_hf_dataset(source, resolution, channels, token, max_images, **files)
    raise DatasetError(f"no dataset named {source!r}: it is not a built-in ({', '.join(BUILTIN_DATASETS)}), "
                       f"not an existing folder or .zip file, and not a Hugging Face id like 'owner/name'")


def _check_settings(resolution, channels, max_images, workers) -> None:
    def whole(value) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    if not whole(resolution) or not 1 <= resolution <= MAX_RESOLUTION:
        raise DatasetError(f"resolution must be a whole number of pixels from 1 to {MAX_RESOLUTION}, "
                           f"got {resolution!r}")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise DatasetError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if not whole(max_images) or max_images < 1:
        raise DatasetError(f"max_images must be a whole number of at least 1, got {max_images!r}")
    if workers is not None and (not whole(workers) or workers < 1):
        raise DatasetError(f"workers must be a whole number of at least 1 (or None: one per core), got {workers!r}")


def dataset_kind(source: str) -> str:
    """'points' or 'images', without loading anything."""
    return "points" if str(source).strip() in BUILTIN_POINT_SETS else "images"
