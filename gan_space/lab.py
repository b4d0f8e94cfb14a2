"""A GAN Lab for 2-D data: step the game one update at a time and look inside it.

    session = LabSession.create("ring8")
    session.step(d=True, g=False)        # one discriminator update only
    session.step()                       # one of each
    picture = render_scene(session)      # real/fake points, D's heat map, G's gradients, latent grid

The session has the parts of a training run (data source, networks, optimisers) and
updates through the trainer's own update step (`gan_space.objectives`), so every loss,
penalty included, behaves as in training; it keeps none of the run's bookkeeping: no
EMA, no learning-rate decay, no checkpoints. Everything it returns is in data
coordinates; the networks work in the normalised space the trainer uses
(x_norm = (x - offset) / scale).
"""

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw

from .data import BUILTIN_POINT_SETS, DatasetError, load_dataset, points_dataset
from .metrics import mixtures
from .datasource import make_source
from .diagnostics import LAB_ADVICE, read_game
from .losses import generator_loss
from .models import DataSpec
from .networks import Networks
from .objectives import Batch, GANObjective
from .randomness import RunRandomness
from .training import PRESETS, TrainConfig

# The lab's defaults: the points preset, smaller and with plain SGD-like settings a learner
# can follow step by step (no EMA, constant learning rates).
LAB_SETTINGS = dict(PRESETS["points"], width=64, batch_size=256, steps=1_000_000, ema_decay=0.0,
                    lr_decay_fraction=0.0, r1_every=1, sample_every=10**6, checkpoint_every=10**6, log_every=10**6)
MAX_CSV_POINTS = 100_000


