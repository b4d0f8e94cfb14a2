"""The app driven through its API with gradio_client, served on loopback in-process."""

import json
import math
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status
from PIL import Image

from gan_space.ui.pictures import GRID_CELL, GRID_PADDING
from hub_fixtures import point_huggingface_hub_at

STEP = re.compile(r"step (\d+)/(\d+)")


def wait_until(condition, timeout: float = 180, what: str = "the condition"):
    """Poll until `condition()` is true; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def statuses(job) -> list[str]:
    return [output[3] for output in job.outputs() if isinstance(output[3], str)]


def steps_seen(job) -> list[int]:
    return [int(m.group(1)) for status in statuses(job) if (m := STEP.search(status))]


def grid_files(job) -> list[str]:
    return [output[0] for output in job.outputs() if isinstance(output[0], str)]


def grid_size(count: int) -> tuple[int, int]:
    """Pixel size of the app's grid of `count` 8x8 samples (as square as possible)."""
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    return columns * (GRID_CELL + GRID_PADDING) + GRID_PADDING, rows * (GRID_CELL + GRID_PADDING) + GRID_PADDING


def cells_of_grid(path: str, pixels: int = 8) -> torch.Tensor:
    """The app's grid PNG of 8x8 samples -> (N, 1, 8, 8) in [-1, 1], one pixel read from
    the middle of each enlarged block."""
    grid = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    step, block = GRID_CELL + GRID_PADDING, GRID_CELL // pixels
    cells = []
    for top in range(GRID_PADDING, grid.shape[0] - GRID_CELL + 1, step):
        for left in range(GRID_PADDING, grid.shape[1] - GRID_CELL + 1, step):
            cell = grid[top:top + GRID_CELL, left:left + GRID_CELL]
            cells.append(cell[block // 2::block, block // 2::block])
    return torch.from_numpy(np.stack(cells)[:, None] / 127.5 - 1.0)


def test_every_main_action_has_an_api_name(client_factory):
    endpoints = client_factory().view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/train", "/resume", "/stop", "/generate", "/interpolate", "/models"} <= set(endpoints)
    train_parameters = [p["parameter_name"] for p in endpoints["/train"]["parameters"]]
    assert train_parameters[:4] == ["dataset", "upload", "hf_dataset", "run_name"]
    # Everything but the data has a default, so a client can pass only what it changes.
    assert all(p["parameter_has_default"] for p in endpoints["/train"]["parameters"])
    # Every other TrainConfig setting goes in `settings` (JSON); those the page sets have their own parameter.
    from gan_space.ui.train_tab import SET_BY_THE_PAGE

    assert "settings" in train_parameters and set(SET_BY_THE_PAGE.values()) <= set(train_parameters)
    assert "settings" in [p["parameter_name"] for p in endpoints["/resume"]["parameters"]]


def test_training_streams_progress_stops_with_a_checkpoint_and_resumes(app_server, client_factory):
    client = client_factory()
    job = client.submit(dataset="digits", run_name="api-run", steps=100_000, batch_size=32, api_name="/train")
    wait_until(lambda: len(set(steps_seen(job))) >= 3 and len(set(grid_files(job))) >= 2,
               what="three progress updates and two sample grids")
    assert "stopping after this step" in client.predict(api_name="/stop")
    wait_until(job.done, what="the run to stop")

    final = statuses(job)[-1]
    stopped = re.search(r"stopped at step (\d+)/100000", final)
    assert stopped, final
    stopped_step = int(stopped.group(1))
    streamed = steps_seen(job)
    assert streamed == sorted(streamed) and streamed[-1] <= stopped_step
    checkpoints = app_server.run_dir("api-run") / "checkpoints"
    assert (checkpoints / "latest").read_text() == f"step-{stopped_step:07d}"

    # The streamed grids show the 64 fixed latents as 8x8 digits, and they change as G trains.
    first, last = grid_files(job)[0], grid_files(job)[-1]
    assert Image.open(last).size == grid_size(64)
    assert not np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(last)))
    # (A poll with no new curve points sends {"__type__": "update"}: skip those.)
    curves = [output[2] for output in job.outputs() if isinstance(output[2], dict) and "data" in output[2]][-1]
    probabilities = np.array([row[1] for row in curves["data"]])
    assert {row[2] for row in curves["data"]} == {"D(x) real", "D(G(z)) fake"}
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    # The last word reads the game and measures the final samples (the stop's step).
    readings = [output[7] for output in job.outputs() if isinstance(output[7], str) and output[7]]
    assert readings[-1].startswith("**Reading:**") and f"Samples at step {stopped_step}:" in readings[-1]
    assert "digit classes" in readings[-1]

    resumed = client.submit(run_name="api-run", steps=stopped_step + 20, api_name="/resume")
    outputs = list(resumed)
    assert f"finished {stopped_step + 20} steps" in outputs[-1][3]
    assert all(int(m.group(1)) > stopped_step for o in outputs if (m := STEP.search(o[3])))

    # The finished run is listed for the Generate tab without a restart, and samples.
    assert "runs/api-run" in [model["key"] for model in client.predict(api_name="/models")]
    image, download = client.predict(model="runs/api-run", seed=3, count=16, api_name="/generate")
    assert Image.open(image).size == grid_size(16) and Image.open(download).format == "PNG"


