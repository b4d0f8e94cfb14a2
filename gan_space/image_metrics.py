"""How close a picture is to its target: PSNR and SSIM, the scores of the image-to-image
literature (SRGAN, ESRGAN, pix2pix tables), plus a Fréchet distance between sets of
pictures for what pixel scores miss (a blurry output scores a high PSNR).

Conventions: float tensors (N, C, H, W) with values in [0, 1] (gan_space's [-1, 1]
pictures go through `to_unit` first); every score is computed per picture on all its
channels and then averaged over the pictures, as the papers' tables do. No border is
cropped and no colour conversion is made (a score on the Y channel of YCbCr, as some SR
papers report, is not what is measured here).
"""

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
    from a sharp one even when each picture's PSNR is high. The project's one random-feature
    Fréchet distance (gan_space.scores), so these numbers compare with the generators'."""
    from .scores import frechet_distance_images

    return float(frechet_distance_images(images, references))


__all__ = ["psnr", "ssim", "mean_psnr", "mean_ssim", "to_unit", "frechet_distance"]
