"""Next-frame prediction (gan_space.tasks.next_frame): sequences read from animated GIFs and
folders of numbered frames (bad ones refused with clear errors), rows of frames + 1 frames
split into the last k frames and the next, the built-in moving emoji, the sharpness metric
against hand computations, a short training run scored next to "copy the last frame", the
rollout, and the CLI round trip."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from gan_space.cli import main
from gan_space.data import DatasetError, load_sequences, moving_emoji, read_sequence
from gan_space.data.sequences import frame_number, windows
from gan_space.held_out import held_out_scores
from gan_space.metrics import pair_metric
from gan_space.metrics.sharpness import gradient_magnitude, relative_sharpness
from gan_space.pairs import gaussian_blur, to_float
from gan_space.tasks import get_task
from gan_space.training import ConfigError, TrainConfig, Trainer
from gan_space.translation import rollout

SIZE = 16


def square_frames(count: int, size: int = SIZE) -> list[Image.Image]:
    """A black square moving one pixel right each frame on white: frame i has its left edge at 2 + i."""
    frames = []
    for index in range(count):
        array = np.full((size, size, 3), 255, np.uint8)
        array[4:10, 2 + index:8 + index] = 0
        frames.append(Image.fromarray(array))
    return frames


def write_gif(path, frames: list[Image.Image]) -> None:
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


# ---------------------------------------------------------------------------
# Reading sequences


def test_a_gif_is_read_frame_by_frame_and_windows_stack_k_plus_1_frames_oldest_first(tmp_path):
    write_gif(tmp_path / "clip.gif", square_frames(5))
    sequence = read_sequence((tmp_path / "clip.gif").read_bytes(), SIZE, 3)
    assert sequence.shape == (5, 3, SIZE, SIZE)
    for index in range(5):  # the square's left edge moves right one pixel a frame
        assert sequence[index, 0, 6, 2 + index] == 0 and sequence[index, 0, 6, 1 + index] == 255
    data = load_sequences(tmp_path / "clip.gif", frames=2, resolution=SIZE, channels=3)
    assert data.samples.shape == (3, 9, SIZE, SIZE)  # windows 0-2, 1-3, 2-4
    assert torch.equal(data.samples[1].reshape(3, 3, SIZE, SIZE), torch.from_numpy(sequence[1:4]))


def test_numbered_frames_are_ordered_by_their_numbers_not_their_names(tmp_path):
    folder = tmp_path / "shot"
    folder.mkdir()
    for index, frame in enumerate(square_frames(11)):
        frame.save(folder / f"frame-{index}.png")  # frame-10 sorts before frame-2 by name
    (folder / "notes.txt").write_text("not a frame")
    assert frame_number("shot2/frame-0010.png") == 10 and frame_number("cover.png") is None
    data = load_sequences(tmp_path, frames=1, resolution=SIZE, channels=1)
    assert data.samples.shape == (10, 2, SIZE, SIZE)
    left_edges = [int(np.argmax(row[0, 6].numpy() == 0)) for row in data.samples]
    assert left_edges == [2 + i for i in range(10)]
    assert any("notes.txt" in line for line in data.skipped)


def test_too_few_frames_a_still_picture_and_nothing_usable_are_refused_with_what_to_give(tmp_path):
    write_gif(tmp_path / "short.gif", square_frames(2))
    with pytest.raises(DatasetError, match="no sequence of at least 3 frames.*short.gif: 2 frame"):
        load_sequences(tmp_path, frames=2, resolution=SIZE, channels=3)
    square_frames(1)[0].save(tmp_path / "still.png")
    with pytest.raises(DatasetError, match="still.png: .*still picture.*not an animation"):
        load_sequences(tmp_path / "still.png", frames=2, resolution=SIZE, channels=3)
    (tmp_path / "broken.gif").write_bytes(b"GIF89a not really")
    with pytest.raises(DatasetError, match="broken.gif: not a readable image"):
        load_sequences(tmp_path / "broken.gif", frames=1, resolution=SIZE, channels=3)
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_sequences(tmp_path / "missing", frames=1, resolution=SIZE, channels=3)
    with pytest.raises(ValueError, match="too few"):
        windows(np.zeros((2, 1, 4, 4), np.uint8), frames=2)


def test_moving_emoji_are_seeded_and_move():
    first, again = moving_emoji(2, 32, 3, clips=8, seed=5), moving_emoji(2, 32, 3, clips=8, seed=5)
    assert first.samples.shape == (8, 9, 32, 32) and first.samples.dtype == torch.uint8
    assert torch.equal(first.samples, again.samples)
    assert not torch.equal(first.samples, moving_emoji(2, 32, 3, clips=8, seed=6).samples)
    frames = first.samples.reshape(8, 3, 3, 32, 32).float()
    assert (frames[:, 1] - frames[:, 0]).abs().mean() > 1  # the sprites moved
    assert (frames[:, :, :, 0, :] > 200).float().mean() > 0.5  # on a white canvas


# ---------------------------------------------------------------------------
# Pairs, the baseline and the metric


def test_pairs_split_rows_into_the_last_k_frames_and_the_next_and_the_baseline_copies_the_last():
    config = TrainConfig.for_dataset("moving-emoji", task="next-frame", frames=3, out_dir="unused")
    pairing = get_task("next-frame").pairing(config)
    rows = to_float(moving_emoji(3, 32, 3, clips=4, seed=1).samples)
    assert pairing.flip  # the preset mirrors clips: every frame of a row alike
    condition, target = pairing(rows, torch.Generator().manual_seed(0))
    together = torch.cat([condition, target], 1)
    assert all(torch.equal(made, row) or torch.equal(made, row.flip(2)) for made, row in zip(together, rows))
    condition, target = replace(pairing, flip=False)(rows)
    assert condition.shape == (4, 9, 32, 32) and target.shape == (4, 3, 32, 32)
    assert torch.equal(condition, rows[:, :9]) and torch.equal(target, rows[:, 9:])
    assert torch.equal(pairing.baseline(condition, (32, 32)), rows[:, 6:9])
    with pytest.raises(ConfigError, match="frames=5"):
        TrainConfig.for_dataset("moving-emoji", task="next-frame", frames=5, out_dir="unused")
    with pytest.raises(ConfigError, match="arch='rrdb'.*'unet' for next-frame"):
        TrainConfig.for_dataset("moving-emoji", task="next-frame", arch="rrdb", out_dir="unused")


def test_sharpness_is_the_gradient_magnitude_relative_to_the_targets():
    step = torch.zeros(1, 1, 4, 4)
    step[..., 2:] = 1.0  # a vertical edge: each row has one jump of 1 among its 3 horizontal differences
    # forward differences over the 3x3 top-left block: one |dx| = 1 per row, dy = 0 -> mean 3 / 9
    assert gradient_magnitude(step).item() == pytest.approx(1 / 3)
    half = step * 0.5
    assert relative_sharpness(half, step) == pytest.approx(0.5)
    assert relative_sharpness(step, step) == pytest.approx(1.0)
    grey = step.repeat(1, 3, 1, 1)  # colour pictures: the luma's gradient
    assert gradient_magnitude(grey).item() == pytest.approx(1 / 3)
    sharp = (torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    blurred = (gaussian_blur(sharp * 2 - 1, torch.full((4,), 1.5)) + 1) / 2
    assert relative_sharpness(blurred, sharp) < 0.5 < relative_sharpness(sharp, sharp)
    assert pair_metric("sharpness").measure is relative_sharpness


# ---------------------------------------------------------------------------
# Training, rollout, CLI


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("next-frame") / "run"
    config = TrainConfig.for_dataset("moving-emoji", task="next-frame", steps=12, max_images=120, pixel_warmup=4,
                                     batch_size=8, log_every=4, sample_every=1000, checkpoint_every=1000,
                                     device="cpu", out_dir=str(out))
    trainer = Trainer(config)
    list(trainer.run())
    return trainer, out


def test_a_short_run_trains_and_is_scored_next_to_copying_the_last_frame(trained):
    trainer, out = trained
    assert trainer.step == 12
    generator = trainer.sampling_generator()
    assert generator.config.in_channels == 6 and generator.config.frames == 2 and generator.config.residual
    scores = held_out_scores(generator, trainer.held_out, "next-frame", frechet=False)
    assert scores.baseline == "copy the last frame"
    assert set(scores.values) == set(scores.baseline_values) == {"psnr", "sharpness", "ssim"}
    condition, target = trainer.held_out.normalised()
    copied = to_float(trainer.held_out.condition[:, -3:])
    expected = 10 * torch.log10(4 / ((copied - target) ** 2).flatten(1).mean(1)).mean()
    assert scores.baseline_psnr == pytest.approx(float(expected), abs=0.05)
    assert scores.baseline_sharpness == pytest.approx(1.0, abs=0.1)


def test_a_rollout_feeds_predictions_back_and_writes_n_frames(trained, tmp_path):
    trainer, out = trained
    generator = trainer.sampling_generator()
    frames = torch.stack([to_float(torch.from_numpy(np.asarray(f).copy()).permute(2, 0, 1))
                          for f in square_frames(3, 32)])
    predicted = rollout(generator, frames, 4)
    assert predicted.shape == (4, 3, 32, 32)
    with pytest.raises(ValueError, match="1 frame.*at least 2"):
        rollout(generator, frames[:1], 4)

    write_gif(tmp_path / "clip.gif", square_frames(4, 40))
    assert main(["apply", "--model", str(out), "--input", str(tmp_path / "clip.gif"), "--out",
                 str(tmp_path / "results"), "--rollout", "5"]) == 0
    gif = Image.open(tmp_path / "results" / "clip.gif")
    assert gif.n_frames == 5 and gif.size == (40, 40)
    assert main(["apply", "--model", str(out), "--input", str(tmp_path / "clip.gif"), "--out",
                 str(tmp_path / "next.png")]) == 0
    assert Image.open(tmp_path / "next.png").size == (40, 40)


def test_the_cli_trains_on_gifs_and_refuses_a_still_picture(tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    for index in range(3):
        write_gif(clips / f"clip{index}.gif", square_frames(8 + index, 32))
    out = tmp_path / "run"
    assert main(["train", "--task", "next-frame", "--dataset", str(clips), "--steps", "3", "--pixel-warmup", "1",
                 "--batch-size", "4", "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "copy the last frame: PSNR" in printed and "sharpness" in printed
    assert main(["apply", "--model", str(out), "--input", str(clips), "--out", str(tmp_path / "next"),
                 "--rollout", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "next").iterdir()) == ["clip0.gif", "clip1.gif", "clip2.gif"]

    square_frames(1)[0].save(tmp_path / "still.png")
    assert main(["apply", "--model", str(out), "--input", str(tmp_path / "still.png"), "--out",
                 str(tmp_path / "x.png")]) != 0
    assert "no sequence could be continued (still.png: 1 frame(s)" in capsys.readouterr().err


def test_a_next_frame_model_gets_a_hub_card_that_names_its_stacked_input(trained, tmp_path):
    from gan_space.hub import stage_repo_files

    _, out = trained
    staging = tmp_path / "staging"
    staging.mkdir()
    stage_repo_files(out, staging, "someone/moving-emoji-next")
    card = (staging / "README.md").read_text()
    assert "2 stacked colour" in card and "| copy the last frame |" in card