def test_settings_given_as_json_reach_the_runs_config(app_server, client_factory):
    client = client_factory()
    settings = {"loss": "rpgan", "r2_gamma": 0.2, "lr_decay_fraction": 0.5, "checkpoint_every": 2}
    outputs = list(client.submit(dataset="digits", run_name="api-settings", steps=4, batch_size=16,
                                 settings=json.dumps(settings), api_name="/train"))
    assert "finished 4 steps" in outputs[-1][3]
    saved = json.loads((app_server.run_dir("api-settings") / "train_config.json").read_text())
    assert {name: saved[name] for name in settings} == settings
    assert saved["batch_size"] == 16 and saved["arch"] == "mlp"  # the named parameter, and the preset
    assert (app_server.run_dir("api-settings") / "checkpoints" / "step-0000002").is_dir()

    # A resume takes settings too: the optimisation and the machinery, not the networks.
    with pytest.raises(AppError, match=r"width cannot change when resuming \(width=256 -> 32\)"):
        client.predict(run_name="api-settings", steps=7, settings='{"width": 32}', api_name="/resume")
    outputs = list(client.submit(run_name="api-settings", steps=7, settings='{"checkpoint_every": 3, "lr_d": 0.0005}',
                                 api_name="/resume"))
    assert "finished 7 steps" in outputs[-1][3]
    checkpoints = app_server.run_dir("api-settings") / "checkpoints"
    assert (checkpoints / "step-0000006").is_dir() and (checkpoints / "latest").read_text() == "step-0000007"
    saved = json.loads((app_server.run_dir("api-settings") / "train_config.json").read_text())
    assert (saved["checkpoint_every"], saved["lr_d"], saved["r2_gamma"]) == (3, 0.0005, 0.2)


def test_shipped_generator_draws_digits(client_factory):
    client = client_factory()
    models = {model["key"]: model for model in client.predict(api_name="/models")}
    assert models["shipped/digits"]["source"] == "shipped"
    image, download = client.predict(model="shipped/digits", seed=0, count=64, truncation=1.0, api_name="/generate")
    assert Image.open(download).format == "PNG"
    assert np.array_equal(np.asarray(Image.open(image)), np.asarray(Image.open(download)))
    samples = cells_of_grid(image)
    assert samples.shape == (64, 1, 8, 8)

    # Judged by the library's digit classifier: noise or a collapsed generator fails this.
    from gan_space.metrics import digits_metrics

    quality = digits_metrics(samples)
    assert quality["classes_covered"] >= 8, quality
    assert quality["frechet_distance"] < 4 * quality["real_frechet_distance"] + 1.0, quality

    same, _ = client.predict(model="shipped/digits", seed=0, count=64, api_name="/generate")
    other, _ = client.predict(model="shipped/digits", seed=1, count=64, api_name="/generate")
    assert torch.equal(cells_of_grid(same), samples)
    assert not torch.equal(cells_of_grid(other), samples)


