"""Decoding a source's files into rows (pictures; sound clips, gan_space.data.sounds): in this
process, or by a pool of decoding processes for many files (a file that kills its process costs
that file only). Either way the same rows come out, in the order the source lists its files.

What a file becomes is said by a decoder (PictureDecoder here, SoundDecoder beside the sounds):
a small picklable object, so the pool, its chunks, its limits and its skip reports are the same
for every kind of file."""

import os
import sys
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .dataset import DatasetError
from .decode import FileRead, decode_image, is_image_name, name_parts

PARALLEL_MIN_FILES = 200  # fewer files decode in this process (a pool costs more than it saves)
CHUNK_FILES = 64  # files per task sent to a decoding process
CHUNK_BYTES = 16 * 1024 * 1024  # ... or fewer when they are large


class Entry(NamedTuple):
    """One file of a source, in the order the source lists it."""

    name: str  # the relative path (a first folder is the class)
    read: object  # the bytes, or a callable that returns them (or raises ValueError to refuse the file)
    stamp: object = None  # what identifies the content (sizes, times, checksums) for the cache's fingerprint


ProgressCallback = Callable[[int, int], None]


class PictureDecoder(NamedTuple):
    """Picture files -> uint8 rows (channels, resolution, resolution). A decoder says what its
    files are called in reports (`what`), which names it takes, and decodes one file's bytes
    (ValueError with the reason for a file it refuses); it travels to the decoding processes."""

    resolution: int
    channels: int

    what = "image"

    def accepts(self, name: str) -> bool:
        return is_image_name(name)

    def decode(self, data: bytes) -> np.ndarray:
        return decode_image(data, self.resolution, self.channels)

    def prepare(self) -> None:
        """Once in this process before the pool forks."""
        from PIL import Image

        Image.init()  # PIL's format plugins, imported here once rather than in each process


def _payload(entry: Entry, decoder):
    """What a decoder needs for the entry: its bytes, or a FileRead to read it with. Raises
    ValueError (with the reason the file is skipped) or OSError when it is unusable."""
    if not decoder.accepts(entry.name):
        raise ValueError(f"not {_article(decoder.what)} {decoder.what} file extension")
    if isinstance(entry.read, FileRead):
        return entry.read
    return entry.read() if callable(entry.read) else entry.read


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _read(entry: Entry, decoder) -> bytes:
    payload = _payload(entry, decoder)
    return payload() if isinstance(payload, FileRead) else payload


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


def decode_entries(entries: list[Entry], resolution: int, channels: int, max_images: int, workers: int,
                   progress: ProgressCallback | None, keep: Callable[[int, np.ndarray], None]):
    """Decode the entries' pictures in order (decode_files with a PictureDecoder)."""
    return decode_files(entries, PictureDecoder(resolution, channels), max_images, workers, progress, keep)


def decode_files(entries: list[Entry], decoder, max_rows: int, workers: int, progress: ProgressCallback | None,
                 keep: Callable[[int, np.ndarray], None]):
    """Decode the entries in order; keep(row, array) gets each usable file's row (row 0, 1, ...).
    The first `max_rows` usable files are kept, whatever the number of workers: the result
    is the same as one process decoding one file after another. Returns (class_of, skipped)."""
    report = _Progress(progress, len(entries))
    parallel = workers > 1 and upper_bound(entries, max_rows, decoder) >= PARALLEL_MIN_FILES
    outcomes = _decode_in_pool(entries, decoder, max_rows, workers) if parallel else _decode_here(entries, decoder)
    class_of, skipped = [], []
    try:
        for done, entry in enumerate(entries, 1):
            if len(class_of) >= max_rows:
                skipped.append(f"{entry.name}: over the limit of {max_rows} {decoder.what}s")
            else:
                array, reason = next(outcomes)
                if array is None:
                    skipped.append(f"{entry.name}: {reason}")
                else:
                    keep(len(class_of), array)
                    parts = name_parts(entry.name)
                    class_of.append(parts[0] if len(parts) > 1 else None)
            report(done)
    finally:
        outcomes.close()  # stops the decoding processes
    report(len(entries))
    return class_of, skipped


