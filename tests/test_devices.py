"""The CUDA branches of gan_space/devices.py and of the code that asks it, run on a machine
without a GPU: what devices.py asks of torch (torch.cuda's queries, streams and events,
pinned memory, non-blocking copies, record_stream) is replaced by fakes that record each call,
and a "CUDA tensor" is a CPU tensor standing in for one. The real thing runs in
tests/test_speed_paths.py where a GPU exists, and in benchmarks/gpu_check.py."""

import contextlib
import re
import threading
from pathlib import Path

import pytest
import torch

from gan_space import devices
from gan_space.data import Dataset
from gan_space.datasource import InMemorySource, StreamingSource

REPO = Path(__file__).resolve().parent.parent
CUDA, CPU = torch.device("cuda"), torch.device("cpu")


class FakeStream:
    def __init__(self, name):
        self.name = name

    def wait_event(self, event):
        FakeCuda.current.log("wait", stream=self.name, event=event)

    def __repr__(self):
        return f"FakeStream({self.name})"


class FakeEvent:
    def record(self, stream):
        self.stream = stream.name
        FakeCuda.current.log("record event", stream=stream.name, event=self)


class FakeCuda:
    """torch with `gpus` fake CUDA devices. `calls` lists (what, details) in order; copies to
    "cuda" return CPU copies and note whether their source was pinned, whether they were
    non-blocking and on which stream they were queued."""

    current = None

    def __init__(self, monkeypatch, gpus=1, bf16=True):
        FakeCuda.current = self
        self.calls = []
        self.pinned = []  # pinned tensors, kept alive so that their addresses stay theirs
        self.lock = threading.Lock()
        self.active = threading.local()  # the stream `torch.cuda.stream` made current, per thread
        self.default_stream = FakeStream("default")
        real_empty, real_to = torch.empty, torch.Tensor.to
        fake = self

        def empty(*args, pin_memory=False, **kwargs):
            tensor = real_empty(*args, **kwargs)
            if pin_memory:
                fake.log("pinned buffer", shape=tuple(tensor.shape))
                fake.pinned.append(tensor)
            return tensor

        def pin_memory(tensor):
            copy = tensor.clone()
            fake.log("pin", shape=tuple(tensor.shape))
            fake.pinned.append(copy)
            return copy

        def to(tensor, *args, **kwargs):
            target = kwargs.get("device", args[0] if args else None)
            if isinstance(target, (str, torch.device)) and torch.device(target).type == "cuda":
                fake.log("copy", pinned=tensor.is_pinned(), non_blocking=kwargs.get("non_blocking", False),
                         stream=fake.stream_name(), shape=tuple(tensor.shape))
                return tensor.clone()
            return real_to(tensor, *args, **kwargs)

        @contextlib.contextmanager
        def stream(side):
            previous = getattr(fake.active, "stream", None)
            fake.active.stream = side
            try:
                yield
            finally:
                fake.active.stream = previous

        def make_stream(device=None):
            fake.log("new stream", device=torch.device(device))
            return FakeStream("side")

        properties = type("Properties", (), {"total_memory": 139 * 2**30})()
        for name, value in {"is_available": lambda: True, "device_count": lambda: gpus,
                            "is_bf16_supported": lambda *a, **k: bf16, "current_device": lambda: 0,
                            "get_device_name": lambda index=None: "NVIDIA Fake",
                            "get_device_capability": lambda index=None: (9, 0),
                            "get_device_properties": lambda index=None: properties,
                            "Stream": make_stream, "Event": FakeEvent, "stream": stream,
                            "current_stream": lambda device=None: fake.default_stream}.items():
            monkeypatch.setattr(torch.cuda, name, value)
        monkeypatch.setattr(torch, "empty", empty)
        monkeypatch.setattr(torch.Tensor, "to", to)
        monkeypatch.setattr(torch.Tensor, "pin_memory", pin_memory)
        monkeypatch.setattr(torch.Tensor, "is_pinned",
                            lambda tensor: any(tensor.data_ptr() == p.data_ptr() for p in fake.pinned))
        monkeypatch.setattr(torch.Tensor, "record_stream",
                            lambda tensor, s: fake.log("record_stream", stream=s.name, shape=tuple(tensor.shape)))

    def stream_name(self):
        side = getattr(self.active, "stream", None)
        return side.name if side is not None else "default"

    def log(self, what, **details):
        with self.lock:
            self.calls.append((what, dict(details, thread=threading.current_thread().name)))

    def names(self):
        return [what for what, _ in self.calls]


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def mps(monkeypatch, available):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: available)


# --- which device -------------------------------------------------------------------


