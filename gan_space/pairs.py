"""Pairs of pictures for image-to-image training: an input (what the generator is given)
and a target (what it should make of it).

Made on the fly from any picture set, on the training device, from the batch of targets
the data source draws (so streaming, shards and exact resumes work as for any run):

- "super-resolution": the target downscaled x2 or x4 with antialiasing (bicubic, as
  MATLAB's imresize and PIL do), after an optional Gaussian blur, then optional noise
  and JPEG compression (the classical degradation order: blur, downscale, noise, JPEG);
- "colorize": the target's luma (ITU-R 601, as PIL's convert("L")) -> the target;
- "edges": a sketch of the target (dark lines on white, from the gradient of its luma)
  -> the target.

Or the user's own pairs ("paired", `load_paired`): a folder (or .zip) with `A/` and `B/`
holding files of matching names, or pictures with the input and the target side by side
(the layout of the pix2pix datasets). Files without a partner, and pictures that are
not two side by side, are skipped and reported.

A few pictures are held out of training (`split_held_out`): the previews show them as
(input | output | target) and the scores are measured on them. Their inputs are made
once, with a fixed seed, and kept in the run folder (`held_out.safetensors`).
"""

import io
import os
import warnings
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import (DEFAULT_MAX_IMAGES, IMAGE_EXTENSIONS, IMAGE_FORMATS, MAX_FILE_BYTES, MAX_IMAGE_PIXELS,
                   BUILTIN_DATASETS, Dataset, DatasetError, load_dataset)
from .names import DIRECTIONS, SCALES  # the choices every face shows (torch-free)

