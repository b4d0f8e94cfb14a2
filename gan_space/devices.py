"""Device and precision choice, and every CUDA-only branch of the package.

The rest of the package never calls `torch.cuda` nor decides on its own that a device is a
CUDA GPU: it asks this module (which device, which precision, whether to pin host memory,
how to copy a batch over, whether to let cuDNN tune itself...). On the CPU each of these
is the plain thing, so the CPU path has no special cases; on CUDA they are what keeps the GPU
busy. Tests run the CUDA branches without a GPU by faking what this module asks of torch
(tests/test_devices.py).

What is asked of torch, all here: torch.cuda.is_available / device_count /
is_bf16_supported / get_device_name / get_device_capability / get_device_properties /
current_device / max_memory_allocated / reset_peak_memory_stats, torch.cuda.Stream / Event / stream / current_stream, pinned host memory
(`pin_memory`), copies with `non_blocking=True`, `record_stream`, and
torch.backends.cudnn.benchmark.
"""

import contextlib

import torch


def _kind(device: torch.device | str) -> str:
    return torch.device(device).type


def _is_cuda(device: torch.device | str) -> bool:
    return _kind(device) == "cuda"


# --- which device, which precision -------------------------------------------


def select_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={name!r} asked for, but this machine has no usable CUDA GPU: use 'auto' or "
                             f"'cpu'")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(f"device={name!r} asked for, but this machine has {count} CUDA GPU(s), numbered from 0: "
                             f"use 'cuda' or one of " + ", ".join(f"'cuda:{i}'" for i in range(count)))
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={name!r} asked for, but MPS is not available here: use 'auto' or 'cpu'")
    return device


def cpu_supports_bf16() -> bool:
    """bf16 matmuls are only fast on CPUs with AVX512-BF16 or AMX; elsewhere they are emulated."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_precision(precision: str, device: torch.device, mixed_precision: bool = True) -> str:
    """'auto' -> the fastest precision that trains as well as fp32 on this device.

    mixed_precision=False (a network family that gains nothing from bf16, or needs its
    precision, as the MLPs do) keeps 'auto' at fp32.
    """
    if precision != "auto":
        if precision == "bf16" and _kind(device) == "cpu" and not cpu_supports_bf16():
            return "bf16"  # allowed (emulated, slow): the user asked for it explicitly
        if precision == "fp16" and _kind(device) == "cpu":
            raise ValueError("precision='fp16' is not supported on the CPU: use 'bf16' or 'fp32'")
        return precision
    if not mixed_precision:
        return "fp32"
    if _is_cuda(device):
        # bf16 has fp32's range (no loss scaling); GPUs before Ampere run it slowly or not at all.
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if _kind(device) == "mps":
        return "fp16"
    return "bf16" if cpu_supports_bf16() else "fp32"


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The dtype autocast runs the networks' matmuls and convolutions in; None for fp32 (no autocast)."""
    if precision == "fp32":
        return None
    return torch.bfloat16 if precision == "bf16" else torch.float16


def autocast_context(device: torch.device, precision: str):
    dtype = autocast_dtype(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=_kind(device), dtype=dtype)


