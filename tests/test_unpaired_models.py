"""The unpaired translation families (gan_space.models.cut, gan_space.models.cyclegan) and
their update steps (gan_space.objectives.unpaired): shapes, no transposed convolutions
and no picture statistics, both CycleGAN directions, training steps, saved state."""

import pytest
import torch
from safetensors.torch import load_file, save_file

from gan_space.models import (CUTDiscriminator, CUTGenerator, CycleGANDiscriminator, CycleGANGenerator, DataSpec,
                              family_names, get_family)
from gan_space.networks import Networks
from gan_space.objectives import Batch, CUTObjective, CycleGANObjective
from gan_space.randomness import RunRandomness, seeded_construction
from gan_space.training import TrainConfig
from gan_space.translation import apply_tiled, translate

CPU = torch.device("cpu")


def _pictures(count, channels=3, size=16, seed=0):
    return torch.rand(count, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _random_weights(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Residual models start as the identity (their last layers at zero): random weights
    everywhere give tiles something to disagree about."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return model.eval()


def test_both_families_are_registered_for_unpaired_data_with_their_update_steps():
    assert {"cut", "cyclegan"} <= set(family_names("unpaired"))
    assert not {"cut", "cyclegan"} & (set(family_names("images")) | set(family_names("pairs")))
    assert get_family("cut").objective is CUTObjective
    assert get_family("cyclegan").objective is CycleGANObjective
    config = TrainConfig(width=8)
    spec = DataSpec(kind="unpaired", data_shape=(3, 64, 64), condition_shape=(1, 64, 64))
    generator, discriminator = get_family("cut").build(config, spec)
    assert (generator.config.in_channels, generator.config.channels, generator.config.scale) == (1, 3, 1)
    assert discriminator.config.layers == 2  # 34x34 patches at 64 px
    generator, discriminator = get_family("cyclegan").build(config, spec)
    assert generator.to_a.channels == 1 and discriminator.d_a.config.channels == 1


@pytest.mark.parametrize("in_channels, channels", [(3, 3), (1, 3), (3, 1)])
def test_cut_generator_shapes_and_its_residual_start(in_channels, channels):
    generator = CUTGenerator(in_channels=in_channels, channels=channels, width=8, blocks=2)
    picture = _pictures(2, in_channels, size=16)
    output = generator(picture)
    assert output.shape == (2, channels, 16, 16)
    if in_channels == channels:
        assert torch.equal(output, picture)  # the correction starts at zero
    assert generator(_pictures(1, in_channels, size=13)).shape == (1, channels, 13, 13)  # any size: padded, cropped
    assert generator.multiple == 4 and generator.is_translator and generator.directions == ("AtoB",)
    assert generator.translator("AtoB") is generator
    with pytest.raises(ValueError, match="cyclegan"):
        generator.translator("BtoA")


def test_cut_encoder_features_and_projection_heads():
    generator = CUTGenerator(width=8, blocks=2, nce_features=16)
    picture = _pictures(2, size=16)
    features = generator.encode_features(picture)
    assert [tuple(f.shape) for f in features] == [(2, 3, 16, 16), (2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4),
                                                  (2, 32, 4, 4)]
    assert torch.equal(features[0], picture)  # layer 0 is the picture itself
    assert [f.shape[1] for f in generator.encode_features(picture, [3, 1])] == [32, 8]  # in the order asked
    projected = generator.project(2, features[2], torch.tensor([0, 5, 63]))
    assert projected.shape == (2, 3, 16)
    assert torch.allclose(projected.norm(dim=-1), torch.ones(2, 3))  # unit length, as PatchNCE compares
    with pytest.raises(ValueError, match="layers"):
        generator.encode_features(picture, [9])
    with pytest.raises(ValueError, match="nce_layers"):
        CUTGenerator(width=8, blocks=2, nce_layers=(0, 9))
    with pytest.raises(ValueError, match="scale"):
        CUTGenerator(width=8, scale=2)


def test_cyclegan_maps_both_ways_and_each_way_applies_in_tiles():
    generator = _random_weights(CycleGANGenerator(in_channels=1, channels=3, width=8, blocks=2), seed=1)
    grey, colour = _pictures(2, 1, size=20), _pictures(2, 3, size=20)
    assert generator(grey).shape == (2, 3, 20, 20)
    assert generator.reverse(colour).shape == (2, 1, 20, 20)
    backwards = generator.translator("BtoA")
    assert (backwards.config.in_channels, backwards.config.channels) == (3, 1) and backwards.is_translator
    with torch.no_grad():
        assert torch.allclose(translate(backwards, colour), generator.reverse(colour).clamp(-1, 1))
    assert apply_tiled(backwards, _pictures(1, 3, size=40), tile=16, overlap=8).shape == (1, 1, 40, 40)
    with pytest.raises(ValueError, match="direction"):
        generator(grey, direction="sideways")
    discriminator = CycleGANDiscriminator(channels=3, a_channels=1, width=8, layers=1)
    assert discriminator(colour).shape == discriminator(grey, domain="A").shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="domain"):
        discriminator(colour, domain="C")


def _all_modules(*models):
    return [module for model in models for module in model.modules()]


def test_no_transposed_convolutions_and_no_layers_that_use_picture_statistics():
    config = TrainConfig(width=8)
    spec = DataSpec(kind="unpaired", data_shape=(3, 64, 64), condition_shape=(3, 64, 64))
    models = [*get_family("cut").build(config, spec), *get_family("cyclegan").build(config, spec)]
    modules = _all_modules(*models)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in modules)
    statistics = (torch.nn.modules.batchnorm._BatchNorm, torch.nn.modules.instancenorm._InstanceNorm,
                  torch.nn.GroupNorm, torch.nn.LayerNorm)
    assert not any(isinstance(m, statistics) for m in modules)
    assert sum(isinstance(m, torch.nn.Upsample) and m.mode == "nearest" for m in _all_modules(models[0])) == 2


