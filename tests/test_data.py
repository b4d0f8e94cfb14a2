import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan_space.data import DatasetError, decode_image, load_dataset, mixture_modes


def test_digits_builtin():
    data = load_dataset("digits", resolution=32, channels=3)
    assert data.samples.shape == (1797, 3, 32, 32) and data.samples.dtype == torch.uint8
    assert data.num_classes == 10 and data.labels.shape == (1797,)
    normalised = data.normalised()
    assert normalised.min() == -1 and normalised.max() == 1


@pytest.mark.parametrize("name, modes, std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_mixtures_match_the_pacgan_definition(name, modes, std):
    centres, spread = mixture_modes(name)
    assert len(centres) == modes and spread == std
    data = load_dataset(name)
    distances = torch.cdist(data.samples, centres).min(1).values
    assert (distances < 5 * std).float().mean() > 0.999
    assert data.normalised().std(0).mean() == pytest.approx(1.0, abs=0.01)
    if name == "ring8":
        assert torch.allclose(centres.norm(dim=1), torch.ones(8))
    else:
        assert set(centres.flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_image_folder_uses_subfolders_as_classes_and_reports_skipped(tiny_image_folder):
    data = load_dataset(str(tiny_image_folder), resolution=16, channels=3)
    assert data.samples.shape == (12, 3, 16, 16)
    assert data.class_names == ["blue", "red"] and data.labels.tolist().count(1) == 6
    reasons = "\n".join(data.skipped)
    assert len(data.skipped) == 2 and "broken.png" in reasons and "notes.txt" in reasons
    red = data.samples[data.labels == 1].float().mean(dim=(0, 2, 3))
    assert red[0] > 150 and red[2] < 80  # colours survive decoding


def _png(mode, size=(20, 10), **kwargs):
    buffer = io.BytesIO()
    image = Image.new(mode, size, **kwargs)
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("mode, value", [("L", 128), ("RGB", (10, 200, 30)), ("RGBA", (0, 0, 0, 0)), ("P", 3),
                                         ("I;16", 65535), ("1", 1)])
def test_decode_handles_every_pixel_format(mode, value):
    array = decode_image(_png(mode, color=value), resolution=8, channels=3)
    assert array.shape == (3, 8, 8) and array.dtype == np.uint8
    if mode == "I;16":
        assert array.min() == 255  # full-scale 16-bit is white, not clipped garbage
    if mode == "RGBA":
        assert array.min() == 255  # transparent pixels sit on white


def test_decode_centre_crops_to_a_square():
    image = Image.new("L", (30, 10), 0)
    for x in range(10, 20):
        for y in range(10):
            image.putpixel((x, y), 255)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert decode_image(buffer.getvalue(), 10, 1).min() == 255  # only the white centre survives


@pytest.mark.parametrize("payload, reason", [(b"", "empty"), (b"hello", "not a readable image"),
                                             (_png("RGB")[:40], "not a readable image")])
def test_decode_rejects_bad_files(payload, reason):
    with pytest.raises(ValueError, match=reason):
        decode_image(payload, 8, 1)


def test_zip_is_read_without_extracting(tmp_path):
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("a.png", _png("RGB", color=(255, 0, 0)))
        handle.writestr("../escape.png", _png("RGB", color=(0, 255, 0)))
        handle.writestr("/abs.png", _png("RGB", color=(0, 0, 255)))
        handle.writestr("bad.jpg", b"not a jpeg")
    data = load_dataset(str(archive), resolution=8, channels=3)
    assert len(data) == 3 and len(data.skipped) == 1
    assert not (tmp_path.parent / "escape.png").exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "images.zip"]


def test_sources_without_usable_images_are_clear_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("hi")
    with pytest.raises(DatasetError, match="no usable image"):
        load_dataset(str(empty))
    not_zip = tmp_path / "file.bin"
    not_zip.write_bytes(b"1234")
    with pytest.raises(DatasetError, match="not a .zip"):
        load_dataset(str(not_zip))
    broken_zip = tmp_path / "broken.zip"
    broken_zip.write_bytes(b"PK\x03\x04" + b"\0" * 30)
    with pytest.raises(DatasetError):
        load_dataset(str(broken_zip))
    with pytest.raises(DatasetError, match="not a built-in"):
        load_dataset("no such thing!")
    with pytest.raises(DatasetError, match="no dataset given"):
        load_dataset("  ")


def test_hugging_face_dataset_offline_is_a_clear_error(monkeypatch):
    import huggingface_hub.constants

    # A closed loopback port stands in for a machine without network.
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    with pytest.raises(DatasetError, match="could not reach the Hugging Face Hub|no dataset"):
        load_dataset("someone/some-dataset", resolution=8)


# ---------------------------------------------------------------------------
# Decoding in parallel, progress, the run's data cache, limits

import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import gan_space.data.cache  # noqa: E402
import gan_space.data.files  # noqa: E402
import gan_space.data.pool  # noqa: E402
from gan_space.data import CACHE_META, load_image_zip  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def picture_folder(root: Path, count: int, classes=("a", "b"), size=(11, 7)) -> Path:
    """`count` small distinct RGB PNGs spread over class sub-folders."""
    rng = np.random.default_rng(count)
    for i in range(count):
        folder = root / classes[i % len(classes)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    return root


class Calls:
    """A progress callback that records its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, done, total):
        self.calls.append((done, total))


def same_dataset(a, b) -> None:
    assert torch.equal(a.samples, b.samples)
    assert (a.labels is None) == (b.labels is None) and (a.labels is None or torch.equal(a.labels, b.labels))
    assert a.class_names == b.class_names and a.num_classes == b.num_classes and a.skipped == b.skipped


def mapped_from(tensor: torch.Tensor) -> str | None:
    """The file that the memory holding `tensor` maps (from /proc/self/maps), or None."""
    address = tensor.data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if start <= address < end:
            return fields[5] if len(fields) > 5 else None
    return None


@pytest.fixture
def counted_pools(monkeypatch):
    """How many pools of decoding processes were started (to know the parallel path ran)."""
    started = []
    original = gan_space.data.pool._DecoderPool

    class Counted(original):
        def __init__(self, *args, **kwargs):
            started.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(gan_space.data.pool, "_DecoderPool", Counted)
    return started


def test_parallel_decoding_gives_what_one_process_does(tmp_path, counted_pools):
    """The hostile corpus and a few hundred pictures, as a folder and as a zip, with a limit
    that falls inside a chunk: the same pictures, labels and skip reasons in the same order."""
    import hostile_corpus as corpus

    folder = picture_folder(tmp_path / "upload", 260)
    for case in corpus.file_cases():
        path = folder / "a" / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.data)
    archive = tmp_path / "upload.zip"
    corpus.write_zip(archive, {p.relative_to(folder).as_posix(): p.read_bytes()
                               for p in sorted(folder.rglob("*")) if p.is_file()})
    for source in (folder, archive):
        for max_images in (50_000, 301):
            serial = load_dataset(str(source), resolution=8, channels=3, max_images=max_images, workers=1)
            assert not counted_pools
            parallel = load_dataset(str(source), resolution=8, channels=3, max_images=max_images, workers=2)
            assert len(counted_pools) == 1, "the parallel path did not run"
            counted_pools.clear()
            same_dataset(serial, parallel)
            assert len(parallel) + len(parallel.skipped) == 260 + len(corpus.file_cases())
            if max_images == 301:
                assert len(parallel) == 301 and parallel.skipped[-1].endswith("over the limit of 301 images")
            assert parallel.class_names == ["a", "b"]


@pytest.mark.skipif(sys.platform != "linux", reason="decoding processes are forked on Linux only")
def test_a_file_that_kills_its_decoding_process_costs_that_file_only(tmp_path, monkeypatch):
    folder = picture_folder(tmp_path / "upload", 240, classes=("x",))
    (folder / "x" / "00100-crash.png").write_bytes(b"CRASH" + bytes(100))
    original = gan_space.data.pool.decode_image

    def crashing(data, resolution, channels):  # the decoding processes are forked: they inherit this
        if data.startswith(b"CRASH"):
            os._exit(3)  # as a segfault in a C decoder would
        return original(data, resolution, channels)

    monkeypatch.setattr(gan_space.data.pool, "decode_image", crashing)
    dataset = load_dataset(str(folder), resolution=8, channels=3, workers=2)
    monkeypatch.setattr(gan_space.data.pool, "decode_image", original)
    expected = load_dataset(str(folder), resolution=8, channels=3, workers=1)  # (the real decoder refuses it)
    assert dataset.skipped == ["x/00100-crash.png: crashed the image decoder"]
    assert torch.equal(dataset.samples, expected.samples) and len(dataset) == 240


def test_progress_counts_every_file_up_to_the_total(tiny_image_folder):
    for workers in (1, 2):
        calls = Calls()
        data = load_dataset(str(tiny_image_folder), resolution=8, channels=3, progress=calls, workers=workers)
        total = len(data) + len(data.skipped)  # 12 pictures, a broken one and a text file
        assert total == 14 and calls.calls[0] == (0, total) and calls.calls[-1] == (total, total)
        done = [d for d, t in calls.calls]
        assert all(t == total for d, t in calls.calls) and done == sorted(set(done))


def test_progress_is_reported_while_many_files_decode(tmp_path):
    folder = picture_folder(tmp_path / "many", 600)
    calls = Calls()
    load_dataset(str(folder), resolution=8, channels=3, progress=calls, workers=2, cache_dir=tmp_path / "cache")
    done = [d for d, t in calls.calls]
    assert done[0] == 0 and done[-1] == 600 and done == sorted(set(done)) and 10 < len(done) <= 202


def test_the_cache_is_reused_when_it_matches_and_remade_when_it_does_not(tmp_path, tiny_image_folder):
    cache = tmp_path / "run" / "data-cache"
    in_memory = load_dataset(str(tiny_image_folder), resolution=16, channels=3)
    first_calls = Calls()
    first = load_dataset(str(tiny_image_folder), resolution=16, channels=3, cache_dir=cache, progress=first_calls)
    same_dataset(first, in_memory)
    assert first_calls.calls and first.cache_file is not None
    file = Path(first.cache_file)
    assert file.parent == cache and file.stat().st_size == 12 * 3 * 16 * 16
    if sys.platform == "linux":  # the samples map the file: no copy in this process's memory
        assert mapped_from(first.samples) == str(file.resolve())
    meta = json.loads((cache / CACHE_META).read_text())
    assert meta["count"] == 12 and meta["class_names"] == ["blue", "red"] and len(meta["skipped"]) == 2

    again_calls = Calls()  # resume: nothing is decoded again
    again = load_dataset(str(tiny_image_folder), resolution=16, channels=3, cache_dir=cache, progress=again_calls)
    assert again_calls.calls == [] and again.cache_file == first.cache_file
    same_dataset(again, in_memory)

    # Other settings, or other files: decoded again, and the old pictures are removed.
    for settings in (dict(resolution=8, channels=3), dict(resolution=16, channels=1),
                     dict(resolution=16, channels=3, max_images=5)):
        calls = Calls()
        other = load_dataset(str(tiny_image_folder), cache_dir=cache, progress=calls, **settings)
        assert calls.calls and len(other) == min(12, settings.get("max_images", 12))
        same_dataset(other, load_dataset(str(tiny_image_folder), **settings))
    load_dataset(str(tiny_image_folder), resolution=16, channels=3, cache_dir=cache)
    Image.new("RGB", (9, 9), (0, 255, 0)).save(tiny_image_folder / "red" / "0.png")  # same files, one changed
    calls = Calls()
    changed = load_dataset(str(tiny_image_folder), resolution=16, channels=3, cache_dir=cache, progress=calls)
    assert calls.calls and len(changed) == 12 and not torch.equal(changed.samples, in_memory.samples)
    same_dataset(changed, load_dataset(str(tiny_image_folder), resolution=16, channels=3))
    Image.new("RGB", (9, 9), (0, 255, 0)).save(tiny_image_folder / "red" / "new.png")  # one more file
    calls = Calls()
    changed = load_dataset(str(tiny_image_folder), resolution=16, channels=3, cache_dir=cache, progress=calls)
    assert calls.calls and len(changed) == 13
    assert [p.name for p in cache.glob("images-*.u8")] == [Path(changed.cache_file).name]


def test_a_damaged_or_incomplete_cache_is_not_reused(tmp_path, tiny_image_folder):
    cache = tmp_path / "data-cache"
    expected = load_dataset(str(tiny_image_folder), resolution=8, channels=3)
    first = load_dataset(str(tiny_image_folder), resolution=8, channels=3, cache_dir=cache)
    file = Path(first.cache_file)
    meta = (cache / CACHE_META).read_text()
    damages = {
        "no sidecar (a crash before it was written)": lambda: (cache / CACHE_META).unlink(),
        "a truncated picture file": lambda: os.truncate(file, file.stat().st_size - 1),
        "a missing picture file": lambda: file.unlink(),
        "a half-written sidecar": lambda: (cache / CACHE_META).write_text(meta[: len(meta) // 2]),
        "a sidecar naming a file elsewhere": lambda: (cache / CACHE_META).write_text(
            meta.replace(f'"file": "{file.name}"', '"file": "../../etc/passwd"')),
        "labels out of range": lambda: (cache / CACHE_META).write_text(meta.replace('"labels": [0', '"labels": [7')),
    }
    for what, damage in damages.items():
        del first
        damage()
        calls = Calls()
        first = load_dataset(str(tiny_image_folder), resolution=8, channels=3, cache_dir=cache, progress=calls)
        assert calls.calls, f"reused a cache with {what}"
        same_dataset(first, expected)
        file, meta = Path(first.cache_file), (cache / CACHE_META).read_text()


CRASH_MID_DECODE = """
import os, signal, sys
from gan_space.data import load_dataset

def progress(done, total):
    if done >= total // 2:
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up runs: as a power cut or the OOM killer

load_dataset(sys.argv[1], resolution=8, channels=3, cache_dir=sys.argv[2], progress=progress, workers=1)
"""


def test_a_decode_killed_midway_leaves_no_cache_that_looks_complete(tmp_path):
    folder = picture_folder(tmp_path / "upload", 400)
    cache = tmp_path / "data-cache"
    old = load_dataset(str(folder), resolution=8, channels=3, cache_dir=cache)  # a complete cache ...
    (folder / "a" / "00000.png").unlink()  # ... of other files
    expected = load_dataset(str(folder), resolution=8, channels=3)
    crashed = subprocess.run([sys.executable, "-c", CRASH_MID_DECODE, str(folder), str(cache)], cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                             timeout=300)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert list(cache.glob("*.tmp")), "the killed process should have been writing a temporary file"
    calls = Calls()
    dataset = load_dataset(str(folder), resolution=8, channels=3, cache_dir=cache, progress=calls)
    assert calls.calls and calls.calls[-1] == (399, 399)  # decoded again, in full
    same_dataset(dataset, expected)
    assert dataset.cache_file != old.cache_file and not list(cache.glob("*.tmp"))


def test_processes_sharing_a_cache_decode_it_once(tmp_path):
    folder = picture_folder(tmp_path / "upload", 40)
    cache = tmp_path / "data-cache"
    calls = [Calls() for _ in range(3)]
    results = [None] * 3

    def load(i):
        results[i] = load_dataset(str(folder), resolution=8, channels=3, cache_dir=cache, progress=calls[i],
                                  workers=1)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(bool(c.calls) for c in calls) == 1  # one decoded (holding the lock), the others reused it
    for result in results[1:]:
        same_dataset(result, results[0])


def test_a_cache_that_would_not_fit_the_disk_is_refused_before_decoding(tmp_path, tiny_image_folder, monkeypatch):
    import shutil

    monkeypatch.setattr(gan_space.data.cache.shutil, "disk_usage",
                        lambda path: shutil._ntuple_diskusage(10 * 2**30, 10 * 2**30 - 2**20, 2**20))
    calls = Calls()
    with pytest.raises(DatasetError, match=r"the data cache for .* needs up to 10 MiB in .*data-cache \(13 images of "
                                           r"3x512x512\), but only 1 MiB are free: free some space, or lower "
                                           r"max_images or the resolution"):
        load_dataset(str(tiny_image_folder), resolution=512, channels=3, cache_dir=tmp_path / "data-cache",
                     progress=calls)
    assert calls.calls == []  # (13: the pictures and the broken .png, an upper bound before decoding)


def test_a_cache_that_cannot_be_written_is_a_clear_error_and_leaves_nothing(tmp_path, tiny_image_folder,
                                                                             monkeypatch):
    import errno

    def disk_full(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    cache = tmp_path / "data-cache"
    monkeypatch.setattr(gan_space.data.cache.os, "fsync", disk_full)
    with pytest.raises(DatasetError, match=r"could not write the data cache in .*data-cache: No space left on device"):
        load_dataset(str(tiny_image_folder), resolution=8, channels=3, cache_dir=cache)
    monkeypatch.undo()
    assert sorted(p.name for p in cache.iterdir()) == [".lock"]  # no temporary file, no sidecar
    assert len(load_dataset(str(tiny_image_folder), resolution=8, channels=3, cache_dir=cache)) == 12


def test_a_set_that_would_not_fit_in_memory_says_to_use_a_cache(tiny_image_folder, monkeypatch):
    monkeypatch.setattr(gan_space.data.files, "_available_memory", lambda: 2**20)
    with pytest.raises(DatasetError, match=r"up to 13 images of 786432 bytes need 10 MiB of memory, but only 1 MiB "
                                           r"are available\. Decode it into a cache on disk \(cache_dir"):
        load_dataset(str(tiny_image_folder), resolution=512, channels=3)


@pytest.mark.parametrize("settings, message", [
    (dict(max_images=0), "max_images must be a whole number of at least 1, got 0"),
    (dict(max_images=2.5), "max_images must be a whole number"),
    (dict(resolution=0), "resolution must be a whole number of pixels from 1 to 1024, got 0"),
    (dict(resolution=4096), "resolution must be"),
    (dict(channels=2), "channels must be 1 \\(grey\\) or 3 \\(RGB\\), got 2"),
    (dict(workers=0), "workers must be a whole number of at least 1"),
])
def test_limits_are_settings_with_clear_errors(tiny_image_folder, settings, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(str(tiny_image_folder), **settings)


def test_a_cache_inside_the_source_folder_is_not_read_as_data(tmp_path, tiny_image_folder):
    cache = tiny_image_folder / "red" / "run" / "data-cache"
    first = load_dataset(str(tiny_image_folder), resolution=8, channels=3, cache_dir=cache)
    calls = Calls()
    again = load_dataset(str(tiny_image_folder), resolution=8, channels=3, cache_dir=cache, progress=calls)
    assert calls.calls == [] and len(first) == len(again) == 12 and len(again.skipped) == 2


def test_zip_sources_are_cached_too(tmp_path):
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
            handle.writestr(f"{i}.png", _png("RGB", color=colour))
    calls = Calls()
    first = load_image_zip(archive, 8, 3, cache_dir=tmp_path / "cache", progress=calls)
    again = load_image_zip(archive, 8, 3, cache_dir=tmp_path / "cache", progress=(again_calls := Calls()))
    assert calls.calls[-1] == (3, 3) and again_calls.calls == [] and torch.equal(first.samples, again.samples)
    assert first.samples[:, :, 0, 0].tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]


@pytest.mark.parametrize("source", ["digits", "ring8"])
def test_normalised_subset_is_those_rows_of_normalised(source):
    data = load_dataset(source, resolution=8)
    index = torch.tensor([5, 0, 5, len(data) - 1])
    assert torch.equal(data.normalised_subset(index), data.normalised()[index])
    assert data.normalised_subset(index).dtype == torch.float32


@pytest.mark.parametrize("workers", [1, 2])
def test_files_swapped_after_the_listing_are_not_followed_or_waited_on(tmp_path, workers, monkeypatch):
    """Between listing a folder and reading its files (now possibly in a decoding process), a
    picture replaced by a link or by a pipe is refused, not followed and not waited on."""
    monkeypatch.setattr(gan_space.data.pool, "PARALLEL_MIN_FILES", 2)
    folder = picture_folder(tmp_path / "upload", 6, classes=("x",))
    outside = tmp_path / "secret.png"
    Image.new("RGB", (8, 8), (0, 255, 0)).save(outside)

    def swap(done, total):
        if done == 0:
            (folder / "x" / "00001.png").unlink()
            (folder / "x" / "00001.png").symlink_to(outside)
            (folder / "x" / "00002.png").unlink()
            os.mkfifo(folder / "x" / "00002.png")  # opening it for reading would wait for a writer

    dataset = load_dataset(str(folder), resolution=8, channels=3, progress=swap, workers=workers)
    assert len(dataset) == 4 and dataset.skipped == ["x/00001.png: a symbolic link (not followed)",
                                                     "x/00002.png: not a regular file"]
    assert not (dataset.samples[:, 1] == 255).all(dim=(1, 2)).any()  # nothing green: the outside file was not read