def points_from_csv(text: str | bytes, name: str = "uploaded points"):
    """A CSV of x, y rows (a header row is allowed; other columns are ignored) -> a Dataset."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    rows = []
    for row in csv.reader(io.StringIO(text)):
        if len(rows) >= MAX_CSV_POINTS:
            break
        if len(row) < 2:
            continue
        try:
            x, y = float(row[0]), float(row[1])
        except ValueError:
            if not rows:  # a header
                continue
            raise DatasetError(f"row {len(rows) + 1} of the CSV is not two numbers: {row[:2]}") from None
        rows.append((x, y))
    if len(rows) < 8:
        raise DatasetError(f"the CSV holds {len(rows)} x, y row(s); give at least 8 points")
    return points_dataset(name, rows)


MAX_DRAWN_POINTS = 4000
DRAWING_EXTENT = 8.0  # the drawing's longer side spans this many units (grid25 spans -4..4)


def points_from_drawing(image, name: str = "drawn points", seed: int = 0):
    """A drawing, an (H, W, 3 or 4) array of strokes on a transparent or plain canvas ->
    a Dataset of 2-D points: the inked pixels, up to MAX_DRAWN_POINTS of them picked at
    random, each jittered within its pixel, with y pointing up."""
    pixels = np.asarray(image)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise DatasetError(f"a drawing must be an RGB or RGBA picture; got an array of shape {pixels.shape}")
    if pixels.shape[2] == 4 and (pixels[..., 3] < 128).any():
        inked = pixels[..., 3] >= 128  # a transparent canvas: every opaque pixel is ink
    else:  # an opaque canvas: ink is what stands out from the background (its median)
        luminance = pixels[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        inked = np.abs(luminance - np.median(luminance)) > 60
    rows, columns = np.nonzero(inked)
    if len(rows) < 8:
        raise DatasetError(f"the drawing has {len(rows)} inked pixel(s): draw some strokes on the canvas, then press "
                           f"New game")
    rng = np.random.default_rng(seed)
    if len(rows) > MAX_DRAWN_POINTS:
        keep = rng.choice(len(rows), MAX_DRAWN_POINTS, replace=False)
        rows, columns = rows[keep], columns[keep]
    height, width = inked.shape
    unit = max(height, width) / DRAWING_EXTENT
    x = (columns + rng.random(len(columns)) - width / 2) / unit
    y = (height / 2 - rows - rng.random(len(rows))) / unit
    return points_dataset(name, np.stack([x, y], 1))


@dataclass
class LabHistory:
    steps: list = field(default_factory=list)
    d_loss: list = field(default_factory=list)
    g_loss: list = field(default_factory=list)
    d_real: list = field(default_factory=list)
    d_fake: list = field(default_factory=list)
    modes: list = field(default_factory=list)  # (step, modes captured, high-quality share) for mixtures


class LabSession:
    """One GAN on 2-D points, advanced by hand.

    It has the parts a training run has (the same data source, networks and update step,
    gan_space.objectives), without the run's bookkeeping: no EMA, no learning-rate decay,
    no checkpoints, no run folder."""

    def __init__(self, data, config: TrainConfig):
        if data.kind != "points" or data.data_shape != [2]:
            raise ValueError("the lab shows 2-D point data: pick ring8, grid25, moons, spiral or upload x, y points")
        if config.pack != 1:
            raise ValueError("the lab needs pack=1: its heat map scores one point at a time")
        self.data = data
        self.config = config
        device = torch.device("cpu")
        spec = DataSpec(kind="points", data_shape=(2,), offset=tuple(data.offset), scale=data.scale)
        self.networks = Networks.build(config, spec, device, "fp32", keep_ema=False)
        self.G, self.D = self.networks.generator, self.networks.discriminator
        self.randomness = RunRandomness(config.seed, device)
        self.objective = GANObjective(config, device, "fp32", self.randomness)
        self.source = make_source(data, device, seed=config.seed + 1, use_labels=False)
        self.offset = torch.tensor(data.offset, dtype=torch.float32)
        self.scale = float(data.scale)
        self.real_points = data.samples[:2000]
        self.bounds = _square_bounds(data.samples)
        self.history = LabHistory()
        self.steps_d = self.steps_g = 0
        self.fixed_latents = torch.randn(600, self.config.latent_dim, generator=torch.Generator().manual_seed(7))
        self.last_losses: dict = {}

    @classmethod
    def create(cls, dataset="ring8", seed: int = 0, **overrides) -> "LabSession":
        """A fresh lab on a built-in point set (a name) or on a Dataset of points."""
        data = dataset if not isinstance(dataset, str) else load_dataset(dataset, seed=seed)
        if data.kind != "points":
            raise DatasetError(f"{data.name} holds images; the lab needs 2-D points ({', '.join(BUILTIN_POINT_SETS)})")
        settings = {**LAB_SETTINGS, **overrides}
        config = TrainConfig(dataset=data.name if data.name in BUILTIN_POINT_SETS else "points", seed=seed,
                             device="cpu", **settings)
        return cls(data, config)

    # -- one update -------------------------------------------------------------------------

    def next_batch(self) -> Batch:
        real, _ = self.source.next_batch(self.config.batch_size)
        return Batch(real=real, real_labels=None, latents=self.randomness.latents(real.shape[0], self.config.latent_dim),
                     fake_labels=None)

    def step(self, d: bool = True, g: bool = True, batch: Batch | None = None) -> dict:
        """One discriminator update and/or one generator update (the trainer's update step,
        gan_space.objectives); their losses. `batch`: the batch to use (default: drawn)."""
        batch = batch if batch is not None else self.next_batch()
        losses, fake = {}, None
        if d:
            fake, logs = self.objective.discriminator_step(self.networks, batch, self.steps_d, keep_fake_graph=g)
            self.steps_d += 1
            losses["d"] = float(logs["d_total"])
            losses["d_real"] = float(logs["d_real"])
            losses["d_fake"] = float(logs["d_fake"])
        if g:
            logs = self.objective.generator_step(self.networks, batch, fake)
            self.steps_g += 1
            losses["g"] = float(logs["g"])
            losses.setdefault("d_fake", float(logs["g_fake"]))
        self.last_losses = losses
        self._record(losses)
        return losses

    def run(self, num_steps: int) -> dict:
        losses = {}
        for _ in range(num_steps):
            losses = self.step()
        return losses

    @property
    def step_count(self) -> int:
        return max(self.steps_d, self.steps_g)

    def _record(self, losses: dict) -> None:
        h = self.history
        h.steps.append(self.step_count)
        for name in ("d_loss", "g_loss", "d_real", "d_fake"):
            key = {"d_loss": "d", "g_loss": "g"}.get(name, name)
            getattr(h, name).append(losses.get(key, float("nan")))
        if self.has_modes and (self.step_count % 25 == 0 or self.step_count < 25):
            metrics = self.mode_coverage()
            if not h.modes or h.modes[-1][0] != self.step_count:
                h.modes.append((self.step_count, metrics["modes"], metrics["high_quality"]))

    # -- looking inside ---------------------------------------------------------------------

    def to_normalised(self, points: torch.Tensor) -> torch.Tensor:
        return (points - self.offset) / self.scale

    @torch.no_grad()
    def samples(self, latents: torch.Tensor | None = None) -> torch.Tensor:
        """Generated points in data coordinates (the fixed latents unless given)."""
        latents = self.fixed_latents if latents is None else latents
        return self.G.to_data(self.G(latents))

    @torch.no_grad()
    def heatmap(self, resolution: int = 64) -> torch.Tensor:
        """D's probability that a point is real, over a resolution x resolution grid of the
        plane in data coordinates: row 0 is the top (largest y), column 0 the left (smallest x)."""
        xs, ys = self.grid_axes(resolution)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points = torch.stack([grid_x.flatten(), grid_y.flatten()], 1)
        return torch.sigmoid(self.D(self.to_normalised(points))).reshape(resolution, resolution)

    def grid_axes(self, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Cell-centre x coordinates (left to right) and y coordinates (top to bottom)."""
        x0, x1, y0, y1 = self.bounds
        half = 0.5 / resolution
        xs = torch.linspace(x0 + (x1 - x0) * half, x1 - (x1 - x0) * half, resolution)
        ys = torch.linspace(y1 - (y1 - y0) * half, y0 + (y1 - y0) * half, resolution)
        return xs, ys

    def generator_gradients(self, num: int = 200, latents: torch.Tensor | None = None):
        """Generated points and -dL_G/dx at each (data coordinates): where G's loss pushes them.

        L_G is the sum of the per-sample generator losses, so each arrow is that sample's own
        push, independent of how many are drawn."""
        latents = self.fixed_latents[:num] if latents is None else latents
        with torch.no_grad():
            fake = self.G(latents)
        fake = fake.detach().requires_grad_(True)
        self.D.requires_grad_(False)
        loss = generator_loss(self.config.loss, self.D(fake)) * fake.shape[0]
        (grad,) = torch.autograd.grad(loss, fake)
        self.D.requires_grad_(True)
        # x = x_norm * scale + offset, so dL/dx = dL/dx_norm / scale.
        return self.G.to_data(fake.detach()), -grad / self.scale

    @torch.no_grad()
    def latent_grid_transform(self, lines: int = 9, points_per_line: int = 40, extent: float = 2.0,
                              axes: tuple[int, int] = (0, 1)) -> tuple[torch.Tensor, torch.Tensor]:
        """G applied to a grid in a 2-D slice of latent space (the other coordinates 0): the
        images of the grid's horizontal and vertical lines, each (lines, points_per_line, 2)."""
        if self.config.latent_dim < 2:
            raise ValueError("the latent grid needs a latent space of at least 2 dimensions")
        a, b = axes
        ticks = torch.linspace(-extent, extent, lines)
        along = torch.linspace(-extent, extent, points_per_line)
        horizontal = torch.zeros(lines, points_per_line, self.config.latent_dim)
        horizontal[:, :, a] = along[None, :]
        horizontal[:, :, b] = ticks[:, None]
        vertical = torch.zeros(lines, points_per_line, self.config.latent_dim)
        vertical[:, :, a] = ticks[:, None]
        vertical[:, :, b] = along[None, :]
        map_lines = lambda latents: self.samples(latents.reshape(-1, self.config.latent_dim)).reshape(
            lines, points_per_line, 2)
        return map_lines(horizontal), map_lines(vertical)

    def mode_coverage(self, num: int = 1000) -> dict:
        """Modes captured and high-quality share (mixtures only; empty for other data)."""
        if not self.has_modes:
            return {}
        latents = torch.randn(num, self.config.latent_dim, generator=torch.Generator().manual_seed(11))
        return mixtures.mode_metrics(self.samples(latents), self.data.name)

    @property
    def has_modes(self) -> bool:
        """Whether the data has modes to count (the mixtures' metric applies to it)."""
        return mixtures.METRIC.applies(self.data.name, "points")

    def reading(self) -> str:
        """One plain sentence on the state of the game."""
        if not self.history.steps:
            return "Nothing has happened yet: press Step to make one update."
        recent = lambda values: [v for v in values[-20:] if math.isfinite(v)]
        d_real, d_fake = recent(self.history.d_real), recent(self.history.d_fake)
        return diagnose(float(np.mean(d_real)) if d_real else float("nan"),
                        float(np.mean(d_fake)) if d_fake else float("nan"))


