"""The app's parts without a server: names it mirrors from the library, run-name
safety, the model list, uploads, curves, and the background training job."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from gan_space.ui import models, train_tab
from gan_space.ui.jobs import TrainingJob, describe_error
from gan_space.ui.models import AppPaths, check_run_name, find_generator, latest_generator_folder, list_generators
from gan_space.ui.pictures import GRID_CELL, GRID_PADDING, grid_picture

REPO = Path(__file__).resolve().parent.parent


def test_building_the_page_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from gan_space.ui import build_demo; import tempfile; "
            "build_demo(runs_dir=tempfile.mkdtemp()); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr[-2000:]


@pytest.mark.parametrize("name", ["digits-1", "my_run.v2", "A", "x" * 64])
def test_good_run_names(name):
    assert check_run_name(name) == name


@pytest.mark.parametrize("name", ["", "../x", "a/b", "a\\b", ".hidden", "a..b", "hub", "x" * 65, "run name", "/abs"])
def test_run_names_that_could_leave_runs_are_refused(name, tmp_path):
    with pytest.raises(ValueError, match="not allowed|reserved"):
        AppPaths.create(runs_dir=tmp_path / "runs", sessions_dir=tmp_path / "s").run_dir(name)


def _fake_run(run_dir: Path, steps: list[int], latest: str | None, generator: Path) -> None:
    for step in steps:
        checkpoint = run_dir / "checkpoints" / f"step-{step:07d}"
        shutil.copytree(generator, checkpoint / "generator")
        (checkpoint / "state.json").write_text(json.dumps({"summary": {"step": step, "total_steps": 100}}))
    if latest is not None:
        (run_dir / "checkpoints" / "latest").write_text(latest)


def test_the_model_list_finds_shipped_trained_and_pulled_generators(tmp_path):
    shipped = REPO / "checkpoints" / "digits"
    paths = AppPaths.create(checkpoints_dir=tmp_path / "checkpoints", runs_dir=tmp_path / "runs",
                            sessions_dir=tmp_path / "sessions")
    shutil.copytree(shipped, paths.checkpoints_dir / "digits")
    (paths.checkpoints_dir / "notes").mkdir()  # not a generator: skipped
    _fake_run(paths.runs_dir / "done", [50, 100], "step-0000100", shipped)
    _fake_run(paths.runs_dir / "stale-pointer", [40], "step-0000090", shipped)  # crash before the pointer moved
    _fake_run(paths.runs_dir / "half", [30], None, shipped)
    (paths.runs_dir / "half" / "checkpoints" / ".tmp-step-0000060-1").mkdir()  # an unfinished write: ignored
    (paths.runs_dir / "empty").mkdir()
    shutil.copytree(shipped, paths.hub_dir / "alice--digits" / "generator")
    (paths.hub_dir / "alice--digits" / "generator" / "summary.json").write_text(json.dumps(
        {"step": 5, "quality": {"frechet_distance": 12.345, "real_frechet_distance": 3.02}}))
    pickled = paths.hub_dir / "mallory--pickle"
    pickled.mkdir(parents=True)
    (pickled / "config.json").write_text((shipped / "config.json").read_text())
    (pickled / "diffusion_pytorch_model.bin").write_bytes(b"not loaded")
    wrong_class = paths.hub_dir / "bob--unet"
    wrong_class.mkdir()
    (wrong_class / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel"}))
    shutil.copyfile(shipped / models.WEIGHTS_NAME, wrong_class / models.WEIGHTS_NAME)

    entries = {entry.key: entry for entry in list_generators(paths)}
    assert list(entries) == ["shipped/digits", "runs/done", "runs/half", "runs/stale-pointer", "hub/alice--digits"]
    assert entries["runs/done"].folder == paths.runs_dir / "done" / "checkpoints" / "step-0000100" / "generator"
    assert entries["runs/done"].label == "done (trained here)"
    assert entries["runs/half"].label == "half (trained here, step 30/100)"
    assert entries["runs/stale-pointer"].folder.parent.name == "step-0000040"
    assert entries["hub/alice--digits"].label == "alice/digits (Hub)"
    assert "trained 6000/6000 steps" in entries["shipped/digits"].describe()
    # A generator's recorded score is shown beside what real pictures score.
    assert "Fréchet distance 12.3 (real pictures 3.02)" in entries["hub/alice--digits"].describe()
    assert not entries["shipped/digits"].is_points and entries["shipped/digits"].num_classes == 0
    with pytest.raises(ValueError, match="choose one of shipped/digits, runs/done"):
        find_generator(paths, "../../etc")


def test_latest_generator_folder_of_a_folder_without_checkpoints(tmp_path):
    assert latest_generator_folder(tmp_path) is None


def test_uploads_are_copied_into_the_run_with_safe_unique_names(tmp_path):
    first, second = tmp_path / "a" / "cat one.png", tmp_path / "b" / "cat one.png"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(b"png")
    data_dir = tmp_path / "run" / "data"
    assert train_tab.copy_uploads([str(first), str(second)], data_dir) == str(data_dir)
    assert sorted(p.name for p in data_dir.iterdir()) == ["00000-cat_one.png", "00001-cat_one.png"]

    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("x.png", b"png")
    assert train_tab.copy_uploads([str(archive)], data_dir) == str(data_dir / "images.zip")
    assert [p.name for p in data_dir.iterdir()] == ["images.zip"]  # the earlier upload is gone

    with pytest.raises(ValueError, match="either one .zip"):
        train_tab.copy_uploads([str(archive), str(first)], data_dir)
    with pytest.raises(ValueError, match="no files uploaded"):
        train_tab.copy_uploads([], data_dir)


def test_settings_blank_means_preset_and_points_ignore_image_settings():
    assert train_tab.training_settings("digits", steps=300.0, lr_g=None, arch="mlp", loss="") == {
        "steps": 300, "arch": "mlp"}
    assert train_tab.training_settings("ring8", resolution=32, arch="dcgan", augment="flip", steps=5) == {"steps": 5}
    with pytest.raises(ValueError, match="batch_size must be a whole number"):
        train_tab.training_settings("digits", batch_size=2.5)


def test_hub_dataset_ids_are_checked_before_anything_is_read(tmp_path, monkeypatch):
    assert train_tab.hub_dataset_id(" owner/name ") == "owner/name"
    for bad in ("", "name-only", "a/b/c", "../x/y", "/abs/path"):
        with pytest.raises(ValueError):
            train_tab.hub_dataset_id(bad)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "local" / "images").mkdir(parents=True)
    with pytest.raises(ValueError, match="names a folder on the server"):
        train_tab.hub_dataset_id("local/images")


def test_long_curves_are_thinned_but_keep_their_last_point():
    from gan_space.ui.jobs import CurvePoint, JobSnapshot

    curve = [CurvePoint(step, 1.0, 2.0, 0.6, 0.4) for step in range(5, 5005, 5)]
    losses, probabilities = train_tab.curve_frames(JobSnapshot(run_name="r", curve=curve))
    d_loss = losses[losses.curve == "D loss"]
    assert len(d_loss) <= train_tab.MAX_CURVE_POINTS + 1 and d_loss.step.iloc[-1] == 5000
    assert set(probabilities.curve) == {"D(x) real", "D(G(z)) fake"}
    assert train_tab.curve_frames(JobSnapshot(run_name="r"))[0].empty


def test_the_app_grid_keeps_samples_apart():
    images = -torch.ones(5, 1, 8, 8)  # black samples on a grey border
    picture = grid_picture(images)
    columns, rows = 3, 2
    assert picture.size == (columns * (GRID_CELL + GRID_PADDING) + GRID_PADDING,
                            rows * (GRID_CELL + GRID_PADDING) + GRID_PADDING)
    assert picture.mode == "L" and picture.getpixel((0, 0)) == 96 and picture.getpixel((GRID_PADDING, GRID_PADDING)) == 0
    assert picture.getpixel((GRID_PADDING + GRID_CELL, GRID_PADDING)) == 96  # between two cells
    assert picture.getpixel((picture.width - 1, picture.height - 1)) == 96
    # Colour samples keep their colour, each in its own place.
    colours = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])[:, :, None, None]
    picture = grid_picture(colours.expand(3, 3, 8, 8))
    assert picture.mode == "RGB" and picture.size == (2 * (GRID_CELL + GRID_PADDING) + GRID_PADDING,) * 2
    step = GRID_CELL + GRID_PADDING
    assert [picture.getpixel((GRID_PADDING + x, GRID_PADDING + y)) for x, y in ((0, 0), (step, 0), (0, step))] == [
        (255, 0, 0), (0, 255, 0), (0, 0, 255)]
    assert picture.getpixel((GRID_PADDING + step, GRID_PADDING + step)) == (0, 0, 0)  # an empty cell


def _tiny_points_trainer(out_dir: Path, steps: int):
    from gan_space.training import Trainer, TrainConfig

    config = TrainConfig.for_dataset("ring8", out_dir=str(out_dir), steps=steps, batch_size=64, width=16,
                                     log_every=5, sample_every=10_000, checkpoint_every=10_000)
    return Trainer(config)


def test_a_job_trains_in_the_background_with_live_previews(tmp_path):
    job = TrainingJob(_tiny_points_trainer(tmp_path / "run", steps=40), "run", live_preview_seconds=0.0).start()
    assert job.wait(120)
    snapshot = job.snapshot()
    assert snapshot.error is None and snapshot.event.status == "finished"
    assert [point.step for point in snapshot.curve] == list(range(5, 45, 5))
    assert snapshot.preview_version >= 2 and snapshot.preview.size == (512, 512)  # a scatter of real and fake


def test_a_stopped_job_keeps_its_checkpoint(tmp_path):
    job = TrainingJob(_tiny_points_trainer(tmp_path / "run", steps=1_000_000), "run").start()
    while job.snapshot().step < 10:
        assert not job.wait(0.05)
    job.request_stop()
    assert job.wait(120)
    snapshot = job.snapshot()
    assert snapshot.event.status == "stopped"
    assert latest_generator_folder(tmp_path / "run").parent.name == f"step-{snapshot.step:07d}"


def test_a_failing_job_reports_why(tmp_path):
    trainer = _tiny_points_trainer(tmp_path / "run", steps=100)
    trainer.run = lambda: (_ for _ in ()).throw(RuntimeError("disk on fire"))
    job = TrainingJob(trainer, "run").start()
    assert job.wait(60)
    assert job.snapshot().error == "unexpected RuntimeError: disk on fire"
    assert describe_error(ValueError("clear message")) == "clear message"
