"""The data cache: a run's decoded pictures on disk, in a memory-mapped file that any size of
set fits and that a later run with the same files and settings maps again instead of
decoding (also across processes: one decodes, the others wait and reuse it)."""

import contextlib
import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from .dataset import Dataset, DatasetError, images_dataset
from .pool import Entry, ProgressCallback, decode_entries, format_size, labels_of, no_usable_image, upper_bound

CACHE_VERSION = 1  # bump when the cache's layout or the decoding changes
CACHE_META = "dataset.json"  # the cache's sidecar, written last: a cache without it is incomplete


def _fingerprint(entries: list[Entry], resolution: int, channels: int, max_images: int) -> str:
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
    return images_dataset(name, samples, labels, class_names, skipped, cache_file=str(file))


def cached_images(name: str, entries: list[Entry], resolution: int, channels: int, max_images: int,
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


def _decode_into_cache(name: str, entries: list[Entry], resolution: int, channels: int, max_images: int,
                       folder: Path, progress: ProgressCallback | None, workers: int, key: str) -> Dataset:
    """Decode the entries into a new cache file in `folder` (the caller holds the lock)."""
    row_bytes = channels * resolution * resolution
    rows = upper_bound(entries, max_images)
    needed, free = rows * row_bytes, shutil.disk_usage(folder).free
    if needed + 64 * 2**20 > free:
        raise DatasetError(f"the data cache for {name} needs up to {format_size(needed)} in {folder} ({rows} images "
                           f"of {channels}x{resolution}x{resolution}), but only {format_size(free)} are free: free "
                           f"some space, or lower max_images or the resolution.")
    file_name = f"images-{key[:16]}.u8"
    unique = f"{os.getpid()}-{os.urandom(4).hex()}"  # (processes of several machines may share the folder)
    temporary = folder / f"{file_name}.{unique}.tmp"
    try:
        with open(temporary, "wb") as handle:
            class_of, skipped = decode_entries(entries, resolution, channels, max_images, workers, progress,
                                                lambda row, array: handle.write(np.ascontiguousarray(array)))
            handle.flush()
            os.fsync(handle.fileno())
        if not class_of:
            raise no_usable_image(name, skipped)
        os.replace(temporary, folder / file_name)
    finally:
        temporary.unlink(missing_ok=True)
    labels, class_names = labels_of(class_of)
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
