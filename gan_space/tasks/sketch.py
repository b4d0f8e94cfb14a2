"""Sketch -> picture: a sketch of each picture (dark lines on white, from the gradient of its
luma: gan_space.pairs.sketch) is the input, the picture the target."""

from __future__ import annotations  # torch.Tensor in annotations: torch is imported where it is used

from typing import TYPE_CHECKING

from .image_to_image import OBJECTIVE, PAIR_METRICS, PIX2PIX_PRESET, check_pair_settings, load_pictures
from .registry import Task, register_task

if TYPE_CHECKING:
    import torch


def sketch_input(pairing, target: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    from ..pairs import quantise_uint8, sketch, to_float

    return to_float(quantise_uint8(sketch(target))).to(target.device)


def card_lines(config) -> list[str]:
    return ["It expects a sketch (dark lines on white); `apply(..., make_sketch=True)` (`--sketch`) makes one "
            "from a photo first.", ""]


TASK = register_task(Task(
    name="edges", label="Sketch → picture",
    help="A sketch (dark lines on white) is drawn from each picture, and the model learns to paint the picture.",
    words="sketch -> picture", run_prefix="sketch", preset=dict(PIX2PIX_PRESET),
    input_channels=lambda channels: 1, make_input=sketch_input, load_data=load_pictures,
    check_settings=check_pair_settings, objective=OBJECTIVE,
    metrics=PAIR_METRICS, hub_tag="sketch-to-image", card_lines=card_lines, sketch_option=True))
