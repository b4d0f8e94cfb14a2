"""Data of any size: what does a 100,000-picture folder cost through the streaming source,
next to a set that fits through the in-memory one? Side by side in one run:

    streaming   100,000 pictures (JPEG files, 80x80) decoded at 64 px by `--workers`
                processes into a data cache (a run's `data-cache`), then batches read from
                the cache file by the StreamingSource (a prefetching thread)
    in memory   5,000 of the same kind of files decoded in memory (uint8), then batches
                gathered by the InMemorySource

Memory: each path runs in a fresh process (decode, then `--batches` batches), so that its
peak resident size (VmHWM) means something; "peak RSS growth" is that peak less the
process's size after its imports. The decoding processes are forked children: their own
peak is given apart. Next to it, what the old loader and trainer held: the whole set as
normalised float32 (`self.real`).

Speed: both sources in one more process, in interleaved rounds (the order rotating), medians:
images/s of `next_batch(batch_size)` alone, images per CPU-second of the process, and how
long next_batch keeps the caller waiting when the caller spends 5 ms per batch on its own
work, as a training step would (with batches prefetched, that wait is what the device sees).

Both run with one torch thread: a batch's few small operations gain nothing from a second one,
and on a shared machine an OpenMP team stalls whenever one of its threads is not scheduled.

    python benchmarks/data_streaming.py [--count 100000] [--in-memory-count 5000] [--resolution 64]
                                        [--workers N] [--batch-size 256] [--batches 200] [--rounds 3]
"""

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024