TASKS = ("generate", "super-resolution", "colorize", "edges", "paired")
PAIR_TASKS = TASKS[1:]
HELD_OUT_FILE = "held_out.safetensors"
HELD_OUT_SEED = 1_000_003  # the held-out inputs' degradations: the same in every run and every process
MAX_HELD_OUT = 64
MAX_ZIP_TOTAL_BYTES = 1024 * 1024 * 1024
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
    """How one task makes its pairs. `__call__` turns a batch of stored rows (normalised to
    [-1, 1]) into (condition, target); the randomness (flips, blur, noise and JPEG quality)
    comes from `generator`, the run's noise stream, so a resumed run makes the same pairs."""

    task: str
    channels: int = 3  # the target's channels
    scale: int = 4  # super-resolution
    blur: float = 0.0  # super-resolution: largest blur sigma, in target pixels (each picture draws from 0 to it)
    noise: float = 0.0  # super-resolution: largest noise std, in 0-255 levels
    jpeg: int = 0  # super-resolution: lowest JPEG quality (each picture draws up to 95); 0: no JPEG
    flip: bool = False  # mirror pairs left-right at random (both sides alike)

    @classmethod
    def from_config(cls, config) -> "Pairing":
        return cls(task=config.task, channels=config.channels, scale=config.scale if config.task == "super-resolution"
                   else 1, blur=config.blur, noise=config.noise, jpeg=config.jpeg, flip=config.augment == "flip")

    @property
    def condition_channels(self) -> int:
        return 1 if self.task in ("colorize", "edges") else self.channels

    def condition_shape(self, target_shape) -> tuple:
        channels, height, width = target_shape
        return (self.condition_channels, height // self.scale, width // self.scale)

    def split_rows(self, rows: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Stored rows -> (stored input or None, target): paired rows hold both, side by side in channels."""
        if self.task == "paired":
            return rows[:, : self.channels], rows[:, self.channels:]
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
        if self.task == "colorize":
            return to_float(quantise_uint8(luma(target))).to(target.device)
        if self.task == "edges":
            return to_float(quantise_uint8(sketch(target))).to(target.device)
        if self.task != "super-resolution":
            raise ValueError(f"task {self.task!r} makes no inputs from targets: its pairs come from the data")
        n, device = target.shape[0], target.device
        x = target.float()
        if self.blur > 0:
            sigmas = torch.rand(n, device=device, generator=generator) * self.blur
            x = gaussian_blur(x, sigmas)
        x = downscale(x, self.scale)
        if self.noise > 0:
            stds = torch.rand(n, 1, 1, 1, device=device, generator=generator) * (self.noise / 127.5)
            x = x + stds * torch.randn(x.shape, device=device, generator=generator)
        if self.jpeg > 0:
            qualities = torch.randint(self.jpeg, JPEG_BEST_QUALITY + 1, (n,), device=device, generator=generator)
            return jpeg_compress(x, qualities.tolist())
        return to_float(quantise_uint8(x)).to(device)

    def baseline(self, condition: torch.Tensor, target_size: tuple) -> torch.Tensor:
        """What the output is compared with: bicubic upscaling for super-resolution, else the
        input itself (grey repeated to the target's channels)."""
        if self.task == "super-resolution":
            return upscale_bicubic(condition, size=target_size)
        return match_channels(condition.float(), self.channels)

    def describe(self) -> str:
        if self.task == "super-resolution":
            extras = [f"blur up to {self.blur:g} px" if self.blur else "", f"noise up to {self.noise:g}" if self.noise
                      else "", f"JPEG quality {self.jpeg}-{JPEG_BEST_QUALITY}" if self.jpeg else ""]
            extras = [e for e in extras if e]
            return f"x{self.scale} super-resolution" + (f" ({', '.join(extras)})" if extras else "")
        return {"colorize": "colourisation (grey -> colour)", "edges": "sketch -> picture",
                "paired": "your pairs (input -> target)"}[self.task]


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


@dataclass
class HeldOut:
    """Held-out pairs as 8-bit pictures: condition (N, Cin, h, w) and target (N, C, H, W)."""

    condition: torch.Tensor
    target: torch.Tensor

    @classmethod
    def make(cls, pairing: Pairing, rows: torch.Tensor) -> "HeldOut":
        """From stored rows: the inputs made with a fixed seed (no flips), the same everywhere."""
        normalised = to_float(rows)
        given, target = pairing.split_rows(normalised)
        if given is None:
            generator = torch.Generator().manual_seed(HELD_OUT_SEED)
            given = replace(pairing, flip=False).make_condition(target, generator)
        return cls(condition=quantise_uint8(given), target=quantise_uint8(target))

    def __len__(self) -> int:
        return self.target.shape[0]

    def normalised(self, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
        return to_float(self.condition).to(device), to_float(self.target).to(device)

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        save_file({"condition": self.condition.contiguous(), "target": self.target.contiguous()}, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> "HeldOut":
        from safetensors.torch import load_file

        tensors = load_file(Path(path))
        return cls(condition=tensors["condition"], target=tensors["target"])


# ---------------------------------------------------------------------------
# Loading the data of a task


def load_task_data(config, cache_dir=None, progress=None, token=None) -> Dataset:
    """The pictures a run of this task trains on: the user's pairs for "paired", else the
    targets (any picture set load_dataset reads)."""
    if config.task == "paired":
        return load_paired(config.dataset, config.resolution, config.channels, max_images=config.max_images,
                           direction=config.direction)
    files = {} if config.dataset in BUILTIN_DATASETS else dict(cache_dir=cache_dir, progress=progress)
    return load_dataset(config.dataset, config.resolution, config.channels, max_images=config.max_images,
                        seed=config.seed, token=token, **files)


def load_paired(source: str | os.PathLike, resolution: int, channels: int, max_images: int = DEFAULT_MAX_IMAGES,
                direction: str = "AtoB") -> Dataset:
    """A user's pairs from a folder or a .zip: `A/` and `B/` with files of matching names
    (the relative path under A/ and B/ without its extension), or pictures that hold the
    input and the target side by side (left: A, right: B). `direction` "AtoB" learns A -> B.

    Returns a Dataset whose rows hold the input and the target stacked along channels
    (2 * channels, resolution, resolution), input first; `skipped` lists every file left
    out and why (no partner, not side by side, unreadable)."""
    if direction not in DIRECTIONS:
        raise DatasetError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    path = Path(os.path.expanduser(str(source)))
    if path.is_dir():
        entries, skipped = _folder_entries(path)
        return _paired_dataset(path.name, entries, skipped, resolution, channels, max_images, direction)
    if path.is_file() and (zipfile.is_zipfile(path) or path.suffix.lower() == ".zip"):
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise DatasetError(f"{path.name} is not a readable .zip file ({error})") from None
        with archive:
            entries, skipped = _zip_entries(archive, path.name)
            return _paired_dataset(path.name, entries, skipped, resolution, channels, max_images, direction)
    raise DatasetError(f"paired data must be a folder or a .zip (with A/ and B/, or side-by-side pictures); "
                       f"{source} is neither")


def _paired_dataset(source_name: str, entries: dict, skipped: list[str], resolution: int, channels: int, max_images: int,
                    direction: str) -> Dataset:
    pictures = {n: read for n, read in entries.items() if Path(n).suffix.lower() in IMAGE_EXTENSIONS}
    skipped = skipped + [f"{n}: not a picture file" for n in entries if n not in pictures]
    a_root, b_root = _ab_roots(pictures)
    rows = []
    if a_root is not None:
        layout = f"A/ and B/ under {a_root.rsplit('/', 1)[0] if '/' in a_root else 'the top'}"
        matched, unmatched = _match_ab(pictures, a_root, b_root)
        skipped += unmatched
        for key, (a_name, b_name) in sorted(matched.items()):
            if len(rows) >= max_images:
                break
            try:
                a = _fit(_open_picture(pictures[a_name]()), resolution, channels)
                b = _fit(_open_picture(pictures[b_name]()), resolution, channels)
            except ValueError as error:
                skipped.append(f"{a_name} + {b_name}: {error}")
                continue
            rows.append(np.concatenate([a, b] if direction == "AtoB" else [b, a]))
    else:
        layout = "side-by-side pictures"
        for name in sorted(pictures):
            if len(rows) >= max_images:
                break
            try:
                picture = _open_picture(pictures[name]())
                width, height = picture.size
                if not 1.8 <= width / height <= 2.2:
                    raise ValueError(f"not two pictures side by side ({width}x{height}: expected about twice as "
                                     f"wide as tall)")
                half = width // 2
                a = _fit(picture.crop((0, 0, half, height)), resolution, channels)
                b = _fit(picture.crop((half, 0, 2 * half, height)), resolution, channels)
            except ValueError as error:
                skipped.append(f"{name}: {error}")
                continue
            rows.append(np.concatenate([a, b] if direction == "AtoB" else [b, a]))
    if not rows:
        detail = f" ({len(skipped)} file(s) skipped: {'; '.join(skipped[:3])})" if skipped else ""
        raise DatasetError(f"{source_name} holds no usable pair{detail}. Put the inputs in A/ and the targets in B/ with "
                           f"matching file names, or give pictures with the input on the left and the target on "
                           f"the right.")
    samples = torch.from_numpy(np.stack(rows))
    return Dataset(name=f"{source_name} ({layout})", kind="images", samples=samples, skipped=skipped)


def _ab_roots(pictures: dict) -> tuple[str | None, str | None]:
    """The folders A and B (the shallowest pair of siblings named A and B), or (None, None)."""
    candidates = []
    for name in pictures:
        parts = name.split("/")
        for depth, part in enumerate(parts[:-1]):
            if part in ("A", "B"):
                parent = "/".join(parts[:depth])
                candidates.append((depth, parent, part))
                break
    parents = {}
    for depth, parent, side in candidates:
        parents.setdefault((depth, parent), set()).add(side)
    for (depth, parent), sides in sorted(parents.items()):
        if sides == {"A", "B"}:
            prefix = f"{parent}/" if parent else ""
            return prefix + "A", prefix + "B"
    return None, None


def _match_ab(pictures: dict, a_root: str, b_root: str) -> tuple[dict, list[str]]:
    """{key: (A file, B file)} for keys on both sides; every other file is reported."""
    sides = {"A": {}, "B": {}}
    skipped, doubled = [], set()
    for name in pictures:
        for side, root in (("A", a_root), ("B", b_root)):
            if name.startswith(root + "/"):
                key = str(Path(name[len(root) + 1:]).with_suffix(""))
                if key in sides[side]:
                    doubled.add((side, key))
                sides[side].setdefault(key, []).append(name)
                break
        else:
            skipped.append(f"{name}: outside {a_root}/ and {b_root}/")
    matched = {}
    for side, other in (("A", "B"), ("B", "A")):
        for key, names in sides[side].items():
            if (side, key) in doubled:
                skipped += [f"{n}: several {side}/ files are named {key} (keep one)" for n in names]
            elif key not in sides[other]:
                skipped.append(f"{names[0]}: no partner in {other}/ (a file named {key} with any extension)")
            elif (other, key) in doubled:
                skipped.append(f"{names[0]}: its partner in {other}/ is ambiguous (several files named {key})")
            elif side == "A":
                matched[key] = (names[0], sides[other][key][0])
    return matched, skipped


def _folder_entries(root: Path) -> tuple[dict, list[str]]:
    """{relative name: reader} for the regular files under `root` (symbolic links are not
    followed, large files not read)."""
    entries, skipped = {}, []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for file_name in sorted(files):
            full = Path(folder) / file_name
            name = full.relative_to(root).as_posix()
            if full.is_symlink():
                skipped.append(f"{name}: a symbolic link (not followed)")
                continue
            try:
                size = full.stat().st_size
            except OSError as error:
                skipped.append(f"{name}: unreadable ({error.strerror or type(error).__name__})")
                continue
            if size > MAX_FILE_BYTES:
                skipped.append(f"{name}: file too large ({size / 2**20:.0f} MiB)")
                continue
            entries[name] = (lambda p=full: p.read_bytes())
    return entries, skipped


def _zip_entries(archive: zipfile.ZipFile, name: str) -> tuple[dict, list[str]]:
    """{member name: reader} read in memory, never extracted (so '../x' writes nothing)."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    if sum(m.file_size for m in members) > MAX_ZIP_TOTAL_BYTES:
        raise DatasetError(f"{name} unpacks to more than {MAX_ZIP_TOTAL_BYTES / 2**30:.0f} GiB")
    data = {}
    skipped = []
    for member in members:
        name = member.filename.replace("\\", "/").lstrip("/")
        if member.file_size > MAX_FILE_BYTES:
            skipped.append(f"{name}: file too large ({member.file_size / 2**20:.0f} MiB unpacked)")
            continue
        data[name] = (lambda m=member: _read_member(archive, m))
    return data, skipped


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(member) as handle:
            data = handle.read(member.file_size + 1)
    except Exception as error:  # a damaged or encrypted member costs only itself
        raise ValueError(f"unreadable archive member ({type(error).__name__})") from None
    if len(data) > member.file_size:
        raise ValueError("archive member larger than declared")
    return data


def _open_picture(data: bytes):
    """Bytes -> an upright 8-bit RGB PIL picture (transparency on white), with the guards
    gan_space.data uses for any upload: the safe decoders only, bombs refused from the header."""
    from PIL import Image, ImageOps

    if not data:
        raise ValueError("empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as picture:
                if picture.width * picture.height > MAX_IMAGE_PIXELS:
                    raise ValueError(f"image too large ({picture.width}x{picture.height} pixels)")
                picture.seek(0)
                picture.load()
                try:
                    picture = ImageOps.exif_transpose(picture)
                except Exception:  # a damaged orientation tag is not worth losing the picture for
                    pass
                if picture.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit and float: scale to 8 bits
                    array = np.asarray(picture, dtype=np.float64)
                    top = 65535.0 if array.max() > 255 else 255.0
                    picture = Image.fromarray((array / top * 255).clip(0, 255).astype(np.uint8))
                if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
                    background = Image.new("RGBA", picture.size, (255, 255, 255, 255))
                    picture = Image.alpha_composite(background, picture.convert("RGBA"))
                return picture.convert("RGB")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValueError("image too large (decompression bomb)") from None
        except ValueError:
            raise
        except Exception as error:  # PIL raises many types for corrupt files
            raise ValueError(f"not a readable image ({type(error).__name__})") from None


def _fit(picture, resolution: int, channels: int) -> np.ndarray:
    """A PIL picture -> uint8 (C, resolution, resolution), centre-cropped like gan_space.data."""
    from PIL import Image, ImageOps

    picture = ImageOps.fit(picture.convert("L" if channels == 1 else "RGB"), (resolution, resolution),
                           Image.Resampling.BICUBIC)
    array = np.asarray(picture, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def open_picture(data: bytes):
    """Bytes of a picture file -> an RGB PIL picture, refusing what gan_space.data refuses."""
    return _open_picture(data)


__all__ = ["TASKS", "PAIR_TASKS", "SCALES", "DIRECTIONS", "Pairing", "HeldOut", "load_paired", "load_task_data",
           "split_held_out", "held_out_rows", "luma", "downscale", "upscale_bicubic", "gaussian_blur",
           "jpeg_compress", "sketch", "match_channels", "open_picture", "HELD_OUT_FILE"]
