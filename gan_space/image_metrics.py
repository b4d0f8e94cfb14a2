"""How close a picture is to its target: PSNR and SSIM, the scores of the image-to-image
literature (SRGAN, ESRGAN, pix2pix tables), plus a Fréchet distance between sets of
pictures for what pixel scores miss (a blurry output scores a high PSNR).

Conventions: float tensors (N, C, H, W) with values in [0, 1] (gan_space's [-1, 1]
pictures go through `to_unit` first); every score is computed per picture on all its
channels and then averaged over the pictures, as the papers' tables do. No border is
cropped and no colour conversion is made (a score on the Y channel of YCbCr, as some SR
papers report, is not what is measured here).
"""

import math

import torch
import torch.nn.functional as F

SSIM_WINDOW = 11  # Wang et al. (2004): an 11x11 Gaussian window of standard deviation 1.5
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] pictures -> [0, 1], clamped (what a PNG of them would hold, before rounding)."""
    return ((images.float() + 1) / 2).clamp(0, 1)


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape != b.shape:
        raise ValueError(f"pictures and targets must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.dim() == 3:
        a, b = a[None], b[None]
    if a.dim() != 4:
        raise ValueError(f"expected pictures of shape (N, C, H, W) or (C, H, W), got {tuple(a.shape)}")
    return a.double(), b.double()


def psnr(images: torch.Tensor, targets: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio of each picture against its target, in dB: (N,).
    Identical pictures score +inf."""
    a, b = _check_pair(images, targets)
    mse = (a - b).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)


def mean_psnr(images: torch.Tensor, targets: torch.Tensor, data_range: float = 1.0) -> float:
    """The mean of the pictures' PSNR (an identical picture counts as 100 dB, so one exact
    match does not make the mean infinite)."""
    return float(psnr(images, targets, data_range).clamp(max=100.0).mean())


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def ssim(images: torch.Tensor, targets: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity of each picture with its target: (N,), from -1 to 1 (1: the same).

    Wang et al. (2004): local means, variances and covariance under an 11x11 Gaussian window
    (sigma 1.5), K1 = 0.01, K2 = 0.03, averaged over the positions where the window fits
    whole (the MATLAB reference's 'valid' filtering; scikit-image crops the same border) and
    over channels. Pictures smaller than the window use the largest odd window that fits."""
    a, b = _check_pair(images, targets)
    channels, height, width = a.shape[1:]
    size = min(SSIM_WINDOW, height - (1 - height % 2), width - (1 - width % 2))
    window = _gaussian_window(size, SSIM_SIGMA)
    kernel = (window[:, None] * window[None, :]).expand(channels, 1, size, size).to(a.device)

    def blur(x):  # each channel on its own, no padding
        return F.conv2d(x, kernel, groups=channels)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    covariance = blur(a * b) - mu_a * mu_b
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    index = ((2 * mu_a * mu_b + c1) * (2 * covariance + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return index.flatten(1).mean(1)


def mean_ssim(images: torch.Tensor, targets: torch.Tensor, data_range: float = 1.0) -> float:
    return float(ssim(images, targets, data_range).mean())


# ---------------------------------------------------------------------------
# A Fréchet distance between sets of pictures


def frechet_distance(images: torch.Tensor, references: torch.Tensor) -> float:
    """Fréchet distance between the features of two sets of [0, 1] pictures (lower: the sets
    look more alike). Sharpness, texture and colour statistics count; a blurry set is far
    from a sharp one even when each picture's PSNR is high.

    THE HOOK: gan_space/scores.py (a random-feature Fréchet distance shared by the whole
    project) is used when it is there; until then, `random_feature_frechet_distance` below
    stands in, so the benchmark and the app have the number today. Compare numbers from the
    same function only."""
    try:
        from . import scores
    except ImportError:
        scores = None
    shared = getattr(scores, "frechet_distance_images", None) if scores is not None else None
    if shared is not None:
        return float(shared(images, references))
    return random_feature_frechet_distance(images, references)


class _RandomFeatures(torch.nn.Module):
    """A fixed, randomly initialised convolutional network (the same weights everywhere, from a
    fixed seed): random features separate image statistics surprisingly well and need no
    download (Naeem et al. 2020 use them as a baseline for FID's Inception features)."""

    def __init__(self, channels: int, seed: int = 20_240_614):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        widths = [channels, 32, 48, 64]
        self.weights = []
        for c_in, c_out in zip(widths, widths[1:]):
            w = torch.randn(c_out, c_in, 3, 3, generator=generator, dtype=torch.float64) * math.sqrt(2 / (9 * c_in))
            self.weights.append(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.double() - 0.5) * 2
        pooled = []
        for weight in self.weights:
            x = F.leaky_relu(F.conv2d(x, weight, stride=2, padding=1), 0.2)
            # Means and spreads of each feature at every scale: colour, contrast and texture.
            pooled += [x.mean((2, 3)), x.std((2, 3))]
        return torch.cat(pooled, 1)


def random_feature_frechet_distance(images: torch.Tensor, references: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to random-network features of the two sets."""
    if images.dim() != 4 or references.dim() != 4 or images.shape[1:] != references.shape[1:]:
        raise ValueError(f"two sets of pictures of one shape are needed, got {tuple(images.shape)} and "
                         f"{tuple(references.shape)}")
    if len(images) < 2 or len(references) < 2:
        raise ValueError("a Fréchet distance needs at least 2 pictures in each set")
    network = _RandomFeatures(images.shape[1])
    with torch.no_grad():
        a = torch.cat([network(chunk.cpu()) for chunk in images.split(256)])
        b = torch.cat([network(chunk.cpu()) for chunk in references.split(256)])
    return _frechet_from_features(a, b)


def _frechet_from_features(a: torch.Tensor, b: torch.Tensor) -> float:
    import numpy as np
    from scipy import linalg

    a, b = a.double().numpy(), b.double().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.isfinite(root).all():  # nearly singular: FID's usual fix, a small offset
        offset = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


__all__ = ["psnr", "ssim", "mean_psnr", "mean_ssim", "to_unit", "frechet_distance",
           "random_feature_frechet_distance"]
