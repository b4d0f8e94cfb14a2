"""Sampling: latents by seed, truncation, class labels, interpolation, and pictures
(grids of images, scatter plots of points)."""

import math

import numpy as np
import torch
from PIL import Image, ImageDraw


def sample_latents(num: int, latent_dim: int, seed: int = 0, truncation: float = 1.0) -> torch.Tensor:
    """One latent per seed: sample i comes from seed + i, so any single sample can be
    reproduced on its own. `truncation` < 1 pulls latents towards the mean (less
    variety, more typical samples); 1 leaves them untouched."""
    if num < 1:
        raise ValueError(f"num must be at least 1, got {num}")
    if not 0 < truncation <= 1:
        raise ValueError(f"truncation must be above 0 and at most 1, got {truncation}")
    rows = [torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed + i)) for i in range(num)]
    return torch.stack(rows) * truncation


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: stays at the norm Gaussian latents live at."""
    a_unit, b_unit = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_unit * b_unit).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    sin_omega = torch.sin(omega)
    if float(sin_omega.min()) < 1e-6:
        return lerp(a, b, t)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin_omega


@torch.no_grad()
def generate(generator, num: int = 16, seed: int = 0, truncation: float = 1.0,
             labels: torch.Tensor | list[int] | int | None = None, latents: torch.Tensor | None = None) -> torch.Tensor:
    """Samples on the CPU: images in [-1, 1] (N, C, H, W), or points in data coordinates (N, D)."""
    device = next(generator.parameters()).device
    if latents is None:
        latents = sample_latents(num, generator.config.latent_dim, seed, truncation)
    latents = latents.to(device)
    num_classes = generator.config.num_classes
    if num_classes:
        if labels is None:
            labels = torch.arange(latents.shape[0]) % num_classes
        labels = torch.as_tensor(labels, dtype=torch.long).expand(latents.shape[0]) if isinstance(labels, int) \
            else torch.as_tensor(labels, dtype=torch.long)
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(f"class labels must be from 0 to {num_classes - 1}")
        labels = labels.to(device)
    else:
        labels = None
    was_training = generator.training
    generator.eval()
    samples = generator(latents, labels).float()
    generator.train(was_training)
    if samples.dim() == 2 and hasattr(generator, "to_data"):
        samples = generator.to_data(samples)
    return samples.cpu()


def interpolate(generator, seed_a: int, seed_b: int, frames: int = 16, method: str = "slerp",
                truncation: float = 1.0, label: int | None = None) -> torch.Tensor:
    """Samples along the path between the latents of two seeds."""
    if method not in ("slerp", "lerp"):
        raise ValueError(f"method must be 'slerp' or 'lerp', got {method!r}")
    if not 2 <= frames <= 256:
        raise ValueError(f"frames must be from 2 to 256, got {frames}")
    dim = generator.config.latent_dim
    a = sample_latents(1, dim, seed_a, truncation)[0]
    b = sample_latents(1, dim, seed_b, truncation)[0]
    mix = slerp if method == "slerp" else lerp
    latents = torch.stack([mix(a, b, i / (frames - 1)) for i in range(frames)])
    return generate(generator, latents=latents, labels=label)


def to_pil_images(images: torch.Tensor, min_size: int = 64) -> list[Image.Image]:
    """[-1, 1] images -> PIL images, enlarged (nearest neighbour) to at least `min_size`
    pixels so 8x8 samples are visible."""
    array = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    scale = max(1, math.ceil(min_size / array.shape[1]))
    if scale > 1:
        array = array.repeat(scale, axis=1).repeat(scale, axis=2)
    mode = "L" if array.shape[3] == 1 else "RGB"
    return [Image.fromarray(a[:, :, 0] if mode == "L" else a, mode=mode) for a in array]


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] (N, C, H, W) -> uint8 (N, H, W, C)."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def image_grid(images: torch.Tensor, min_cell: int = 64, columns: int | None = None, padding: int = 0,
               padding_value: int = 96) -> Image.Image:
    """A grid of samples, as square as possible; empty cells stay black.

    `padding` pixels of grey (`padding_value`) around each cell keep samples apart:
    digits touch the top and bottom of their 8x8 cell, so unpadded they merge into
    stripes. A padded grid keeps the samples' mode (L or RGB) and is drawn with numpy in
    one go, cheap enough to redraw while training.
    """
    if padding == 0:
        from diffusers.utils import make_image_grid

        pictures = to_pil_images(images, min_cell)
        cols = columns or math.ceil(math.sqrt(len(pictures)))
        rows = math.ceil(len(pictures) / cols)
        blank = Image.new(pictures[0].mode, pictures[0].size)
        pictures += [blank] * (rows * cols - len(pictures))
        return make_image_grid(pictures, rows=rows, cols=cols)
    cells = to_uint8(images)  # (N, h, w, C)
    scale = max(1, math.ceil(min_cell / cells.shape[1]))
    cells = cells.repeat(scale, axis=1).repeat(scale, axis=2)
    count, height, width, channels = cells.shape
    cols = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    cells = np.concatenate([cells, np.zeros((rows * cols - count, height, width, channels), np.uint8)])
    # Each cell with its top and left padding, then one more padding row and column at the end.
    blocks = np.full((rows, padding + height, cols, padding + width, channels), padding_value, np.uint8)
    blocks[:, padding:, :, padding:] = cells.reshape(rows, cols, height, width, channels).transpose(0, 2, 1, 3, 4)
    grid = np.pad(blocks.reshape(rows * (padding + height), cols * (padding + width), channels),
                  ((0, padding), (0, padding), (0, 0)), constant_values=padding_value)
    return Image.fromarray(grid[:, :, 0], mode="L") if channels == 1 else Image.fromarray(grid, mode="RGB")


def scatter_plot(fake: torch.Tensor, real: torch.Tensor | None = None, size: int = 512,
                 bounds: tuple[float, float, float, float] | None = None) -> Image.Image:
    """Generated points (orange) over real points (blue) on a white square."""
    reference = real if real is not None else fake
    if bounds is None:
        low, high = reference.min(0).values, reference.max(0).values
        pad = 0.15 * float((high - low).max()) + 1e-3
        centre = (low + high) / 2
        half = float((high - low).max()) / 2 + pad
        bounds = (float(centre[0]) - half, float(centre[0]) + half, float(centre[1]) - half, float(centre[1]) + half)
    x0, x1, y0, y1 = bounds
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)

    def to_pixels(points):
        p = points.float().numpy()
        px = (p[:, 0] - x0) / (x1 - x0) * (size - 1)
        py = (1 - (p[:, 1] - y0) / (y1 - y0)) * (size - 1)
        return zip(px, py)

    if real is not None:
        for x, y in to_pixels(real):
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(66, 133, 244))
    for x, y in to_pixels(fake[:, :2]):
        draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=(255, 127, 14))
    return image


def preview_image(samples: torch.Tensor, real: torch.Tensor | None = None) -> Image.Image:
    """Whatever suits the data: a scatter plot for points, a grid for images."""
    if samples.dim() == 2:
        return scatter_plot(samples, real)
    return image_grid(samples)


def class_seed_grid(generator, seeds: list[int], classes: list[int] | None = None,
                    truncation: float = 1.0) -> torch.Tensor:
    """Samples of a class-conditional generator, one row per class and one column per seed:
    (len(classes) * len(seeds), ...), row-major. The same seed keeps its latent in every row,
    so a column shows what the class label alone changes."""
    num_classes = generator.config.num_classes
    if not num_classes:
        raise ValueError("this generator is not class-conditional: it has no classes to put in rows")
    classes = list(range(num_classes)) if classes is None else [int(c) for c in classes]
    latents = torch.cat([sample_latents(1, generator.config.latent_dim, s, truncation) for s in seeds])
    return generate(generator, latents=latents.repeat(len(classes), 1),
                    labels=torch.tensor(classes).repeat_interleave(len(seeds)))
