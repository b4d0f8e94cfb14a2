"""Quality checks a broken GAN cannot pass: short runs of the real presets through the
command line, judged by the metrics of gan_space.metrics. The full-length figures
(CLI defaults) are in benchmarks/quality.py and benchmarks/RESULTS.md."""

import numpy as np
import pytest
import torch

from gan_space.checkpoints import load_generator
from gan_space.cli import main
from gan_space.metrics import digits_metrics, mode_metrics
from gan_space.sampling import generate


@pytest.mark.slow
def test_grid25_short_run_covers_the_modes(tmp_path):
    run = tmp_path / "grid25"
    # A fifth of the default schedule (the learning-rate decay still runs at its end); the
    # full schedule's figures are in benchmarks/RESULTS.md.
    assert main(["train", "--dataset", "grid25", "--out", str(run), "--steps", "4000"]) == 0
    assert main(["generate", "--model", str(run), "--num", "2500", "--out", str(tmp_path / "s.npy")]) == 0
    metrics = mode_metrics(torch.from_numpy(np.load(tmp_path / "s.npy")), "grid25")
    # A collapsed or unconverged GAN gets far fewer modes, or spreads its mass between them
    # (an untrained generator puts everything on the centre mode: 1 mode, reverse KL 3.2).
    assert metrics["modes"] >= 22, metrics
    assert metrics["high_quality"] >= 0.05, metrics  # mass spread over the square scores ~0.02
    assert metrics["reverse_kl"] <= 0.5, metrics


@pytest.mark.slow
def test_digits_short_run_makes_every_digit(tmp_path):
    run = tmp_path / "digits"
    assert main(["train", "--dataset", "digits", "--out", str(run), "--steps", "2000"]) == 0
    metrics = digits_metrics(generate(load_generator(run), 1000, seed=1))
    assert metrics["classes_covered"] == 10, metrics
    assert metrics["frechet_distance"] <= 3 * metrics["real_frechet_distance"], metrics
    # Not copies: samples are about as far from the training digits as real digits are.
    assert metrics["median_nn_distance"] >= 0.7 * metrics["real_median_nn_distance"], metrics
