import torch

from gan_space.models import DCGANGenerator, MLPGenerator
from gan_space.sampling import generate, image_grid, interpolate, sample_latents, scatter_plot, slerp


def test_each_sample_has_its_own_seed():
    many = sample_latents(8, 10, seed=100)
    assert torch.equal(many[3], sample_latents(1, 10, seed=103)[0])
    assert not torch.equal(many[0], many[1])


def test_truncation_shrinks_latents():
    assert torch.allclose(sample_latents(4, 10, seed=1, truncation=0.5), 0.5 * sample_latents(4, 10, seed=1))


def test_slerp_endpoints_and_norm():
    a, b = torch.randn(64), torch.randn(64)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    middle = slerp(a, b, 0.5)
    assert abs(middle.norm() - (a.norm() + b.norm()) / 2) < 0.2 * a.norm()


def test_generate_is_reproducible_and_in_range():
    torch.manual_seed(0)
    generator = DCGANGenerator(resolution=32, channels=3, latent_dim=8, width=8, num_classes=4)
    first = generate(generator, 6, seed=5)
    assert first.shape == (6, 3, 32, 32) and first.abs().max() <= 1
    assert torch.equal(first, generate(generator, 6, seed=5))
    assert torch.equal(generate(generator, 2, seed=5, labels=3), generate(generator, 2, seed=5, labels=[3, 3]))


def test_points_come_back_in_data_coordinates():
    generator = MLPGenerator(data_shape=[2], latent_dim=4, hidden_dim=8, data_offset=[100.0, 100.0])
    assert generate(generator, 50).mean() > 90


def test_interpolation_moves_smoothly_from_one_seed_to_the_other():
    torch.manual_seed(0)
    generator = DCGANGenerator(resolution=32, channels=1, latent_dim=8, width=8)
    frames = interpolate(generator, 1, 2, frames=9)
    assert torch.allclose(frames[0], generate(generator, 1, seed=1)[0], atol=1e-5)
    assert torch.allclose(frames[-1], generate(generator, 1, seed=2)[0], atol=1e-5)
    steps = (frames[1:] - frames[:-1]).abs().mean(dim=(1, 2, 3))
    assert steps.max() < 3 * steps.mean() + 1e-6


def test_grid_and_scatter_pictures():
    grid = image_grid(torch.zeros(10, 1, 8, 8))
    assert grid.size == (4 * 64, 3 * 64)  # 10 samples: 4 columns x 3 rows, each enlarged to 64 px
    picture = scatter_plot(torch.randn(100, 2), real=torch.randn(100, 2), size=128)
    assert picture.size == (128, 128)
