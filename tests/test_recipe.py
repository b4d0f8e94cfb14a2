"""The modern recipe for pictures: the RpGAN loss with R1 + R2, adaptive augmentation
(ADA), the residual (R3GAN-style) and FastGAN families, and the presets that pick them."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_space.augment import AUGMENTATIONS, AdaptiveAugment, adaptive_augment, augment
from gan_space.losses import (LOSSES, discriminator_loss, generator_loss, r1_penalty, r2_penalty,
                              zero_centred_penalties)
from gan_space.models import get_family
from gan_space.models.fastgan import FastGANDiscriminator, FastGANGenerator, FastGANObjective
from gan_space.models.registry import DataSpec
from gan_space.models.resnet import ResidualDiscriminator, ResidualGenerator
from gan_space.objectives import Batch, GANObjective
from gan_space.randomness import RunRandomness
from gan_space.training import PRESETS, ConfigError, TrainConfig, Trainer


# ---------------------------------------------------------------------------
# RpGAN


def test_rpgan_is_in_the_losses_and_judges_pairs():
    assert "rpgan" in LOSSES
    real, fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.0, 0.0, 0.5])
    expected = F.softplus(-(real - fake)).mean()
    assert discriminator_loss("rpgan", real, fake).item() == pytest.approx(expected.item())
    # Only differences count: adding a constant to every logit changes nothing.
    assert discriminator_loss("rpgan", real + 7, fake + 7).item() == pytest.approx(expected.item())
    # Pairs, not means: the same logits in another pairing give another loss.
    assert discriminator_loss("rpgan", real, fake.flip(0)).item() != pytest.approx(expected.item())
    assert discriminator_loss("rpgan", torch.zeros(4), torch.zeros(4)).item() == pytest.approx(math.log(2))


def test_the_rpgan_generator_loss_needs_the_real_logits_and_treats_them_as_constants():
    fake = torch.tensor([0.0, 1.0], requires_grad=True)
    real = torch.tensor([1.0, 1.0], requires_grad=True)
    with pytest.raises(ValueError, match="real_logits"):
        generator_loss("rpgan", fake)
    loss = generator_loss("rpgan", fake, real)
    assert loss.item() == pytest.approx(F.softplus(-(fake - real)).mean().item())
    loss.backward()
    assert real.grad is None and fake.grad is not None and (fake.grad < 0).all()  # G raises its fakes' scores


# ---------------------------------------------------------------------------
# R1 and R2 against finite differences


class TinyD(nn.Module):
    """A small nonlinear discriminator (convolution, leaky ReLU, linear) in float64."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1).double()
        self.out = nn.Linear(3 * 4 * 4, 1).double()

    def forward(self, x, labels=None):
        return self.out(F.leaky_relu(self.conv(x), 0.2).flatten(1)).squeeze(1)


def finite_difference_norms(d, x, eps=1e-6):
    """Squared norm of dD(x_i)/dx_i for each sample, by central differences."""
    flat = x.detach().clone().flatten(1)
    grads = torch.zeros_like(flat)
    with torch.no_grad():
        for j in range(flat.shape[1]):
            plus, minus = flat.clone(), flat.clone()
            plus[:, j] += eps
            minus[:, j] -= eps
            grads[:, j] = (d(plus.reshape(x.shape)) - d(minus.reshape(x.shape))) / (2 * eps)
    return grads.pow(2).sum(1)


def test_r1_and_r2_equal_the_finite_difference_gradient_norms():
    torch.manual_seed(0)
    d = TinyD()
    real, fake = torch.randn(5, 2, 4, 4, dtype=torch.float64), torch.randn(5, 2, 4, 4, dtype=torch.float64)
    r1_expected = finite_difference_norms(d, real).mean().item()
    r2_expected = finite_difference_norms(d, fake).mean().item()
    assert r1_penalty(d, real).item() == pytest.approx(r1_expected, rel=1e-6)
    assert r2_penalty(d, fake).item() == pytest.approx(r2_expected, rel=1e-6)
    assert r1_expected != pytest.approx(r2_expected, rel=1e-2)  # the check tells real from fake
    # One pass over both gives the same two numbers.
    both = zero_centred_penalties(d, [real, fake], [None, None])
    assert [v.item() for v in both] == pytest.approx([r1_expected, r2_expected], rel=1e-6)


def test_the_penalties_reach_the_discriminator_weights():
    d = TinyD()
    r2_penalty(d, torch.randn(3, 2, 4, 4, dtype=torch.float64)).backward()
    assert d.conv.weight.grad is not None and d.conv.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------
# r2_gamma: a setting, applied lazily like R1


