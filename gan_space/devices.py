"""Device and precision choice: the best device there is, and mixed precision where
the device runs it fast and the networks tolerate it."""

import contextlib

import torch


def select_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} asked for, but this machine has no usable CUDA GPU: use 'auto' or 'cpu'")
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
        if precision == "bf16" and device.type == "cpu" and not cpu_supports_bf16():
            return "bf16"  # allowed (emulated, slow): the user asked for it explicitly
        if precision == "fp16" and device.type == "cpu":
            raise ValueError("precision='fp16' is not supported on the CPU: use 'bf16' or 'fp32'")
        return precision
    if not mixed_precision:
        return "fp32"
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "mps":
        return "fp16"
    return "bf16" if cpu_supports_bf16() else "fp32"


def autocast_context(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)