def diagnose(d_real: float, d_fake: float) -> str:
    """A plain-words reading of D(x) and D(G(z)) (means of D's probabilities), with
    advice in terms of the lab's buttons."""
    return read_game(d_real, d_fake, LAB_ADVICE)


def _square_bounds(points: torch.Tensor, margin: float = 0.2) -> tuple[float, float, float, float]:
    low, high = points.min(0).values, points.max(0).values
    centre, half = (low + high) / 2, float((high - low).max()) / 2
    half = half * (1 + margin) + 1e-3
    return (float(centre[0]) - half, float(centre[0]) + half, float(centre[1]) - half, float(centre[1]) + half)


# ---------------------------------------------------------------------------
# The picture

REAL_COLOUR = (20, 120, 60)  # green: real data, and where D says "real"
FAKE_COLOUR = (120, 50, 170)  # purple: generated samples, and where D says "fake"


def heatmap_colours(probabilities: np.ndarray) -> np.ndarray:
    """D's probabilities -> RGB: purple (fake) through white (undecided, 0.5) to green (real)."""
    p = probabilities[..., None]
    white = np.array([255.0, 255.0, 255.0])
    real = np.array([150.0, 215.0, 160.0])
    fake = np.array([205.0, 170.0, 230.0])
    towards = np.where(p >= 0.5, real, fake)
    weight = np.abs(p - 0.5) * 2
    return (white * (1 - weight) + towards * weight).clip(0, 255).astype(np.uint8)


