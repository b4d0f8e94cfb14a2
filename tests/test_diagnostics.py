"""Training diagnostics: the reading of D(x) / D(G(z)), sample diversity and the
mode-collapse warning, the digits Fréchet distance / class coverage, and the Train
tab's job that measures them between steps."""

import time

import torch

from gan_space.checkpoints import load_generator
from gan_space.diagnostics import (QualityPoint, SampleWatcher, collapse_warning, mean_pairwise_distance,
                                   quality_line, read_game)
from gan_space.metrics import digits_judge
from gan_space.training import TrainConfig, Trainer
from gan_space.ui import train_tab
from gan_space.ui import jobs
from gan_space.ui.jobs import TrainingJob

SHIPPED = "checkpoints/digits"


def digits_trainer(tmp_path, **overrides) -> Trainer:
    settings = dict(out_dir=str(tmp_path / "run"), log_every=5, sample_every=10_000, checkpoint_every=10_000)
    return Trainer(TrainConfig.for_dataset("digits", **{**settings, **overrides}))


def with_shipped_weights(trainer: Trainer) -> Trainer:
    """The shipped generator is the digits preset's: its weights fit the trainer's networks."""
    state = load_generator(SHIPPED).state_dict()
    trainer.networks.generator.load_state_dict(state)
    trainer.networks.ema.model.load_state_dict(state)
    return trainer


