"""Image-to-image GANs (gan_space.translation, the unet and rrdb families): PSNR and SSIM
against known values, tiles that stitch without seams, the update step (L1-only leaves D
alone), and the trainer's machinery for pairs: previews of held-out triplets, checkpoints,
an exact resume, streaming, the clock and divergence."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from gan_space.image_metrics import frechet_distance, mean_psnr, psnr, ssim
from gan_space.models import RRDBGenerator, UNetGenerator, family_names, get_family
from gan_space.pairs import HELD_OUT_FILE, HeldOut, to_float
from gan_space.training import TrainConfig, Trainer
from gan_space.held_out import held_out_scores
from gan_space.translation import apply, apply_tiled, is_translator, translate


# ---------------------------------------------------------------------------
# Scores


def test_psnr_of_known_errors():
    clean = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8
    assert torch.allclose(psnr(clean + 0.1, clean), torch.full((2,), 20.0, dtype=torch.float64))  # MSE 0.01
    assert torch.allclose(psnr(clean + 0.01, clean), torch.full((2,), 40.0, dtype=torch.float64))
    assert torch.allclose(psnr(clean * 255 + 2.55, clean * 255, data_range=255), torch.full((2,), 40.0,
                                                                                            dtype=torch.float64))
    assert math.isinf(float(psnr(clean, clean)[0])) and mean_psnr(clean, clean) == 100.0
    with pytest.raises(ValueError, match="same shape"):
        psnr(clean, clean[:, :1])


def test_ssim_of_flat_pictures_follows_the_formula():
    # Flat pictures: no variance, so SSIM is the luminance term alone, (2ab + C1) / (a^2 + b^2 + C1).
    a, b = torch.full((1, 1, 16, 16), 0.5), torch.full((1, 1, 16, 16), 0.25)
    c1 = (0.01 * 1) ** 2
    assert float(ssim(a, b)[0]) == pytest.approx((2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1), abs=1e-9)
    assert float(ssim(a, a)[0]) == pytest.approx(1.0)
    noisy = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    assert float(ssim(noisy, 1 - noisy)[0]) < 0  # anti-correlated structure


def reference_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al.'s SSIM written the way scikit-image does it (scipy's Gaussian filter with
    sigma 1.5, truncated at 3.5 sigma: an 11x11 window; then the border it cannot fill cropped)."""
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for x, y in zip(a, b):  # channels
        def blur(v):
            return ndimage.gaussian_filter(v, 1.5, truncate=3.5)

        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        index = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        values.append(index[5:-5, 5:-5].mean())
    return float(np.mean(values))


def test_ssim_matches_an_independent_implementation():
    generator = torch.Generator().manual_seed(2)
    a = torch.rand(3, 3, 32, 40, generator=generator, dtype=torch.float64)
    b = (a + 0.2 * torch.randn(a.shape, generator=generator, dtype=torch.float64)).clamp(0, 1)
    ours = ssim(a, b)
    for i in range(3):
        assert float(ours[i]) == pytest.approx(reference_ssim(a[i].numpy(), b[i].numpy()), abs=1e-6)


def test_the_frechet_distance_tells_blur_from_sharp_pictures():
    generator = torch.Generator().manual_seed(3)
    sharp = (torch.rand(64, 3, 32, 32, generator=generator) > 0.5).float()
    other_sharp = (torch.rand(64, 3, 32, 32, generator=generator) > 0.5).float()
    blurred = torch.nn.functional.avg_pool2d(sharp, 5, 1, 2)
    same = frechet_distance(other_sharp, sharp)
    assert same < frechet_distance(blurred, sharp) / 5
    assert frechet_distance(sharp, sharp) == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------------------
# Applying a model: tiles


