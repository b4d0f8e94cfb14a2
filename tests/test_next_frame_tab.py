"""Next-frame models side by side (gan_space.frame_comparison) and the Translate tab's next-frame
section through the API (gradio_client): scores against hand computations, bad clips and models
refused with clear messages, the pair trained in one click each, the comparison's pictures and GIFs."""

import json
import math

import numpy as np
import pytest
import torch
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from gan_space.frame_comparison import (COPY_LAST, clip_from_file, compare_next_frame, held_out_clip,
                                        model_rollout_gif, rollout_gif, side_by_side_picture)
from gan_space.pairs import to_float

SIZE = 16
L2_RUN, ADVERSARIAL_RUN = "tiny-next-frame-l2", "tiny-next-frame-adversarial"


def square_clip(count: int, size: int = SIZE) -> torch.Tensor:
    """A black square moving one pixel right a frame on white: [-1, 1] (count, 3, size, size)."""
    frames = np.full((count, 3, size, size), 255, np.uint8)
    for index in range(count):
        frames[index, :, 4:10, 2 + index:8 + index] = 0
    return to_float(torch.from_numpy(frames))


def write_gif(path, clip: torch.Tensor) -> None:
    from gan_space.sampling import to_pil_images

    frames = to_pil_images(clip, min_size=1)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def train_tiny_models(runs_dir) -> dict:
    """Two 16 px next-frame models in runs_dir (once: kept for the other modules): the L2-only
    twin and the adversarial preset, a few dozen steps each (wiring, not quality)."""
    from gan_space.checkpoints import load_generator
    from gan_space.training import TrainConfig, Trainer

    twins = {L2_RUN: dict(adversarial_weight=0.0, feature_weight=0.0, pixel_warmup=0), ADVERSARIAL_RUN: {}}
    models = {}
    for name, settings in twins.items():
        out = runs_dir / name
        if not (out / "checkpoints" / "latest").is_file():
            config = TrainConfig.for_dataset("moving-emoji", task="next-frame", steps=30, max_images=200,
                                             resolution=SIZE, batch_size=8, sample_every=1000, checkpoint_every=1000,
                                             device="cpu", out_dir=str(out), **{"pixel_warmup": 10, **settings})
            list(Trainer(config).run())
        latest = (out / "checkpoints" / "latest").read_text().strip()
        models[name] = load_generator(out / "checkpoints" / latest / "generator")
    return models


@pytest.fixture(scope="module")
def tiny_models(app_server):
    return train_tiny_models(app_server.runs_dir)


# ---------------------------------------------------------------------------
# The library


def test_copying_the_last_frame_is_scored_as_computed_by_hand_and_each_model_rolls_out(tiny_models):
    clip = square_clip(6)
    result = compare_next_frame(tiny_models, clip, rollout=5)
    assert [outcome.name for outcome in result.models] == [L2_RUN, ADVERSARIAL_RUN]
    assert result.copy.name == COPY_LAST and torch.equal(result.last_given, clip[1])
    assert torch.equal(result.truth, clip[2:6])  # the clip has 4 true frames after the 2 given
    # The square moved one pixel: 2 columns of 6 pixels differ by the full range, in every channel.
    mse = 2 * 6 / (SIZE * SIZE)
    assert result.copy.psnr == pytest.approx(10 * math.log10(1 / mse), abs=1e-6)
    assert result.copy.sharpness == pytest.approx(1.0)  # the same square, moved: its edges as sharp
    # Over the rollout the held frame falls further behind: frame +k differs in 2k columns.
    expected = np.mean([10 * math.log10(1 / (2 * k * 6 / (SIZE * SIZE))) for k in range(1, 5)])
    assert result.copy.rollout_psnr == pytest.approx(expected, abs=1e-6)
    for outcome in result.models:
        assert outcome.frames.shape == (5, 3, SIZE, SIZE)
        assert math.isfinite(outcome.psnr) and outcome.sharpness > 0
    rows = result.rows()
    assert [row["prediction"] for row in rows] == [COPY_LAST, L2_RUN, ADVERSARIAL_RUN]
    assert "PSNR over 4 frame(s) (dB)" in rows[0]


