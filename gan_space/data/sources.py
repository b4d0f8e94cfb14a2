"""One entry point: a source named by a string (a built-in, a folder, a .zip file or a
Hugging Face dataset id) -> the loader that reads it."""

import os
import zipfile
from pathlib import Path

import numpy as np

from .builtin import BUILTIN_DATASETS, BUILTIN_POINT_SETS, EMOJI_SPRITES, load_digits, load_emoji, load_mixture
from .dataset import DEFAULT_MAX_IMAGES, Dataset, DatasetError
from .files import load_image_folder, load_image_zip
from .hub_datasets import HF_REPO_ID, load_hf_dataset
from .pool import ProgressCallback
from .sound_pictures import is_sound_source, load_sound_pictures

MAX_RESOLUTION = 1024  # pixels a side; the networks train at 128 at most


def load_dataset(source: str, resolution: int = 32, channels: int = 1, token: str | bool | None = None,
                 max_images: int = DEFAULT_MAX_IMAGES, seed: int = 0, cache_dir: str | os.PathLike | None = None,
                 progress: ProgressCallback | None = None, workers: int | None = None) -> Dataset:
    """A built-in name, a folder, a .zip file, or a Hugging Face dataset id.

    Sounds (the built-in spoken digits, a folder or .zip of sound files: is_sound_source) come
    as their spectrogram pictures (gan_space.data.sound_pictures): kind "images", one channel,
    `resolution` 128 or 64, with a `sound` record; `max_images` caps the sounds.

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
    if source in EMOJI_SPRITES:
        return load_emoji(resolution, channels, source)
    if source in BUILTIN_POINT_SETS:
        return load_mixture(source, seed=seed)
    if is_sound_source(source):  # (clips are decoded in memory: their pictures are small, no cache needed)
        return load_sound_pictures(source, resolution, channels, max_sounds=max_images, progress=progress,
                                   workers=workers)
    where = dataset_location(source)
    path = Path(os.path.expanduser(source)) if where == LOCAL else None
    files = dict(cache_dir=cache_dir, progress=progress, workers=workers)
    if path is not None and path.is_dir():
        return load_image_folder(path, resolution, channels, max_images, **files)
    if path is not None and path.is_file():
        if zipfile.is_zipfile(path) or path.suffix.lower() == ".zip":  # a damaged .zip says why
            return load_image_zip(path, resolution, channels, max_images, **files)
        raise DatasetError(f"{source} is a file but not a .zip archive; give a folder of images or a .zip")
    if where == HUB:
        return load_hf_dataset(source, resolution, channels, token, max_images, **files)
    raise DatasetError(f"no dataset named {source!r}: it is not a built-in ({', '.join(BUILTIN_DATASETS)}), "
                       f"not an existing folder or .zip file, and not a Hugging Face id like 'owner/name'")


BUILTIN, LOCAL, HUB, UNKNOWN = "built-in", "local", "hub", "unknown"


def dataset_location(source: str) -> str:
    """Where a dataset name points, by the one rule every face follows (load_dataset, the Hub
    card's dataset link, the app's Hugging Face box): a built-in name; an existing local folder
    or file (it wins over an owner/name that looks like an id); a Hugging Face id (owner/name,
    not path-like); else unknown. Touches the disk only to see whether the path exists."""
    source = str(source).strip()
    if source in BUILTIN_DATASETS:
        return BUILTIN
    try:
        if source and Path(os.path.expanduser(source)).exists():
            return LOCAL
    except (RuntimeError, OSError, ValueError):  # '~nobody/x', a name too long or with a NUL byte
        pass
    return HUB if is_hub_id(source) else UNKNOWN


def is_hub_id(source: str) -> bool:
    """Whether a name has the form of a Hugging Face id (owner/name, not path-like)."""
    return bool(HF_REPO_ID.match(source)) and not source.startswith((".", "/", "~")) and ".." not in source


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
    """'points' or 'images' (sounds train as pictures: see is_sound_source), without loading anything."""
    return "points" if str(source).strip() in BUILTIN_POINT_SETS else "images"