def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch):
    mps(monkeypatch, True)
    FakeCuda(monkeypatch)
    assert devices.select_device("auto") == CUDA
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.select_device("auto") == torch.device("mps")
    mps(monkeypatch, False)
    assert devices.select_device("auto") == CPU
    assert devices.select_device() == CPU  # 'auto' is the default


def test_a_numbered_gpu_is_chosen_and_a_missing_one_is_a_clear_error(monkeypatch):
    FakeCuda(monkeypatch, gpus=2)
    assert devices.select_device("cuda:1") == torch.device("cuda", 1)
    assert devices.select_device("cuda") == CUDA
    with pytest.raises(ValueError, match=r"has 2 CUDA GPU\(s\).*'cuda:0', 'cuda:1'"):
        devices.select_device("cuda:2")


def test_cuda_or_mps_asked_for_where_there_is_none_says_what_to_use(monkeypatch, no_gpu):
    mps(monkeypatch, False)
    with pytest.raises(ValueError, match="no usable CUDA GPU: use 'auto' or 'cpu'"):
        devices.select_device("cuda:1")
    with pytest.raises(ValueError, match="MPS is not available"):
        devices.select_device("mps")


# --- which precision -----------------------------------------------------------------


@pytest.mark.parametrize("bf16, expected", [(True, "bf16"), (False, "fp16")])
def test_auto_precision_on_a_gpu_is_bf16_where_supported_else_fp16_with_a_grad_scaler(monkeypatch, bf16, expected):
    FakeCuda(monkeypatch, bf16=bf16)
    precision = devices.resolve_precision("auto", CUDA)
    assert precision == expected
    assert devices.autocast_dtype(precision) == {"bf16": torch.bfloat16, "fp16": torch.float16}[expected]
    assert devices.uses_grad_scaler(precision) == (expected == "fp16")
    assert devices.grad_scaler(CUDA, precision).is_enabled() == (expected == "fp16")
    # A family that gains nothing from mixed precision keeps fp32 on a GPU too.
    assert devices.resolve_precision("auto", CUDA, mixed_precision=False) == "fp32"


@pytest.mark.parametrize("asked", ["fp32", "bf16", "fp16"])
def test_a_precision_asked_for_on_a_gpu_is_kept(monkeypatch, asked):
    FakeCuda(monkeypatch, bf16=False)
    assert devices.resolve_precision(asked, CUDA) == asked
    assert devices.grad_scaler(CUDA, asked).is_enabled() == (asked == "fp16")


def test_fp32_runs_without_autocast():
    assert devices.autocast_dtype("fp32") is None
    assert isinstance(devices.autocast_context(CUDA, "fp32"), contextlib.nullcontext)
    with devices.autocast_context(CPU, "bf16"):
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16


# --- what each device does -------------------------------------------------------------


