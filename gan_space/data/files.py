"""Pictures from files: a folder of images (sub-folders are classes) or a .zip file of
images, decoded (gan_space.data.decode) into memory or, with `cache_dir`, into the run's
data cache (gan_space.data.cache).

Pictures stay uint8 until a batch is drawn (gan_space/datasource.py normalises each batch
on the device). A set is decoded once, by several processes (gan_space.data.pool).
"""

import contextlib
import os
from pathlib import Path

import numpy as np
import torch

from .cache import cached_images
from .dataset import DEFAULT_MAX_IMAGES, Dataset, DatasetError, images_dataset
from .decode import Refusal, archive_members, file_reader, open_archive
from .pool import (Entry, ProgressCallback, decode_entries, default_workers, format_size, labels_of,
                   no_usable_image, upper_bound)


def _images_from_named_bytes(name: str, items, resolution: int, channels: int, max_images: int,
                             cache_dir: str | os.PathLike | None = None, progress: ProgressCallback | None = None,
                             workers: int | None = None) -> Dataset:
    """items: iterable of Entry, or of (relative path, bytes or a callable returning bytes).
    Sub-folders are classes when every image sits in one and there are at least two."""
    entries = [item if isinstance(item, Entry) else Entry(*item) for item in items]
    workers = default_workers() if workers is None else workers
    if cache_dir is not None:
        return cached_images(name, entries, resolution, channels, max_images, Path(cache_dir), progress, workers)
    rows = upper_bound(entries, max_images)
    _check_memory(name, rows, channels * resolution * resolution)
    images = np.empty((rows, channels, resolution, resolution), np.uint8)  # pages are only taken when written

    def keep(row, array):
        images[row] = array

    class_of, skipped = decode_entries(entries, resolution, channels, max_images, workers, progress, keep)
    if not class_of:
        raise no_usable_image(name, skipped)
    kept = images[:len(class_of)]
    if len(class_of) < rows // 2:
        kept = kept.copy()  # do not hold on to room for the many files that were unusable
    return images_dataset(name, torch.from_numpy(kept), *labels_of(class_of), skipped)


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
        raise DatasetError(f"{name}: up to {rows} images of {row_bytes} bytes need {format_size(needed)} of memory, "
                           f"but only {format_size(available)} are available. Decode it into a cache on disk "
                           f"(cache_dir; training does for folders, .zip files and Hugging Face datasets), or lower "
                           f"max_images or the resolution.")


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
    # A cache inside the folder itself is not part of the data.
    inside = None
    if cache_dir is not None:
        with contextlib.suppress(ValueError, OSError):
            inside = Path(cache_dir).resolve().relative_to(root.resolve()).parts or None
    entries = folder_entries(root, links_within, leave_out=inside)
    return _images_from_named_bytes(str(folder), entries, resolution, channels, max_images, cache_dir, progress,
                                    workers)


def folder_entries(root: Path, links_within: str | os.PathLike | None = None,
                   leave_out: tuple | None = None) -> list[Entry]:
    """An Entry for each file under `root`, sorted by relative name (not the folder
    `leave_out`, given as relative parts). Files that must not be read (a symbolic link
    outside `links_within`, an unreadable or too large file) are listed with a Refusal, so
    they are reported; pipes and devices are not files and are not listed."""
    allowed = Path(links_within).resolve() if links_within is not None else None
    entries = []
    for parts, item in sorted(_walk(root, ()), key=lambda pair: pair[0]):
        if leave_out is not None and parts[:len(leave_out)] == leave_out:
            continue
        name = "/".join(parts)
        if item.is_symlink():
            path = Path(item.path)
            if allowed is None or not _link_inside(path, allowed):
                entries.append(Entry(name, Refusal("a symbolic link (not followed)"), "link"))
                continue
            path = path.resolve()  # a file in the allowed folder: read it there
        elif item.is_file(follow_symlinks=False):
            path = Path(item.path)
        else:  # pipes and devices are not files
            continue
        read, stamp = file_reader(path)
        entries.append(Entry(name, read, stamp))
    return entries


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
    with open_archive(zip_path) as archive:
        entries = [Entry(*member) for member in archive_members(archive, Path(zip_path).name)]
        return _images_from_named_bytes(Path(zip_path).name, entries, resolution, channels, max_images, cache_dir,
                                        progress, workers)