def test_bad_clips_and_models_are_refused_with_what_to_give(tiny_models):
    with pytest.raises(ValueError, match="a clip of 2 frame.*needs at least 3 frames"):
        compare_next_frame(tiny_models, square_clip(2))
    with pytest.raises(ValueError, match="choose at least one next-frame model"):
        compare_next_frame({}, square_clip(4))
    with pytest.raises(ValueError, match="rollout of 0"):
        compare_next_frame(tiny_models, square_clip(4), rollout=0)
    with pytest.raises(ValueError, match=r"give the clip as frames \(T, 3, H, W\)"):
        compare_next_frame(tiny_models, square_clip(4)[:, :1])
    with pytest.raises(ValueError, match="predict from the last 2 frame"):
        compare_next_frame(tiny_models, square_clip(4), start=1)

    class Painter:  # an image-to-image model of another task
        config = {"task": "colorize", "channels": 3}

    with pytest.raises(ValueError, match="painter is a colorize model, not a next-frame model"):
        compare_next_frame([("painter", Painter())], square_clip(4))


def test_held_out_clips_are_seeded_new_clips_and_animations_are_read_at_the_models_size(tmp_path):
    from gan_space.data import moving_emoji

    clip = held_out_clip(6, SIZE, 3, number=2)
    assert clip.shape == (6, 3, SIZE, SIZE) and clip.min() >= -1 and clip.max() <= 1
    assert torch.equal(clip, held_out_clip(6, SIZE, 3, number=2))
    assert not torch.equal(clip, held_out_clip(6, SIZE, 3, number=3))
    training = to_float(moving_emoji(5, SIZE, 3, clips=50, seed=0).samples).reshape(50, 6, 3, SIZE, SIZE)
    assert not any(torch.equal(clip, row) for row in training)
    assert (clip[1] - clip[0]).abs().mean() > 0.01  # it moves
    with pytest.raises(ValueError, match="from 2 to"):
        held_out_clip(1, SIZE, 3)

    write_gif(tmp_path / "walk.gif", square_clip(5, 40))
    frames = clip_from_file(tmp_path / "walk.gif", SIZE, 3)
    assert frames.shape == (5, 3, SIZE, SIZE)
    Image.new("RGB", (20, 20), "white").save(tmp_path / "still.png")
    with pytest.raises(ValueError, match="still picture"):
        clip_from_file(tmp_path / "still.png", SIZE, 3)


def test_the_pictures_and_gifs_show_every_column_and_frame(tiny_models, tmp_path):
    result = compare_next_frame(tiny_models, square_clip(4), rollout=6)
    picture = side_by_side_picture(result, cell=64)
    assert picture.size == (4 * 64 + 3 * 6, 34 + 64)  # last given | 2 models | true next
    gif = Image.open(rollout_gif(result, tmp_path / "side.gif", cell=64))
    assert gif.n_frames == 6 and gif.size == (3 * 64 + 2 * 6, 34 + 64)  # true | 2 models
    own = Image.open(model_rollout_gif(result.models[0], tmp_path / "own.gif"))
    assert own.n_frames == 6 and own.size == (SIZE, SIZE)


# ---------------------------------------------------------------------------
# The API


def test_the_api_lists_and_compares_the_pair_on_a_held_out_clip_and_an_upload(tiny_models, client_factory, tmp_path):
    client = client_factory()
    models = {m["key"]: m for m in client.predict(api_name="/next_frame_models")}
    assert models[f"runs/{L2_RUN}"]["loss"] == "L2 only" and models[f"runs/{ADVERSARIAL_RUN}"]["loss"] == "adversarial"
    assert models[f"runs/{L2_RUN}"]["frames"] == 2

    picture, table, animation, gifs, summary = client.predict(
        model_a=f"runs/{L2_RUN}", model_b=f"runs/{ADVERSARIAL_RUN}", clip="a held-out moving-emoji clip",
        clip_number=4, rollout_frames=5, api_name="/next_frame_compare")
    assert Image.open(picture).size == (4 * 128 + 3 * 6, 34 + 128)
    rows = table["data"]
    assert [row[0] for row in rows] == [COPY_LAST, f"{L2_RUN} (L2 only)", f"{ADVERSARIAL_RUN} (adversarial)"]
    assert all(isinstance(value, float) for row in rows for value in row[1:])
    assert Image.open(animation).n_frames == 5
    assert len(gifs) == 2 and all(Image.open(gif).n_frames == 5 for gif in gifs)
    assert "held-out moving-emoji clip 4" in summary and "the sharpest is" in summary

    write_gif(tmp_path / "mine.gif", square_clip(6, 48))
    _, table, animation, gifs, summary = client.predict(
        model_a=f"runs/{ADVERSARIAL_RUN}", model_b="", clip="upload an animation (GIF, WebP, PNG)",
        clip_upload=handle_file(str(tmp_path / "mine.gif")), rollout_frames=3, api_name="/next_frame_compare")
    assert len(table["data"]) == 2 and len(gifs) == 1 and "mine.gif" in summary


