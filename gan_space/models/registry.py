"""The registry of network families.

A family is one module under gan_space/models/ that declares, with `register_family`,
its name, the data it takes, the settings it reads and how to build its generator and
discriminator. The trainer, the CLI, the app's choices, the Hub card, latent directions
and the pipeline ask this registry (or a model's family, `family_of`) what a family can
do; nothing else names a class. Adding a family is one new module plus its tests:

    from gan_space.models.registry import NetworkFamily, register_family

    register_family(NetworkFamily(name="tiny", generator_class=TinyGenerator, ...))
"""

from dataclasses import dataclass
from typing import Callable

from ..registry import Registry


@dataclass(frozen=True)
class DataSpec:
    """What a family needs to know about the data to build its networks."""

    kind: str  # "images", "points" or "pairs" (image-to-image: gan_space.tasks)
    data_shape: tuple  # (C, H, W) for images and for the targets of pairs, (D,) for points
    num_classes: int = 0  # 0: unconditional
    offset: tuple | None = None  # points: the mean the networks' space is centred on
    scale: float = 1.0  # points: the spread the networks' space is scaled by
    condition_shape: tuple | None = None  # pairs: the generator's input (C, h, w)
    residual: bool = False  # pairs: the task's output is a correction of its (upscaled) input (gan_space.tasks)
    frames: int = 1  # pairs: the input holds this many pictures stacked in channels (next-frame prediction)


@dataclass(frozen=True)
class NetworkFamily:
    name: str  # what TrainConfig.arch, the CLI's --arch and the app's choice say
    description: str  # one line for the user
    generator_class: type
    discriminator_class: type
    # build(config, data: DataSpec) -> (generator, discriminator); config is a TrainConfig
    build: Callable
    # first_layer(generator, latents, labels) -> (activations (N, F), layer name): what latent
    # directions (GANSpace) analyse
    first_layer: Callable
    data_kinds: tuple = ("images",)  # "images" and/or "points", or "pairs" (picture -> picture)
    resolutions: tuple | None = None  # the image sizes it builds; None: any from min to max below
    min_resolution: int = 4
    max_resolution: int = 64
    settings: tuple = ()  # the TrainConfig fields it reads besides the common ones
    channels_last: bool = False  # convolutional networks run faster in channels_last on CPUs and GPUs
    mixed_precision: bool = True  # bf16/fp16 autocast pays off (False: tiny networks, or precise outputs)
    tags: tuple = ()  # Hub model card tags
    # The update step, when the family's loss has terms of its own (a GANObjective subclass,
    # e.g. a discriminator's auxiliary reconstruction); None: gan_space.objectives.GANObjective
    # (a task's own update step, gan_space.tasks, takes precedence: image-to-image).
    objective: type | None = None
    # The family's own training recipe for pictures (TrainConfig fields, from its paper), used
    # when a user picks this family; None: the picture presets by resolution
    # (gan_space.training.PICTURE_PRESETS) apply to it too.
    picture_recipe: dict | None = None
    # Image-to-image: the family's own settings over its task's preset (gan_space.tasks), from its
    # paper, used when a user picks this family for the task (CycleGAN's identity loss); None: the
    # task's preset as it is.
    task_recipe: dict | None = None

    def resolution_error(self, resolution) -> str | None:
        """None when this family builds images of this size, else what is allowed."""
        if self.resolutions is not None:
            return None if resolution in self.resolutions else f"one of {self.resolutions} for arch={self.name!r}"
        ok = isinstance(resolution, int) and self.min_resolution <= resolution <= self.max_resolution
        return None if ok else (f"an integer from {self.min_resolution} to {self.max_resolution} for "
                                f"arch={self.name!r}")


FAMILIES = Registry("a network family", setting="arch")


def register_family(family: NetworkFamily) -> NetworkFamily:
    """Add a family (a module calls this once, at import). Names and classes must be new."""
    for other in FAMILIES.values():
        if other is not family and {other.generator_class, other.discriminator_class} & {
                family.generator_class, family.discriminator_class}:
            raise ValueError(f"family {family.name!r} reuses the classes of family {other.name!r}")
    return FAMILIES.add(family)


unregister_family = FAMILIES.remove
get_family = FAMILIES.get_entry


def family_names(data_kind: str | None = None) -> list[str]:
    """The registered families (those that take `data_kind` data, when given)."""
    return [name for name, family in FAMILIES.items() if data_kind is None or data_kind in family.data_kinds]


def picture_recipes() -> dict[str, dict]:
    """Family name -> its own picture recipe, for the families that have one."""
    return {name: family.picture_recipe for name, family in FAMILIES.items() if family.picture_recipe is not None}


def image_resolutions() -> list[int]:
    """Every image size some family builds (powers of two where a family takes a range)."""
    sizes = set()
    for family in FAMILIES.values():
        if "images" not in family.data_kinds:
            continue
        if family.resolutions is not None:
            sizes.update(family.resolutions)
        else:
            sizes.update(2**k for k in range(2, 12) if family.min_resolution <= 2**k <= family.max_resolution)
    return sorted(sizes)


def family_of(model) -> NetworkFamily:
    """The family a generator or discriminator (an instance or a class) belongs to."""
    cls = model if isinstance(model, type) else type(model)
    for family in FAMILIES.values():
        if cls in (family.generator_class, family.discriminator_class):
            return family
    raise ValueError(f"{cls.__name__} belongs to no registered network family")


def generator_classes() -> dict[str, type]:
    """Class name (as config.json's `_class_name` says it) -> generator class, for loading."""
    return {family.generator_class.__name__: family.generator_class for family in FAMILIES.values()}


def discriminator_classes() -> dict[str, type]:
    return {family.discriminator_class.__name__: family.discriminator_class for family in FAMILIES.values()}