def write_pictures(folder: Path, count: int, distinct: int = 500, size: int = 80, classes: int = 10) -> int:
    """`count` JPEG files under class folders: `distinct` different pictures (smooth colour
    fields with noise, like photos) written under many names. Returns the bytes written."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size] / size
    blobs = []
    for _ in range(distinct):
        a, b, c = rng.uniform(-3, 3, (3, 3))
        field = np.stack([np.sin(a[i] * x + b[i] * y + c[i]) for i in range(3)], -1) * 100 + 128
        pixels = np.clip(field + rng.normal(0, 12, field.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
        blobs.append(buffer.getvalue())
    for c in range(classes):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
    written = 0
    for i in range(count):
        blob = blobs[i % distinct]
        descriptor = os.open(folder / f"class{i % classes}" / f"{i:06d}.jpg", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            written += os.write(descriptor, blob)
        finally:
            os.close(descriptor)
    return written


def load(folder: str, cache: str | None, args):
    from gan_space.data import load_dataset

    start = time.perf_counter()
    data = load_dataset(folder, args.resolution, 3, max_images=10**7, cache_dir=cache, workers=args.workers)
    return data, time.perf_counter() - start


def measure(source, args, step_seconds: float = 0.0) -> tuple[float, float, float]:
    """(images/s by the wall clock, images per CPU-second of this process, mean seconds that
    next_batch kept the caller waiting) over `batches` batches after 10 warm-up ones."""
    import torch

    for _ in range(10):
        source.next_batch(args.batch_size)
    waited = 0.0
    start, cpu_start = time.perf_counter(), process_cpu_seconds()
    for _ in range(args.batches):
        before = time.perf_counter()
        source.next_batch(args.batch_size)
        if source.device.type == "cuda":
            torch.cuda.current_stream().synchronize()
        waited += time.perf_counter() - before
        if step_seconds:
            time.sleep(step_seconds)  # the caller's own work (the GIL is free meanwhile, as in torch ops)
    images = args.batches * args.batch_size
    elapsed, cpu = time.perf_counter() - start, process_cpu_seconds() - cpu_start
    return images / elapsed, images / max(cpu, 1e-9), waited / args.batches


def process_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def child_memory(mode: str, folder: str, cache: str | None, args) -> dict:
    """Decode, then draw batches as training would; the peak resident size of this (fresh) process."""
    import resource

    import torch

    from gan_space.datasource import make_source

    torch.set_num_threads(1)  # (see the docstring)
    base = status_mib("VmRSS")
    data, decode_s = load(folder, cache, args)
    after_decode = status_mib("VmHWM")
    source = make_source(data, device(), seed=1, use_labels=True, in_memory_limit_bytes=0 if cache else 2**40)
    assert source.in_memory == (mode == "in_memory")
    for _ in range(args.batches):
        source.next_batch(args.batch_size)
    source.close()
    return dict(mode=mode, count=len(data), decode_s=decode_s, workers=args.workers, base_mib=base,
                after_decode_mib=after_decode, peak_mib=status_mib("VmHWM"),
                children_peak_mib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                float32_mib=data.samples.numel() * 4 / 2**20, uint8_mib=data.samples.numel() / 2**20)


def child_speed(big: str, cache: str, small: str, args) -> dict:
    """Both sources in one process, in interleaved rounds (the order rotating), so that they
    see the same machine load; medians."""
    import torch

    from gan_space.datasource import make_source

    torch.set_num_threads(1)  # (see the docstring)
    streamed, _ = load(big, cache, args)  # (the cache the memory run made: mapped, not decoded)
    held, _ = load(small, None, args)
    contenders = {
        "streaming, prefetch 2": lambda: make_source(streamed, device(), 1, use_labels=True, in_memory_limit_bytes=0),
        "streaming, prefetch 0": lambda: make_source(streamed, device(), 1, use_labels=True, in_memory_limit_bytes=0,
                                                     prefetch=0),
        "in memory": lambda: make_source(held, device(), 1, use_labels=True),
    }
    results = {name: {"wall": [], "cpu": [], "wait": []} for name in contenders}
    names = list(contenders)
    for round_ in range(args.rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            source = contenders[name]()
            wall, cpu, _ = measure(source, args)
            _, _, wait = measure(source, args, step_seconds=0.005)
            source.close()
            results[name]["wall"].append(wall)
            results[name]["cpu"].append(cpu)
            results[name]["wait"].append(wait)
    return {name: {key: statistics.median(values) for key, values in r.items()} for name, r in results.items()}


def device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_description() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores available to this process (os.cpu_count() = {os.cpu_count()})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--in-memory-count", type=int, default=5_000)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: one per core)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workers is None:
        args.workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if args.child:
        mode, *paths = args.child
        paths = [None if path == "-" else path for path in paths]
        result = child_speed(*paths, args) if mode == "speed" else child_memory(mode, paths[0], paths[1], args)
        print(json.dumps(result))
        return

    def run_child(*child_args) -> dict:
        common = ["--resolution", str(args.resolution), "--workers", str(args.workers), "--batch-size",
                  str(args.batch_size), "--batches", str(args.batches), "--rounds", str(args.rounds)]
        result = subprocess.run([sys.executable, __file__, "--child", *map(str, child_args), *common],
                                capture_output=True, text=True, cwd=REPO)
        if result.returncode:
            sys.exit(result.stderr)
        return json.loads(result.stdout.strip().splitlines()[-1])

    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="gan_space-data-streaming-"))
    try:
        start = time.perf_counter()
        big, small, cache = work / "big", work / "small", work / "run" / "data-cache"
        written = write_pictures(big, args.count)
        write_pictures(small, args.in_memory_count)
        print(f"wrote {args.count:,} + {args.in_memory_count:,} JPEG files ({written / 2**20:.0f} MiB for the large "
              f"set) in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        memory = [run_child("streaming", big, cache, "-"), run_child("in_memory", small, "-", "-")]
        speed = run_child("speed", big, cache, small)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()[0]

    import torch

    print(f"CPU: {cpu_description()}; load average {load_before:.1f} before the run, {load_after:.1f} after; "
          f"torch {torch.__version__}, Python {platform.python_version()}; batches made on: {device()}")
    print(f"{args.resolution} px RGB, batches of {args.batch_size}; speeds: medians of {args.rounds} interleaved "
          f"rounds of {args.batches} batches\n")
    print("| path | pictures | decode (workers) | peak RSS growth | decoder process peak | old float32 set "
          "| uint8 set |")
    print("|---|---|---|---|---|---|---|")
    for r in memory:
        name = "streaming (data cache)" if r["mode"] == "streaming" else "in memory (uint8)"
        print(f"| {name} | {r['count']:,} | {r['decode_s']:.1f} s, {r['count'] / r['decode_s']:,.0f} files/s "
              f"({r['workers']}) | {r['peak_mib'] - r['base_mib']:.0f} MiB | {r['children_peak_mib']:.0f} MiB "
              f"| {r['float32_mib']:,.0f} MiB | {r['uint8_mib']:,.0f} MiB |")
    print("\n| source | images/s | images per CPU-second | next_batch wait with a 5 ms step |")
    print("|---|---|---|---|")
    for name, r in speed.items():
        print(f"| {name} | {r['wall']:,.0f} | {r['cpu']:,.0f} | {r['wait'] * 1000:.2f} ms |")


if __name__ == "__main__":
    main()