@pytest.mark.parametrize("value", [-0.5, 1001, "1", True, float("nan")])
def test_r2_gamma_out_of_range_is_a_clear_error(value):
    with pytest.raises(ConfigError, match=r"r2_gamma=.* is out of range: from 0 \(off\) to 1000"):
        TrainConfig.for_dataset("digits", r2_gamma=value)


class Nets:
    """What GANObjective needs of a run's networks, for a direct test."""

    def __init__(self, generator, discriminator):
        self.generator, self.discriminator = generator, discriminator
        self.G_forward, self.D_forward = generator, discriminator


def objective_for(tmp_path, **overrides):
    config = TrainConfig.for_dataset(str(tmp_path), **{"out_dir": str(tmp_path / "run"), **overrides})
    return config, GANObjective(config, torch.device("cpu"), "fp32", RunRandomness(0, "cpu"))


def test_r1_and_r2_run_every_r1_every_steps_and_are_scaled_by_it(tmp_path):
    config, objective = objective_for(tmp_path, r1_gamma=0.5, r2_gamma=2.0, r1_every=4, augment="none",
                                      resolution=16, width=8)
    torch.manual_seed(0)
    G = ResidualGenerator(resolution=16, channels=3, latent_dim=8, width=8)
    D = ResidualDiscriminator(resolution=16, channels=3, width=8)
    nets = Nets(G, D)
    batch = Batch(real=torch.rand(4, 3, 16, 16) * 2 - 1, real_labels=None, latents=torch.randn(4, 8), fake_labels=None)
    fake = G(batch.latents).detach()
    logs = {}
    terms = objective.discriminator_terms(nets, batch, fake, step=8, logs=logs)
    assert terms["r1"].item() == pytest.approx(0.5 * 0.5 * 4 * r1_penalty(D, batch.real).item(), rel=1e-5)
    assert terms["r2"].item() == pytest.approx(0.5 * 2.0 * 4 * r2_penalty(D, fake).item(), rel=1e-5)
    assert logs["r2"].item() == pytest.approx(4 * r2_penalty(D, fake).item(), rel=1e-5)
    logs = {}
    terms = objective.discriminator_terms(nets, batch, fake, step=9, logs=logs)
    assert not {"r1", "r2"} & (set(terms) | set(logs))
    _, without = objective_for(tmp_path, r1_gamma=0.5, r2_gamma=0.0, r1_every=4, augment="none", resolution=16)
    assert "r2" not in without.discriminator_terms(nets, batch, fake, step=8, logs={})


# ---------------------------------------------------------------------------
# Adaptive augmentation


def test_ada_is_an_augmentation_choice():
    assert AUGMENTATIONS[:3] == ("none", "flip", "diffaugment") and "ada" in AUGMENTATIONS


def test_ada_applies_each_augmentation_to_each_sample_with_probability_p():
    x = torch.rand(2000, 3, 8, 8) * 2 - 1
    rng = torch.Generator().manual_seed(0)
    assert torch.equal(adaptive_augment(x, 0.0, rng), x)
    changed_all = (adaptive_augment(x, 1.0, rng) != x).flatten(1).any(1).float().mean().item()
    assert changed_all == 1.0
    # A sample is left alone only when none of the three augmentations is chosen: (1 - p)^3.
    p = 0.3
    changed = (adaptive_augment(x, torch.tensor(p), rng) != x).flatten(1).any(1).float().mean().item()
    assert changed == pytest.approx(1 - (1 - p) ** 3, abs=0.04)


def test_ada_lets_the_gradient_through_to_the_generator():
    x = torch.rand(16, 3, 8, 8, requires_grad=True)
    augment(x, "ada", torch.Generator().manual_seed(1), probability=1.0).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_p_follows_the_sign_of_the_real_logits_at_ada_speed():
    ada = AdaptiveAugment(torch.device("cpu"), target=0.6, interval=4, images_to_full=1000)
    for _ in range(4):
        ada.observe(torch.full((25,), 3.0))  # D calls every training picture real: r_t = 1
    assert ada.p.item() == pytest.approx(100 / 1000)  # 4 steps of 25 pictures, 1000 pictures for 0 -> 1
    for _ in range(4, 8):
        ada.observe(torch.tensor([1.0, -1.0] * 10))  # r_t = 0 < target: down again
    assert ada.p.item() == pytest.approx(20 / 1000)
    for _ in range(8, 400):
        ada.observe(-torch.ones(25))
    assert ada.p.item() == 0.0  # never below 0
    for _ in range(400, 800):
        ada.observe(torch.ones(25))
    assert ada.p.item() == 1.0  # nor above 1
    copy = AdaptiveAugment(torch.device("cpu"))
    ada.observe(torch.ones(3))  # mid-interval sums travel too
    copy.load_state(ada.state())
    assert copy.observed == 801 and all(torch.equal(a, b) for a, b in zip(copy.state().values(), ada.state().values()))


