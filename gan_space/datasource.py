"""Batches of real samples for training, from a Dataset of any size.

A Dataset keeps its pictures as uint8 (in memory, or memory-mapped from a run's data
cache: gan_space/data/cache.py); a batch is converted to float only when it is drawn. Two ways
to draw, one contract (`BatchSource`):

- `InMemorySource`: this process's rows live on the device as uint8 (4x smaller than
  float32); a batch is gathered there and normalised there. Used when they fit
  `in_memory_limit_bytes`.
- `StreamingSource`: the rows stay where the Dataset keeps them (a memory map); a
  background thread draws the indices of the next batches, reads those rows (in file
  order, then puts them back in the drawn order), pins them, copies them to the GPU on a
  side stream and normalises them there, so the training step does not wait for the disk.

Both draw rows uniformly with replacement, `torch.randint(num_samples, (batch_size,),
generator=rng)` on the source's own CPU generator, and normalise with the same operations on
the same device, so for one seed they return the same batches, bit for bit. `rng_state()` is
the generator's state as of the batches returned so far, even with batches prefetched ahead:
a run resumed with `set_rng_state` draws exactly the batches the uninterrupted run would have.

Several processes: `shard=(rank, world_size)` gives each process every world_size-th row
starting at its rank (as gan_space/distributed.py's `shard`); a streaming process reads
only its own rows of the shared cache.
"""

import os
import queue
import threading
import weakref

import torch

from . import devices
from .data import Dataset

DEFAULT_IN_MEMORY_LIMIT_BYTES = 2 * 2**30


