"""A new metric and a new task are one module each: registered, they are measured, offered and
described everywhere (the live measurements, the CLI, the app's API and choices, the Hub card)
with no other edit. tests/tiny_metric.py and tests/tiny_task.py are those modules."""

import pytest

import tiny_metric
from gan_space.diagnostics import SampleWatcher
from gan_space.hub import stage_repo_files
from gan_space.metrics import sample_metrics
from gan_space.training import TrainConfig, Trainer


@pytest.fixture
def moons_metric():
    tiny_metric.register()
    try:
        yield tiny_metric.METRIC
    finally:
        tiny_metric.unregister()


def _moons_run(out_dir, steps=30):
    config = TrainConfig.for_dataset("moons", out_dir=str(out_dir), steps=steps, width=32, batch_size=64,
                                     log_every=10, sample_every=steps, checkpoint_every=steps)
    trainer = Trainer(config)
    for _ in trainer.run():
        pass
    return trainer


def test_a_metric_in_one_module_is_measured_live_and_on_the_hub_card(tmp_path, moons_metric):
    assert sample_metrics("moons", "points") == [moons_metric]
    assert moons_metric not in sample_metrics("ring8", "points") + sample_metrics("emoji", "images")
    trainer = _moons_run(tmp_path / "moons")
    point = SampleWatcher(trainer).measure()
    assert 0 <= point.others["near_arcs"] <= 1
    assert point.modes is None  # the mixtures' metric does not apply to moons
    staging = tmp_path / "staging"
    staging.mkdir()
    stage_repo_files(tmp_path / "moons", staging, "someone/moons-gan")
    card = (staging / "README.md").read_text()
    assert "share of samples near the arcs" in card


def test_without_the_module_the_same_run_has_no_such_measurement(tmp_path):
    assert sample_metrics("moons", "points") == []
    trainer = _moons_run(tmp_path / "moons", steps=10)
    assert SampleWatcher(trainer).measure().others == {}
