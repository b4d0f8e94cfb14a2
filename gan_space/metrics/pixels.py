"""The held-out metrics of image-to-image tasks (gan_space.image_metrics holds the
mathematics): PSNR and SSIM against the targets, and a Fréchet distance between the outputs
and the targets for what pixel scores miss (a blurry output scores a high PSNR)."""

from ..image_metrics import frechet_distance, mean_psnr, mean_ssim
from .registry import PairMetric, register_metric

MIN_FRECHET_PICTURES = 16  # fewer say little about a distribution

PSNR = register_metric(PairMetric(name="psnr", label="PSNR", measure=mean_psnr, format="{:.2f} dB"))
SSIM = register_metric(PairMetric(name="ssim", label="SSIM", measure=mean_ssim))
FRECHET = register_metric(PairMetric(name="frechet_distance", label="Fréchet distance", measure=frechet_distance,
                                     higher_is_better=False, min_pictures=MIN_FRECHET_PICTURES, format="{:.3g}",
                                     in_summary=False, per_picture=False))