def _random_weights(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """A freshly built residual model outputs its baseline exactly (its last layer starts at
    zero): give it random weights everywhere, so tiles have something to disagree about."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return model.eval()


def seam_profile(difference: torch.Tensor) -> torch.Tensor:
    """The mean absolute jump between neighbouring columns of a difference picture."""
    return difference.diff(dim=-1).abs().mean(dim=(0, 1, 2))


@pytest.mark.parametrize("make", [
    lambda: RRDBGenerator(in_channels=3, channels=3, scale=2, width=8, blocks=1, growth=4),
    lambda: UNetGenerator(in_channels=1, channels=3, scale=1, width=8, depth=3, residual=True),
])
def test_tiles_stitch_without_seams(make):
    model = _random_weights(make(), seed=4)
    picture = to_float(torch.randint(0, 256, (1, model.config.in_channels, 70, 90),
                                     generator=torch.Generator().manual_seed(5)).to(torch.uint8))
    picture = torch.nn.functional.avg_pool2d(picture, 3, 1, 1)  # some structure, not pure noise
    whole = translate(model, picture)  # one pass over the whole picture
    tiled = apply_tiled(model, picture, tile=32, overlap=16)
    cut = apply_tiled(model, picture, tile=32, overlap=0)  # tiles butted together: the seams show
    assert tiled.shape == whole.shape == (1, 3, 70 * model.config.scale, 90 * model.config.scale)
    blended_error, cut_error = (tiled - whole).abs().max(), (cut - whole).abs().max()
    assert cut_error > 0.01  # this model's tiles do disagree at their edges
    assert blended_error < cut_error / 4
    # No column of the blended picture jumps more than elsewhere in it (a seam is a jump).
    jumps = seam_profile(tiled - whole)
    assert jumps.max() < 0.02 and jumps.max() < seam_profile(cut - whole).max() / 4


def test_apply_takes_pictures_of_any_size_and_matches_the_models_input():
    from PIL import Image

    model = _random_weights(UNetGenerator(in_channels=1, channels=3, scale=1, width=8, depth=2, residual=True,
                                          task="colorize"), seed=6)
    picture = Image.new("RGB", (37, 23), (200, 100, 50))
    result = apply(model, picture, tile=16, overlap=8)
    assert result.size == (37, 23) and result.mode == "RGB"
    sr = _random_weights(RRDBGenerator(in_channels=3, channels=3, scale=4, width=8, blocks=1, growth=4), seed=7)
    assert apply(sr, Image.new("L", (10, 7), 128)).size == (40, 28)  # grey in, colour model: repeated
    assert is_translator(sr) and not is_translator(torch.nn.Linear(1, 1))
    with pytest.raises(ValueError, match="million pixels"):
        apply_tiled(sr, torch.zeros(1, 3, 3000, 3000))


# ---------------------------------------------------------------------------
# The families


def test_pair_families_are_registered_for_pairs_only():
    assert {"unet", "rrdb"} <= set(family_names("pairs"))
    assert not {"unet", "rrdb"} & set(family_names("images"))
    with pytest.raises(ValueError, match="no latent space"):
        get_family("rrdb").first_layer(None, None, None)
    # Residual models start as their baseline (bicubic, grey): training starts from there.
    sr = RRDBGenerator(in_channels=3, channels=3, scale=4, width=8, blocks=1, growth=4)
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    assert torch.allclose(sr(x), sr.baseline(x))


# ---------------------------------------------------------------------------
# Training through the Trainer


def tiny(task, out_dir, dataset="emoji", **settings):
    values = dict(task=task, out_dir=str(out_dir), resolution=32, width=8, num_layers=1, batch_size=4, steps=4,
                  log_every=2, sample_every=4, checkpoint_every=4, checkpoint_minutes=0, precision="fp32",
                  pixel_warmup=0)  # (the presets' warm-up would keep D out of these few steps)
    values.update(settings)
    return TrainConfig.for_dataset(dataset, **values)


def emoji_subset(count=40):
    from gan_space.data import load_emoji

    data = load_emoji(32, 3)
    data.samples, data.labels = data.samples[:count].clone(), None
    data.num_classes, data.class_names = 0, []
    return data


@pytest.mark.parametrize("task", ["super-resolution", "colorize", "edges"])
def test_each_task_trains_previews_held_out_triplets_and_keeps_them(task, tmp_path):
    trainer = Trainer(tiny(task, tmp_path / task), dataset=emoji_subset())
    batch = trainer.next_batch()
    scale = 4 if task == "super-resolution" else 1
    assert batch.real.shape == (4, 3, 32, 32)
    assert batch.condition.shape == (4, 3 if task == "super-resolution" else 1, 32 // scale, 32 // scale)
    events = list(trainer.run())
    assert events[-1].status == "finished" and {"pixel", "d", "g"} <= set(events[-1].losses)
    samples, picture = events[-1].preview_samples, events[-1].preview
    assert samples is None and picture.size[0] > picture.size[1]  # rows of (input | output | target) x 2
    assert (tmp_path / task / "samples" / "step-0000004.png").is_file()
    held = HeldOut.load(tmp_path / task / HELD_OUT_FILE)
    assert len(held) == 4 and torch.equal(held.target, trainer.held_out.target)
    from gan_space.checkpoints import load_generator

    generator = load_generator(tmp_path / task)
    assert is_translator(generator) and generator.config.task == task
    scores = held_out_scores(generator, held, task)
    assert scores.baseline == ("bicubic" if task == "super-resolution" else "input")
    assert 0 < scores.psnr < 100 and -1 <= scores.ssim <= 1 and scores.frechet_distance is None  # 4 < 16 pictures


def test_l1_only_trains_no_discriminator_and_beats_bicubic(tmp_path):
    """The SRResNet baseline: adversarial and feature weights 0, the discriminator untouched,
    and a few dozen steps already above bicubic on the training pictures."""
    trainer = Trainer(tiny("super-resolution", tmp_path / "l1", scale=2, adversarial_weight=0.0, feature_weight=0.0,
                           width=16, batch_size=8, steps=60, lr_g=1e-3, ema_decay=0.0, lr_decay_fraction=0.0),
                      dataset=emoji_subset(12))
    before = {k: v.clone() for k, v in trainer.networks.discriminator.state_dict().items()}
    events = list(trainer.run())
    after = trainer.networks.discriminator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert events[-1].losses["d"] == 0.0 and math.isnan(events[-1].d_real)
    held = trainer.held_out
    scores = held_out_scores(trainer.networks.generator, held, "super-resolution")
    assert scores.psnr > scores.baseline_psnr


def test_a_gan_run_updates_both_networks_with_the_relativistic_loss(tmp_path):
    trainer = Trainer(tiny("super-resolution", tmp_path / "gan", scale=2, adversarial_weight=0.1, feature_weight=0.1,
                           steps=2), dataset=emoji_subset())
    assert trainer.config.loss == "rpgan"
    before = [p.clone() for p in trainer.networks.discriminator.parameters()]
    logs = trainer.train_step()
    assert {"adversarial", "pixel", "d", "g"} <= set(logs)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.networks.discriminator.parameters()))


def test_a_paired_run_resumes_exactly(tmp_path):
    """Stop after 2 steps, resume to 4: the same weights as 4 steps in one go (the pairs' flips and
    the source's batches come from the run's streams, saved in the checkpoint)."""
    from PIL import Image

    folder = tmp_path / "pairs"
    generator = torch.Generator().manual_seed(0)
    for side in ("A", "B"):
        (folder / side).mkdir(parents=True)
    for i in range(12):
        colour = torch.randint(0, 256, (3,), generator=generator).tolist()
        Image.new("RGB", (32, 32), tuple(colour)).save(folder / "A" / f"{i}.png")
        Image.new("RGB", (32, 32), tuple(255 - c for c in colour)).save(folder / "B" / f"{i}.png")

    def config(out, steps):
        return tiny("paired", out, dataset=str(folder), steps=steps, checkpoint_every=2, sample_every=2)

    list(Trainer(config(tmp_path / "whole", 4)).run())
    list(Trainer(config(tmp_path / "split", 2)).run())
    resumed = Trainer.resume(str(tmp_path / "split"), steps=4)
    assert resumed.step == 2
    list(resumed.run())
    from gan_space.checkpoints import latest_checkpoint
    from safetensors.torch import load_file

    for part in ("generator", "generator_raw", "discriminator"):
        a = load_file(latest_checkpoint(tmp_path / "whole") / part / "diffusion_pytorch_model.safetensors")
        b = load_file(latest_checkpoint(tmp_path / "split") / part / "diffusion_pytorch_model.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a), part


def test_pairs_stream_from_disk_and_train_by_the_clock(tmp_path, tiny_image_folder):
    config = tiny("colorize", tmp_path / "stream", dataset=str(tiny_image_folder), in_memory_limit_mb=0, steps=1000,
                  minutes=0.05, log_every=1)
    trainer = Trainer(config)
    assert not trainer.source.in_memory  # streamed from the run's data cache
    events = list(trainer.run())
    assert events[-1].status == "finished" and "minutes" in events[-1].message and events[-1].step < 1000


def test_a_diverging_pair_run_stops_with_a_message(tmp_path, monkeypatch):
    trainer = Trainer(tiny("colorize", tmp_path / "nan", steps=10), dataset=emoji_subset())
    original = trainer.objective.generate

    def broken(networks, batch, grad):
        return original(networks, batch, grad) * float("nan")

    monkeypatch.setattr(trainer.objective, "generate", broken)
    events = list(trainer.run())
    assert events[-1].status == "diverged" and "diverged at step 1" in events[-1].message


def test_the_pixel_warm_up_trains_no_discriminator_until_its_last_step(tmp_path):
    """ESRGAN's recipe in one run: the pixel loss alone for `pixel_warmup` steps, then the GAN."""
    trainer = Trainer(tiny("super-resolution", tmp_path / "warm", scale=2, steps=5, pixel_warmup=3),
                      dataset=emoji_subset())
    before = {k: v.clone() for k, v in trainer.networks.discriminator.state_dict().items()}
    for _ in range(3):
        logs = trainer.train_step()
        assert "adversarial" not in logs and float(logs["d"]) == 0.0
    assert all(torch.equal(before[k], v) for k, v in trainer.networks.discriminator.state_dict().items())
    logs = trainer.train_step()  # step 3: the GAN starts
    assert "adversarial" in logs and float(logs["d"]) > 0
    assert not all(torch.equal(before[k], v) for k, v in trainer.networks.discriminator.state_dict().items())
