"""Pictures into the feature networks: uint8 or [-1, 1] float sets, converted batch by batch."""


import numpy as np
import torch
import torch.nn.functional as F



# ---------------------------------------------------------------------------
# Pictures in


def _as_images(images, what: str) -> torch.Tensor:
    """A 4-D (N, C, H, W) tensor of 1 or 3 channels, uint8 or float in [-1, 1] (not copied)."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{what} must be a torch tensor or numpy array of pictures (N, C, H, W), "
                         f"got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        hint = (" (that looks like (N, H, W, C): permute it to (N, C, H, W))"
                if images.dim() == 4 and images.shape[-1] in (1, 3) else "")
        raise ValueError(f"{what} must be pictures of shape (N, C, H, W) with 1 or 3 channels, got shape "
                         f"{tuple(images.shape)}{hint}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise ValueError(f"{what} must be uint8 (0-255) or float in [-1, 1], got {images.dtype}")
    if images.shape[0] < 2:
        raise ValueError(f"{what} needs at least 2 pictures for a score, got {images.shape[0]}")
    if min(images.shape[2:]) < 4:
        raise ValueError(f"{what} are {images.shape[2]}x{images.shape[3]} pixels: a score needs at least 4x4")
    return images


def _to_float(batch: torch.Tensor) -> torch.Tensor:
    """One batch in [-1, 1], 3 channels (grey repeated), float32 on the CPU."""
    batch = batch.detach().cpu()
    if batch.dtype == torch.uint8:
        batch = batch.float() / 127.5 - 1.0
    else:
        batch = batch.float()
        if not torch.isfinite(batch).all():
            raise ValueError("the pictures hold NaN or infinite values: the generator has diverged; nothing to score")
        batch = batch.clamp(-1.0, 1.0)
    return batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch


def _resize(batch: torch.Tensor, size: int, mode: str = "bilinear", antialias: bool = True) -> torch.Tensor:
    if batch.shape[-2:] == (size, size):
        return batch
    antialias = antialias and min(batch.shape[-2:]) > size  # only a shrink needs the low-pass filter
    return F.interpolate(batch, size=(size, size), mode=mode, align_corners=False, antialias=antialias)
