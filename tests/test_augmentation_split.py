"""The classifier test's split as a data set (training_split): the training and held-out pictures
are disjoint, cover the real set and are stratified; a generator trained on the training split
is tested on exactly the other pictures; the balanced accuracy against a hand count; and
benchmarks/augmentation.py's dry run, which goes through all of it in seconds."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from gan_space.classification import (TEST_FRACTION, balanced_accuracy, classifier_test, split_indices,
                                      training_split)
from gan_space.data import load_dataset
from gan_space.export import load_conditional
from gan_space.training import TrainConfig, Trainer

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "augmentation.py"
RESULTS = REPO / "benchmarks" / "RESULTS.md"


@pytest.mark.parametrize("name, resolution, channels", [("digits", 8, 1), ("emoji", 16, 3)])
def test_the_split_is_disjoint_covers_the_set_and_keeps_every_class_share(name, resolution, channels):
    data = load_dataset(name, resolution, channels)
    train_index, test_index = split_indices(data, name)
    assert len(set(train_index.tolist()) & set(test_index.tolist())) == 0
    assert sorted(train_index.tolist() + test_index.tolist()) == list(range(len(data)))
    per_class = torch.bincount(data.labels, minlength=data.num_classes)
    held = torch.bincount(data.labels[test_index], minlength=data.num_classes)
    assert held.tolist() == [round(n * TEST_FRACTION) for n in per_class.tolist()]  # stratified: 30% of each class

    train, held_out = training_split(name, resolution, channels)
    assert torch.equal(train.samples, data.samples[train_index]) and torch.equal(train.labels, data.labels[train_index])
    assert torch.equal(held_out.samples, data.samples[test_index])
    assert train.class_names == held_out.class_names == data.class_names and train.num_classes == data.num_classes
    assert "training split" in train.name and "held-out split" in held_out.name
    assert train.cache_file is None and train.kind == "images"
    # The split is fixed: asked again, the same pictures.
    again, _ = training_split(name, resolution, channels)
    assert torch.equal(again.samples, train.samples)


def test_a_generator_trained_on_the_training_split_is_tested_on_exactly_the_other_pictures(tmp_path):
    train, held_out = training_split("digits", 8, 1)
    config = TrainConfig.for_dataset("digits", conditional=True, steps=6, sample_every=6, checkpoint_every=6,
                                     out_dir=str(tmp_path / "run"))
    assert all(event.status in ("running", "finished") for event in Trainer(config, dataset=train).run())
    source = load_conditional(tmp_path / "run")
    assert source.dataset == "digits"  # the run names the real set, so the test finds it again
    result = classifier_test(source, few_per_class=2, seeds=1, steps=3, generated_per_class=2)
    assert result.train_count == len(train) and result.test_count == len(held_out)
    assert result.test_class_counts == torch.bincount(held_out.labels, minlength=10).tolist()
    assert result.majority == pytest.approx(max(result.test_class_counts) / len(held_out))
    assert all(0.0 <= value <= 1.0 for values in result.balanced.values() for value in values)


def test_sets_the_split_cannot_use_are_clear_errors():
    with pytest.raises(ValueError, match="held-out fraction must be between 0 and 1"):
        training_split("digits", 8, 1, test_fraction=1.0)
    with pytest.raises(ValueError, match="moons has no classes"):
        split_indices(load_dataset("moons"), "moons")
    one_of_class_2 = load_dataset("digits", 8, 1)
    keep = torch.cat([torch.nonzero(one_of_class_2.labels != 2).flatten(),
                      torch.nonzero(one_of_class_2.labels == 2).flatten()[:1]])
    one_of_class_2.samples, one_of_class_2.labels = one_of_class_2.samples[keep], one_of_class_2.labels[keep]
    with pytest.raises(ValueError, match="class 2 has 1 real picture"):
        split_indices(one_of_class_2, "digits")


def test_the_balanced_accuracy_is_the_mean_of_the_per_class_accuracies():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 0, 0, 1, 0, 1, 0])  # class 0: 3/4, class 1: 1/2, class 2: 0/1
    assert balanced_accuracy(predicted, labels, 4) == pytest.approx((0.75 + 0.5 + 0.0) / 3)  # class 3 absent
    assert balanced_accuracy(labels, labels, 3) == 1.0


def test_the_benchmark_dry_run_trains_tests_and_draws_both_sets_and_leaves_results_alone(tmp_path):
    results_before = RESULTS.read_bytes()
    out = tmp_path / "augmentation"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--threads", "1", "--out", str(out)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, classes, cell in (("digits", 10, 8), ("emoji", 9, 16)):
        report = json.loads((out / f"{name}.json").read_text())
        assert report["dry_run"] is True and report["set"] == name and report["seeds"] == 1
        train, held_out = training_split(name, cell, 1 if name == "digits" else 3)
        assert report["train_pictures"] == len(train) and report["held_out_pictures"] == len(held_out)
        test = report["tests"][0]
        assert test["train_count"] == len(train) and test["test_count"] == len(held_out)
        assert len(test["classes"]) == classes and set(test["accuracies"]) == set(test["balanced_accuracies"])
        with Image.open(out / report["grid"]) as grid:  # a row a class, 10 generated + a gap + 4 real
            assert grid.width > 15 * 32 and grid.height > classes * 32
    table = (out / "augmentation.md").read_text().splitlines()
    assert table[0].startswith("| set | classifier trained on")
    assert sum(line.startswith("| digits |") for line in table) == 5  # the largest class and (a)-(d)
    assert sum(line.startswith("| emoji |") for line in table) == 5
    assert RESULTS.read_bytes() == results_before