def _decode_here(entries: list[Entry], decoder):
    """(array, None) or (None, reason) for each entry, in this process."""
    for entry in entries:
        try:
            yield decoder.decode(_read(entry, decoder)), None
        except (ValueError, OSError) as error:
            yield None, str(error)


def _decode_chunk(datas: list, decoder):
    """In a decoding process: (the usable rows stacked, a reason or None for each file).
    datas: bytes, or a FileRead for a file to read here."""
    arrays, reasons = [], []
    for data in datas:
        try:
            if isinstance(data, FileRead):
                data = data()
            arrays.append(decoder.decode(data))
            reasons.append(None)
        except (ValueError, OSError) as error:
            reasons.append(str(error))
    block = np.stack(arrays) if arrays else np.empty(0)  # (no row is taken from an empty block)
    return block, reasons


def _unpack(result) -> list:
    block, reasons = result
    rows = iter(block)
    return [next(rows) if reason is None else reason for reason in reasons]


class _DecoderPool:
    """Decoding processes (threads where processes cannot fork). A file that kills its process
    (a decoder crash, the kernel's out-of-memory killer) costs that file only."""

    def __init__(self, workers: int, decoder):
        import multiprocessing

        decoder.prepare()
        self.workers, self.decoder = workers, decoder
        self.crashed = f"crashed the {decoder.what} decoder"
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
        return self.executor.submit(_decode_chunk, datas, self.decoder)

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
                outcomes.append(self.crashed)
                self.broken = True
        return outcomes

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _decode_in_pool(entries: list[Entry], decoder, max_images: int, workers: int):
    """What _decode_here yields, decoded by `workers` processes, in chunks of files (the
    processes read files of a folder themselves; this one reads archive members); a few
    chunks are in flight at once, and none past what `max_images` could still use."""
    from collections import deque

    pool = _DecoderPool(workers, decoder)
    pending = deque()  # (per entry: a reason, or None for a file sent to decode; the files; the future)
    position = in_flight = usable = 0
    try:
        while True:
            while position < len(entries) and len(pending) < 2 * workers and usable + in_flight < max_images:
                reasons, datas, size = [], [], 0
                room = min(CHUNK_FILES, max_images - usable - in_flight)
                while position < len(entries) and len(datas) < room and size < CHUNK_BYTES:
                    try:
                        data = _payload(entries[position], decoder)
                        datas.append(data)
                        reasons.append(None)
                        size += data.size if isinstance(data, FileRead) else len(data)
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


def labels_of(class_of: list) -> tuple[list[int] | None, list[str]]:
    class_names = sorted({c for c in class_of if c is not None})
    if None in class_of or len(class_names) < 2:
        return None, []
    index = {c: i for i, c in enumerate(class_names)}
    return [index[c] for c in class_of], class_names


def no_usable_image(name: str, skipped: list[str]) -> DatasetError:
    detail = f" ({len(skipped)} file(s) skipped: {'; '.join(skipped[:3])})" if skipped else ""
    return DatasetError(f"{name} holds no usable image{detail}. Supply PNG, JPEG, GIF, WebP, BMP or TIFF files.")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))  # the cores this process may use (containers, taskset)
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def upper_bound(entries: list[Entry], max_images: int, decoder=PictureDecoder(1, 1)) -> int:
    """Most rows the entries can give (pictures, unless the decoder takes other files)."""
    return min(max_images, sum(map(decoder.accepts, (entry.name for entry in entries))))


def format_size(num_bytes: float) -> str:
    return f"{num_bytes / 2**30:.1f} GiB" if num_bytes >= 2**30 else f"{num_bytes / 2**20:.0f} MiB"