def test_augment_p_is_logged_and_previews_never_show_augmentation(tmp_path, tiny_image_folder):
    config = TrainConfig.for_dataset(str(tiny_image_folder), out_dir=str(tmp_path / "run"), arch="resnet",
                                     resolution=16, width=8, latent_dim=8, batch_size=4, steps=4, augment="ada",
                                     log_every=2, sample_every=2, checkpoint_every=100, ema_decay=0.0)
    trainer = Trainer(config)
    events = list(trainer.run())
    assert all("augment_p" in event.losses for event in events)
    trainer.objective.adaptive.p.fill_(1.0)  # every sample D sees would be augmented
    samples, _ = trainer.preview()
    generator = trainer.sampling_generator().eval()
    with torch.no_grad():
        plain = generator(trainer.preview_latents).float()
    assert torch.equal(samples, plain)
    assert torch.equal(events[-1].preview_samples, plain)


def final_weights(run) -> dict:
    from safetensors.torch import load_file

    from gan_space.checkpoints import WEIGHTS_NAME, latest_checkpoint

    latest = latest_checkpoint(run)
    return {part: load_file(latest / part / WEIGHTS_NAME) for part in ("generator", "generator_raw", "discriminator")}


def test_resume_is_bit_exact_with_ada_rpgan_and_r2(tmp_path, tiny_image_folder):
    settings = dict(arch="resnet", resolution=16, width=8, latent_dim=8, batch_size=4, steps=12, augment="ada",
                    loss="rpgan", r1_gamma=0.2, r2_gamma=0.3, r1_every=2, log_every=2, sample_every=5,
                    checkpoint_every=100)
    straight = Trainer(TrainConfig.for_dataset(str(tiny_image_folder), out_dir=str(tmp_path / "straight"), **settings))
    # p starts halfway and moves fast here, so that what the checkpoint carries matters.
    straight.objective.adaptive.images_to_full = 40
    straight.objective.adaptive.p.fill_(0.5)
    list(straight.run())
    trainer = Trainer(TrainConfig.for_dataset(str(tiny_image_folder), out_dir=str(tmp_path / "split"), **settings))
    trainer.objective.adaptive.images_to_full = 40
    trainer.objective.adaptive.p.fill_(0.5)
    for event in trainer.run():
        if event.step == 5:
            trainer.request_stop()
    p_at_stop = trainer.objective.adaptive.p.clone()
    resumed = Trainer.resume(str(tmp_path / "split"))
    assert 0 < p_at_stop.item() and torch.equal(resumed.objective.adaptive.p, p_at_stop)  # "augment.p" came back
    resumed.objective.adaptive.images_to_full = 40
    list(resumed.run())
    a, b = final_weights(tmp_path / "straight"), final_weights(tmp_path / "split")
    for part in a:
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][name], b[part][name]) for name in a[part]), part
    assert torch.equal(resumed.objective.adaptive.p, straight.objective.adaptive.p)


# ---------------------------------------------------------------------------
# The families


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_the_residual_family_builds_each_size_and_starts_every_block_as_the_identity(resolution):
    torch.manual_seed(0)
    G = ResidualGenerator(resolution=resolution, channels=3, latent_dim=16, width=8, num_classes=3)
    D = ResidualDiscriminator(resolution=resolution, channels=3, width=8, num_classes=3)
    z, labels = torch.randn(5, 16), torch.tensor([0, 1, 2, 0, 1])
    images = G(z, labels)
    assert images.shape == (5, 3, resolution, resolution)
    assert D(images, labels).shape == (5,)
    blocks = [m for m in G.modules() if type(m).__name__ == "ResidualBlock"]
    x = torch.randn(2, blocks[0].conv_a.in_channels, 4, 4)
    assert torch.equal(blocks[0](x), x)  # fix-up: zero last convolution
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in list(G.modules()) + list(D.modules()))
    G.eval()
    assert G(z * 50, labels).abs().max() <= 1.0  # samples are pictures in [-1, 1]