def collapse(generator) -> None:
    """Cut the generator off from its latents: every sample becomes the same one."""
    first_layer = next(m for m in generator.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        first_layer.weight.zero_()


def test_mean_pairwise_distance():
    assert mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == 5.0
    # Three points of a right triangle 3-4-5: the mean of its three sides.
    triangle = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert abs(mean_pairwise_distance(triangle) - 4.0) < 1e-9
    assert mean_pairwise_distance(torch.ones(10, 1, 8, 8)) == 0.0


def test_reading_of_the_game_in_plain_words():
    assert read_game(0.97, 0.04).startswith("The discriminator is winning")
    assert "R1 penalty" in read_game(0.97, 0.04)
    assert read_game(0.35, 0.7).startswith("The generator is fooling")
    assert read_game(0.6, 0.4).startswith("Balanced game")
    assert read_game(float("nan"), 0.5).startswith("No reading yet")


def test_collapse_warning_watches_for_a_drop():
    healthy = [QualityPoint(step, diversity) for step, diversity in ((50, 0.4), (100, 0.8), (150, 0.9))]
    assert collapse_warning(healthy) is None
    assert collapse_warning(healthy[:1]) is None
    # Diversity rising from a low start is learning, not collapse; a partial recovery
    # from a collapse is still far under the best.
    assert collapse_warning([QualityPoint(50, 0.1), QualityPoint(100, 0.3)]) is None
    assert collapse_warning([QualityPoint(50, 0.9), QualityPoint(100, 0.1), QualityPoint(150, 0.3)]) is not None
    collapsed = healthy + [QualityPoint(200, 0.2)]
    assert "fell to 0.20" in collapse_warning(collapsed) and "best so far 0.90" in collapse_warning(collapsed)
    # A mild dip that stays near the data's diversity is not collapse.
    assert collapse_warning(healthy + [QualityPoint(200, 0.6)]) is None
    # Digits: losing three classes is collapse even when the pixels still vary.
    classes = [QualityPoint(100, 0.9, classes_covered=10), QualityPoint(200, 0.85, classes_covered=7)]
    assert "7 digit classes, down from 10" in collapse_warning(classes)
    assert collapse_warning([QualityPoint(100, 0.9, classes_covered=10),
                             QualityPoint(200, 0.85, classes_covered=9)]) is None


def test_watcher_on_the_shipped_digits_generator_then_collapsed(tmp_path):
    trainer = with_shipped_weights(digits_trainer(tmp_path))
    watcher = SampleWatcher(trainer)
    good = watcher.measure()
    # The shipped generator's figures (README: FD 0.20 vs 0.22 for real digits, 10 classes).
    assert 0.7 < good.diversity < 1.3
    assert good.classes_covered == 10
    assert good.frechet_distance < 3 * good.real_frechet_distance
    assert good.modes is None

    collapse(trainer.networks.ema.model)
    bad = watcher.measure()
    assert bad.diversity < 0.01
    assert bad.classes_covered == 1
    assert bad.frechet_distance > 20 * good.frechet_distance
    warning = collapse_warning([good, bad])
    assert warning.startswith("Mode collapse") and "Stop" in warning
    line = quality_line(good)
    assert "Fréchet distance" in line and "10/10 digit classes" in line


def test_watcher_counts_modes_on_a_mixture(tmp_path):
    trainer = Trainer(TrainConfig.for_dataset("ring8", out_dir=str(tmp_path / "ring8")))
    point = SampleWatcher(trainer).measure()
    assert point.total_modes == 8 and 0 <= point.modes <= 8
    assert point.frechet_distance is None and point.classes_covered is None
    collapse(trainer.networks.ema.model)
    collapsed = SampleWatcher(trainer).measure()
    assert collapsed.diversity < 0.01 and collapsed.modes <= 1


def test_training_job_measures_between_steps_and_at_the_end(tmp_path, monkeypatch):
    # A budget of a hundred times the run's time, so that every logged step is measured here (with
    # all of it, setting up the measurements at step 5 could outlast 5 quick steps on a busy machine).
    monkeypatch.setattr(jobs, "PREVIEW_COST_RATIO", 0.01)
    digits_judge()  # fitted (once per process) before the run, so the first logged step is measured
    trainer = digits_trainer(tmp_path, steps=60, batch_size=32)
    job = TrainingJob(trainer, "diag", live_preview_seconds=None, diagnostics_seconds=0.0).start()
    assert job.wait(120)
    snapshot = job.snapshot()
    assert snapshot.error is None
    steps = [point.step for point in snapshot.quality]
    assert steps[0] == 5 and steps[-1] == 60 and len(steps) >= 3 and steps == sorted(set(steps))
    assert all(point.classes_covered is not None for point in snapshot.quality)

    reading = train_tab.reading_text(snapshot)
    assert reading.startswith("**Reading:**") and "D(x)" in reading and "Samples at step 60" in reading
    shares, frechet = train_tab.quality_frames(snapshot)
    assert set(shares["curve"]) == {"diversity (data = 1)", "digit classes covered (of 10)"}
    assert set(frechet["curve"]) == {"samples", "real held-out digits"}
    assert len(frechet) == 2 * len(steps)


def test_measurements_keep_to_a_fiftieth_of_the_time(tmp_path, monkeypatch):
    """However slow a measurement (here 0.3 s more than it would take), the job spends
    at most 1/50 of its time on them, give or take the first one."""
    slow_seconds = 0.3
    measure = SampleWatcher.measure

    def slow_measure(self):
        time.sleep(slow_seconds)
        return measure(self)

    monkeypatch.setattr(SampleWatcher, "measure", slow_measure)
    job = TrainingJob(digits_trainer(tmp_path, steps=400, batch_size=32), "diag-slow", live_preview_seconds=None,
                      diagnostics_seconds=0.0)
    started = time.monotonic()
    job.start()
    assert job.wait(300)
    elapsed = time.monotonic() - started
    snapshot = job.snapshot()
    # While training: within the budget, give or take the first. At the end, one more is made
    # when it costs at most jobs.FREE_FINAL_MEASUREMENT (the last word on the samples).
    during = [point for point in snapshot.quality if point.step < snapshot.event.step]
    assert 1 <= len(snapshot.quality) <= len(during) + 1
    assert len(during) * slow_seconds <= elapsed / jobs.PREVIEW_COST_RATIO + slow_seconds


def test_a_failing_measurement_does_not_stop_training(tmp_path, monkeypatch):
    def broken(self):
        raise RuntimeError("measurement broke")

    monkeypatch.setattr(SampleWatcher, "measure", broken)
    job = TrainingJob(digits_trainer(tmp_path, steps=20, batch_size=16), "diag-broken", live_preview_seconds=None,
                      diagnostics_seconds=0.0).start()
    assert job.wait(120)
    snapshot = job.snapshot()
    assert snapshot.error is None and snapshot.event.status == "finished" and snapshot.quality == []
    assert "Samples at step" not in train_tab.reading_text(snapshot)


def test_the_reading_warns_of_collapse_in_the_tab():
    from gan_space.ui.jobs import CurvePoint, JobSnapshot

    curve = [CurvePoint(step, 0.1, 5.0, 0.98, 0.02) for step in range(5, 55, 5)]
    quality = [QualityPoint(25, 0.9), QualityPoint(50, 0.05)]
    reading = train_tab.reading_text(JobSnapshot(run_name="r", curve=curve, quality=quality))
    assert "The discriminator is winning (D(x) 0.98 vs D(G(z)) 0.02)" in reading
    assert "**⚠ Mode collapse" in reading
    shares, frechet = train_tab.quality_frames(JobSnapshot(run_name="r", quality=quality))
    assert frechet is None and list(shares["value"]) == [0.9, 0.05]
    assert train_tab.quality_frames(JobSnapshot(run_name="r")) == (None, None)  # nothing measured yet


def test_watcher_on_a_conditional_dcgan_over_an_image_folder(tmp_path, tiny_image_folder):
    config = TrainConfig.for_dataset(str(tiny_image_folder), out_dir=str(tmp_path / "folder"), arch="dcgan",
                                     resolution=16, width=8, batch_size=4, conditional=True, steps=10)
    trainer = Trainer(config)
    watcher = SampleWatcher(trainer)
    assert watcher.num_samples == 256 and watcher.labels.tolist()[:4] == [0, 1, 0, 1]
    assert 0 < watcher.estimate_seconds() < 60
    point = watcher.measure()
    assert point.diversity > 0 and point.modes is None and point.classes_covered is None
    # Pictures other than digits: FD and KID in random-network features (tests/test_scores.py).
    assert point.frechet_features == "random network" and point.kid is not None
    assert "digit classes" not in quality_line(point) and "KID" in quality_line(point)