def test_the_cut_generator_tiles_without_seams():
    model = _random_weights(CUTGenerator(width=8, blocks=2), seed=4)
    picture = torch.nn.functional.avg_pool2d(_pictures(1, size=150, seed=5)[..., :130], 3, 1, 1)
    whole = translate(model, picture)
    tiled = apply_tiled(model, picture, tile=32, overlap=16)
    butted = apply_tiled(model, picture, tile=32, overlap=0)  # tiles butted together: the seams show
    assert tiled.shape == whole.shape == (1, 3, 150, 130)
    assert (butted - whole).abs().max() > 0.01  # this model's tiles do disagree at their edges
    assert (tiled - whole).abs().max() < (butted - whole).abs().max() / 3
    # No column of the blended picture jumps more than elsewhere in it (a seam is a jump).
    jumps = (tiled - whole).diff(dim=-1).abs().mean(dim=(0, 1, 2))
    assert jumps.max() < 0.01 and jumps.max() < (butted - whole).diff(dim=-1).abs().mean(dim=(0, 1, 2)).max() / 4


@pytest.mark.parametrize("make", [
    lambda: CUTGenerator(in_channels=1, channels=3, width=8, blocks=2, nce_features=16),
    lambda: CUTDiscriminator(channels=3, width=8, layers=2),
    lambda: CycleGANGenerator(in_channels=3, channels=1, width=8, blocks=1),
    lambda: CycleGANDiscriminator(channels=1, a_channels=3, width=8, layers=1),
])
def test_save_and_load_through_safetensors(make, tmp_path):
    model = _random_weights(make(), seed=2)
    model.save_pretrained(tmp_path / "model")
    files = {p.name for p in (tmp_path / "model").iterdir()}
    assert "config.json" in files and any(name.endswith(".safetensors") for name in files)
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    loaded = type(model).from_pretrained(tmp_path / "model").eval()
    settings = {key: list(value) if isinstance(value, tuple) else value for key, value in model.config.items()
                if not key.startswith("_")}
    assert type(loaded) is type(model) and {key: loaded.config[key] for key in settings} == settings
    picture = _pictures(2, model.config.get("in_channels", model.config.channels), size=16)
    with torch.no_grad():
        assert torch.equal(loaded(picture), model(picture))


# ---------------------------------------------------------------------------
# The update steps, driven as the trainer drives them


def _networks(arch, size=16, seed=0, **settings):
    config = TrainConfig(width=8, loss="least-squares", r1_gamma=0.0, lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.999,
                         ema_decay=0.99, **settings)
    family = get_family(arch)
    spec = DataSpec(kind="unpaired", data_shape=(3, size, size), condition_shape=(3, size, size))
    with seeded_construction(seed):
        generator, discriminator = family.build(config, spec)
    networks = Networks(generator, discriminator, config, CPU, "fp32", family=family)
    objective = family.objective(config, CPU, "fp32", RunRandomness(seed, CPU))
    return networks, objective