def test_from_64_px_the_residual_networks_work_on_32x32_maps():
    torch.manual_seed(0)
    G = ResidualGenerator(resolution=64, channels=3, latent_dim=16, width=8)
    D = ResidualDiscriminator(resolution=64, channels=3, width=8)
    assert G.shuffle == D.shuffle == 2
    sizes = []
    hook = G.stages[-1].register_forward_hook(lambda module, args, out: sizes.append(out.shape[-1]))
    images = G(torch.randn(2, 16))
    hook.remove()
    assert sizes == [32] and images.shape == (2, 3, 64, 64)  # sub-pixel output: 2x2 pixels per position
    # Space-to-depth keeps every pixel: D's gradient reaches each one of them.
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    D(x).sum().backward()
    assert (x.grad != 0).float().mean() > 0.99
    assert ResidualGenerator(resolution=32, width=8).shuffle == 1


@pytest.mark.parametrize("resolution", [64, 128])
def test_the_fastgan_family_excites_large_maps_and_reconstructs_reals(resolution):
    torch.manual_seed(0)
    G = FastGANGenerator(resolution=resolution, channels=3, latent_dim=16, width=8)
    D = FastGANDiscriminator(resolution=resolution, channels=3, width=8)
    assert set(G.excite) == {str(s) for s in (64, 128) if s <= resolution}  # SLE from size/16 into 64 px and up
    images = G(torch.randn(4, 16))
    assert images.shape == (4, 3, resolution, resolution)
    logits, whole, quarter = D(images, reconstruct=3, part=2)
    assert logits.shape == (4,) and whole.shape == (3, 3, 32, 32) and quarter.shape == (3, 3, 32, 32)
    assert torch.equal(D(images), logits)
    # He initialisation: D's logits and input gradients start at a scale it can learn from
    # (PyTorch's default init left them ~1e-4 and ~1e-9 at 128 px, and D stalled at log 2).
    real = torch.rand(8, 3, resolution, resolution) * 2 - 1
    assert D(real).std() > 1e-2 and r1_penalty(D, real) > 1e-4


def test_the_fastgan_objective_adds_a_reconstruction_term_for_d(tmp_path):
    config = TrainConfig.for_dataset(str(tmp_path), out_dir=str(tmp_path / "run"), arch="fastgan", resolution=64,
                                     width=8, augment="none")
    assert get_family("fastgan").objective is FastGANObjective
    objective = FastGANObjective(config, torch.device("cpu"), "fp32", RunRandomness(0, "cpu"))
    torch.manual_seed(0)
    G, D = FastGANGenerator(resolution=64, latent_dim=16, width=8), FastGANDiscriminator(resolution=64, width=8)
    batch = Batch(real=torch.rand(2, 3, 64, 64) * 2 - 1, real_labels=None, latents=torch.randn(2, 16), fake_labels=None)
    logs = {}
    terms = objective.discriminator_terms(Nets(G, D), batch, G(batch.latents), step=1, logs=logs)
    assert "reconstruction" in terms and logs["recon"] > 0
    terms["reconstruction"].backward()
    assert D.decode_whole[1].weight.grad.abs().sum() > 0 and D.from_image[0].weight.grad.abs().sum() > 0
    assert G.to_image.weight.grad is None  # the term trains D alone


@pytest.mark.parametrize("arch, resolution", [("resnet", 16), ("fastgan", 64)])
def test_a_family_trains_saves_loads_and_steers(tmp_path, tiny_image_folder, arch, resolution):
    from gan_space.checkpoints import load_generator
    from gan_space.sampling import generate

    family = get_family(arch)
    assert isinstance(family.channels_last, bool) and family.mixed_precision and family.tags
    assert "width" in family.settings and family.resolution_error(resolution) is None
    config = TrainConfig.for_dataset(str(tiny_image_folder), out_dir=str(tmp_path / "run"), arch=arch,
                                     resolution=resolution, width=8, latent_dim=8, batch_size=4, steps=3,
                                     conditional=True, log_every=3, sample_every=3, checkpoint_every=3)
    events = list(Trainer(config).run())
    assert events[-1].status == "finished"
    if arch == "fastgan":
        assert "recon" in events[-1].losses
    generator = load_generator(tmp_path / "run")
    samples = generate(generator, num=4, seed=0, labels=1)
    assert samples.shape == (4, 3, resolution, resolution) and samples.abs().max() <= 1
    activations, layer = family.first_layer(generator, torch.randn(6, 8), torch.zeros(6, dtype=torch.long))
    assert activations.shape[0] == 6 and activations.dim() == 2 and layer


# ---------------------------------------------------------------------------
# Presets


