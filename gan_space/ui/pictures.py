"""How the app draws samples: grids with a border between cells, so 8x8 digits (which
touch the edges of their cell) do not run together into stripes."""

from PIL import Image

GRID_CELL = 64  # pixels per sample: 8x8 digits are enlarged 8 times (nearest neighbour)
GRID_PADDING = 4


def grid_picture(images) -> Image.Image:
    """[-1, 1] images (N, C, H, W) -> one padded grid picture."""
    from gan_space.sampling import image_grid

    return image_grid(images, min_cell=GRID_CELL, padding=GRID_PADDING)
