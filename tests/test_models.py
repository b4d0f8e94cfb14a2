import pytest
import torch

from gan_space.checkpoints import load_generator
from gan_space.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator


@pytest.mark.parametrize("resolution", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(resolution, channels):
    generator = DCGANGenerator(resolution=resolution, channels=channels, latent_dim=20, width=8)
    discriminator = DCGANDiscriminator(resolution=resolution, channels=channels, width=8)
    images = generator(torch.randn(4, 20))
    assert images.shape == (4, channels, resolution, resolution)
    assert images.min() >= -1 and images.max() <= 1
    assert discriminator(images).shape == (4,)


def test_conditional_and_packed_models():
    generator = DCGANGenerator(resolution=32, channels=1, latent_dim=16, width=8, num_classes=10)
    discriminator = DCGANDiscriminator(resolution=32, channels=1, width=8, num_classes=10, pack=2,
                                       spectral_norm=True)
    labels = torch.arange(8) % 10
    images = generator(torch.randn(8, 16), labels)
    assert discriminator(images, labels).shape == (4,)  # one logit per pack of two
    # Different labels with the same latent give different images.
    z = torch.randn(1, 16).repeat(2, 1)
    generator.eval()
    pair = generator(z, torch.tensor([0, 1]))
    assert not torch.allclose(pair[0], pair[1])
    with pytest.raises(ValueError, match="labels"):
        generator(torch.randn(2, 16))


def test_mlp_points_and_images():
    generator = MLPGenerator(data_shape=[2], latent_dim=4, hidden_dim=16, data_offset=[1.0, -1.0], data_scale=2.0)
    points = generator(torch.randn(10, 4))
    assert points.shape == (10, 2)
    assert torch.allclose(generator.to_data(torch.zeros(1, 2)), torch.tensor([[1.0, -1.0]]))
    discriminator = MLPDiscriminator(data_shape=[2], hidden_dim=16, pack=2)
    assert discriminator(points).shape == (5,)
    image_generator = MLPGenerator(data_shape=[1, 8, 8], latent_dim=4, hidden_dim=16, output_activation="tanh")
    assert image_generator(torch.randn(3, 4)).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("bad, match", [
    (dict(resolution=48), "resolution"), (dict(channels=2), "channels"), (dict(width=2), "width")])
def test_dcgan_rejects_bad_config(bad, match):
    with pytest.raises(ValueError, match=match):
        DCGANGenerator(**bad)


def test_save_load_round_trip_is_exact(tmp_path):
    generator = DCGANGenerator(resolution=32, channels=3, latent_dim=12, width=8, num_classes=3)
    generator.train()
    for _ in range(3):  # move the BatchNorm running statistics away from their init
        generator(torch.randn(16, 12), torch.randint(0, 3, (16,)))
    generator.save_pretrained(tmp_path / "g")
    loaded = load_generator(tmp_path / "g")
    assert not loaded.training
    original, restored = generator.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for name in original:
        assert torch.equal(original[name], restored[name]), name
    assert any("running_mean" in name for name in original)


def test_discriminator_spectral_norm_round_trip(tmp_path):
    discriminator = DCGANDiscriminator(resolution=32, channels=1, width=8, spectral_norm=True)
    discriminator(torch.randn(2, 1, 32, 32))
    discriminator.save_pretrained(tmp_path / "d")
    loaded = DCGANDiscriminator.from_pretrained(tmp_path / "d")
    for name, tensor in discriminator.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
