import numpy as np
import torch

from gan_space.data import load_digits, mixture_modes
from gan_space.metrics import digits_judge, digits_metrics, mode_metrics
from gan_space.scores import frechet_distance


def _mixture_samples(name, counts, spread=1.0, seed=0):
    modes, std = mixture_modes(name)
    generator = torch.Generator().manual_seed(seed)
    which = torch.cat([torch.full((c,), i) for i, c in enumerate(counts)])
    return modes[which] + spread * std * torch.randn(len(which), 2, generator=generator)


def test_perfect_grid_samples_score_perfectly():
    metrics = mode_metrics(_mixture_samples("grid25", [100] * 25), "grid25")
    assert metrics["modes"] == 25 and metrics["high_quality"] > 0.98 and metrics["reverse_kl"] < 0.01


def test_collapse_and_blur_are_caught():
    collapsed = mode_metrics(_mixture_samples("grid25", [500] * 5 + [0] * 20), "grid25")
    assert collapsed["modes"] == 5 and collapsed["reverse_kl"] > 1.5
    blurred = mode_metrics(_mixture_samples("ring8", [300] * 8, spread=10.0), "ring8")
    assert blurred["modes"] == 8 and blurred["high_quality"] < 0.3
    nowhere = mode_metrics(torch.full((100, 2), 50.0), "ring8")
    assert nowhere["modes"] == 0 and nowhere["high_quality"] == 0


def test_frechet_distance_of_identical_gaussians_is_zero_and_grows_with_shift():
    cov = np.diag([1.0, 2.0, 3.0])
    assert abs(frechet_distance(np.zeros(3), cov, np.zeros(3), cov)) < 1e-8
    assert abs(frechet_distance(np.zeros(3), cov, np.array([3.0, 0, 0]), cov) - 9.0) < 1e-6


def _as_generated(images_uint8):
    return images_uint8.float() / 127.5 - 1


def test_real_digits_pass_and_bad_samples_fail():
    judge = digits_judge()
    assert judge.predict(judge.held_out_images).tolist().count(0) > 50
    real = torch.from_numpy(judge.held_out_images.reshape(-1, 1, 8, 8)).float() * 2 - 1
    real_metrics = digits_metrics(real)
    assert real_metrics["classifier_accuracy_held_out"] > 0.9
    assert real_metrics["frechet_distance"] == real_metrics["real_frechet_distance"]
    assert real_metrics["classes_covered"] == 10

    noise = torch.rand(800, 1, 8, 8) * 2 - 1
    assert digits_metrics(noise)["frechet_distance"] > 5 * real_metrics["real_frechet_distance"]

    ones = _as_generated(load_digits().samples)
    only_ones = ones[load_digits().labels == 1].repeat(5, 1, 1, 1)
    collapsed = digits_metrics(only_ones)
    assert collapsed["classes_covered"] <= 2

    copies = torch.from_numpy(judge.reference_images[:800].reshape(-1, 1, 8, 8)).float() * 2 - 1
    copied = digits_metrics(copies)
    assert copied["median_nn_distance"] == 0 and copied["real_median_nn_distance"] > 1


def test_larger_samples_are_pooled_to_8x8():
    digits = load_digits(resolution=32, channels=3)
    pooled = digits_metrics(_as_generated(digits.samples[:800]))
    noise = digits_metrics(torch.rand(800, 3, 32, 32) * 2 - 1)
    assert pooled["classes_covered"] == 10
    assert pooled["frechet_distance"] < noise["frechet_distance"] / 5