def _batch(count=4, size=16, seed=0):
    a, b = _pictures(count, size=size, seed=seed), _pictures(count, size=size, seed=seed + 100).clamp(0, 1)
    return Batch(real=b, real_labels=None, latents=b.new_empty(count, 0), fake_labels=None, condition=a)


def _step(networks, objective, batch, step):
    fake, d_logs = objective.discriminator_step(networks, batch, step)
    g_logs = objective.generator_step(networks, batch, fake)
    networks.update_ema()
    return {name: float(value) for name, value in {**d_logs, **g_logs}.items()}


def test_cut_steps_learn_the_patch_loss_and_the_discriminator():
    networks, objective = _networks("cut")
    batch = _batch()
    logs = [_step(networks, objective, batch, step) for step in range(15)]
    assert {"d", "d_total", "g", "adversarial", "nce", "nce_identity"} <= set(logs[0])
    last = {name: sum(log[name] for log in logs[-5:]) / 5 for name in ("nce", "d")}
    assert last["nce"] < 0.5 * logs[0]["nce"]  # the heads (and G) learn to tell patches apart
    assert last["d"] < logs[0]["d"]  # D learns to tell B from G(A)
    # The projection heads are in the generator: its optimiser trains them, the EMA averages them.
    head = networks.generator.projections[0][0].weight
    assert not torch.equal(head, networks.ema.model.projections[0][0].weight)
    without_identity, objective = _networks("cut", identity_weight=0.0)
    assert "nce_identity" not in _step(without_identity, objective, batch, 0)


def test_cyclegan_steps_train_both_directions_with_history_buffers():
    networks, objective = _networks("cyclegan", history_size=6)
    before = {name: p.detach().clone() for name, p in
              [*networks.generator.named_parameters(), *networks.discriminator.named_parameters()]}
    logs = [_step(networks, objective, _batch(seed=step % 3), step) for step in range(12)]
    assert {"d", "g", "adversarial", "cycle", "identity", "d_real", "d_fake"} <= set(logs[0])
    assert logs[-1]["d"] < 0.7 * logs[0]["d"]  # both discriminators learn
    after = dict([*networks.generator.named_parameters(), *networks.discriminator.named_parameters()])
    for prefix in ("to_b.", "to_a.", "d_b.", "d_a."):  # every network of both directions learnt
        changed = [name for name in before if name.startswith(prefix) and not torch.equal(before[name], after[name])]
        assert changed, prefix
    assert len(objective.history["A"]) == len(objective.history["B"]) == 6


def test_cyclegan_objective_state_resumes_its_history_buffers_exactly(tmp_path):
    networks, objective = _networks("cyclegan", history_size=5)
    for step in range(3):
        _step(networks, objective, _batch(seed=step), step)
    state = objective.state()
    assert state["history.a.images"].shape == state["history.b.images"].shape == (5, 3, 16, 16)
    save_file(state, tmp_path / "objective.safetensors")
    _, resumed = _networks("cyclegan", history_size=5)
    resumed.load_state(load_file(tmp_path / "objective.safetensors"))
    resumed.randomness.noise.set_state(objective.randomness.noise.get_state())
    fakes = _pictures(4, size=16, seed=9)
    for domain in ("A", "B"):
        assert torch.equal(resumed.history[domain].images, objective.history[domain].images)
        assert torch.equal(resumed.history[domain].query(fakes, resumed.randomness.noise),
                           objective.history[domain].query(fakes, objective.randomness.noise))


def test_cut_patch_sampling_draws_from_the_runs_stream():
    networks, objective = _networks("cut")
    batch = _batch()
    fake = objective.generate(networks, batch, grad=False)
    start = objective.randomness.noise.get_state()
    first = objective.patch_nce(networks.generator, batch.condition, fake)
    objective.randomness.noise.set_state(start)
    again = objective.patch_nce(networks.generator, batch.condition, fake)
    assert torch.equal(first, again)  # the same stream position: the same patches
    assert not torch.equal(objective.randomness.noise.get_state(), start)


@pytest.mark.parametrize("bad", [dict(cycle_weight=-1.0), dict(identity_weight=float("nan")), dict(nce_weight=2000.0),
                                 dict(history_size=2.5), dict(history_size=-1), dict(history_size=True)])
def test_the_unpaired_settings_are_checked(bad):
    from gan_space.training import ConfigError

    with pytest.raises(ConfigError, match=next(iter(bad))):
        TrainConfig(**bad)
