"""Quality metrics a broken GAN cannot pass.

2-D mixtures (the PacGAN paper's protocol): a sample is high quality when it lies
within 3 standard deviations of a mode; a mode is captured when it has at least one
high-quality sample; reverse KL is KL(histogram of high-quality samples over modes ||
uniform).

Digits: a small classifier trained on real digits is the judge. Its class
predictions give class coverage, its hidden features give a Fréchet distance, and
nearest-neighbour distances in pixel space check that samples are not copies.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .data import mixture_modes
# The project's one Fréchet distance between Gaussians (real by construction, singular covariances
# included: dead ReLU units in the judge's features make them so).
from .scores import frechet_distance


# ---------------------------------------------------------------------------
# 2-D mixtures


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
