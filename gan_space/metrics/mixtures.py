"""2-D mixtures (the PacGAN paper's protocol): a sample is high quality when it lies
within 3 standard deviations of a mode; a mode is captured when it has at least one
high-quality sample; reverse KL is KL(histogram of high-quality samples over modes ||
uniform)."""

import torch

from ..data import MIXTURE_SETS, mixture_modes
from .registry import SampleMetric, register_metric


def mode_metrics(points: torch.Tensor, dataset: str) -> dict:
    """points: (N, 2) in data coordinates."""
    modes, std = mixture_modes(dataset)
    points = torch.as_tensor(points, dtype=torch.float32)
    distances = torch.cdist(points, modes)  # (N, modes)
    nearest_distance, nearest_mode = distances.min(1)
    high_quality = nearest_distance <= 3 * std
    counts = torch.bincount(nearest_mode[high_quality], minlength=len(modes)).double()
    captured = int((counts > 0).sum())
    if counts.sum() > 0:
        p = counts / counts.sum()
        nonzero = p > 0
        reverse_kl = float((p[nonzero] * torch.log(p[nonzero] * len(modes))).sum())
    else:
        reverse_kl = float("inf")
    return {
        "modes": captured,
        "total_modes": len(modes),
        "high_quality": float(high_quality.float().mean()),
        "reverse_kl": reverse_kl,
    }


# ---------------------------------------------------------------------------
# As a registered metric: live measurements and the Hub card

CARD_SAMPLES, CARD_SEED = 2500, 1_000_000


def _applies(dataset, kind) -> bool:
    return kind == "points" and dataset in MIXTURE_SETS  # moons and spiral have no modes to count


def _measure(dataset, samples: torch.Tensor) -> dict:
    modes = mode_metrics(samples, dataset)
    return {"modes": modes["modes"], "total_modes": modes["total_modes"]}


def _card_measure(generator, dataset, pictures=None) -> dict:
    from ..sampling import generate

    measured = mode_metrics(generate(generator, CARD_SAMPLES, seed=CARD_SEED), dataset)
    measured["num_samples"] = CARD_SAMPLES
    return {key: measured[key] for key in ("num_samples", "modes", "total_modes", "high_quality", "reverse_kl")}


def _card_lines(quality: dict) -> list[str]:
    nan = float("nan")
    return [f"Measured on {quality.get('num_samples')} fresh samples (PacGAN's protocol: a sample is high quality "
            "within 3 standard deviations of a mode):", "", "| metric | value |", "|---|---|",
            f"| modes captured | {quality['modes']} of {quality.get('total_modes')} |",
            f"| high-quality samples | {quality.get('high_quality', nan):.1%} |",
            f"| reverse KL to uniform over modes | {quality.get('reverse_kl', nan):.3f} |"]


METRIC = register_metric(SampleMetric(
    name="modes", description="a mixture's modes captured and the share of high-quality samples (PacGAN)",
    applies=_applies, measure=_measure, prepare=lambda data, num_samples: data.name, num_samples=1000,
    card_measure=_card_measure, card_lines=_card_lines, card_key="modes"))
