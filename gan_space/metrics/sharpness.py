"""Sharpness of an image-to-image model's outputs, relative to the targets': a model trained
with L2 on an uncertain target (the next frame of a clip) averages the possible answers
into a blur that PSNR rewards; this measure shows it (the NIPS 2016 GAN tutorial's point).

The sharpness of a picture is the mean magnitude of its luma's gradient (forward
differences, pixel values in [0, 1]); the metric is the outputs' total over the targets'
total: 1 when the outputs are as sharp as the targets, below 1 for blur (over 1: noisier or
harder-edged than the targets)."""

from .registry import PairMetric, register_metric

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601


def gradient_magnitude(pictures):
    """(N, C, H, W) in [0, 1] -> each picture's mean gradient magnitude of its luma, (N,)."""
    grey = pictures.float()
    if grey.shape[1] == 3:
        grey = sum(weight * grey[:, i] for i, weight in enumerate(LUMA))
    else:
        grey = grey[:, 0]
    dx = grey[:, :-1, 1:] - grey[:, :-1, :-1]
    dy = grey[:, 1:, :-1] - grey[:, :-1, :-1]
    return (dx**2 + dy**2).sqrt().flatten(1).mean(1)


def relative_sharpness(outputs, targets) -> float:
    """The outputs' gradient magnitude over the targets' (totals over the set; 0 when the
    targets are flat and the outputs too, so a flat set does not divide by zero)."""
    made, wanted = float(gradient_magnitude(outputs).sum()), float(gradient_magnitude(targets).sum())
    if wanted == 0:
        return 0.0 if made == 0 else float("inf")
    return made / wanted


SHARPNESS = register_metric(PairMetric(name="sharpness", label="sharpness (of the targets')",
                                       measure=relative_sharpness, format="{:.2f}"))
