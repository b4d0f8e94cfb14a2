"""The user's own pairs: a folder (or .zip) with `A/` and `B/` holding files of matching
names, or pictures with the input and the target side by side (the pix2pix datasets'
layout); gan_space.data reads them, `direction` says which side is the input."""

from .image_to_image import OBJECTIVE, PAIR_METRICS, PIX2PIX_PRESET, check_pair_settings
from .registry import Task, register_task


def load_pairs(config, cache_dir=None, progress=None, token=None):
    from ..data import load_paired

    return load_paired(config.dataset, config.resolution, config.channels, max_images=config.max_images,
                       direction=config.direction)


TASK = register_task(Task(
    name="paired", label="Your pairs (input → target)",
    help="Upload one .zip holding A/ (inputs) and B/ (targets) with matching file names, or pictures with the input "
         "on the left and the target on the right (the pix2pix datasets' layout).",
    words="picture -> picture translation", run_prefix="pairs", preset=dict(PIX2PIX_PRESET),
    settings=("direction",), load_data=load_pairs, check_settings=check_pair_settings,
    objective=OBJECTIVE, metrics=PAIR_METRICS, hub_tag="image-to-image-translation",
    describe=lambda pairing: "your pairs (input -> target)"))