@pytest.mark.parametrize("arguments, message", [
    (dict(model_a="shipped/digits"), "no next-frame model 'shipped/digits'"),
    (dict(model_a="", model_b=""), "choose a next-frame model"),
    (dict(clip="upload an animation (GIF, WebP, PNG)"), "upload an animation first"),
    (dict(rollout_frames=99), "greater than maximum value 30"),  # (gradio checks the slider's range)
    (dict(clip_number=-1), "less than minimum value 0"),
])
def test_bad_compare_inputs_get_one_line(tiny_models, client_factory, arguments, message):
    arguments = {"model_a": f"runs/{L2_RUN}", **arguments}
    with pytest.raises(AppError, match=message) as error:
        client_factory().predict(**arguments, api_name="/next_frame_compare")
    assert "Traceback" not in str(error.value)


def test_a_still_picture_is_no_clip(tiny_models, client_factory, tmp_path):
    Image.new("RGB", (20, 20), "white").save(tmp_path / "still.png")
    with pytest.raises(AppError, match="still.png is a still picture"):
        client_factory().predict(model_a=f"runs/{L2_RUN}", clip="upload an animation (GIF, WebP, PNG)",
                                 clip_upload=handle_file(str(tmp_path / "still.png")), api_name="/next_frame_compare")


def test_train_then_the_l2_only_twin_in_one_click_each(app_server, client_factory, tmp_path):
    client = client_factory()
    outputs = list(client.submit(run_name="api-next-frame", steps=3, api_name="/next_frame_train"))
    assert "finished 3 steps" in outputs[-1][1], outputs[-1][1]
    assert any(isinstance(o[3], str) and "copy the last frame" in o[3] for o in outputs)
    outputs = list(client.submit(run_name="api-next-frame", steps=3, api_name="/next_frame_train_l2_twin"))
    assert "finished 3 steps" in outputs[-1][1], outputs[-1][1]
    assert "api-next-frame-l2" in [o[2] for o in outputs]  # the twin's run, named after the first
    settings = {}
    for name in ("api-next-frame", "api-next-frame-l2"):
        state = sorted((app_server.run_dir(name) / "checkpoints").glob("step-*/state.json"))[-1]
        settings[name] = json.loads(state.read_text())["train_config"]
    assert settings["api-next-frame"]["task"] == settings["api-next-frame-l2"]["task"] == "next-frame"
    assert settings["api-next-frame"]["dataset"] == "moving-emoji"
    assert settings["api-next-frame"]["adversarial_weight"] > 0
    assert settings["api-next-frame-l2"]["adversarial_weight"] == 0 == settings["api-next-frame-l2"]["feature_weight"]
    models = {m["key"]: m["loss"] for m in client.predict(api_name="/next_frame_models")}
    assert models["runs/api-next-frame"] == "adversarial" and models["runs/api-next-frame-l2"] == "L2 only"
    # A next-frame model in Apply (pictures) is refused with where to use it.
    Image.new("RGB", (20, 20), "white").save(tmp_path / "still.png")
    with pytest.raises(AppError, match="predicts the next frame of a clip"):
        client.predict(model="runs/api-next-frame", picture=handle_file(str(tmp_path / "still.png")),
                       api_name="/translate_apply")
