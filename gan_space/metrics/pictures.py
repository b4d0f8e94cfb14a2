"""The picture score (gan_space.scores): Fréchet distance and KID in a fixed random
network's features, against the run's own pictures, next to what real held-out pictures
score. It measures every picture set that has no judge of its own."""

import math

import torch

from ..scores import ImageReference, generator_score
from .registry import SampleMetric, register_metric

# Scored against the statistics of this many of the run's pictures, taken once per run (about half
# a CPU-second at 64 px).
REFERENCE_PICTURES = 1000
REFERENCE_SEED = 1_000_003
MIN_PICTURES = 4
CARD_SAMPLES, CARD_SEED = 1000, 1_000_000


def _prepare(data, num_samples):
    """The reference statistics, from uint8 rows of the set (a float copy of a 100,000-picture set
    would not fit), so a measurement only pays for the samples' features."""
    if len(data) < MIN_PICTURES:
        return None
    return ImageReference.of(data.samples, num_samples, max_reference=REFERENCE_PICTURES, seed=REFERENCE_SEED)


def _measure(reference, samples: torch.Tensor) -> dict:
    if not bool(torch.isfinite(samples).all()):
        return {}
    score = reference.score(samples)
    return {"frechet_distance": score["frechet_distance"], "real_frechet_distance": score["real_frechet_distance"],
            "kid": score["kid"], "real_kid": score["real_kid"], "frechet_features": "random network"}


def _card_measure(generator, dataset=None, pictures=None) -> dict:
    measured = generator_score(generator, pictures, num=CARD_SAMPLES, seed=CARD_SEED)
    keys = ("num_samples", "features", "network", "frechet_distance", "kid", "kid_std", "num_real", "num_held_out",
            "real_frechet_distance", "real_kid")
    return {key: measured[key] for key in keys if key in measured}


def _card_lines(quality: dict) -> list[str]:
    return [f"Measured on {quality.get('num_samples')} fresh samples against {quality.get('num_real')} of the "
            f"pictures it was trained on, next to what {quality.get('num_held_out')} real held-out pictures score "
            f"against the same ones, in the features of {quality.get('network')}. Lower is better for both; the "
            "Fréchet distance is biased upwards by few samples, so read it against the real pictures' value. These "
            "numbers compare models scored the same way (`python -m gan_space score`), not published FIDs:",
            "", "| metric | generated | real held-out pictures |", "|---|---|---|",
            f"| Fréchet distance ({quality['features']} features) | {quality['frechet_distance']:.3f} | "
            f"{quality.get('real_frechet_distance', math.nan):.3f} |",
            f"| KID ({quality['features']} features) | {quality['kid']:.5f} ± {quality.get('kid_std', math.nan):.5f} "
            f"| {quality.get('real_kid', math.nan):.5f} |"]


METRIC = register_metric(SampleMetric(
    name="picture score", description="Fréchet distance and KID in a fixed random network's features (gan_space.scores)",
    applies=lambda dataset, kind: kind == "images", fallback=True, measure=_measure, prepare=_prepare,
    num_samples=256, estimate_seconds=lambda reference, num_samples: reference.estimate_seconds(num_samples),
    card_measure=_card_measure, card_pictures=True, card_lines=_card_lines, card_key="features"))
