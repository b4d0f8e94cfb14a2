"""Class-conditional generation end to end: train on labelled digits, ask for a class,
get that class (as judged by a classifier trained on real digits), far above chance."""

import numpy as np
import torch

from gan_space.checkpoints import latest_checkpoint
from gan_space.metrics import digits_judge, to_digit_space
from gan_space.models import MLPGenerator
from gan_space.sampling import class_seed_grid, generate
from gan_space.training import TrainConfig, train


def test_conditional_digits_are_the_requested_class_and_the_class_seed_grid(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is faster, and much faster on a shared machine
    try:
        _train_and_check(tmp_path)
    finally:
        torch.set_num_threads(threads)


def _train_and_check(tmp_path):
    config = TrainConfig.for_dataset("digits", out_dir=str(tmp_path / "run"), conditional=True, steps=700,
                                     width=128, sample_every=700, checkpoint_every=700)
    assert train(config).status == "finished"
    generator = MLPGenerator.from_pretrained(latest_checkpoint(tmp_path / "run") / "generator")
    judge = digits_judge()
    accuracy = np.mean([(judge.predict(to_digit_space(generate(generator, 50, seed=9, labels=c))) == c).mean()
                        for c in range(10)])
    assert accuracy > 0.5, f"only {accuracy:.0%} of conditional samples are the requested class (chance: 10%)"

    grid = class_seed_grid(generator, seeds=[3, 4, 5], classes=[1, 7])
    assert grid.shape == (6, 1, 8, 8)
    # Row-major: the same seed in a column, the same class in a row.
    assert torch.allclose(grid[0], generate(generator, seed=3, num=1, labels=1)[0], atol=1e-6)
    assert torch.allclose(grid[5], generate(generator, seed=5, num=1, labels=7)[0], atol=1e-6)
