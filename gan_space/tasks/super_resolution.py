"""Super-resolution: each picture is made 2 or 4 times smaller with antialiasing (bicubic, as
MATLAB's imresize and PIL do), after an optional Gaussian blur, then optional noise and JPEG
compression (the classical degradation order: blur, downscale, noise, JPEG); the model
learns to give back the original. ESRGAN's recipe in small: RRDB generator, relativistic D,
feature matching in D's features standing in for VGG."""

from __future__ import annotations  # torch.Tensor in annotations: torch is imported where it is used

from typing import TYPE_CHECKING

from .image_to_image import COMMON_PRESET, OBJECTIVE, PAIR_METRICS, check_pair_settings, load_pictures
from .registry import Task, register_task

if TYPE_CHECKING:
    import torch

def degraded_input(pairing, target: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The small input for these targets, at 8-bit precision (a picture a user brings is 8-bit too)."""
    import torch

    from ..pairs import JPEG_BEST_QUALITY, downscale, gaussian_blur, jpeg_compress, quantise_uint8, to_float

    n, device = target.shape[0], target.device
    x = target.float()
    if pairing.blur > 0:
        sigmas = torch.rand(n, device=device, generator=generator) * pairing.blur
        x = gaussian_blur(x, sigmas)
    x = downscale(x, pairing.scale)
    if pairing.noise > 0:
        stds = torch.rand(n, 1, 1, 1, device=device, generator=generator) * (pairing.noise / 127.5)
        x = x + stds * torch.randn(x.shape, device=device, generator=generator)
    if pairing.jpeg > 0:
        qualities = torch.randint(pairing.jpeg, JPEG_BEST_QUALITY + 1, (n,), device=device, generator=generator)
        return jpeg_compress(x, qualities.tolist())
    return to_float(quantise_uint8(x)).to(device)


def bicubic_baseline(condition: torch.Tensor, target_size: tuple, channels: int) -> torch.Tensor:
    from ..pairs import upscale_bicubic

    return upscale_bicubic(condition, size=target_size)


def check_settings(config, check) -> None:
    check_pair_settings(config, check)
    check("resolution", config.resolution // config.scale >= 8,
          f"at least {8 * config.scale} for x{config.scale} super-resolution (inputs of 8 pixels or more)")


def describe(pairing) -> str:
    from ..pairs import JPEG_BEST_QUALITY

    extras = [f"blur up to {pairing.blur:g} px" if pairing.blur else "",
              f"noise up to {pairing.noise:g}" if pairing.noise else "",
              f"JPEG quality {pairing.jpeg}-{JPEG_BEST_QUALITY}" if pairing.jpeg else ""]
    extras = [e for e in extras if e]
    return f"x{pairing.scale} super-resolution" + (f" ({', '.join(extras)})" if extras else "")


TASK = register_task(Task(
    name="super-resolution", label="Super-resolution (sharper, larger)",
    help="The pictures are made smaller (antialiased bicubic), and the model learns to give back the original; "
         "optional blur, noise and JPEG make it work on poorer pictures too.",
    words="super-resolution", run_prefix="sr",
    preset=dict(COMMON_PRESET, arch="rrdb", scale=4, loss="rpgan", adversarial_weight=0.005,
                feature_weight=0.1),
    settings=("scale", "blur", "noise", "jpeg"),
    scale=lambda config: config.scale, make_input=degraded_input, load_data=load_pictures,
    baseline=bicubic_baseline, baseline_name="bicubic", check_settings=check_settings, residual=True,
    objective=OBJECTIVE, metrics=PAIR_METRICS, hub_tag="super-resolution",
    describe=describe))