def test_the_shipped_emoji_generator_is_listed_beside_digits_and_draws_its_samples(client_factory):
    from gan_space.checkpoints import load_generator
    from gan_space.sampling import generate
    from gan_space.ui.pictures import grid_picture

    client = client_factory()
    keys = [model["key"] for model in client.predict(api_name="/models")]
    assert keys[:2] == ["shipped/digits", "shipped/emoji"]
    image, _ = client.predict(model="shipped/emoji", seed=7, count=16, api_name="/generate")
    expected = grid_picture(generate(load_generator(Path(__file__).parent.parent / "checkpoints" / "emoji"), 16, seed=7))
    picture = np.asarray(Image.open(image).convert("RGB"), dtype=np.int16)
    assert picture.shape == np.asarray(expected).shape
    assert np.abs(picture - np.asarray(expected, dtype=np.int16)).max() <= 2  # the same samples, in colour
    assert picture.std(axis=2).mean() > 5


def test_interpolation_is_an_animation_from_one_seed_to_the_other(client_factory):
    client = client_factory()
    gif = client.predict(model="shipped/digits", seed_a=0, seed_b=5, frames=8, api_name="/interpolate")
    animation = Image.open(gif)
    assert animation.format == "GIF" and animation.n_frames == 8 + 6  # there and back again
    frames = []
    for index in range(animation.n_frames):
        animation.seek(index)
        frames.append(cells_of_grid_frame(animation.convert("L")))
    start, _ = client.predict(model="shipped/digits", seed=0, count=1, api_name="/generate")
    end, _ = client.predict(model="shipped/digits", seed=5, count=1, api_name="/generate")
    assert torch.allclose(frames[0], cells_of_grid(start)[0], atol=2 / 127.5)
    assert torch.allclose(frames[7], cells_of_grid(end)[0], atol=2 / 127.5)
    assert not torch.allclose(frames[0], frames[7], atol=0.1)