def uses_grad_scaler(precision: str) -> bool:
    """fp16 gradients underflow without loss scaling; bf16 and fp32 have the range."""
    return precision == "fp16"


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A gradient scaler for one optimiser: enabled only where `uses_grad_scaler` (else a no-op)."""
    return torch.amp.GradScaler(_kind(device), enabled=uses_grad_scaler(precision))


# --- what a device does well ---------------------------------------------------


def has_fused_adam(device: torch.device) -> bool:
    """One fused kernel per Adam step instead of about ten small ops per parameter tensor
    (torch's default Adam on the CPU loops over the tensors in Python)."""
    return _kind(device) in ("cuda", "cpu")


def joins_process_groups(device: torch.device) -> bool:
    """Several training processes: NCCL joins CUDA GPUs, gloo joins CPUs; nothing else."""
    return _kind(device) in ("cuda", "cpu")


def host_reads_are_free(device: torch.device) -> bool:
    """Whether reading a value computed on this device costs the host no wait: on the CPU it is
    already computed; on a GPU a read drains the queue of launched kernels."""
    return _kind(device) == "cpu"


def enable_autotuning(device: torch.device) -> None:
    """On CUDA, let cuDNN time its convolution kernels once and keep the fastest: a training
    run's shapes never change. Nothing elsewhere."""
    if _is_cuda(device):
        torch.backends.cudnn.benchmark = True


def describe(device: torch.device) -> str:
    """The device in words, for reports: the GPU's name, compute capability and memory on CUDA."""
    device = torch.device(device)
    if not _is_cuda(device):
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    major, minor = torch.cuda.get_device_capability(index)
    memory = torch.cuda.get_device_properties(index).total_memory / 2**30
    return f"{torch.cuda.get_device_name(index)} (compute {major}.{minor}, {memory:.0f} GiB)"


def visible_gpus() -> list[str]:
    """The CUDA GPUs this process sees, by name (empty without one; on ZeroGPU, outside a
    @spaces.GPU call)."""
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]


def reset_peak_memory(device: torch.device) -> None:
    """Start counting `peak_memory_bytes` afresh (CUDA; nothing elsewhere)."""
    if _is_cuda(device):
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> int | None:
    """The most memory torch's allocator held on this GPU since the last reset; None off CUDA
    (the CPU's is the process's, not the device's)."""
    return int(torch.cuda.max_memory_allocated(device)) if _is_cuda(device) else None


# --- host to device: pinned memory, asynchronous copies, a side stream ------------


def pins_memory(device: torch.device) -> bool:
    """Whether batches bound for this device are built in pinned (page-locked) host memory: on
    CUDA a copy from pinned memory runs asynchronously, from pageable memory it does not."""
    return _is_cuda(device)


def host_buffer(shape, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialised host tensor to build a batch for `device` in (pinned for CUDA)."""
    return torch.empty(tuple(shape), dtype=dtype, pin_memory=pins_memory(device))


def to_device_async(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` (on the host) on `device` without making the host wait where that is possible:
    on CUDA through pinned memory with a non-blocking copy (the copy is ordered on the current
    stream, so kernels launched after it see the data); on the CPU the tensor itself; elsewhere
    a plain copy."""
    device = torch.device(device)
    if _is_cuda(device):
        source = tensor if tensor.is_pinned() else tensor.pin_memory()
        return source.to(device, non_blocking=True)
    if device.type == "cpu":
        return tensor
    return tensor.to(device)


class SideStream:
    """A CUDA stream of its own for a producer thread's copies, so that they overlap the
    training step's kernels on the default stream. `with side.active():` runs the copies on it;
    `side.mark()` returns an event that the consumer's stream waits for (`wait_for`)."""

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self.stream = torch.cuda.Stream(self.device)

    def active(self):
        return torch.cuda.stream(self.stream)

    def mark(self):
        """An event recorded on this stream after the work queued on it so far."""
        event = torch.cuda.Event()
        event.record(self.stream)
        return event


def side_stream(device: torch.device) -> SideStream | None:
    """A SideStream on CUDA; None elsewhere (no streams: copies are plain)."""
    return SideStream(device) if _is_cuda(device) else None


def wait_for(event, device: torch.device, *tensors: torch.Tensor | None) -> None:
    """Make `device`'s current stream wait for `event` (GPU-side: the host does not block) before
    it uses `tensors`, and tell the caching allocator the tensors are used there, so their memory
    is not handed out again while that stream may still read them."""
    current = torch.cuda.current_stream(device)
    current.wait_event(event)
    for tensor in tensors:
        if tensor is not None:
            tensor.record_stream(current)
