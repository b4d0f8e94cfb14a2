"""Digits: a small classifier trained on real digits is the judge. Its class
predictions give class coverage, its hidden features give a Fréchet distance, and
nearest-neighbour distances in pixel space check that samples are not copies.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

# The project's one Fréchet distance between Gaussians (real by construction, singular covariances
# included: dead ReLU units in the judge's features make them so).
from ..scores import frechet_distance
from .registry import SampleMetric, register_metric


# ---------------------------------------------------------------------------
# Digits


@dataclass
class DigitsJudge:
    """A classifier trained on half of scikit-learn's digits (the reference half); the
    other half is held out to calibrate what real digits score."""

    weights: list  # (W1, b1, W2, b2) of a one-hidden-layer MLP on 8x8 images in [0, 1]
    reference_images: np.ndarray  # (N, 64) in [0, 1]
    reference_mean: np.ndarray
    reference_cov: np.ndarray
    held_out_images: np.ndarray
    held_out_labels: np.ndarray

    def features(self, images: np.ndarray) -> np.ndarray:
        w1, b1, _, _ = self.weights
        return np.maximum(images @ w1 + b1, 0)

    def predict(self, images: np.ndarray) -> np.ndarray:
        _, _, w2, b2 = self.weights
        return (self.features(images) @ w2 + b2).argmax(1)


@lru_cache(maxsize=1)
def digits_judge() -> DigitsJudge:
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    images = digits.images.reshape(-1, 64) / 16.0
    order = np.random.default_rng(0).permutation(len(images))
    reference, held_out = order[: len(order) // 2], order[len(order) // 2:]
    classifier = MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-3, max_iter=600, random_state=0)
    classifier.fit(images[reference], digits.target[reference])
    weights = [classifier.coefs_[0], classifier.intercepts_[0], classifier.coefs_[1], classifier.intercepts_[1]]
    judge = DigitsJudge(weights, images[reference], None, None, images[held_out], digits.target[held_out])
    features = judge.features(images[reference])
    judge.reference_mean, judge.reference_cov = features.mean(0), np.cov(features, rowvar=False)
    return judge


def to_digit_space(images: torch.Tensor) -> np.ndarray:
    """Generated images in [-1, 1] (N, C, H, W) -> (N, 64) grayscale 8x8 in [0, 1]."""
    images = torch.as_tensor(images).float()
    if images.shape[1] == 3:
        images = images.mean(1, keepdim=True)
    if images.shape[-1] != 8:
        images = torch.nn.functional.adaptive_avg_pool2d(images, 8)
    return ((images.clamp(-1, 1) + 1) / 2).reshape(images.shape[0], 64).numpy().astype(np.float64)


def digits_metrics(images: torch.Tensor) -> dict:
    """Class coverage, Fréchet distance and copying check for generated digits,
    each next to the figure real held-out digits get at the same sample count."""
    judge = digits_judge()
    samples = to_digit_space(images)
    n = min(len(samples), len(judge.held_out_images))
    samples, held_out = samples[:n], judge.held_out_images[:n]

    def fd(x):
        f = judge.features(x)
        return frechet_distance(f.mean(0), np.cov(f, rowvar=False), judge.reference_mean, judge.reference_cov)

    def nearest_distance(x):
        return torch.cdist(torch.from_numpy(x), torch.from_numpy(judge.reference_images)).min(1).values.numpy()

    fractions = np.bincount(judge.predict(samples), minlength=10) / n
    sample_nn, real_nn = nearest_distance(samples), nearest_distance(held_out)
    return {
        "num_samples": n,
        "frechet_distance": fd(samples),
        "real_frechet_distance": fd(held_out),
        "class_fractions": fractions.round(4).tolist(),
        "min_class_fraction": float(fractions.min()),
        "classes_covered": int((fractions >= 0.02).sum()),
        "median_nn_distance": float(np.median(sample_nn)),
        "real_median_nn_distance": float(np.median(real_nn)),
        "classifier_accuracy_held_out": float((judge.predict(judge.held_out_images) == judge.held_out_labels).mean()),
    }


# ---------------------------------------------------------------------------
# As a registered metric: live measurements and the Hub card

CARD_SEED = 1_000_000  # the card's fresh samples: not the preview's latents, nor the watcher's


def _measure(state, samples: torch.Tensor) -> dict:
    digits = digits_metrics(samples)
    return {"frechet_distance": digits["frechet_distance"], "real_frechet_distance": digits["real_frechet_distance"],
            "classes_covered": digits["classes_covered"], "frechet_features": "digits classifier"}


def _prepare(data, num_samples):
    digits_judge()  # fitted once here, so measurements stay cheap
    return True


def _card_measure(generator, dataset=None, pictures=None) -> dict:
    from ..sampling import generate

    measured = digits_metrics(generate(generator, 1000, seed=CARD_SEED))
    keys = ("num_samples", "frechet_distance", "real_frechet_distance", "classes_covered", "min_class_fraction",
            "median_nn_distance", "real_median_nn_distance")
    return {key: measured[key] for key in keys}


def _card_lines(quality: dict) -> list[str]:
    n, nan = quality.get("num_samples"), float("nan")
    lines = [f"Measured on {n} fresh samples with a small classifier trained on real digits, next to what "
             f"{n} real held-out digits score. A lower Fréchet distance is better; a nearest-neighbour distance "
             "far below the real one would mean copying:", "",
             "| metric | generated | real digits |", "|---|---|---|",
             f"| Fréchet distance (classifier features) | {quality['frechet_distance']:.2f} | "
             f"{quality.get('real_frechet_distance', nan):.2f} |"]
    if "classes_covered" in quality:
        lines.append(f"| classes covered (>= 2% of samples) | {quality['classes_covered']} of 10 | 10 of 10 |")
    if "min_class_fraction" in quality:
        lines.append(f"| rarest class | {quality['min_class_fraction']:.1%} | ~10% |")
    if "median_nn_distance" in quality:
        lines.append(f"| median distance to nearest training digit | {quality['median_nn_distance']:.2f} | "
                     f"{quality.get('real_median_nn_distance', nan):.2f} |")
    return lines


METRIC = register_metric(SampleMetric(
    name="digits", description="the digits judge: Fréchet distance in a small classifier's features, classes covered",
    applies=lambda dataset, kind: kind == "images" and dataset == "digits",
    measure=_measure, prepare=_prepare, num_samples=1000, warm_up=digits_judge,
    card_measure=_card_measure, card_lines=_card_lines, card_key="classes_covered"))
