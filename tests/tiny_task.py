"""A task in one module, as a user would add one: inverting colours (the negative of each
picture is the input, the picture the target). `register()` adds it to the registry
(gan_space.tasks); the CLI, the app and the Hub card then offer and describe it with no
other edit. `unregister()` removes it again."""

import torch

from gan_space.tasks import Task, register_task, unregister_task
from gan_space.tasks.image_to_image import OBJECTIVE, PAIR_METRICS, PIX2PIX_PRESET, check_pair_settings, load_pictures

NAME = "invert"


def negative(pairing, target: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    return -target  # [-1, 1] pictures: the negative is the sign flipped


def card_lines(config) -> list[str]:
    return ["Give it a negative; it hands back the picture.", ""]


TASK = Task(
    name=NAME, label="Invert (negative → picture)", help="Each picture's negative is the input; the model learns to "
                                                          "undo it.",
    words="negative -> picture", run_prefix="invert", preset=dict(PIX2PIX_PRESET),
    make_input=negative, load_data=load_pictures, check_settings=check_pair_settings, objective=OBJECTIVE,
    metrics=PAIR_METRICS, hub_tag="image-to-image", card_lines=card_lines)


def register() -> Task:
    return register_task(TASK)


def unregister() -> None:
    unregister_task(NAME)