class BatchSource:
    """Draws (real, labels) batches; see the module's docstring.

    num_samples: the rows this process draws from (its shard). in_memory: whether they sit
    on the device (InMemorySource) or are read per batch (StreamingSource)."""

    num_samples: int
    in_memory: bool

    def __init__(self, dataset: Dataset, device: torch.device, seed: int, use_labels: bool,
                 memory_format: torch.memory_format, shard: tuple[int, int] | None):
        self.device = torch.device(device)
        self.rank, self.world_size = _check_shard(shard, len(dataset))
        self.num_samples = len(range(self.rank, len(dataset), self.world_size))
        if use_labels and dataset.labels is None:
            raise ValueError(f"use_labels=True but {dataset.name} has no labels")
        self.kind, self.name = dataset.kind, dataset.name
        self.convert = _Converter(dataset, self.device, memory_format)
        self.rng = torch.Generator().manual_seed(int(seed))

    def next_batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(real, labels): float32 normalised samples on the device (images in [-1, 1], in the
        source's memory format; points centred and scaled), and long labels on the device or None."""
        raise NotImplementedError

    def rng_state(self) -> torch.Tensor:
        """The generator's state as of the batches returned so far (for a checkpoint)."""
        raise NotImplementedError

    def set_rng_state(self, state: torch.Tensor) -> None:
        """Continue from a state `rng_state()` returned (resume)."""
        raise NotImplementedError

    def reseed(self, seed: int) -> None:
        """Start a new stream of batches from `seed` (several processes: one stream per rank)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop any background work; idempotent. A later next_batch starts it again."""

    def describe(self) -> str:
        where = "on the device" if self.in_memory else "streamed from disk"
        shard = f" (shard {self.rank + 1} of {self.world_size})" if self.world_size > 1 else ""
        return f"{self.num_samples} {self.kind}{shard} {where}"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class InMemorySource(BatchSource):
    """This process's rows on the device as stored (uint8 images, float32 points)."""

    in_memory = True

    def __init__(self, dataset: Dataset, device: torch.device, seed: int, *, use_labels: bool,
                 memory_format=torch.contiguous_format, shard: tuple[int, int] | None = None):
        super().__init__(dataset, device, seed, use_labels, memory_format, shard)
        rows = slice(self.rank, None, self.world_size)
        samples = dataset.samples[rows] if self.world_size > 1 else dataset.samples
        if self.device.type == "cpu":
            # A shard or a memory-mapped cache becomes one block of this process's memory.
            if self.world_size > 1 or dataset.cache_file is not None:
                samples = samples.clone()
        else:
            samples = samples.to(self.device)
        self.samples = samples
        labels = dataset.labels if use_labels else None
        self.labels = (labels[rows] if self.world_size > 1 else labels).to(self.device) if labels is not None else None

    def next_batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        index = torch.randint(self.num_samples, (_check_batch_size(batch_size),), generator=self.rng)
        index = devices.to_device_async(index, self.device)  # only the indices cross, without making the CPU wait
        real = self.convert(self.samples[index])
        return real, (self.labels[index] if self.labels is not None else None)

    def rng_state(self) -> torch.Tensor:
        return self.rng.get_state()

    def set_rng_state(self, state: torch.Tensor) -> None:
        self.rng.set_state(state)

    def reseed(self, seed: int) -> None:
        self.rng.manual_seed(int(seed))


class StreamingSource(BatchSource):
    """Rows read per batch (from the run's cache file, or else from the Dataset's samples),
    with `prefetch` batches prepared ahead by a background thread (0: read when asked)."""

    in_memory = False

    def __init__(self, dataset: Dataset, device: torch.device, seed: int, *, use_labels: bool,
                 memory_format=torch.contiguous_format, shard: tuple[int, int] | None = None, prefetch: int = 2):
        super().__init__(dataset, device, seed, use_labels, memory_format, shard)
        if not isinstance(prefetch, int) or prefetch < 0:
            raise ValueError(f"prefetch must be a whole number of batches >= 0, got {prefetch!r}")
        if dataset.samples.device.type != "cpu":
            raise ValueError("a streaming source reads samples kept on the CPU (in memory or memory-mapped)")
        self.prefetch = prefetch
        self.cache_file = dataset.cache_file
        side_stream = devices.side_stream(self.device)  # None off CUDA
        self._produce = _Producer(dataset, dataset.labels if use_labels else None, self.rank,
                                  self.world_size, self.num_samples, self.rng, self.device, side_stream,
                                  self.convert)
        self._state = self.rng.get_state()  # as of the batches returned so far
        self._worker = [None]  # the running _Prefetcher (a list, so the finaliser sees replacements)
        weakref.finalize(self, _stop, self._worker)

    def next_batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size = _check_batch_size(batch_size)
        if self.prefetch == 0:
            try:
                real, labels, self._state, event = self._produce(batch_size)
            except BaseException:
                self.rng.set_state(self._state)  # as if this batch had not been drawn
                raise
        else:
            worker = self._worker[0]
            if worker is None or worker.batch_size != batch_size:
                self._restart()
                worker = self._worker[0] = _Prefetcher(self._produce, batch_size, self.prefetch)
            try:
                real, labels, state, event = worker.get()
            except BaseException:
                self._restart()  # the next call starts again from the last batch returned
                raise
            self._state = state
        if event is not None:  # made on the side stream: the caller's stream waits for it, not the CPU
            devices.wait_for(event, self.device, real, labels)
        elif real.device != self.device:  # another accelerator: copy and normalise here
            real = self.convert(real.to(self.device))
            labels = labels.to(self.device) if labels is not None else None
        return real, labels

    def _restart(self) -> None:
        """Stop the prefetching thread, drop what it prepared and rewind the generator to the
        state after the last batch returned (those batches are drawn again, identically)."""
        _stop(self._worker)
        self.rng.set_state(self._state)

    def rng_state(self) -> torch.Tensor:
        return self._state.clone()

    def set_rng_state(self, state: torch.Tensor) -> None:
        _stop(self._worker)
        self.rng.set_state(state)
        self._state = self.rng.get_state()

    def reseed(self, seed: int) -> None:
        _stop(self._worker)
        self.rng.manual_seed(int(seed))
        self._state = self.rng.get_state()

    def close(self) -> None:
        self._restart()

    def describe(self) -> str:
        return super().describe() + (f" ({self.prefetch} batches prefetched)" if self.prefetch else "")


def make_source(dataset: Dataset, device: torch.device, seed: int, *, use_labels: bool,
                memory_format=torch.contiguous_format, shard: tuple[int, int] | None = None,
                in_memory_limit_bytes: int = DEFAULT_IN_MEMORY_LIMIT_BYTES, prefetch: int = 2) -> BatchSource:
    """An InMemorySource when this shard's stored bytes fit `in_memory_limit_bytes`, else a
    StreamingSource over the Dataset's (memory-mapped) samples."""
    rank, world_size = _check_shard(shard, len(dataset))
    shard_bytes = len(range(rank, len(dataset), world_size)) * dataset.row_bytes
    if shard_bytes <= in_memory_limit_bytes:
        return InMemorySource(dataset, device, seed, use_labels=use_labels, memory_format=memory_format, shard=shard)
    return StreamingSource(dataset, device, seed, use_labels=use_labels, memory_format=memory_format, shard=shard,
                           prefetch=prefetch)


# ---------------------------------------------------------------------------


def _check_shard(shard, num_rows: int) -> tuple[int, int]:
    rank, world_size = shard if shard is not None else (0, 1)
    if not (isinstance(rank, int) and isinstance(world_size, int) and 0 <= rank < world_size):
        raise ValueError(f"shard must be (rank, world_size) with 0 <= rank < world_size, got {shard!r}")
    if num_rows < world_size:
        raise ValueError(f"{num_rows} sample(s) cannot be shared by {world_size} processes")
    return rank, world_size


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    return batch_size


class _Converter:
    """Stored rows -> what the networks take: Dataset.normalise's operations, then the memory format."""

    def __init__(self, dataset: Dataset, device: torch.device, memory_format: torch.memory_format):
        self.images = dataset.kind == "images"
        self.memory_format = memory_format
        self.offset = None if self.images else torch.tensor(dataset.offset, device=device)
        self.scale = dataset.scale

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        if self.images:
            if rows.dim() == 4:
                rows = rows.contiguous(memory_format=self.memory_format)  # cheaper on uint8 than on float
            # Dataset.normalise's operations, in place on one new float tensor (the same values,
            # bit for bit; elementwise, so the memory format is kept).
            return rows.to(torch.float32, copy=True).div_(127.5).sub_(1.0)
        return (rows - self.offset.to(rows.device)) / self.scale


class _Producer:
    """Draws one batch: the indices (and the generator's state after them), the rows in the
    drawn order, then (on CUDA) the copy and normalisation on a side stream.
    Holds no reference to its source, so that a dropped source stops its thread.

    Rows of a cache file are read with one positioned read each, in file order, straight into
    their place in the batch: the file is not mapped into this process, so its resident size
    does not grow with the set (reading a memory map would map pages around every row read,
    and a long run would hold the whole file). Other samples are gathered from the tensor."""

    def __init__(self, dataset, labels, rank, world_size, num_samples, rng, device, side_stream, convert):
        self.samples, self.labels = dataset.samples, labels
        self.shape, self.dtype = tuple(dataset.samples.shape[1:]), dataset.samples.dtype
        self.row_bytes = dataset.row_bytes
        self.rank, self.world_size, self.num_samples = rank, world_size, num_samples
        self.rng, self.device, self.side_stream, self.convert = rng, device, side_stream, convert
        self.file = None
        if dataset.cache_file is not None and hasattr(os, "preadv"):
            self.file = os.open(dataset.cache_file, os.O_RDONLY)
            weakref.finalize(self, os.close, self.file)
            if hasattr(os, "posix_fadvise"):  # random rows: read-ahead would read what is not asked for
                os.posix_fadvise(self.file, 0, 0, os.POSIX_FADV_RANDOM)

    def __call__(self, batch_size: int):
        index = torch.randint(self.num_samples, (batch_size,), generator=self.rng)
        state = self.rng.get_state()
        rows = index * self.world_size + self.rank if self.world_size > 1 else index
        batch = devices.host_buffer((batch_size, *self.shape), self.dtype, self.device)  # pinned for CUDA
        if self.file is not None:
            self._read_rows(rows, batch)
        else:
            # Rows in storage order read a memory map faster; then into the drawn order.
            in_order, where = rows.sort()
            batch.index_copy_(0, where, self.samples.index_select(0, in_order))
        labels = None
        if self.labels is not None:
            labels = devices.host_buffer((batch_size,), self.labels.dtype, self.device)
            torch.index_select(self.labels, 0, rows, out=labels)
        if self.side_stream is not None:  # CUDA: copy and normalise on the side stream
            with self.side_stream.active():
                real = self.convert(devices.to_device_async(batch, self.device))
                labels = devices.to_device_async(labels, self.device) if labels is not None else None
                event = self.side_stream.mark()
            return real, labels, state, event
        if self.device.type == "cpu":
            return self.convert(batch), labels, state, None
        return batch, labels, state, None  # next_batch copies and normalises on the device

    def _read_rows(self, rows: torch.Tensor, batch: torch.Tensor) -> None:
        in_order, where = rows.sort()
        size = self.row_bytes
        target = memoryview(batch.numpy()).cast("B")
        for row, slot in zip(in_order.tolist(), where.tolist()):
            if os.preadv(self.file, [target[slot * size:(slot + 1) * size]], row * size) != size:
                raise RuntimeError(f"the data cache file ended before row {row}: it was changed while in use")


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


class _Prefetcher:
    """A thread that keeps up to `depth` batches of `batch_size` ready."""

    def __init__(self, produce: _Producer, batch_size: int, depth: int):
        self.batch_size = batch_size
        self.queue = queue.Queue(maxsize=depth)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=_prefetch, args=(produce, batch_size, self.queue, self.stopping),
                                       name="gan_space-batches", daemon=True)
        self.thread.start()

    def get(self):
        while True:
            try:
                item = self.queue.get(timeout=0.1)
            except queue.Empty:
                if not self.thread.is_alive() and self.queue.empty():
                    raise RuntimeError("the batch prefetching thread stopped") from None
                continue
            if isinstance(item, _Failure):
                raise item.error
            return item

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        while not self.queue.empty():
            self.queue.get_nowait()


def _prefetch(produce: _Producer, batch_size: int, ready: queue.Queue, stopping: threading.Event) -> None:
    def put(item) -> None:
        while not stopping.is_set():
            try:
                ready.put(item, timeout=0.05)
                return
            except queue.Full:
                pass

    try:
        while not stopping.is_set():
            put(produce(batch_size))
    except BaseException as error:  # handed to next_batch, which raises it
        put(_Failure(error))


def _stop(worker: list) -> None:
    if worker[0] is not None:
        worker[0].stop()
        worker[0] = None


__all__ = ["BatchSource", "InMemorySource", "StreamingSource", "make_source", "DEFAULT_IN_MEMORY_LIMIT_BYTES"]