def test_cudnn_autotuning_is_turned_on_for_cuda_only(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    devices.enable_autotuning(CPU)
    devices.enable_autotuning(torch.device("mps"))
    assert torch.backends.cudnn.benchmark is False
    devices.enable_autotuning(torch.device("cuda", 1))
    assert torch.backends.cudnn.benchmark is True


def test_the_trainer_asks_for_autotuning_on_its_device(monkeypatch, tmp_path):
    from gan_space.training import TrainConfig, Trainer

    asked = []
    monkeypatch.setattr(devices, "enable_autotuning", asked.append)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    Trainer(TrainConfig.for_dataset("ring8", steps=1, device="cpu", out_dir=str(tmp_path / "run")))
    assert asked == [CPU] and torch.backends.cudnn.benchmark is False


def test_device_abilities():
    assert devices.has_fused_adam(CUDA) and devices.has_fused_adam(CPU) and not devices.has_fused_adam("mps")
    assert devices.joins_process_groups(CUDA) and not devices.joins_process_groups(torch.device("mps"))
    assert devices.host_reads_are_free(CPU) and not devices.host_reads_are_free(CUDA)
    assert devices.pins_memory(CUDA) and not devices.pins_memory(CPU)
    assert devices.side_stream(CPU) is None


def test_a_gpu_is_described_by_name_capability_and_memory(monkeypatch):
    assert devices.describe(CPU) == "cpu"
    FakeCuda(monkeypatch)
    assert devices.describe(CUDA) == "NVIDIA Fake (compute 9.0, 139 GiB)"


# --- batches for a GPU: pinned host memory, non-blocking copies, a side stream ------------


def labelled_images(count: int = 200) -> Dataset:
    generator = torch.Generator().manual_seed(count)
    samples = torch.randint(0, 256, (count, 3, 4, 4), dtype=torch.uint8, generator=generator)
    dataset = Dataset(name="labelled", kind="images", samples=samples)
    dataset.labels, dataset.num_classes, dataset.class_names = torch.arange(count) % 5, 5, [str(i) for i in range(5)]
    return dataset


def cpu_batches(source_class, dataset, count, **settings):
    with source_class(dataset, CPU, 7, use_labels=True, **settings) as source:
        return [source.next_batch(8) for _ in range(count)]


@pytest.mark.parametrize("prefetch", [0, 2])
def test_a_streaming_source_for_cuda_pins_copies_on_a_side_stream_and_waits_for_the_copy(monkeypatch, prefetch):
    dataset = labelled_images()
    expected = cpu_batches(StreamingSource, dataset, 3, prefetch=prefetch)
    fake = FakeCuda(monkeypatch)
    with StreamingSource(dataset, CUDA, 7, use_labels=True, prefetch=prefetch) as source:
        for number, (real_expected, labels_expected) in enumerate(expected):
            real, labels = source.next_batch(8)
            # The same numbers as on the CPU: the CUDA branch only moves them.
            assert torch.equal(real, real_expected) and torch.equal(labels, labels_expected)
            # Before the batch is handed over, the step's (default) stream waits for the event
            # recorded after this batch's copies, and both tensors are marked as used there.
            waits = [i for i, (what, _) in enumerate(fake.calls) if what == "wait"]
            assert len(waits) == number + 1
            wait = fake.calls[waits[-1]][1]
            assert wait["stream"] == "default" and wait["event"].stream == "side"
            recorded = next(i for i, (what, d) in enumerate(fake.calls) if what == "record event" and d["event"] is
                            wait["event"])
            copies = [d for what, d in fake.calls[:recorded] if what == "copy"][-2:]
            assert [c["shape"] for c in copies] == [(8, 3, 4, 4), (8,)]  # this batch's pictures, then labels
            assert all(c["pinned"] and c["non_blocking"] and c["stream"] == "side" for c in copies)
            consumer = wait["thread"]  # the prefetching thread may log in between
            after_wait = [(w, d) for w, d in fake.calls[waits[-1] + 1:] if d["thread"] == consumer][:2]
            assert [(what, d["stream"], d["shape"]) for what, d in after_wait] == [
                ("record_stream", "default", (8, 3, 4, 4)), ("record_stream", "default", (8,))]
    assert fake.names().count("new stream") == 1  # one side stream for the source's life
    assert fake.names().count("pinned buffer") >= 2 * len(expected)  # pictures and labels, per batch
    assert "pin" not in fake.names()  # built in pinned memory, not pinned afterwards


def test_an_in_memory_source_for_cuda_sends_only_the_indices_through_pinned_memory(monkeypatch):
    dataset = labelled_images()
    expected = cpu_batches(InMemorySource, dataset, 3)
    fake = FakeCuda(monkeypatch)
    source = InMemorySource(dataset, CUDA, 7, use_labels=True)
    moved_at_start = [d["shape"] for what, d in fake.calls if what == "copy"]
    assert moved_at_start == [(200, 3, 4, 4), (200,)]  # the set and its labels go to the GPU once
    fake.calls.clear()
    for real_expected, labels_expected in expected:
        real, labels = source.next_batch(8)
        assert torch.equal(real, real_expected) and torch.equal(labels, labels_expected)
    assert fake.names() == ["pin", "copy"] * 3
    assert all(d["pinned"] and d["non_blocking"] and d["shape"] == (8,) for what, d in fake.calls if what == "copy")


def test_on_the_cpu_nothing_is_pinned_streamed_or_copied(monkeypatch):
    fake = FakeCuda(monkeypatch)  # CUDA "present": the CPU path must still not touch it
    dataset = labelled_images()
    for source in (StreamingSource(dataset, CPU, 7, use_labels=True, prefetch=0),
                   InMemorySource(dataset, CPU, 7, use_labels=True)):
        with source:
            real, _ = source.next_batch(8)
            assert real.device == CPU
    assert fake.calls == []


def test_only_the_device_module_touches_cuda():
    """Every CUDA-only branch sits in gan_space/devices.py: the rest of the package asks it."""
    cuda_only = re.compile(r"torch\.cuda|torch\.backends\.cudnn|pin_memory|non_blocking|record_stream|"
                           r"\.type\s*(==|!=)\s*[\"']cuda|[\"']cuda[\"']\s*(==|!=)")
    offenders = [f"{path.relative_to(REPO)}:{number}" for path in sorted((REPO / "gan_space").rglob("*.py"))
                 if path.name != "devices.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1) if cuda_only.search(line)]
    assert offenders == []
