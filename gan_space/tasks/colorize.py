"""Colourisation: each picture's luma (ITU-R 601, as PIL's convert("L")) is the input, the
picture the target (pix2pix's recipe)."""

from __future__ import annotations  # torch.Tensor in annotations: torch is imported where it is used

from typing import TYPE_CHECKING

from .image_to_image import OBJECTIVE, PAIR_METRICS, PIX2PIX_PRESET, check_pair_settings, load_pictures
from .registry import Task, register_task

if TYPE_CHECKING:
    import torch


def grey_input(pairing, target: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    from ..pairs import luma, quantise_uint8, to_float

    return to_float(quantise_uint8(luma(target))).to(target.device)


def check_settings(config, check) -> None:
    check_pair_settings(config, check)
    check("channels", config.channels == 3, "3: colourisation makes colour pictures (channels=3)")


def card_lines(config) -> list[str]:
    return ["A colour picture given to it is turned grey first (ITU-R 601 luma), then coloured.", ""]


TASK = register_task(Task(
    name="colorize", label="Colourise (grey → colour)", help="The pictures are turned grey, and the model learns "
                                                            "their colours.",
    words="colourisation (grey -> colour)", run_prefix="colorize", preset=dict(PIX2PIX_PRESET),
    input_channels=lambda channels: 1, make_input=grey_input, load_data=load_pictures,
    check_settings=check_settings, residual=True, objective=OBJECTIVE,
    metrics=PAIR_METRICS, hub_tag="image-colorization", card_lines=card_lines))
