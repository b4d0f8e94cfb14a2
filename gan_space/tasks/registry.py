"""The registry of tasks: what a run learns to make.

A task is one module under gan_space/tasks/ that declares, with `register_task`, how its
pairs are made (or that it generates from noise), the update step it trains with, its
preset, the checks of its own settings, what its output is compared with, which held-out
metrics it reports, its words on a Hub card and its choice in the CLI, the API and the
Translate tab. The trainer, the CLI, the app and the Hub card ask this registry; nothing
else switches on a task's name. Adding a task is one new module plus its tests:

    from gan_space.tasks.registry import Task, register_task

    register_task(Task(name="denoise", label="Denoise", ..., make_input=add_noise))
"""

from dataclasses import dataclass, field
from typing import Callable

from ..registry import Registry


def _same_channels(channels: int) -> int:
    return channels


def _scale_one(config) -> int:
    return 1


def _one_frame(config) -> int:
    return 1


def _no_checks(config, check) -> None:
    pass


def _no_card_lines(config) -> list[str]:
    return []


def _input_as_baseline(condition, target_size: tuple, channels: int):
    """What an output is compared with when the task has no better baseline: the input itself
    (grey repeated to the target's channels)."""
    from ..pairs import match_channels

    return match_channels(condition.float(), channels)


@dataclass(frozen=True)
class Task:
    name: str  # what TrainConfig.task, the CLI's --task and the API say
    label: str  # the task's choice in the Translate tab
    help: str  # one or two sentences for the user: what the model learns, from what
    words: str  # what a model of this task does, in a card or a list of models ("sketch -> picture")
    run_prefix: str  # new runs of this task are named <run_prefix>-<random hex>
    makes_pairs: bool = True  # False: a GAN that samples from noise (gan_space.training's presets apply)
    preset: dict = field(default_factory=dict)  # TrainConfig settings that train it in a few CPU minutes
    settings: tuple = ()  # the TrainConfig fields only this task reads (the UI and the CLI show them for it)
    # target channels -> the input's channels (1 for a grey input)
    input_channels: Callable = _same_channels
    # (config) -> how many times larger the output is than the input
    scale: Callable = _scale_one
    # (config) -> how many pictures the input stacks in channels (next-frame prediction: the last k frames)
    frames: Callable = _one_frame
    # (pairing, target (N, C, H, W) in [-1, 1], torch.Generator) -> the input; None: the pairs come from the data
    make_input: Callable | None = None
    # (config, cache_dir, progress, token) -> the Dataset it trains on; None: any picture set (load_dataset)
    load_data: Callable | None = None
    # (condition, target_size, channels) -> what the output is compared with, and that baseline's name
    baseline: Callable = _input_as_baseline
    baseline_name: str = "input"
    check_settings: Callable = _no_checks  # (config, check): TrainConfig.validate's checks of its own settings
    residual: bool = False  # the generator predicts a correction of its (upscaled) input
    # (config, device, precision, randomness, dist) -> the update step (a GANObjective); None: the
    # network family's (a GAN from noise)
    objective: Callable | None = None
    metrics: tuple = ()  # held-out pair metrics (gan_space.metrics registry names)
    hub_tag: str = ""  # the Hub's task tag for a model of this task
    card_lines: Callable = _no_card_lines  # (generator config) -> how to feed the model, for its Hub card
    # (pairing) -> the pairs in a few words, with this run's settings ("x4 super-resolution (blur up to 2 px)")
    describe: Callable | None = None
    sketch_option: bool = False  # apply can first draw a sketch of a photo (the model takes sketches)
    # the input is the last frames of a clip: apply reads sequences (animations, numbered frames) and can
    # feed its predictions back (a rollout)
    takes_sequences: bool = False
    # What the networks are given (a family declares the kinds it takes): "pairs" (an input and its
    # target) or "unpaired" (pictures of two domains that do not belong together, gan_space.tasks.unpaired)
    data_kind: str = "pairs"

    @property
    def pairs_from_data(self) -> bool:
        """Its pairs are the user's own (both sides in the data), not made from pictures."""
        return self.makes_pairs and self.make_input is None

    def pairing(self, config):
        """How a run with this config makes its pairs (gan_space.pairs.Pairing)."""
        from ..pairs import Pairing

        return Pairing(task=self, channels=config.channels, scale=self.scale(config), frames=self.frames(config),
                       blur=config.blur,
                       noise=config.noise, jpeg=config.jpeg, flip=config.augment == "flip")

    def describe_pairs(self, pairing) -> str:
        return self.describe(pairing) if self.describe is not None else self.words

    def words_for(self, config) -> str:
        """What a model with this (generator or run) config does, with its scale when it has one."""
        scale = config.get("scale", 1) if isinstance(config, dict) else getattr(config, "scale", 1)
        return f"{self.words} x{scale}" if self.settings and "scale" in self.settings and scale > 1 else self.words


TASKS = Registry("a task", setting="task")
register_task = TASKS.add  # a task's module calls this once, at import
unregister_task = TASKS.remove
get_task = TASKS.get_entry


def task_names(pairs: bool | None = None) -> list[str]:
    """The registered tasks (only those that map pictures to pictures, or only those that do not)."""
    return [name for name, task in TASKS.items() if pairs is None or task.makes_pairs == pairs]
