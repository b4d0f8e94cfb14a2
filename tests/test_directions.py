"""Latent directions (GANSpace): orthonormal, ordered by variance, found where a known
first layer puts them, smooth to walk along, cached next to the model."""

import json
from pathlib import Path

import pytest
import torch

from gan_space.directions import compute_directions, load_or_compute_directions, steer, walk
from gan_space.models import DCGANGenerator, MLPGenerator
from gan_space.sampling import generate, sample_latents

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints" / "digits"


def _stretched_mlp(scales):
    """An MLP generator whose first layer multiplies latent i by scales[i] (no bias)."""
    torch.manual_seed(0)
    generator = MLPGenerator(data_shape=[2], latent_dim=len(scales), hidden_dim=len(scales), num_layers=1)
    with torch.no_grad():
        generator.net[0].weight.copy_(torch.diag(torch.tensor(scales)))
        generator.net[0].bias.zero_()
    return generator


def test_directions_are_orthonormal_ordered_and_recover_a_known_first_layer():
    scales = [0.5, 6.0, 1.0, 3.0, 0.1, 2.0]
    found = compute_directions(_stretched_mlp(scales), num_components=4, num_samples=4000)
    assert found.directions.shape == (4, 6)
    gram = found.directions @ found.directions.T
    assert torch.allclose(gram, torch.eye(4), atol=1e-5)
    assert (found.variances[:-1] >= found.variances[1:]).all()
    assert 0 < float(found.explained.sum()) <= 1 and (found.explained > 0).all()
    # The strongest-scaled latent axes, in order: 1 (x6), 3 (x3), 5 (x2), 2 (x1).
    for direction, axis in zip(found.directions, [1, 3, 5, 2]):
        assert abs(float(direction[axis])) > 0.99, (direction, axis)


def test_directions_of_a_dcgan_and_of_a_conditional_mlp():
    torch.manual_seed(0)
    dcgan = DCGANGenerator(resolution=16, channels=1, latent_dim=12, width=8)
    found = compute_directions(dcgan, num_components=5, num_samples=512)
    assert found.layer == "project" and found.directions.shape == (5, 12)
    assert torch.allclose(found.directions @ found.directions.T, torch.eye(5), atol=1e-5)
    conditional = MLPGenerator(data_shape=[1, 8, 8], latent_dim=8, hidden_dim=32, num_layers=2, num_classes=10,
                               output_activation="tanh")
    assert compute_directions(conditional, num_components=3, num_samples=256).directions.shape == (3, 8)
    with pytest.raises(ValueError, match="num_components"):
        compute_directions(conditional, num_components=9)


def test_moving_along_a_direction_changes_samples_smoothly():
    from gan_space.models import MLPGenerator as Loader

    generator = Loader.from_pretrained(SHIPPED)
    found = compute_directions(generator, num_components=5, num_samples=2048)
    latent = sample_latents(1, generator.config.latent_dim, seed=3)[0]
    frames = generate(generator, latents=walk(latent, found, 0, frames=41, span=3.0))
    total = (frames[-1] - frames[0]).flatten().norm()
    assert float(total) > 1.0  # the direction does change the picture...
    # ...continuously: with 4 times finer steps the largest change between neighbouring
    # frames shrinks several times (a GAN can turn a digit quickly, never in one jump).
    fine = generate(generator, latents=walk(latent, found, 0, frames=161, span=3.0))
    coarse_jump = (frames[1:] - frames[:-1]).flatten(1).norm(dim=1).max()
    fine_jump = (fine[1:] - fine[:-1]).flatten(1).norm(dim=1).max()
    assert float(fine_jump) < 0.5 * float(coarse_jump) and float(fine_jump) < 0.15 * float(total)
    # The top direction changes samples at least comparably to the fifth.
    last = generate(generator, latents=walk(latent, found, 4, frames=2, span=3.0))
    assert float((frames[-1] - frames[0]).norm()) > 0.5 * float((last[1] - last[0]).norm())
    # steer() with amounts is the same move as walk()'s end point.
    assert torch.allclose(steer(latent, found, [3.0]), walk(latent, found, 0, frames=2)[1], atol=1e-6)
    assert torch.equal(steer(latent, found, [0, 0, 0]), latent)


def test_directions_are_cached_next_to_the_model_and_recomputed_when_weights_change(tmp_path):
    generator = _stretched_mlp([1.0, 4.0, 2.0, 0.5])
    folder = tmp_path / "model"
    generator.save_pretrained(folder)
    first = load_or_compute_directions(generator, folder, num_components=2, num_samples=500)
    assert (folder / "directions.safetensors").exists()
    info = json.loads((folder / "directions.json").read_text())
    assert info["layer"] == "net.0+activation" and len(info["explained_variance"]) == 2
    again = load_or_compute_directions(generator, folder, num_components=2, num_samples=500)
    assert torch.equal(first.directions, again.directions)
    # New weights: stale cache, new directions.
    with torch.no_grad():
        generator.net[0].weight.copy_(torch.diag(torch.tensor([4.0, 1.0, 2.0, 0.5])))
    generator.save_pretrained(folder)
    changed = load_or_compute_directions(generator, folder, num_components=2, num_samples=500)
    assert abs(float(changed.directions[0, 0])) > 0.99
    # A separate cache folder keeps the model's folder untouched.
    other = tmp_path / "cache"
    load_or_compute_directions(generator, folder, cache_dir=other, num_components=2, num_samples=500)
    assert list(other.rglob("directions.safetensors"))