def test_the_picture_preset_follows_the_resolution():
    default = TrainConfig.for_dataset("my/pictures")
    assert (default.arch, default.resolution, default.loss, default.augment) == ("resnet", 32, "rpgan", "ada")
    assert default.beta1 == 0.0 and default.r1_gamma > 0 and default.r2_gamma > 0 and default.ema_decay > 0
    assert TrainConfig.for_dataset("my/pictures", resolution=64).arch == "resnet"
    for resolution in (128, 256):
        assert TrainConfig.for_dataset("my/pictures", resolution=resolution).arch == "fastgan"
    assert TrainConfig.for_dataset("emoji").arch == "resnet"
    # The user's settings still win, and DCGAN keeps its own classic recipe.
    assert TrainConfig.for_dataset("my/pictures", resolution=64, width=48).width == 48
    dcgan = TrainConfig.for_dataset("my/pictures", arch="dcgan")
    assert (dcgan.loss, dcgan.augment, dcgan.beta1, dcgan.width) == ("non-saturating", "flip", 0.5, 64)
    assert PRESETS["digits"]["arch"] == "mlp" and PRESETS["points"]["arch"] == "mlp"


def test_p_rises_when_d_overfits_a_tiny_set_and_stays_low_on_a_large_varied_one(tmp_path):
    from gan_space.data import Dataset, load_dataset

    emoji = load_dataset("emoji", 16, 3)
    tiny = Dataset(name="tiny", kind="images", samples=emoji.samples[:16].clone())
    p = {}
    for name, data in (("tiny", tiny), ("large", emoji)):
        config = TrainConfig.for_dataset("emoji", out_dir=str(tmp_path / name), resolution=16, width=16, latent_dim=16,
                                         batch_size=16, steps=300, lr_g=5e-4, lr_d=5e-4, augment="ada", log_every=50,
                                         sample_every=10**6, checkpoint_every=10**6)
        trainer = Trainer(config, dataset=data)
        trainer.objective.adaptive.images_to_full = 5000  # ADA's speed, scaled to 300 steps of 16
        p[name] = [event.losses["augment_p"] for event in trainer.run()]
    # 16 pictures: D memorises them and calls them real with growing certainty, so p climbs;
    # 3,781 varied pictures over the same steps: D cannot, and p stays near 0.
    # (Seeds 0-2 on the project's CPU: tiny 0.47-0.69 at the end, large at most 0.15.)
    assert p["tiny"][-1] > 0.35 and max(p["large"]) < 0.25 and p["tiny"][-1] > 2 * p["large"][-1], p


# ---------------------------------------------------------------------------
# The built-in emoji set


def test_emoji_is_a_built_in_picture_set_with_categories_and_its_licence():
    from pathlib import Path

    from gan_space.data import BUILTIN_DATASETS, BUILTIN_IMAGE_SETS, EMOJI_SPRITE, load_dataset

    assert "emoji" in BUILTIN_IMAGE_SETS and "emoji" in BUILTIN_DATASETS
    data = load_dataset("emoji", 64, 3)
    assert data.samples.shape == (3781, 3, 64, 64) and data.samples.dtype == torch.uint8
    assert data.num_classes == 9 and "Smileys & Emotion" in data.class_names and data.labels.max() == 8
    assert (data.samples[:, :, 0, 0] == 255).float().mean() > 0.9  # pictures on white
    folder = EMOJI_SPRITE.parent
    licence, notice = (folder / "LICENSE-noto-emoji.txt").read_text(), (folder / "NOTICE-noto-emoji.txt").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence
    assert "Noto Emoji" in notice and "emoji-datasource-google 16.0.0" in notice
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "noto-emoji-64.npz"
    if shared.is_file():  # the development copy of the set: the package holds exactly its pixels
        import numpy as np

        reference = np.load(shared)
        assert np.array_equal(data.samples.permute(0, 2, 3, 1).numpy(), reference["images"])
        assert np.array_equal(data.labels.numpy(), reference["labels"])


def test_emoji_is_resized_with_antialiasing():
    from gan_space.data import load_dataset

    full = load_dataset("emoji", 64, 3).samples[:200].float()
    small = load_dataset("emoji", 16, 3).samples[:200].float()
    box = F.avg_pool2d(full, 4)  # what each 16 px pixel covers
    aliased = F.interpolate(full, size=16, mode="bilinear", align_corners=False)  # 4 of the 16 pixels each
    # Measured: 4.7 levels from the box average, 10.9 from the aliased resize.
    assert (small - box).abs().mean() < 7 < (small - aliased).abs().mean()
    grey = load_dataset("emoji", 32, 1)
    assert grey.samples.shape == (3781, 1, 32, 32)


def test_the_app_offers_emoji():
    from gan_space.ui import models, train_tab

    assert "emoji" in models.BUILTIN_DATASETS and "emoji" in train_tab.SOURCES
    assert TrainConfig.for_dataset("emoji").arch == "resnet"
