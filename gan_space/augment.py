"""Differentiable augmentations applied to everything the discriminator sees, real
and generated alike, so the generator does not learn the augmentations
(DiffAugment, Zhao et al., 2020). They keep D from memorising small datasets."""

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "flip", "diffaugment")


def augment(images: torch.Tensor, kind: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """`generator`: the run's noise stream (on the images' device); None draws from torch's global one."""
    if kind == "none" or images.dim() != 4:
        return images
    if kind == "flip":
        return _random_flip(images, generator)
    if kind == "diffaugment":
        return _cutout(_translate(_brightness_contrast(_random_flip(images, generator), generator), generator=generator),
                       generator=generator)
    raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {kind!r}")


def _random_flip(x: torch.Tensor, generator=None) -> torch.Tensor:
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=generator) < 0.5
    return torch.where(flip, x.flip(3), x)


def _brightness_contrast(x: torch.Tensor, generator=None) -> torch.Tensor:
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, generator=generator).to(x.dtype) - 0.5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, generator=generator).to(x.dtype) + 0.5) + mean


def _translate(x: torch.Tensor, ratio: float = 0.125, generator=None) -> torch.Tensor:
    n, _, h, w = x.shape
    pad = max(1, int(h * ratio + 0.5))
    padded = F.pad(x, (pad, pad, pad, pad))
    dx = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=generator)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])  # (n, h)
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])  # (n, w)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def _cutout(x: torch.Tensor, ratio: float = 0.5, generator=None) -> torch.Tensor:
    n, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h, (n, 1, 1), device=x.device, generator=generator)
    cx = torch.randint(0, w, (n, 1, 1), device=x.device, generator=generator)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    keep = ((ys - cy).abs() >= size_h // 2) | ((xs - cx).abs() >= size_w // 2)
    return x * keep[:, None].to(x.dtype)
