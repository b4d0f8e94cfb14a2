"""Training data: built-in sets that need no network, image folders, .zip files of
images and Hugging Face datasets.

Everything is loaded once into memory as tensors (images as uint8 to keep memory
low), because the datasets this tool trains on are small and a per-step Python
data pipeline would cost more than the networks on a CPU.
"""

import io
import math
import os
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

BUILTIN_IMAGE_SETS = ("digits",)
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
HF_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$", re.ASCII)


class DatasetError(ValueError):
    """A dataset could not be loaded; the message says why and what to do."""


@dataclass
class Dataset:
    """Samples in memory. Images: uint8 (N, C, H, W). Points: float32 (N, D) in data
    coordinates, with `offset`/`scale` that normalise them for training."""

    name: str
    kind: str  # "images" or "points"
    samples: torch.Tensor
    labels: torch.Tensor | None = None
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "file: reason" for each unusable file
    offset: list[float] | None = None
    scale: float = 1.0

    def __len__(self) -> int:
        return self.samples.shape[0]

    @property
    def data_shape(self) -> list[int]:
        return list(self.samples.shape[1:])

    def normalised(self) -> torch.Tensor:
        """All samples in the space the networks work in: images in [-1, 1], points
        centred and scaled to unit standard deviation."""
        if self.kind == "images":
            return self.samples.float() / 127.5 - 1.0
        return (self.samples - torch.tensor(self.offset)) / self.scale

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


def _images_from_named_bytes(name: str, items, resolution: int, channels: int, max_images: int) -> Dataset:
    """items: iterable of (relative path, bytes or a callable returning bytes)."""
    arrays, class_of, skipped = [], [], []
    for rel_path, read in items:
        if len(arrays) >= max_images:
            skipped.append(f"{rel_path}: over the limit of {max_images} images")
            continue
        if Path(rel_path).suffix.lower() not in IMAGE_EXTENSIONS:
            skipped.append(f"{rel_path}: not an image file extension")
            continue
        try:
            data = read() if callable(read) else read
            arrays.append(decode_image(data, resolution, channels))
        except (ValueError, OSError) as error:
            skipped.append(f"{rel_path}: {error}")
            continue
        parts = Path(rel_path).parts
        class_of.append(parts[0] if len(parts) > 1 else None)
    if not arrays:
        detail = f" ({len(skipped)} file(s) skipped: {'; '.join(skipped[:3])})" if skipped else ""
        raise DatasetError(f"{name} holds no usable image{detail}. Supply PNG, JPEG, GIF, WebP, BMP or "
                           f"TIFF files.")
    dataset = Dataset(name=name, kind="images", samples=torch.from_numpy(np.stack(arrays)), skipped=skipped)
    # Sub-folders are classes when every image sits in one and there are at least two.
    class_names = sorted({c for c in class_of if c is not None})
    if None not in class_of and len(class_names) >= 2:
        index = {c: i for i, c in enumerate(class_names)}
        dataset.labels = torch.tensor([index[c] for c in class_of], dtype=torch.long)
        dataset.num_classes, dataset.class_names = len(class_names), class_names
    return dataset


def load_image_folder(folder: str | os.PathLike, resolution: int, channels: int,
                      max_images: int = DEFAULT_MAX_IMAGES, links_within: str | os.PathLike | None = None) -> Dataset:
    """Image files anywhere under `folder`. Symbolic links could point anywhere on the machine:
    they are skipped (and counted), unless they resolve to a file inside `links_within` (the
    Hugging Face cache keeps a snapshot's files as links into the repo's own blob folder)."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    allowed = Path(links_within).resolve() if links_within is not None else None

    def items():
        for path in sorted(root.rglob("*")):  # rglob does not descend into linked folders
            name = path.relative_to(root).as_posix()
            if path.is_symlink():
                if allowed is None or not _link_inside(path, allowed):
                    yield name, _refuse("a symbolic link (not followed)")
                    continue
            elif not path.is_file():  # folders; pipes and devices are not files either
                continue
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                yield name, _refuse(f"file too large ({size / 2**20:.0f} MiB)")
                continue
            yield name, path.read_bytes

    return _images_from_named_bytes(str(folder), items(), resolution, channels, max_images)


def _link_inside(link: Path, folder: Path) -> bool:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling, or a loop
        return False
    return target.is_relative_to(folder) and target.is_file()


def load_image_zip(zip_path: str | os.PathLike, resolution: int, channels: int,
                   max_images: int = DEFAULT_MAX_IMAGES) -> Dataset:
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

        def items():
            for member in sorted(members, key=lambda m: m.filename):
                name = member.filename.replace("\\", "/").lstrip("/")
                if member.file_size > MAX_ZIP_MEMBER_BYTES:
                    yield name, _refuse(f"file too large ({member.file_size / 2**20:.0f} MiB unpacked)")
                    continue
                yield name, (lambda m=member: _read_member(archive, m))

        return _images_from_named_bytes(Path(zip_path).name, items(), resolution, channels, max_images)


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
                    max_images: int = DEFAULT_MAX_IMAGES) -> Dataset:
    """Image files (or .zip files of images) in a Hugging Face dataset repository.
    This is the only data source that uses the network. token=None: huggingface_hub's own
    (HF_TOKEN, a stored login); False: none."""
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
        return load_image_zip(zips[0], resolution, channels, max_images)
    # The snapshot's files are links into the repo's blob folder, two levels up.
    dataset = load_image_folder(folder, resolution, channels, max_images, links_within=Path(folder).parents[1])
    dataset.name = repo_id
    return dataset


# ---------------------------------------------------------------------------
# One entry point


def load_dataset(source: str, resolution: int = 32, channels: int = 1, token: str | bool | None = None,
                 max_images: int = DEFAULT_MAX_IMAGES, seed: int = 0) -> Dataset:
    """A built-in name, a folder, a .zip file, or a Hugging Face dataset id."""
    source = str(source).strip()
    if not source:
        raise DatasetError("no dataset given: name a built-in (" + ", ".join(BUILTIN_DATASETS) +
                           "), a folder or .zip of images, or a Hugging Face dataset id")
    if source == "digits":
        return load_digits(resolution, channels)
    if source in BUILTIN_POINT_SETS:
        return load_mixture(source, seed=seed)
    path = Path(os.path.expanduser(source))  # (Path.expanduser raises for '~nobody/x')
    if path.is_dir():
        return load_image_folder(path, resolution, channels, max_images)
    if path.is_file():
        if zipfile.is_zipfile(path) or path.suffix.lower() == ".zip":  # a damaged .zip says why
            return load_image_zip(path, resolution, channels, max_images)
        raise DatasetError(f"{source} is a file but not a .zip archive; give a folder of images or a .zip")
    if HF_REPO_ID.match(source) and not source.startswith((".", "/", "~")):
        return load_hf_dataset(source, resolution, channels, token, max_images)
    raise DatasetError(f"no dataset named {source!r}: it is not a built-in ({', '.join(BUILTIN_DATASETS)}), "
                       f"not an existing folder or .zip file, and not a Hugging Face id like 'owner/name'")


def dataset_kind(source: str) -> str:
    """'points' or 'images', without loading anything."""
    return "points" if str(source).strip() in BUILTIN_POINT_SETS else "images"