def cells_of_grid_frame(frame: Image.Image) -> torch.Tensor:
    pixels = np.asarray(frame, dtype=np.float32)
    block = pixels.shape[0] // 8
    return torch.from_numpy(pixels[block // 2::block, block // 2::block][None] / 127.5 - 1.0)


def test_a_second_user_waits_in_the_queue_while_generation_stays_responsive(client_factory):
    first, second, third = client_factory(), client_factory(), client_factory()
    running = first.submit(dataset="ring8", run_name="queue-first", steps=100_000, api_name="/train")
    wait_until(lambda: steps_seen(running), what="the first run to train")
    waiting = second.submit(dataset="digits", run_name="queue-second", steps=100_000, batch_size=32,
                            api_name="/train")
    wait_until(lambda: waiting.status().code == Status.IN_QUEUE, what="the second run to be queued")

    # Generation has its own queue: it answers while the first run holds the device.
    image, _ = third.predict(model="shipped/digits", count=64, api_name="/generate")
    assert Image.open(image).size == grid_size(64)
    assert not running.done() and waiting.status().code == Status.IN_QUEUE and not steps_seen(waiting)

    first.predict(api_name="/stop")
    wait_until(running.done, what="the first run to stop")
    assert "stopped at step" in statuses(running)[-1]
    wait_until(lambda: steps_seen(waiting), what="the second run to start once the device is free")
    second.predict(api_name="/stop")
    wait_until(waiting.done, what="the second run to stop")
    assert "stopped at step" in statuses(waiting)[-1]


@pytest.fixture
def unreadable_upload(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is text, not a PNG")
    return path


BAD_INPUTS = [
    ("/train", dict(dataset="upload images or a .zip"), "no files uploaded"),
    ("/train", dict(dataset="Hugging Face dataset", hf_dataset=""), "enter a Hugging Face dataset id"),
    ("/train", dict(dataset="Hugging Face dataset", hf_dataset="not an id"), "is not a Hugging Face dataset id"),
    ("/train", dict(steps=0), "steps=0 is out of range"),
    ("/train", dict(lr_g=5.0), "lr_g=5.0 is out of range"),
    ("/train", dict(batch_size=1), "batch_size=1 is out of range"),
    ("/train", dict(run_name="../escape"), "is not allowed"),
    ("/train", dict(run_name="hub"), "is reserved"),
    ("/train", dict(dataset="ring8", conditional=True), "needs labelled data"),
    ("/train", dict(settings='{"r2gamma": 0.2}'), "'r2gamma' is not a training setting"),
    ("/train", dict(settings='{"out_dir": "/tmp/elsewhere"}'), "out_dir is set by the 'run_name' input"),
    ("/train", dict(settings='{"r2_gamma": -1}'), "r2_gamma=-1.0 is out of range"),
    ("/resume", dict(run_name="never-trained"), "no run named 'never-trained'"),
    ("/resume", dict(run_name=""), "enter the run name"),
    ("/generate", dict(model="runs/missing"), "no generator 'runs/missing'"),
    ("/generate", dict(model="shipped/digits", class_label="7"), "is not class-conditional"),
    # Sliders are range-checked by Gradio itself.
    ("/generate", dict(model="shipped/digits", count=65), "Value 65 is greater than maximum value 64"),
    ("/generate", dict(model="shipped/digits", truncation=0), "Value 0 is less than minimum value 0.05"),
    ("/generate", dict(model="shipped/digits", seed=-1), "seed must be a whole number from 0"),
    ("/interpolate", dict(model="shipped/digits", frames=300), "Value 300 is greater than maximum value 60"),
]


@pytest.mark.parametrize("endpoint, arguments, message", BAD_INPUTS,
                         ids=[f"{e}-{'-'.join(map(str, a.values()))}" for e, a, _ in BAD_INPUTS])
def test_bad_inputs_get_a_clear_message_and_the_app_keeps_serving(app_server, client_factory, endpoint, arguments,
                                                                   message):
    client = client_factory()
    before = sorted(p.name for p in app_server.runs_dir.iterdir())
    with pytest.raises(AppError) as raised:
        client.predict(**arguments, api_name=endpoint)
    assert message in str(raised.value)
    assert "Traceback" not in str(raised.value)
    assert sorted(p.name for p in app_server.runs_dir.iterdir()) == before  # no half-made run folder left
    image, _ = client.predict(model="shipped/digits", count=4, api_name="/generate")
    assert Image.open(image).size == grid_size(4)


def test_an_unreadable_upload_is_refused(app_server, client_factory, unreadable_upload):
    client = client_factory()
    with pytest.raises(AppError, match="no usable image.*notes.png: not a readable image"):
        client.predict(dataset="upload images or a .zip", upload=[handle_file(str(unreadable_upload))],
                       run_name="bad-upload", api_name="/train")
    assert not app_server.run_dir("bad-upload").exists()


def test_a_hub_dataset_that_does_not_exist(fake_hub, client_factory):
    client = client_factory()
    with pytest.raises(AppError, match="no dataset 'alice/no-such-images' on the Hugging Face Hub"):
        client.predict(dataset="Hugging Face dataset", hf_dataset="alice/no-such-images", api_name="/train")


def test_a_hub_dataset_that_cannot_be_reached(client_factory, tmp_path, monkeypatch):
    from app_fixtures import free_port

    closed = free_port()  # nothing listens there: as good as offline, and still loopback
    point_huggingface_hub_at(monkeypatch, f"http://127.0.0.1:{closed}", str(tmp_path / "hf-home"))
    client = client_factory()
    with pytest.raises(AppError, match="could not reach the Hugging Face Hub"):
        client.predict(dataset="Hugging Face dataset", hf_dataset="alice/some-images", api_name="/train")


def test_training_on_an_uploaded_zip_with_classes(app_server, client_factory, tiny_image_folder, tmp_path):
    archive = tmp_path / "shapes.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(tiny_image_folder.rglob("*")):
            if path.is_file():
                handle.write(path, path.relative_to(tiny_image_folder).as_posix())
    client = client_factory()
    outputs = list(client.submit(dataset="upload images or a .zip", upload=[handle_file(str(archive))],
                                 run_name="upload-zip", steps=6, batch_size=4, resolution=8,
                                 conditional=True, api_name="/train"))
    assert "finished 6 steps" in outputs[-1][3]
    assert (app_server.run_dir("upload-zip") / "data" / "images.zip").is_file()  # the run keeps its data
    models = {model["key"]: model for model in client.predict(api_name="/models")}
    assert models["runs/upload-zip"]["classes"] == ["blue", "red"]
    image, _ = client.predict(model="runs/upload-zip", count=4, class_label="red", api_name="/generate")
    assert Image.open(image).size == grid_size(4)