def render_scene(session: LabSession, size: int = 512, heatmap: bool = True, arrows: bool = True,
                 latent_grid: bool = True, num_points: int = 500) -> Image.Image:
    """The lab's picture: D's heat map, the warped latent grid, real (green) and generated
    (purple) points, and arrows of the gradient the generator receives."""
    x0, x1, y0, y1 = session.bounds

    def pixels(points: torch.Tensor) -> np.ndarray:
        p = points.detach().float().numpy()
        return np.stack([(p[..., 0] - x0) / (x1 - x0) * (size - 1), (1 - (p[..., 1] - y0) / (y1 - y0)) * (size - 1)],
                        -1)

    if heatmap:
        colours = heatmap_colours(session.heatmap(96).numpy())
        image = Image.fromarray(colours, "RGB").resize((size, size), Image.Resampling.BILINEAR)
    else:
        image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    if latent_grid:
        horizontal, vertical = session.latent_grid_transform()
        for line in list(pixels(horizontal)) + list(pixels(vertical)):
            draw.line([tuple(p) for p in line], fill=(150, 150, 150), width=1)
    for x, y in pixels(session.real_points[:num_points]):
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=REAL_COLOUR)
    fake = session.samples()[:num_points]
    for x, y in pixels(fake):
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=FAKE_COLOUR)
    if arrows:
        points, gradients = session.generator_gradients(min(150, num_points))
        lengths = gradients.norm(dim=1)
        longest = float(lengths.max()) if lengths.numel() else 0.0
        if longest > 0:
            # The longest arrow spans 8% of the frame; the others in proportion.
            step = gradients / longest * 0.08 * (x1 - x0)
            for start, end in zip(pixels(points), pixels(points + step)):
                _arrow(draw, start, end, (60, 60, 60))
    _legend(draw, size, session)
    return image


def _arrow(draw: ImageDraw.ImageDraw, start, end, colour) -> None:
    draw.line([tuple(start), tuple(end)], fill=colour, width=1)
    direction = np.asarray(end) - np.asarray(start)
    length = float(np.hypot(*direction))
    if length < 3:
        return
    unit = direction / length
    normal = np.array([-unit[1], unit[0]])
    head = 4.0
    left = np.asarray(end) - unit * head + normal * head * 0.5
    right = np.asarray(end) - unit * head - normal * head * 0.5
    draw.polygon([tuple(end), tuple(left), tuple(right)], fill=colour)


def _legend(draw: ImageDraw.ImageDraw, size: int, session: LabSession) -> None:
    text = f"step {session.step_count}  (D updates {session.steps_d}, G updates {session.steps_g})"
    draw.rectangle((4, 4, 12 + 6 * len(text), 20), fill=(255, 255, 255))
    draw.text((8, 6), text, fill=(0, 0, 0))
    items = [("real", REAL_COLOUR), ("generated", FAKE_COLOUR), ("G's gradient", (60, 60, 60)),
             ("latent grid", (150, 150, 150))]
    y = size - 20
    draw.rectangle((4, y - 2, 300, size - 4), fill=(255, 255, 255))
    x = 8
    for label, colour in items:
        draw.rectangle((x, y + 3, x + 8, y + 11), fill=colour)
        draw.text((x + 12, y + 2), label, fill=(0, 0, 0))
        x += 20 + 6 * len(label)


__all__ = ["LabSession", "LabHistory", "render_scene", "diagnose", "points_from_csv", "points_from_drawing",
           "heatmap_colours", "LAB_SETTINGS"]
