"""Pairs for image-to-image training (gan_space.pairs): made right for each task, the user's
own pairs read from A/ + B/ folders or side-by-side pictures (with every file left out
reported), held-out pictures kept apart, and the settings checked with clear errors."""

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan_space.data import DatasetError, load_paired
from gan_space.pairs import HeldOut, Pairing, held_out_rows, luma, quantise_uint8, sketch, split_held_out, to_float
from gan_space.tasks import get_task
from gan_space.training import ConfigError, TrainConfig


def pictures(count: int = 6, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth random colour pictures in [-1, 1] at 8-bit levels, (N, 3, size, size)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, size // 4, size // 4, generator=generator) * 2 - 1
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return to_float(quantise_uint8(smooth))


def as_pil(picture: torch.Tensor) -> Image.Image:
    array = quantise_uint8(picture).permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


# ---------------------------------------------------------------------------
# Pairs made from pictures


def test_super_resolution_inputs_are_the_antialiased_bicubic_downscale_as_pil_makes_it():
    target = pictures(4, 32)
    for scale in (2, 4):
        condition, same_target = Pairing(get_task("super-resolution"), scale=scale)(target)
        assert condition.shape == (4, 3, 32 // scale, 32 // scale) and torch.equal(same_target, target)
        assert torch.equal(to_float(quantise_uint8(condition)), condition)  # 8-bit levels, like a saved picture
        for picture, small in zip(target, condition):
            expected = np.asarray(as_pil(picture).resize((32 // scale, 32 // scale), Image.Resampling.BICUBIC),
                                  dtype=np.float64)
            made = quantise_uint8(small).permute(1, 2, 0).numpy().astype(np.float64)
            assert np.abs(made - expected).mean() < 1.0, scale  # within a level of PIL on average


def test_degradations_are_drawn_from_the_runs_stream_and_change_the_inputs():
    target = pictures(6, 32)
    plain = Pairing(get_task("super-resolution"), scale=4).make_condition(target)
    degraded = Pairing(get_task("super-resolution"), scale=4, blur=2.0, noise=10.0, jpeg=30)

    def make(seed):
        return degraded.make_condition(target, torch.Generator().manual_seed(seed))

    first, again, other = make(1), make(1), make(2)
    assert torch.equal(first, again) and not torch.equal(first, other)  # the run's stream decides
    assert first.shape == plain.shape and (first - plain).abs().mean() > 0.01
    # Blur alone takes detail away: the input varies less from pixel to pixel than the plain one.
    blurred = Pairing(get_task("super-resolution"), scale=2, blur=3.0).make_condition(target, torch.Generator().manual_seed(0))
    sharp = Pairing(get_task("super-resolution"), scale=2).make_condition(target)
    assert blurred.diff(dim=-1).abs().mean() < sharp.diff(dim=-1).abs().mean()


def test_colourisation_inputs_are_the_luma_as_pil_converts_it():
    target = pictures(3, 16)
    condition, _ = Pairing(get_task("colorize"))(target)
    assert condition.shape == (3, 1, 16, 16)
    for picture, grey in zip(target, condition):
        expected = np.asarray(as_pil(picture).convert("L"), dtype=np.float64)
        assert np.abs(quantise_uint8(grey)[0].numpy() - expected).max() <= 1


def test_sketches_are_dark_lines_on_white_where_the_picture_changes():
    target = -torch.ones(1, 3, 32, 32)
    target[..., 16:] = 1.0  # black left half, white right half: one vertical edge
    lines = sketch(target)[0, 0]
    assert lines.shape == (32, 32)
    assert (lines[:, 15:17] < -0.5).all()  # a dark line along the edge
    assert (lines[:, :10] > 0.99).all() and (lines[:, 22:] > 0.99).all()  # white paper elsewhere
    condition, _ = Pairing(get_task("edges"))(pictures(2, 32))
    assert condition.shape == (2, 1, 32, 32)


def test_flips_mirror_input_and_target_alike():
    target = pictures(16, 16)
    paired_rows = torch.cat([target, -target], 1)  # stored pairs: input, then target, in channels
    generator = torch.Generator().manual_seed(3)
    condition, flipped_target = Pairing(get_task("paired"), channels=3, flip=True)(paired_rows, generator)
    assert torch.equal(condition, -flipped_target)  # still partners, whichever were mirrored
    mirrored = [not torch.equal(flipped_target[i], -target[i]) for i in range(16)]
    assert 3 <= sum(mirrored) <= 13


# ---------------------------------------------------------------------------
# The user's own pairs


def save(path, colour, size=(24, 24)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_a_and_b_folders_pair_files_by_name_and_report_the_rest(tmp_path):
    root = tmp_path / "facades"
    for name in ("1", "2", "3", "sub/4"):
        save(root / "A" / f"{name}.png", (200, 0, 0))
        save(root / "B" / f"{name}.jpg", (0, 0, 200))  # another extension: still the partner
    save(root / "A" / "lonely.png", (200, 0, 0))
    save(root / "B" / "orphan.png", (0, 0, 200))
    save(root / "A" / "twice.png", (200, 0, 0))
    save(root / "A" / "twice.jpg", (200, 0, 0))
    save(root / "B" / "twice.png", (0, 0, 200))
    (root / "B" / "3.jpg").write_bytes(b"not a picture")  # a broken partner costs its pair
    (root / "notes.txt").write_text("hello")

    data = load_paired(root, resolution=16, channels=3)
    assert data.samples.shape == (3, 6, 16, 16) and data.samples.dtype == torch.uint8
    inputs, targets = data.samples[:, :3].float(), data.samples[:, 3:].float()
    assert (inputs[:, 0] > 150).all() and (inputs[:, 2] < 50).all()  # A is the input (red)
    assert (targets[:, 2] > 150).all() and (targets[:, 0] < 50).all()  # B the target (blue)
    report = "\n".join(data.skipped)
    assert "A/lonely.png: no partner in B/" in report
    assert "B/orphan.png: no partner in A/" in report
    assert "several A/ files are named twice" in report
    assert "B/twice.png: its partner in A/ is ambiguous" in report
    assert "A/3.png + B/3.jpg: not a readable image" in report
    assert "notes.txt" in report

    reverse = load_paired(root, resolution=16, channels=3, direction="BtoA")
    assert torch.equal(reverse.samples[:, :3], data.samples[:, 3:])


def test_side_by_side_pictures_split_into_input_and_target(tmp_path):
    root = tmp_path / "pix2pix"
    root.mkdir()
    for i in range(3):
        picture = Image.new("RGB", (64, 32), (0, 0, 0))
        picture.paste((0, 220, 0), (0, 0, 32, 32))  # left (A): green
        picture.paste((220, 220, 220), (32, 0, 64, 32))  # right (B): light grey
        picture.save(root / f"{i}.png")
    save(root / "square.png", (10, 10, 10), size=(32, 32))
    data = load_paired(root, resolution=16, channels=1)
    assert data.samples.shape == (3, 2, 16, 16)
    assert data.samples[:, 0].float().mean() < data.samples[:, 1].float().mean()
    assert any("square.png: not two pictures side by side (32x32" in s for s in data.skipped)


def test_pairs_from_a_zip_and_clear_errors_when_there_are_none(tmp_path):
    archive = tmp_path / "pairs.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for name, colour in (("A/x.png", (255, 0, 0)), ("B/x.png", (0, 0, 255)), ("A/y.png", (255, 0, 0))):
            buffer = io.BytesIO()
            Image.new("RGB", (20, 20), colour).save(buffer, format="PNG")
            handle.writestr(name, buffer.getvalue())
        handle.writestr("../evil.png", b"x")
    data = load_paired(archive, resolution=8, channels=3)
    assert len(data) == 1 and any("A/y.png: no partner in B/" in s for s in data.skipped)
    assert not (tmp_path.parent / "evil.png").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    save(empty / "A" / "only.png", (1, 2, 3))
    save(empty / "B" / "other.png", (1, 2, 3))
    with pytest.raises(DatasetError, match="holds no usable pair.*matching file names"):
        load_paired(empty, resolution=8, channels=3)
    with pytest.raises(DatasetError, match="folder or a .zip"):
        load_paired(tmp_path / "missing", resolution=8, channels=3)


# ---------------------------------------------------------------------------
# Held-out pictures


def test_held_out_pictures_are_spread_fixed_and_apart_from_training():
    from gan_space.data import Dataset

    rows = held_out_rows(200)
    assert len(rows) == 20 and torch.equal(rows, held_out_rows(200)) and rows.min() > 0 and rows.max() < 199
    assert len(held_out_rows(2)) == 1 and len(held_out_rows(5000)) == 64
    samples = torch.arange(200, dtype=torch.uint8).reshape(200, 1, 1, 1).expand(200, 1, 2, 2).contiguous()
    train, held = split_held_out(Dataset(name="x", kind="images", samples=samples))
    assert len(train) == 180 and len(held) == 20
    assert not set(held[:, 0, 0, 0].tolist()) & set(train.samples[:, 0, 0, 0].tolist())
    with pytest.raises(DatasetError, match="at least 2 pictures"):
        held_out_rows(1)

    pairing = Pairing(get_task("super-resolution"), scale=2, blur=1.0, noise=5.0)
    made = HeldOut.make(pairing, quantise_uint8(pictures(4, 16)))
    again = HeldOut.make(pairing, quantise_uint8(pictures(4, 16)))
    assert made.condition.shape == (4, 3, 8, 8) and torch.equal(made.condition, again.condition)  # fixed seed


# ---------------------------------------------------------------------------
# Settings


@pytest.mark.parametrize("settings, field, message", [
    (dict(task="upscale"), "task", "one of generate, super-resolution"),
    (dict(task="super-resolution", scale=3), "scale", "2 or 4"),
    (dict(task="colorize", channels=1), "channels", "colourisation makes colour pictures"),
    (dict(task="colorize", blur=1.0), "blur", "degradations are for task='super-resolution' only"),
    (dict(task="super-resolution", jpeg=120), "jpeg", "from 1 to 95"),
    (dict(task="super-resolution", noise=-1.0), "noise", "from 0"),
    (dict(task="edges", adversarial_weight=-0.5), "adversarial_weight", "from 0"),
    (dict(task="paired", direction="AB"), "direction", "AtoB, BtoA"),
    (dict(task="paired", pixel_loss="l2"), "pixel_loss", "l1, charbonnier"),
    (dict(task="super-resolution", augment="diffaugment"), "augment", "flips mirror input and target alike"),
    (dict(task="super-resolution", arch="dcgan"), "arch", "unet, rrdb for pairs data"),
    (dict(task="generate", arch="rrdb"), "arch", "for images data"),
    (dict(task="super-resolution", resolution=20), "resolution", "a multiple of 8"),
    (dict(task="super-resolution", resolution=16), "resolution", "at least 32 for x4"),
    (dict(task="colorize", pixel_weight=0.0, adversarial_weight=0.0, feature_weight=0.0), "pixel_weight",
     "nothing would be learnt"),
    (dict(task="colorize", conditional=True), "conditional", "the input picture is the condition"),
    (dict(task="super-resolution", perceptual_weight=1.0), "perceptual_weight", "VGG-19 weights"),
])
def test_bad_image_to_image_settings_say_what_is_allowed(settings, field, message, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_SPACE_VGG19", str(tmp_path / "none.safetensors"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match=field) as error:
        TrainConfig.for_dataset("emoji", out_dir=str(tmp_path / "run"), **settings)
    assert message in str(error.value)


def test_each_task_has_a_preset_and_generate_keeps_the_old_ones(tmp_path):
    sr = TrainConfig.for_dataset("emoji", task="super-resolution", out_dir=str(tmp_path))
    assert (sr.arch, sr.scale, sr.loss) == ("rrdb", 4, "rpgan")
    for task in ("colorize", "edges", "paired"):
        assert TrainConfig.for_dataset("emoji", task=task, out_dir=str(tmp_path)).arch == "unet"
    plain = TrainConfig.for_dataset("digits", out_dir=str(tmp_path))
    assert plain.task == "generate" and plain.arch == "mlp"
    old = {k: v for k, v in plain.to_dict().items() if k not in ("task", "scale", "blur", "noise", "jpeg")}
    assert TrainConfig.from_dict(old).task == "generate"  # a run saved before tasks existed still loads


def test_luma_of_grey_is_itself():
    grey = pictures(2, 8)[:, :1]
    assert torch.equal(luma(grey), grey)
