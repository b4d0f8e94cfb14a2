"""Batches from a Dataset of any size (gan_space/datasource.py): the in-memory and the
streaming source draw the same batches for a seed, resume exactly with batches prefetched,
split the rows between processes, and a 100,000-picture folder streams in bounded memory."""

import gc
import io
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_space.data import Dataset, load_dataset
from gan_space.datasource import InMemorySource, StreamingSource, make_source

REPO = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")


def indexed_images(count: int = 1000, labels: bool = True) -> Dataset:
    """Images whose first two bytes spell their row number (the rest is noise)."""
    generator = torch.Generator().manual_seed(count)
    samples = torch.randint(0, 256, (count, 3, 4, 4), dtype=torch.uint8, generator=generator)
    rows = torch.arange(count)
    samples[:, 0, 0, 0], samples[:, 0, 0, 1] = (rows % 256).to(torch.uint8), (rows // 256).to(torch.uint8)
    dataset = Dataset(name="indexed", kind="images", samples=samples)
    if labels:
        dataset.labels, dataset.num_classes, dataset.class_names = rows % 7, 7, [str(i) for i in range(7)]
    return dataset


def rows_of(real: torch.Tensor) -> list[int]:
    """The row numbers spelled by a batch of indexed_images."""
    pixels = ((real[:, 0, 0, :2].float() + 1) * 127.5).round().long()
    return (pixels[:, 0] + 256 * pixels[:, 1]).tolist()


def png_folder(root: Path, count: int, classes: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def cached_folder(tmp_path_factory) -> Dataset:
    """A folder of pictures decoded into a cache: samples memory-mapped from the cache file."""
    root = tmp_path_factory.mktemp("cached")
    dataset = load_dataset(str(png_folder(root / "pictures", 300)), resolution=8, channels=3,
                           cache_dir=root / "data-cache", workers=1)
    assert dataset.cache_file is not None and dataset.num_classes == 2
    return dataset


def both(dataset, seed=5, **settings) -> tuple:
    memory = make_source(dataset, CPU, seed, in_memory_limit_bytes=2**40, **settings)
    streaming = make_source(dataset, CPU, seed, in_memory_limit_bytes=0, **settings)
    assert isinstance(memory, InMemorySource) and memory.in_memory
    assert isinstance(streaming, StreamingSource) and not streaming.in_memory
    return memory, streaming


@pytest.mark.parametrize("shard", [None, (1, 3)])
@pytest.mark.parametrize("prefetch", [0, 3])
def test_in_memory_and_streaming_sources_give_identical_batches(cached_folder, shard, prefetch):
    datasets = {"indexed": indexed_images(), "cached": cached_folder, "digits": load_dataset("digits"),
                "ring8": load_dataset("ring8")}
    for name, dataset in datasets.items():
        labelled = dataset.labels is not None
        memory, streaming = both(dataset, use_labels=labelled, shard=shard, prefetch=prefetch,
                                 memory_format=torch.channels_last)
        assert memory.num_samples == streaming.num_samples == len(range(*(shard or (0, 1))[:1], len(dataset),
                                                                          (shard or (0, 1))[1]))
        # The contract's draw: uniform with replacement from the source's own generator.
        rank, world = shard or (0, 1)
        expected = torch.randint(memory.num_samples, (16,), generator=torch.Generator().manual_seed(5))
        expected = dataset.normalised_subset(rank + expected * world)
        for batch_size in (16, 16, 7, 16, 33):  # a change of batch size restarts the prefetching exactly
            (a, a_labels), (b, b_labels) = memory.next_batch(batch_size), streaming.next_batch(batch_size)
            if expected is not None:
                assert torch.equal(a, expected.contiguous(memory_format=torch.channels_last)
                                   if a.dim() == 4 else expected), name
                expected = None
            assert torch.equal(a, b) and a.dtype == torch.float32 and a.shape[0] == batch_size, name
            assert (a_labels is None) == (not labelled) and (a_labels is None or torch.equal(a_labels, b_labels))
            assert torch.equal(memory.rng_state(), streaming.rng_state())
            if dataset.kind == "images":
                assert a.is_contiguous(memory_format=torch.channels_last) and b.is_contiguous(
                    memory_format=torch.channels_last)
                assert a.min() >= -1 and a.max() <= 1
            if a_labels is not None:
                assert a_labels.dtype == torch.long
        streaming.close()
    # A memory-mapped cache is copied into this process's memory by the in-memory source.
    memory, streaming = both(cached_folder, use_labels=False)
    assert memory.samples.data_ptr() != cached_folder.samples.data_ptr()
    streaming.close()


def test_rng_state_resumes_exactly_with_batches_prefetched(cached_folder):
    streaming = make_source(cached_folder, CPU, seed=11, use_labels=True, in_memory_limit_bytes=0, prefetch=4)
    for _ in range(3):
        streaming.next_batch(32)
    ahead = streaming._worker[0].queue
    for _ in range(500):  # until the thread has drawn the next four batches
        if ahead.full():
            break
        threading.Event().wait(0.01)
    assert ahead.full()
    saved = streaming.rng_state()
    assert not torch.equal(streaming.rng.get_state(), saved), "the thread should have drawn ahead"
    after = [streaming.next_batch(32) for _ in range(6)]
    streaming.close()

    for kind in ("streaming", "in memory"):
        resumed = make_source(cached_folder, CPU, seed=999, use_labels=True, prefetch=2,
                              in_memory_limit_bytes=0 if kind == "streaming" else 2**40)
        resumed.next_batch(32)  # (a thread running with the wrong seed, dropped by set_rng_state)
        resumed.set_rng_state(saved)
        again = [resumed.next_batch(32) for _ in range(6)]
        for (real, labels), (real_again, labels_again) in zip(after, again):
            assert torch.equal(real, real_again) and torch.equal(labels, labels_again), kind
        resumed.close()

    # reseed: the same batches as a new source with that seed (each rank its own stream).
    memory, streaming = both(cached_folder, seed=1, use_labels=False)
    streaming.next_batch(8)
    streaming.reseed(77)
    memory.reseed(77)
    fresh = make_source(cached_folder, CPU, 77, use_labels=False, in_memory_limit_bytes=0)
    for _ in range(3):
        batch, memory_batch, fresh_batch = streaming.next_batch(8)[0], memory.next_batch(8)[0], fresh.next_batch(8)[0]
        assert torch.equal(batch, fresh_batch) and torch.equal(batch, memory_batch)
    streaming.close()
    fresh.close()


@pytest.mark.parametrize("streaming", [False, True])
def test_shards_are_disjoint_and_cover_the_set(streaming):
    dataset = indexed_images(31)  # does not split evenly over 3
    world = 3
    seen, counts = [], []
    for rank in range(world):
        source = make_source(dataset, CPU, seed=rank, use_labels=True, shard=(rank, world),
                             in_memory_limit_bytes=0 if streaming else 2**40)
        assert source.in_memory != streaming
        counts.append(source.num_samples)
        rows = set()
        for _ in range(60):
            real, labels = source.next_batch(16)
            batch_rows = rows_of(real)
            assert labels.tolist() == [row % 7 for row in batch_rows]  # labels follow their rows
            rows.update(batch_rows)
        source.close()
        assert rows == set(range(rank, len(dataset), world))  # every world-th row from the rank, as distributed.shard
        seen.append(rows)
    assert counts == [11, 10, 10] and sum(counts) == len(dataset)
    assert set.union(*seen) == set(range(len(dataset))) and sum(map(len, seen)) == len(dataset)


def _batch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gan_space-batches"]


def test_the_prefetching_thread_stops_on_close_and_when_the_source_is_dropped():
    gc.collect()
    before = len(_batch_threads())
    source = make_source(indexed_images(), CPU, 0, use_labels=False, in_memory_limit_bytes=0)
    first = source.next_batch(8)[0]
    assert len(_batch_threads()) == before + 1
    source.close()
    source.close()  # idempotent
    assert len(_batch_threads()) == before
    second = source.next_batch(8)[0]  # starts again, from where it was
    reference = make_source(indexed_images(), CPU, 0, use_labels=False)
    assert torch.equal(first, reference.next_batch(8)[0]) and torch.equal(second, reference.next_batch(8)[0])
    assert len(_batch_threads()) == before + 1
    del source
    gc.collect()
    assert len(_batch_threads()) == before


@pytest.mark.parametrize("prefetch", [0, 2])
def test_a_failing_read_is_raised_by_next_batch_and_the_stream_continues(prefetch):
    dataset = indexed_images()
    source = make_source(dataset, CPU, 3, use_labels=False, in_memory_limit_bytes=0, prefetch=prefetch)
    reference = make_source(dataset, CPU, 3, use_labels=False)
    assert torch.equal(source.next_batch(4)[0], reference.next_batch(4)[0])
    real_samples = source._produce.samples
    source._produce.samples = None  # the next read fails (in the thread, with prefetching)
    source.close()
    with pytest.raises(AttributeError):
        source.next_batch(4)
    assert torch.equal(source.rng_state(), reference.rng_state())
    source._produce.samples = real_samples
    assert torch.equal(source.next_batch(4)[0], reference.next_batch(4)[0])  # nothing was skipped
    source.close()


@pytest.mark.parametrize("settings, message", [
    (dict(shard=(3, 3)), "shard must be"), (dict(shard=(0, 2000)), "cannot be shared by 2000 processes"),
    (dict(use_labels=True, dataset=indexed_images(labels=False)), "has no labels"),
    (dict(prefetch=-1, in_memory_limit_bytes=0), "prefetch must be"),
])
def test_bad_settings_are_clear_errors(settings, message):
    dataset = settings.pop("dataset", indexed_images())
    settings = {"use_labels": False, **settings}
    with pytest.raises(ValueError, match=message):
        make_source(dataset, CPU, 0, **settings)
    with pytest.raises(ValueError, match="batch_size must be"):
        make_source(dataset, CPU, 0, use_labels=False).next_batch(0)


# ---------------------------------------------------------------------------
# 100,000 pictures

BIG_COUNT = 100_000
BIG_CHILD = """
import json, sys, time
import torch
torch.set_num_threads(2)
from gan_space.data import load_dataset
from gan_space.datasource import make_source

def peak_mib():
    # This process's peak resident size (VmHWM: not ru_maxrss, which keeps the parent's across exec).
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

folder, cache = sys.argv[1], sys.argv[2]
base = peak_mib()
calls = []
start = time.perf_counter()
data = load_dataset(folder, resolution=32, channels=3, max_images=200_000, cache_dir=cache, workers=2,
                    progress=lambda done, total: calls.append((done, total)))
decoded = time.perf_counter() - start
after_decode = peak_mib()
source = make_source(data, torch.device("cpu"), seed=1, use_labels=True, in_memory_limit_bytes=64 * 2**20)
start = time.perf_counter()
means, classes = [], set()
for _ in range(200):
    real, labels = source.next_batch(256)
    means.append(real.mean().item())
    classes.update(labels.tolist())
streamed = time.perf_counter() - start
source.close()
again_calls = []
again = load_dataset(folder, resolution=32, channels=3, max_images=200_000, cache_dir=cache, workers=2,
                     progress=lambda done, total: again_calls.append(done))
# And a training run over the same folder: the trainer finds the cache in its run folder and
# streams from it (the set is over its in-memory limit).
import os
from gan_space.training import TrainConfig, Trainer
config = TrainConfig.for_dataset(folder, out_dir=os.path.dirname(cache), arch="dcgan", resolution=32, channels=3,
                                 width=8, latent_dim=16, batch_size=64, steps=20, log_every=10, sample_every=10**6,
                                 checkpoint_every=10**6, conditional=True, max_images=200_000, in_memory_limit_mb=64)
trainer = Trainer(config)
events = list(trainer.run())
trained = dict(status=events[-1].status, step=trainer.step, streaming=not trainer.source.in_memory,
               losses_finite=all(v == v for v in events[-1].losses.values()))
print(json.dumps(dict(trained=trained, count=len(data), shape=list(data.samples.shape), dtype=str(data.samples.dtype),
                      cache_file=data.cache_file, streaming=not source.in_memory, classes=sorted(classes),
                      first_call=calls[0], last_call=calls[-1], reused=not again_calls and len(again) == len(data),
                      base_mib=base, after_decode_mib=after_decode, peak_mib=peak_mib(), decode_s=decoded,
                      stream_s=streamed, real_shape=list(real.shape), real_dtype=str(real.dtype),
                      mean=sum(means) / len(means))))
"""


def write_many_pictures(folder: Path, count: int, classes: int = 10) -> None:
    """`count` PNG files (a few hundred distinct small pictures under many names), quickly."""
    rng = np.random.default_rng(1)
    blobs = []
    for _ in range(397):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(buffer, format="PNG")
        blobs.append(buffer.getvalue())
    for c in range(classes):
        (folder / f"c{c}").mkdir(parents=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i in range(count):
        descriptor = os.open(folder / f"c{i % classes}" / f"{i:06d}.png", flags, 0o644)
        try:
            os.write(descriptor, blobs[i % len(blobs)])
        finally:
            os.close(descriptor)


@pytest.mark.slow  # two minutes on a 2-core machine: 100,000 files decoded
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak resident size from /proc")
def test_a_hundred_thousand_pictures_load_into_a_cache_stream_and_train_in_bounded_memory(tmp_path):
    folder, cache = tmp_path / "pictures", tmp_path / "run" / "data-cache"
    try:
        write_many_pictures(folder, BIG_COUNT)
        result = subprocess.run([sys.executable, "-c", BIG_CHILD, str(folder), str(cache)], cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)  # 100,000 files: do not leave them to pytest's retention
    print(report)
    assert report["count"] == BIG_COUNT and report["shape"] == [BIG_COUNT, 3, 32, 32]
    assert report["dtype"] == "torch.uint8" and report["cache_file"] and report["streaming"]
    assert report["trained"] == dict(status="finished", step=20, streaming=True, losses_finite=True)
    assert report["first_call"] == [0, BIG_COUNT] and report["last_call"] == [BIG_COUNT, BIG_COUNT]
    assert report["reused"], "the second load decoded again instead of reusing the cache"
    assert report["classes"] == list(range(10)) and report["real_shape"] == [256, 3, 32, 32]
    assert report["real_dtype"] == "torch.float32" and -0.2 < report["mean"] < 0.2  # uniform noise pictures
    float32_mib = BIG_COUNT * 3 * 32 * 32 * 4 / 2**20  # 1,172 MiB: what the old loader kept, and the trainer too
    grown = report["peak_mib"] - report["base_mib"]
    assert grown < float32_mib / 3, report
