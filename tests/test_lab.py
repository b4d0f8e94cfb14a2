"""The GAN Lab: heat map and gradients on a discriminator whose answers are known,
single D / G updates, the warped latent grid, the picture, and the new point sets."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gan_space.data import DatasetError, load_dataset
from gan_space.lab import LabSession, diagnose, points_from_csv, render_scene


class TiltedDiscriminator(nn.Module):
    """logit = slope * x_norm[0]: 'real' to the right, 'fake' to the left."""

    def __init__(self, slope: float):
        super().__init__()
        self.slope = nn.Parameter(torch.tensor(slope))

    def forward(self, samples, labels=None):
        return self.slope * samples[:, 0]


@pytest.fixture(scope="module")
def session():
    return LabSession.create("ring8", seed=0, width=32)


def test_heatmap_on_a_known_discriminator(session):
    lab = LabSession.create("grid25", width=16)
    lab.D = TiltedDiscriminator(2.0)
    heat = lab.heatmap(32)
    assert heat.shape == (32, 32) and heat.dtype == torch.float32
    xs, ys = lab.grid_axes(32)
    assert (xs[1:] > xs[:-1]).all() and (ys[1:] < ys[:-1]).all()  # left to right, top to bottom
    expected = torch.sigmoid(2.0 * (xs - lab.offset[0]) / lab.scale)
    assert torch.allclose(heat, expected[None, :].expand(32, 32), atol=1e-6)
    assert float(heat[:, 0].max()) < 0.05 and float(heat[:, -1].min()) > 0.95  # grid25 spans x = -4..4


def test_generator_gradients_on_a_known_discriminator():
    lab = LabSession.create("ring8", width=16)
    lab.D = TiltedDiscriminator(1.5)
    points, push = lab.generator_gradients(50)
    assert points.shape == push.shape == (50, 2)
    assert torch.allclose(points, lab.samples()[:50], atol=1e-5)
    # Non-saturating loss softplus(-D): -dL/dx = sigmoid(-D) * slope / scale along x, nothing along y.
    logits = 1.5 * (points[:, 0] - lab.offset[0]) / lab.scale
    assert torch.allclose(push[:, 0], torch.sigmoid(-logits) * 1.5 / lab.scale, atol=1e-5)
    assert torch.allclose(push[:, 1], torch.zeros(50), atol=1e-6)


def test_stepping_d_only_g_only_and_both(session):
    g_before = [p.detach().clone() for p in session.G.parameters()]
    d_before = [p.detach().clone() for p in session.D.parameters()]
    losses = session.step(d=True, g=False)
    assert set(losses) == {"d", "d_real", "d_fake"} and session.steps_d == 1 and session.steps_g == 0
    assert all(torch.equal(a, b) for a, b in zip(g_before, session.G.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(d_before, session.D.parameters()))
    d_now = [p.detach().clone() for p in session.D.parameters()]
    losses = session.step(d=False, g=True)
    assert "g" in losses and session.steps_g == 1
    assert all(torch.equal(a, b) for a, b in zip(d_now, session.D.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, session.G.parameters()))
    session.run(10)
    assert session.step_count == 11 and len(session.history.steps) == 12
    assert np.isfinite(session.history.d_loss[-1]) and np.isfinite(session.history.g_loss[-1])
    assert session.history.modes and session.history.modes[-1][1] <= 8
    assert "D(x)" in session.reading()


def test_latent_grid_is_the_generator_applied_to_a_latent_slice(session):
    horizontal, vertical = session.latent_grid_transform(lines=5, points_per_line=7, extent=2.0)
    assert horizontal.shape == vertical.shape == (5, 7, 2)
    corner = torch.zeros(1, session.config.latent_dim)
    corner[0, 0], corner[0, 1] = -2.0, -2.0  # first point of the first horizontal line
    assert torch.allclose(horizontal[0, 0], session.samples(corner)[0], atol=1e-5)
    assert torch.allclose(vertical[0, 0], horizontal[0, 0], atol=1e-5)  # both start at the corner


def test_render_scene_draws_all_layers(session):
    picture = render_scene(session, size=256)
    assert picture.size == (256, 256) and picture.mode == "RGB"
    pixels = np.asarray(picture).reshape(-1, 3)
    colours = {tuple(c) for c in pixels[:: 7]}
    assert (20, 120, 60) in colours and (120, 50, 170) in colours  # real and generated points
    assert len(colours) > 50  # the heat map's shades, not a blank page


def test_new_point_sets_and_uploaded_points():
    for name in ("moons", "spiral"):
        data = load_dataset(name)
        assert data.kind == "points" and data.data_shape == [2] and torch.isfinite(data.samples).all()
    moons = load_dataset("moons").samples
    assert float(moons[:, 0].min()) < -0.8 and float(moons[:, 0].max()) > 1.8  # two interleaved half circles
    data = points_from_csv("x,y\n" + "\n".join(f"{i % 5},{i // 5}" for i in range(25)))
    assert data.samples.shape == (25, 2) and data.kind == "points"
    lab = LabSession.create(data, width=16)
    lab.step()
    assert lab.mode_coverage() == {}  # no modes to count for drawn points
    with pytest.raises(DatasetError, match="at least 8"):
        points_from_csv("1,2\n3,4\n")
    with pytest.raises(DatasetError, match="not two numbers"):
        points_from_csv("1,2\n3,4\nfoo,bar\n")
    with pytest.raises(DatasetError, match="images"):
        LabSession.create(load_dataset("digits", resolution=8))


def test_plain_words_reading():
    assert "discriminator is winning" in diagnose(0.95, 0.05)
    assert "fooling" in diagnose(0.3, 0.7)
    assert "Balanced" in diagnose(0.55, 0.45)


def drawing(mode: str = "RGBA", background=(0, 0, 0, 0)):
    from PIL import ImageDraw

    canvas = Image.new(mode, (400, 400), background)
    pen = ImageDraw.Draw(canvas)
    pen.ellipse((100, 100, 300, 300), outline=(0, 0, 0, 255) if mode == "RGBA" else (0, 0, 0), width=10)
    pen.rectangle((195, 20, 205, 30), fill=(20, 20, 20, 255) if mode == "RGBA" else (20, 20, 20))  # a dot on top
    return np.asarray(canvas)


def test_points_from_a_drawing():
    from gan_space.lab import MAX_DRAWN_POINTS, points_from_drawing

    for picture in (drawing(), drawing("RGB", (255, 255, 255))):  # transparent or white canvas
        data = points_from_drawing(picture)
        assert data.kind == "points" and data.data_shape == [2] and len(data) == MAX_DRAWN_POINTS
        radius = data.samples.norm(dim=1)
        # The canvas's 400 px span 8 units: the ring (radius 100 px) lies at 2 units, the dot at y = +3.5.
        on_ring = (radius > 1.75) & (radius < 2.05)
        on_dot = (data.samples[:, 1] > 3.3) & (data.samples[:, 0].abs() < 0.15)
        assert bool((on_ring | on_dot).all()) and int(on_dot.sum()) > 20

    with pytest.raises(DatasetError, match="0 inked pixel"):
        points_from_drawing(np.full((50, 50, 4), 255, dtype=np.uint8) * np.array([1, 1, 1, 0], dtype=np.uint8))
    with pytest.raises(DatasetError, match="RGB or RGBA"):
        points_from_drawing(np.zeros((50, 50)))
    lab = LabSession.create(points_from_drawing(drawing()), width=16)
    lab.run(3)
    assert lab.step_count == 3 and lab.samples().shape[1] == 2


def test_points_from_a_drawing_in_light_ink_on_a_dark_canvas():
    from PIL import ImageDraw

    from gan_space.lab import points_from_drawing

    canvas = Image.new("RGB", (200, 100), (30, 30, 30))
    ImageDraw.Draw(canvas).rectangle((10, 40, 189, 59), fill=(250, 250, 100))  # a horizontal bar
    data = points_from_drawing(np.asarray(canvas))
    assert len(data) == 180 * 20
    assert float(data.samples[:, 0].min()) < -3.5 and float(data.samples[:, 0].max()) > 3.5
    assert float(data.samples[:, 1].abs().max()) < 0.45  # the bar is around y = 0, 20 px = 0.8 units tall
