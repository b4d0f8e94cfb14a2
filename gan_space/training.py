"""The training loop: `TrainConfig` says what to train, `Trainer(config).run()` trains
it and yields a `TrainEvent` every few steps, so the CLI can print progress and the
app can stream previews from the same loop.

Read `Trainer.run` top to bottom: that is the whole algorithm. The trainer is built
from parts, each in its own module:

- the data source (gan_space.datasource): batches, in memory or streamed;
- the networks (gan_space.networks): G and D of the chosen family, optimisers, EMA;
- the update step (gan_space.objectives): one D step and one G step, shared with the Lab;
- the task (gan_space.tasks): a GAN from noise, or how a picture -> picture run makes its pairs;
- the schedule (gan_space.schedule): learning rates over the run;
- the run's random streams (gan_space.randomness).

Checkpoints (gan_space.checkpoints) and previews are clients: the trainer hands them
what they need (`save_checkpoint`, `sample`, `preview`), they read no attributes.
"""

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from . import checkpoints, devices, distributed, names
from .augment import AUGMENTATIONS
from .data import (BUILTIN_DATASETS, BUILTIN_POINT_SETS, HUB, MEL_SETTINGS, Dataset, dataset_kind, dataset_location,
                   hub_holds_sounds, is_sound_source, load_dataset)
from .datasource import make_source
from .devices import resolve_precision, select_device
from .held_out import preview_picture
from .losses import LOSSES
from .models import DataSpec, family_names, get_family, picture_recipes
from .networks import Networks
from .objectives import Batch, GANObjective
from .pairs import HELD_OUT_FILE, HeldOut, split_held_out
from .randomness import RunRandomness
from .sampling import preview_image, sample_latents
from .schedule import Schedule
from .tasks import get_task, task_names


MAX_STEPS = 10_000_000


class ConfigError(ValueError):
    """A training setting is out of range; the message names the field and what is allowed."""


# Settings that work well for each kind of data in a few CPU minutes. `for_dataset`
# starts from these; anything the user sets explicitly wins.
PRESETS = {
    # PacGAN's 2-D mixtures: small fast MLPs, big batches, a light R1 penalty, an EMA
    # generator and a learning-rate decay at the end to tighten every mode.
    # Measured on grid25 (high-quality share of samples): lr 1e-3 beat 5e-4 (0.80 vs 0.50 at
    # 12k steps); at equal compute more steps of a smaller batch beat fewer large ones (batch
    # 256 x 20k: 0.85; 512 x 12k: 0.80); R1 0.5 beat 0.1 and 0.01 (grid25 0.87 / 0.85, ring8
    # 0.92 / 0.91 / 0.87). Most of the sharpening happens during the final learning-rate decay.
    "points": dict(arch="mlp", width=128, num_layers=3, latent_dim=16, batch_size=256, steps=20000,
                   lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.9, r1_gamma=0.5, ema_decay=0.999,
                   lr_decay_fraction=0.3, augment="none", sample_every=1000, checkpoint_every=5000),
    # 8x8 digits at their native resolution: an MLP beats a convnet on a CPU, and R1 on
    # real data is what prevents collapse. R1 runs every step here: that is the recipe the
    # shipped generator was trained and measured with (FD 0.20 vs 0.22 for real digits).
    "digits": dict(arch="mlp", resolution=8, channels=1, width=256, num_layers=3, latent_dim=32,
                   batch_size=128, steps=6000, lr_g=1e-3, lr_d=1e-3, beta1=0.0, beta2=0.99, r1_gamma=1.0,
                   r1_every=1,
                   ema_decay=0.999, lr_decay_fraction=0.3, augment="none", sample_every=500,
                   checkpoint_every=2000),
}

# Pictures from folders, .zip files, the Hub and the built-in emoji: the modern recipe
# (R3GAN, 2025: RpGAN + R1 + R2, residual networks without normalisation, Adam with
# beta1 = 0; FastGAN, 2021, from 128 px; ADA's adaptive augmentation; an EMA generator),
# with the family, widths, batch and penalty chosen by resolution. Augmentation needs no
# choice by set size: "ada" raises its probability only while D overfits (a large set
# keeps p near 0, a few hundred pictures push it up). Measured on the emoji set on this
# project's 2-core CPU against DCGAN's recipe: benchmarks/image_quality.py, benchmarks/RESULTS.md.
_PICTURES = dict(channels=3, loss="rpgan", beta1=0.0, beta2=0.99, r1_every=16, augment="ada", ema_decay=0.999,
                 # The learning rates fall to 0 over the last quarter of the run (of its steps, or of
                 # its minutes: Schedule.progress), which sharpens the samples at the end.
                 lr_decay_fraction=0.25, steps=20000, sample_every=500, checkpoint_every=2000)
PICTURE_PRESETS = {
    # Residual networks: `width` channels on the largest (32x32) map, 8x that at 4x4. lr 4e-4
    # learnt faster than R3GAN's 2e-4 at these batch sizes with no instability in 16k steps.
    16: dict(_PICTURES, arch="resnet", resolution=16, width=16, latent_dim=64, batch_size=32, lr_g=4e-4,
             lr_d=4e-4, r1_gamma=0.05, r2_gamma=0.05),
    32: dict(_PICTURES, arch="resnet", resolution=32, width=16, latent_dim=64, batch_size=32, lr_g=4e-4,
             lr_d=4e-4, r1_gamma=0.1, r2_gamma=0.1),
    # The penalty grows with the pixel count (R3GAN scales gamma with resolution).
    64: dict(_PICTURES, arch="resnet", resolution=64, width=16, latent_dim=64, batch_size=32, lr_g=4e-4,
             lr_d=4e-4, r1_gamma=0.2, r2_gamma=0.2, steps=25000),
    128: dict(_PICTURES, arch="fastgan", resolution=128, width=16, latent_dim=128, batch_size=16, lr_g=2e-4,
              lr_d=2e-4, r1_gamma=0.5, r2_gamma=0.5, sample_every=250, checkpoint_every=1000),
    256: dict(_PICTURES, arch="fastgan", resolution=256, width=16, latent_dim=128, batch_size=8, lr_g=2e-4,
              lr_d=2e-4, r1_gamma=1.0, r2_gamma=1.0, sample_every=250, checkpoint_every=1000),
    512: dict(_PICTURES, arch="fastgan", resolution=512, width=16, latent_dim=128, batch_size=8, lr_g=2e-4,
              lr_d=2e-4, r1_gamma=2.0, r2_gamma=2.0, sample_every=250, checkpoint_every=1000),
}
PRESETS["images"] = PICTURE_PRESETS[32]  # a folder of pictures trains at 32 px unless told otherwise


# Sounds train as one-channel log-mel spectrogram pictures (SpecGAN; gan_space.data.sound_pictures)
# with the picture recipe of their size. SOUND_RESOLUTION is the default size: see the README's
# "Sounds" for the measured cost of a step at 64 and 128 px on this project's CPU.
SOUND_RESOLUTION = 64


def sound_preset(resolution=None, arch=None) -> dict:
    """The preset for sounds: the picture recipe at the mel picture size (default
    SOUND_RESOLUTION), in one channel."""
    size = resolution if resolution in MEL_SETTINGS else SOUND_RESOLUTION
    return dict(picture_preset(size, arch), resolution=resolution or size, channels=1)


def picture_preset(resolution=None, arch=None) -> dict:
    """The preset for pictures at `resolution` (default 32): the recipe of the nearest size
    this table has (by powers of two), or the family's own recipe when `arch` names a family
    that has one (DCGAN's classic recipe for arch="dcgan")."""
    if not isinstance(resolution, int) or isinstance(resolution, bool) or resolution < 1:
        resolution = None  # no size (or a bad one, which validation then names)
    own = picture_recipes().get(arch)
    if own is None and resolution is not None and resolution < min(PICTURE_PRESETS):
        # Smaller than the table: the recipe of a family that builds pictures this small.
        own = next((recipe for name, recipe in picture_recipes().items()
                    if get_family(name).resolution_error(resolution) is None), None)
    if own is not None:
        return dict(own, **({"resolution": resolution} if resolution else {}))
    if resolution is None:
        return PRESETS["images"]
    nearest = min(PICTURE_PRESETS, key=lambda size: (abs(math.log2(size) - math.log2(resolution)), size))
    return PICTURE_PRESETS[nearest]


def setting(default, help: str, choices=None, flag: str | None = None, group: str | None = None,
            may_change_on_resume: bool = False):
    """A TrainConfig field a user sets, described for every face that offers it (the CLI's
    flags, the app's API): `help`, one line; `choices`, the allowed values (a table of
    gan_space.names, or a function of it that is asked when the choices are shown);
    `flag`, the CLI's flag when it is not --the-field-name; `group`, a section of the
    CLI's help; `may_change_on_resume`, whether a resumed run may take a new value (the
    budget, the machinery, the optimisation and the loss weights) or keeps its own (what
    the checkpoint's networks, data and task are)."""
    return field(default=default, metadata={"help": help, "choices": choices, "flag": flag, "group": group,
                                            "may_change_on_resume": may_change_on_resume})


def setting_choices(setting_field: dataclasses.Field) -> tuple | None:
    """The allowed values of a TrainConfig field, or None when any value of its type may do."""
    choices = setting_field.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


PAIRS_GROUP = "image-to-image"
# The update steps' logs that progress events report (means over the steps since the last event):
# the GAN's, the image-to-image terms, and unpaired translation's (PatchNCE, cycle, identity).
LOGGED_LOSSES = ("d", "g", "r1", "r2", "gp", "recon", "augment_p", "pixel", "adversarial", "nce", "nce_identity",
                 "cycle", "identity")


@dataclass
class TrainConfig:
    """Everything that defines a training run. Validated on construction.

    Every field is a user setting (`setting`): its metadata says what it means and where
    its choices come from, and the CLI's flags and the app's API are made from them."""

    dataset: str = setting("digits", f"built-in ({', '.join(BUILTIN_DATASETS)}), a folder or .zip of images, or a "
                                     "Hugging Face dataset id (default: digits)")
    out_dir: str = setting("runs/digits", "run folder (default: runs/<dataset>)", flag="--out")
    steps: int = setting(6000, "total training steps (generator updates)", may_change_on_resume=True)
    minutes: float = setting(0.0, "train for this many minutes (the schedules follow the clock; --steps, if given, is "
                                  "a cap); on a CPU this is what you can plan with. 0: by steps",
                             may_change_on_resume=True)
    seed: int = setting(0, "the run's random seed (networks, batches, noise)")
    # data
    resolution: int = setting(8, "image size in pixels (which ones: `python -m gan_space families`)")
    channels: int = setting(1, "1 (grayscale) or 3 (RGB)", choices=names.CHANNELS)
    max_images: int = setting(50_000, "use at most this many pictures of the data")
    in_memory_limit_mb: int = setting(2048, "data larger than this (as 8-bit pixels) streams from a cache in the run "
                                            "folder instead of living in memory")
    conditional: bool = setting(False, "use the data's class labels (a class-conditional GAN)")
    # networks
    arch: str = setting("mlp", "network family (`python -m gan_space families` lists them)",
                        choices=family_names)
    width: int = setting(256, "base channels (convolutional families) or hidden units (MLP)")
    num_layers: int = setting(3, "MLP hidden layers")
    latent_dim: int = setting(32, "size of the generator's latent vector")
    spectral_norm: bool = setting(False, "spectral normalisation in D")
    pack: int = setting(1, "PacGAN packing: D judges this many samples at once (1-4)")
    # optimisation
    batch_size: int = setting(128, "samples a step, over all processes")
    lr_g: float = setting(1e-3, "the generator's learning rate", may_change_on_resume=True)
    lr_d: float = setting(1e-3, "the discriminator's learning rate", may_change_on_resume=True)
    beta1: float = setting(0.0, "Adam's beta1 (both networks)", may_change_on_resume=True)
    beta2: float = setting(0.99, "Adam's beta2 (both networks)", may_change_on_resume=True)
    loss: str = setting("non-saturating", "the adversarial loss", choices=names.LOSSES, may_change_on_resume=True)
    r1_gamma: float = setting(1.0, "R1 penalty weight on real samples (0 = off)", may_change_on_resume=True)
    r1_every: int = setting(16, "lazy R1 (StyleGAN2): every N steps, N times stronger (its double backward is costly)",
                            may_change_on_resume=True)
    r2_gamma: float = setting(0.0, "R2 penalty weight: R1's penalty at generated samples (R3GAN), lazy like R1; "
                                   "0 = off", may_change_on_resume=True)
    gp_weight: float = setting(10.0, "gradient penalty weight (wgan-gp only)", may_change_on_resume=True)
    d_steps: int = setting(1, "discriminator updates per generator update", may_change_on_resume=True)
    ema_decay: float = setting(0.999, "EMA of the generator (0 = off)")
    lr_decay_fraction: float = setting(0.3, "decay the learning rates linearly to 0 over this last part of the run "
                                            "(0 = off)", may_change_on_resume=True)
    augment: str = setting("none", "augmentation of everything D sees (ada: adaptive, as much as D's overfitting "
                                   "asks for)", choices=names.AUGMENTATIONS, may_change_on_resume=True)
    # image-to-image (gan_space.tasks): "generate" trains a GAN from noise; the other tasks map a
    # picture to a picture, the batch's target as `real` and its input as `condition` (gan_space.pairs)
    task: str = setting("generate", "what the run learns: generate (default) samples from noise; the other tasks "
                                    "(gan_space.tasks) map pictures to pictures, their pairs made from --dataset's "
                                    "pictures or, for paired, read from it (A/ and B/, or input|target side by side)",
                        choices=task_names, group=PAIRS_GROUP)
    scale: int = setting(4, "super-resolution: x2 or x4", choices=names.SCALES, group=PAIRS_GROUP)
    blur: float = setting(0.0, "super-resolution: largest Gaussian blur sigma (target pixels) before downscaling; "
                               "0 = off", group=PAIRS_GROUP, may_change_on_resume=True)
    noise: float = setting(0.0, "super-resolution: largest noise level (of 255) on the input; 0 = off",
                           group=PAIRS_GROUP, may_change_on_resume=True)
    jpeg: int = setting(0, "super-resolution: lowest JPEG quality of the input (1-95, drawn up to 95); 0 = off",
                        group=PAIRS_GROUP, may_change_on_resume=True)
    dataset_b: str = setting("", "unpaired: domain B, the style to translate --dataset's pictures into (a built-in, "
                                 "a folder, a .zip or a Hugging Face dataset id)", group=PAIRS_GROUP)
    direction: str = setting("AtoB", "paired: which side is the input", choices=names.DIRECTIONS, group=PAIRS_GROUP)
    frames: int = setting(2, "next-frame: how many past frames the model is given (stacked in channels)",
                          choices=names.FRAMES, group=PAIRS_GROUP)
    pixel_loss: str = setting("l1", "the loss on pixels (charbonnier: a smooth L1; mse: L2)", choices=names.PIXEL_LOSSES,
                              group=PAIRS_GROUP, may_change_on_resume=True)
    pixel_weight: float = setting(1.0, "weight of the pixel loss", group=PAIRS_GROUP, may_change_on_resume=True)
    adversarial_weight: float = setting(0.01, "weight of the GAN loss; 0: the L1-only baseline (no discriminator)",
                                        group=PAIRS_GROUP)
    feature_weight: float = setting(0.1, "feature matching in D's features: a perceptual term that needs no download",
                                    group=PAIRS_GROUP, may_change_on_resume=True)
    perceptual_weight: float = setting(0.0, "a VGG-19 term (needs its weights as safetensors, see "
                                            "gan_space.objectives.translation)", group=PAIRS_GROUP, may_change_on_resume=True)
    pixel_warmup: int = setting(0, "steps of the pixel loss alone before the adversarial terms start (ESRGAN: a PSNR "
                                   "model first, then the GAN from it)", group=PAIRS_GROUP, may_change_on_resume=True)
    # unpaired translation (gan_space.models.cut, gan_space.models.cyclegan; their update steps in
    # gan_space.objectives.unpaired)
    cycle_weight: float = setting(10.0, "unpaired, cyclegan: weight of the cycle loss (A -> B -> A and B -> A -> B give "
                                        "their pictures back)", group=PAIRS_GROUP, may_change_on_resume=True)
    identity_weight: float = setting(0.5, "unpaired: the identity loss (a B picture translated into B stays as it is; "
                                          "it stops colour inversions), as a fraction of cycle_weight (cyclegan); for "
                                          "cut, 0 leaves out its identity patch term (FastCUT)", group=PAIRS_GROUP,
                                     may_change_on_resume=True)
    nce_weight: float = setting(1.0, "unpaired, cut: weight of the contrastive loss on patches (PatchNCE) that keeps "
                                     "each picture's content", group=PAIRS_GROUP, may_change_on_resume=True)
    history_size: int = setting(50, "unpaired, cyclegan: generated pictures kept to show the discriminators beside new "
                                    "ones (0: none)", group=PAIRS_GROUP)
    # machinery
    device: str = setting("auto", f"{', '.join(names.DEVICE_KINDS)} or cuda:N", may_change_on_resume=True)
    precision: str = setting("auto", "number format of the arithmetic (auto: the fastest that trains as well as fp32 "
                                     "on the device)", choices=names.PRECISIONS, may_change_on_resume=True)
    compile: bool = setting(False, "torch.compile the steps' forward passes: tens of seconds to compile, ~+10% on a "
                                   "CPU", may_change_on_resume=True)
    log_every: int = setting(25, "report progress every this many steps", may_change_on_resume=True)
    sample_every: int = setting(500, "save a sample grid every this many steps", may_change_on_resume=True)
    checkpoint_every: int = setting(2000, "checkpoint every this many steps", may_change_on_resume=True)
    checkpoint_minutes: float = setting(2.0, "also checkpoint at least this often, in minutes of training (0: by "
                                             "steps only)", may_change_on_resume=True)
    num_preview: int = setting(64, "samples in the preview grid (1-256)")

    def __post_init__(self):
        self.validate()

    @classmethod
    def for_dataset(cls, dataset: str = "digits", look_on_hub: bool = False, **overrides) -> "TrainConfig":
        """The preset for this kind of data, with `overrides` applied on top. look_on_hub: a
        Hugging Face dataset id's list of files is asked for (one request, with huggingface_hub's
        own token) to tell a repo of sounds, which gets the sound preset as a local folder of
        sounds does; without it (no network wanted) a Hub id gets the picture preset."""
        kind = dataset_kind(dataset)
        if kind == "points" or dataset == "digits":
            preset = PRESETS["points" if kind == "points" else "digits"]
        elif is_sound_source(dataset) or (look_on_hub and dataset_location(dataset) == HUB
                                          and hub_holds_sounds(str(dataset).strip())):
            preset = sound_preset(overrides.get("resolution"), overrides.get("arch"))
        else:
            preset = picture_preset(overrides.get("resolution"), overrides.get("arch"))
        task = overrides.get("task")
        if task in task_names(pairs=True):  # image-to-image: the task's preset (another task: an error below)
            preset = dict(get_task(task).preset)
            arch = overrides.get("arch") or preset.get("arch")
            if arch in family_names():  # with the family's own settings for it (an unknown name: an error below)
                preset.update(get_family(arch).task_recipe or {})
        values = {"dataset": dataset, "out_dir": f"runs/{Path(str(dataset)).stem or 'run'}", **preset}
        if overrides.get("minutes") and overrides.get("steps") is None:
            values["steps"] = MAX_STEPS  # by the clock: the budget ends the run, not a step count
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def validate(self) -> None:
        def check(name, ok, allowed):
            if not ok:
                raise ConfigError(f"{name}={getattr(self, name)!r} is out of range: {allowed}")

        check("dataset", isinstance(self.dataset, str) and self.dataset.strip() != "",
              "name a built-in, a folder, a .zip or a Hugging Face dataset id")
        check("out_dir", isinstance(self.out_dir, str) and self.out_dir.strip() != "", "give a folder path")
        check("steps", isinstance(self.steps, int) and 1 <= self.steps <= MAX_STEPS, "an integer from 1 to 10,000,000")
        check("minutes", isinstance(self.minutes, (int, float)) and 0 <= self.minutes <= 100_000,
              "minutes of training from 0 (train by steps) to 100,000")
        check("seed", isinstance(self.seed, int) and 0 <= self.seed < 2**63, "an integer from 0 to 2**63-1")
        check("arch", isinstance(self.arch, str) and self.arch in family_names(),
              f"one of {', '.join(family_names())}")
        family = get_family(self.arch)
        check("task", self.task in task_names(), f"one of {', '.join(task_names())}")
        task = get_task(self.task)
        kind = task.data_kind if task.makes_pairs else dataset_kind(self.dataset)
        check("arch", kind in family.data_kinds, f"one of {', '.join(family_names(kind))} for {kind} data")
        check("dataset_b", isinstance(self.dataset_b, str) and (not self.dataset_b or kind == "unpaired"),
              "'' (empty): a second source (domain B) is for task='unpaired'")
        if kind == "images":
            problem = family.resolution_error(self.resolution)
            check("resolution", problem is None, problem)
        if kind == "images" and is_sound_source(self.dataset):  # spectrogram pictures (gan_space.data.sound_pictures)
            check("resolution", self.resolution in MEL_SETTINGS,
                  f"{' or '.join(map(str, MEL_SETTINGS))} for sounds (the spectrogram picture sizes)")
            check("channels", self.channels == 1, "1 for sounds (a spectrogram picture has one channel)")
        check("channels", self.channels in names.CHANNELS, "1 (grayscale) or 3 (RGB)")
        check("max_images", isinstance(self.max_images, int) and 1 <= self.max_images <= 1_000_000,
              "an integer from 1 to 1,000,000")
        check("in_memory_limit_mb", isinstance(self.in_memory_limit_mb, int) and 0 <= self.in_memory_limit_mb <= 10**7,
              "an integer number of MiB from 0 (always stream) to 10,000,000")
        check("width", isinstance(self.width, int) and 8 <= self.width <= 1024, "an integer from 8 to 1024")
        check("num_layers", isinstance(self.num_layers, int) and 1 <= self.num_layers <= 8, "an integer from 1 to 8")
        check("latent_dim", isinstance(self.latent_dim, int) and 1 <= self.latent_dim <= 1024,
              "an integer from 1 to 1024")
        check("pack", isinstance(self.pack, int) and 1 <= self.pack <= 4, "an integer from 1 (off) to 4")
        check("batch_size", isinstance(self.batch_size, int) and 2 <= self.batch_size <= 8192,
              "an integer from 2 to 8192")
        check("batch_size", self.batch_size % self.pack == 0, f"a multiple of pack={self.pack}")
        for name in ("lr_g", "lr_d"):
            check(name, 0 < getattr(self, name) <= 0.1, "a learning rate above 0 and at most 0.1")
        for name in ("beta1", "beta2"):
            check(name, 0 <= getattr(self, name) < 1, "from 0 up to (not including) 1")
        check("loss", self.loss in LOSSES, f"one of {', '.join(LOSSES)}")
        check("r1_gamma", 0 <= self.r1_gamma <= 1000, "from 0 (off) to 1000")
        check("r1_every", isinstance(self.r1_every, int) and 1 <= self.r1_every <= 256, "an integer from 1 to 256")
        check("r2_gamma", isinstance(self.r2_gamma, (int, float)) and not isinstance(self.r2_gamma, bool)
              and 0 <= self.r2_gamma <= 1000, "from 0 (off) to 1000")
        check("gp_weight", 0 <= self.gp_weight <= 1000, "from 0 to 1000")
        check("d_steps", isinstance(self.d_steps, int) and 1 <= self.d_steps <= 10, "an integer from 1 to 10")
        check("ema_decay", self.ema_decay == 0 or 0.5 <= self.ema_decay < 1, "0 (off) or from 0.5 up to 1")
        check("lr_decay_fraction", 0 <= self.lr_decay_fraction <= 1, "from 0 (off) to 1")
        check("augment", self.augment in AUGMENTATIONS, f"one of {', '.join(AUGMENTATIONS)}")
        check("device", isinstance(self.device, str) and self.device.split(":")[0] in names.DEVICE_KINDS,
              "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        check("precision", self.precision in names.PRECISIONS, f"one of {', '.join(map(repr, names.PRECISIONS))}")
        check("compile", isinstance(self.compile, bool), "True or False")
        check("checkpoint_minutes", isinstance(self.checkpoint_minutes, (int, float))
              and 0 <= self.checkpoint_minutes <= 10_000, "minutes from 0 (by steps only) to 10,000")
        for name in ("log_every", "sample_every", "checkpoint_every"):
            check(name, isinstance(getattr(self, name), int) and getattr(self, name) >= 1, "an integer of at least 1")
        check("num_preview", isinstance(self.num_preview, int) and 1 <= self.num_preview <= 256,
              "an integer from 1 to 256")
        if self.dataset in BUILTIN_POINT_SETS:
            check("augment", self.augment == "none", "'none' for 2-D point data")
        # image-to-image settings (each task checks how its own runs combine them, below)
        check("scale", isinstance(self.scale, int) and not isinstance(self.scale, bool) and self.scale in names.SCALES,
              "2 or 4 (how many times larger the output is)")
        check("blur", _number(self.blur) and 0 <= self.blur <= 8, "a blur sigma from 0 (off) to 8 pixels")
        check("noise", _number(self.noise) and 0 <= self.noise <= 50, "a noise level from 0 (off) to 50 (of 255)")
        check("jpeg", isinstance(self.jpeg, int) and not isinstance(self.jpeg, bool) and 0 <= self.jpeg <= 95,
              "the lowest JPEG quality, from 1 to 95, or 0 (off)")
        check("direction", self.direction in names.DIRECTIONS,
              f"one of {', '.join(names.DIRECTIONS)} (which side is the input)")
        check("frames", isinstance(self.frames, int) and not isinstance(self.frames, bool)
              and self.frames in names.FRAMES, f"one of {', '.join(map(str, names.FRAMES))} (past frames given)")
        check("pixel_loss", self.pixel_loss in names.PIXEL_LOSSES, f"one of {', '.join(names.PIXEL_LOSSES)}")
        for name in ("pixel_weight", "adversarial_weight", "feature_weight", "perceptual_weight"):
            check(name, _number(getattr(self, name)) and 0 <= getattr(self, name) <= 1000, "from 0 (off) to 1000")
        check("pixel_warmup", isinstance(self.pixel_warmup, int) and not isinstance(self.pixel_warmup, bool)
              and 0 <= self.pixel_warmup <= 10_000_000, "a number of steps from 0 (adversarial from the start)")
        for name in ("cycle_weight", "identity_weight", "nce_weight"):
            check(name, _number(getattr(self, name)) and 0 <= getattr(self, name) <= 1000, "from 0 (off) to 1000")
        check("history_size", isinstance(self.history_size, int) and not isinstance(self.history_size, bool)
              and 0 <= self.history_size <= 1000, "a number of pictures from 0 (no history buffer) to 1000")
        task.check_settings(self, check)


def check_resume_overrides(saved: dict, overrides: dict) -> None:
    """Refuse new values for the settings a resumed run keeps (what its checkpoint's networks,
    data and task are: `setting(may_change_on_resume=False)`), naming them; a value equal to
    the run's own is no change."""
    kept = [f.name for f in dataclasses.fields(TrainConfig) if not f.metadata["may_change_on_resume"]
            and f.name in overrides and f.name in saved and overrides[f.name] != saved[f.name]]
    if kept:
        changes = ", ".join(f"{name}={saved[name]!r} -> {overrides[name]!r}" for name in kept)
        raise ConfigError(f"{', '.join(kept)} cannot change when resuming ({changes}): the run keeps its data, "
                          f"networks and task; start a new run to change them")


@dataclass
class TrainEvent:
    """What the loop reports every `log_every` steps (and at the end)."""

    step: int
    total_steps: int
    status: str  # "running", "finished", "stopped" or "diverged"
    losses: dict = field(default_factory=dict)  # means over the last steps: "d", "g" (and "r1", "r2", "gp", "recon", "augment_p")
    d_real: float = float("nan")  # D's mean probability that real samples are real
    d_fake: float = float("nan")  # ... that generated samples are real
    images_per_second: float = 0.0
    elapsed_seconds: float = 0.0
    eta_seconds: float = 0.0
    time_budget_seconds: float = 0.0  # a run by the clock: its budget (0: a run by steps)
    device: str = "cpu"
    precision: str = "fp32"
    preview: object = None  # PIL image: a grid of the fixed latents, or a scatter plot for points
    preview_samples: torch.Tensor | None = None  # the raw preview samples (points in data coordinates)
    checkpoint: str | None = None  # path of a checkpoint written at this step
    message: str = ""

    def status_line(self) -> str:
        if self.message and self.status != "running":
            return self.message
        eta = f"{int(self.eta_seconds // 60)}m{int(self.eta_seconds % 60):02d}s"
        progress = (f"step {self.step} · {eta} left of {self.time_budget_seconds / 60:g} min"
                    if self.time_budget_seconds else f"step {self.step}/{self.total_steps} · ETA {eta}")
        return (f"{progress} · {self.images_per_second:,.0f} img/s · "
                f"{self.device} {self.precision} · D loss {self.losses.get('d', float('nan')):.3f} · "
                f"G loss {self.losses.get('g', float('nan')):.3f}")


class RunFolderError(ValueError):
    """The run folder cannot be used as asked (exists already, or has nothing to resume)."""


class Trainer:
    """Builds the parts once (data source, networks, update step, schedule); `run()` trains."""

    def __init__(self, config: TrainConfig, resume: bool = False, dataset: Dataset | None = None,
                 progress=None):
        """progress(done, total): called while pictures are decoded (a large set, the first time)."""
        self.config = config
        self.out_dir = Path(config.out_dir)
        self.stop_requested = False
        has_checkpoint = checkpoints.latest_checkpoint(self.out_dir) is not None
        if resume and not has_checkpoint:
            raise RunFolderError(f"nothing to resume in {self.out_dir}: it holds no complete checkpoint")
        if not resume and has_checkpoint:
            raise RunFolderError(f"{self.out_dir} already holds a training run: resume it, or choose another "
                                 f"output folder")

        # Where: the best device there is. Several processes (accelerate launch, torchrun): one
        # device each, see distributed.py; None in a single process.
        self.device = select_device(config.device)
        self.dist = distributed.from_environment(self.device)
        if self.dist is not None:
            self.device = self.dist.device
        self.is_main_process = self.dist is None or self.dist.is_main
        # batch_size is the global batch; this process draws its share of it.
        self.local_batch_size = (config.batch_size if self.dist is None
                                 else self.dist.local_batch_size(config.batch_size, config.pack))
        family = get_family(config.arch)
        self.precision = resolve_precision(config.precision, self.device, family.mixed_precision)
        devices.enable_autotuning(self.device)  # CUDA: the shapes never change, let cuDNN time its kernels once

        # 1. The data, and the source that draws batches from it.
        task = get_task(config.task)
        if dataset is None and task.load_data is not None:  # targets, or the user's own pairs
            dataset = task.load_data(config, cache_dir=self.out_dir / "data-cache", progress=progress)
        if dataset is None:
            files = {}
            if config.dataset not in BUILTIN_DATASETS:
                # Pictures from files are decoded once, in parallel, into a cache in the run folder
                # (reused on resume); the built-ins are made in memory.
                files = dict(cache_dir=self.out_dir / "data-cache", progress=progress)
            dataset = load_dataset(config.dataset, config.resolution, config.channels, max_images=config.max_images,
                                   seed=config.seed, **files)
        self.data = dataset
        # Image-to-image: the source draws targets (the user's pairs: input and target stacked in
        # channels) and each batch's inputs are made from them (gan_space.pairs); a few pictures are
        # held out for the previews and the scores.
        self.pairing = self.held_out = None
        if task.makes_pairs:
            self.pairing = task.pairing(config)
            self.data, held_out_rows = split_held_out(self.data, config.in_memory_limit_mb * 2**20)
            self.held_out = HeldOut.make(self.pairing, held_out_rows, aligned=self.data.aligned)
        if config.conditional and not self.data.num_classes:
            raise ConfigError(f"conditional=True needs labelled data, but {self.data.name} has no classes")
        if (task.data_kind if self.pairing else self.data.kind) not in family.data_kinds:
            raise ConfigError(f"arch={config.arch!r} takes {' or '.join(family.data_kinds)}; {self.data.name} holds "
                              f"{self.data.kind}: use arch={family_names(self.data.kind)[0]!r}")
        self.num_classes = self.data.num_classes if config.conditional else 0
        memory_format = torch.channels_last if family.channels_last else torch.contiguous_format
        self.source = make_source(
            self.data, self.device, seed=config.seed + 1, use_labels=bool(self.num_classes),
            memory_format=memory_format, shard=(self.dist.rank, self.dist.world_size) if self.dist else None,
            in_memory_limit_bytes=config.in_memory_limit_mb * 2**20)

        # 2. The networks of the chosen family, their optimisers and (rank 0 only) the EMA generator.
        self.networks = Networks.build(config, self.data_spec(), self.device, self.precision,
                                       keep_ema=self.is_main_process)
        # 3. The run's random streams, and the update step.
        self.randomness = RunRandomness(config.seed, self.device)
        # The task's update step (image-to-image), else the family's (it may add loss terms), else the GAN's.
        objective = task.objective or family.objective or GANObjective
        self.objective = objective(config, self.device, self.precision, self.randomness, self.dist)
        # 4. The schedule of learning rates.
        self.schedule = Schedule(config)

        self.preview_latents = sample_latents(config.num_preview if self.data.kind == "images" else 2500,
                                              config.latent_dim, seed=config.seed).to(self.device)
        self.preview_labels = (torch.arange(self.preview_latents.shape[0], device=self.device) % self.num_classes
                               if self.num_classes else None)
        self.step = 0
        self.elapsed_before = 0.0  # training seconds of earlier sessions of this run
        if resume:
            self.step, self.elapsed_before = self._restore()
        if self.dist is not None:  # the same networks on every rank; each rank its own noise and batches
            self.dist.broadcast_from_main(self.networks.generator, self.networks.discriminator)
            self.dist.seed_rank_streams(self.randomness, self.source, config.seed, self.step)

    @classmethod
    def resume(cls, out_dir: str, progress=None, **overrides) -> "Trainer":
        """Continue the run in `out_dir` with its saved settings (`steps` etc. may be raised)."""
        saved = checkpoints.saved_train_config(Path(out_dir))
        overrides = {k: v for k, v in overrides.items() if v is not None}
        check_resume_overrides(saved, overrides)
        values = {**saved, **overrides, "out_dir": str(out_dir)}
        return cls(TrainConfig.from_dict(values), resume=True, progress=progress)

    def data_spec(self) -> DataSpec:
        d = self.data
        if self.pairing is not None:  # the generator maps the input's shape to the target's
            return DataSpec(kind=get_task(self.config.task).data_kind, data_shape=tuple(self.held_out.target.shape[1:]),
                            condition_shape=tuple(self.held_out.condition.shape[1:]),
                            residual=get_task(self.config.task).residual, frames=self.pairing.frames)
        return DataSpec(kind=d.kind, data_shape=tuple(d.data_shape), num_classes=self.num_classes,
                        offset=tuple(d.offset) if d.offset is not None else None, scale=d.scale)

    def request_stop(self) -> None:
        """Ask the loop to stop after the current step (it checkpoints first)."""
        self.stop_requested = True

    # -- one step ---------------------------------------------------------------------

    def next_batch(self) -> Batch:
        """Real samples from the source, and latents (and classes) for the generator."""
        real, real_labels = self.source.next_batch(self.local_batch_size)
        if self.pairing is not None:  # image-to-image: D calls the target real, G maps the input
            condition, target = self.pairing(real, self.randomness.noise)
            return Batch(real=target, real_labels=None, latents=target.new_empty(target.shape[0], 0), fake_labels=None,
                         condition=condition)
        latents = self.randomness.latents(self.local_batch_size, self.config.latent_dim)
        fake_labels = self.randomness.labels(self.local_batch_size, self.num_classes)
        return Batch(real=real, real_labels=real_labels, latents=latents, fake_labels=fake_labels)

    def train_step(self, batch: Batch | None = None) -> dict:
        """One training step: `d_steps` discriminator updates, one generator update (on the
        last D step's fakes), the EMA. `batch`: the first D update's batch (default: drawn).
        Returns the step's logs as tensors (no host sync)."""
        c, networks = self.config, self.networks
        networks.set_learning_rates(*self.schedule.learning_rates(self.step))
        for d_step in range(c.d_steps):
            batch = batch if (d_step == 0 and batch is not None) else self.next_batch()
            fake, d_logs = self.objective.discriminator_step(networks, batch, self.step,
                                                             keep_fake_graph=d_step == c.d_steps - 1)
        g_logs = self.objective.generator_step(networks, batch, fake)
        networks.update_ema()
        self.step += 1
        return {**d_logs, **g_logs}

    # -- what previews, measurements and checkpoints use ------------------------------

    def sampling_generator(self):
        """The generator to sample from: the EMA copy when there is one."""
        return self.networks.sampling_generator()

    def sample(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Samples of the sampling generator for these latents, in fp32 on the CPU: images
        in [-1, 1], points in data coordinates. Touches none of the run's state or streams."""
        return self.networks.sample(latents, labels)

    def preview(self):
        """Samples of the fixed preview latents and a picture of them. Image-to-image: (None, the
        held-out pairs as input | output | target): the picture is the whole preview."""
        if self.pairing is not None:
            return None, preview_picture(self.networks, self.held_out)
        samples = self.sample(self.preview_latents, self.preview_labels)
        real = self.data.samples[:2500] if self.data.kind == "points" else None
        return samples, preview_image(samples, real=real)

    def save_checkpoint(self, elapsed_seconds: float, metrics: dict, finished: bool) -> Path:
        """Everything to sample from and to resume this run, written atomically. `finished`:
        the run is complete (its steps or its minutes), as its final event says."""
        networks = self.networks
        tensors, meta = networks.state()
        tensors.update(self.randomness.state())
        tensors.update(self.objective.state())  # e.g. augment="ada": its probability p ("augment.p")
        tensors["rng.batches"] = self.source.rng_state()
        state = {
            "elapsed_seconds": elapsed_seconds,
            "ema_updates": meta.pop("ema_updates", 0),
            "train_config": self.config.to_dict(),
            "optimisers": meta,
            "summary": {
                "step": self.step,
                "total_steps": self.config.steps,
                "minutes": self.config.minutes,  # a time budget (0: by steps; total_steps is then only a cap)
                # Whether the run is complete (its steps, or its minutes), for lists of models.
                "finished": finished,
                "training_seconds": round(elapsed_seconds, 1),
                "dataset": self.data.summary(),
                "data_kind": self.data.kind,
                "class_names": self.data.class_names if self.num_classes else [],
                # Pictures of sounds: how to make them sound again (also sound.json beside each generator)
                **({"sound": self.data.sound} if self.data.sound else {}),
                "device": str(self.device),
                "precision": self.precision,
                "last_losses": metrics,
            },
        }
        with networks.sampling_weights() as sampler:
            models = {"generator": sampler, "generator_raw": networks.generator,
                      "discriminator": networks.discriminator}
            return checkpoints.save_checkpoint(self.out_dir, self.step, models, tensors, state, sound=self.data.sound)

    def _restore(self) -> tuple[int, float]:
        """Networks, EMA, optimisers and random streams from the newest checkpoint."""
        folder, state, tensors = checkpoints.read_checkpoint(self.out_dir)
        networks = self.networks
        checkpoints.load_weights(networks.generator, folder / "generator_raw")
        checkpoints.load_weights(networks.discriminator, folder / "discriminator")
        if networks.ema is not None:
            checkpoints.load_weights(networks.ema.model, folder / "generator")
        networks.load_state(tensors, {**state["optimisers"], "ema_updates": state.get("ema_updates", state["step"])})
        if "rng.noise" in tensors:  # (checkpoints of earlier versions drew noise from torch's global stream)
            self.randomness.load_state(tensors)
        self.source.set_rng_state(tensors["rng.batches"])
        self.objective.load_state(tensors)
        return state["step"], state.get("elapsed_seconds", 0.0)

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> Iterator[TrainEvent]:
        c = self.config
        if self.is_main_process:  # several processes: rank 0 alone writes the run folder
            self.out_dir.mkdir(parents=True, exist_ok=True)
            checkpoints.write_json_atomic(self.out_dir / "train_config.json", c.to_dict())
            if self.held_out is not None:  # for the card's before/after pictures and scores, and the app
                self.held_out.save(self.out_dir / HELD_OUT_FILE)
        sums = {}  # running sums of the logged quantities, kept as tensors: no host sync per step
        window_start, window_steps = time.perf_counter(), 0
        session_start = last_checkpoint = time.perf_counter()
        checkpoint_seconds = c.checkpoint_minutes * 60
        budget_seconds = c.minutes * 60  # 0: by steps
        # Divergence: on the CPU the losses are already computed when read, so checking them every
        # step is free and a NaN stops the run at the step it appears. On a GPU each read would make
        # the CPU wait for the device every step; there (and with several processes, which must all
        # stop at the same step) the check runs at the events below.
        check_each_step = devices.host_reads_are_free(self.device) and self.dist is None

        try:
            if self.step >= c.steps or (budget_seconds and self.elapsed_seconds(session_start) >= budget_seconds):
                return  # resumed at its last step or minute: nothing left to do
            while True:  # it ends below, at the event of the step that finishes or stops the run
                # 1. One update of D and of G (gan_space.objectives), and the EMA.
                self.schedule.elapsed_seconds = self.elapsed_seconds(session_start)
                logs = self.train_step()
                window_steps += 1
                for name in ("d_real", "d_fake", *LOGGED_LOSSES):
                    if name in logs:
                        _accumulate(sums, name, logs[name])
                if check_each_step and not (math.isfinite(logs["d_total"].item()) and math.isfinite(logs["g"].item())):
                    yield self._diverged_event(logs, session_start)
                    return

                # 2. Whether the run ends at this step: decided once, here, and only this decision
                # ends the loop, so a run that ends always gets its final event and checkpoint
                # (reading the clock again later could end it in between, with neither).
                # Several processes meet only at scheduled steps: they read the clock there and
                # agree below (their clocks differ), so they may overrun by up to log_every steps.
                scheduled = any(self.step % every == 0 for every in (c.log_every, c.sample_every, c.checkpoint_every))
                out_of_time = bool(budget_seconds) and self.elapsed_seconds(session_start) >= budget_seconds
                finished = self.step >= c.steps or (out_of_time and (scheduled or self.dist is None))
                stopping = self.stop_requested and self.dist is None  # several processes: agreed on below
                clock_due = 0 < checkpoint_seconds <= time.perf_counter() - last_checkpoint

                # 3. Report, preview and checkpoint on their schedules (steps, and the clock for
                # checkpoints), and at the end. Only here are values read back from the device, so
                # on a GPU the steps in between queue up without waiting.
                if not (scheduled or finished or stopping or (clock_due and self.dist is None)):
                    continue
                now = time.perf_counter()
                if self.dist is not None:  # means over all ranks; a flag raised on any rank is for all
                    sums, flags = self.dist.average_logs(
                        sums, {"stop": self.stop_requested, "clock": clock_due, "finished": finished})
                    stopping, clock_due, finished = flags["stop"], flags["clock"], flags["finished"]
                images_per_second = window_steps * c.batch_size / max(now - window_start, 1e-9)
                means = {k: float(v) / window_steps for k, v in sums.items()}
                sums, window_start, window_steps = {}, now, 0
                # Losses must stay finite (one NaN makes the window's sum NaN); otherwise stop.
                # Checkpoints are only written below this check, so the last one is good.
                if not (math.isfinite(means["d"]) and math.isfinite(means["g"])):
                    yield self._diverged_event(logs, session_start)
                    return
                event = TrainEvent(
                    step=self.step, total_steps=c.steps, status="running",
                    losses={k: means[k] for k in LOGGED_LOSSES if k in means},
                    d_real=means["d_real"], d_fake=means["d_fake"], images_per_second=images_per_second,
                    elapsed_seconds=self.elapsed_before + now - session_start,
                    eta_seconds=(max(0.0, budget_seconds - self.elapsed_seconds(session_start)) if budget_seconds
                                 else (c.steps - self.step) * c.batch_size / max(images_per_second, 1e-9)),
                    time_budget_seconds=budget_seconds, device=str(self.device), precision=self.precision)
                if self.is_main_process and (self.step % c.sample_every == 0 or finished or stopping):
                    event.preview_samples, event.preview = self.preview()
                    samples_dir = self.out_dir / "samples"
                    samples_dir.mkdir(exist_ok=True)
                    event.preview.save(samples_dir / f"step-{self.step:07d}.png")
                if self.step % c.checkpoint_every == 0 or clock_due or finished or stopping:
                    if self.is_main_process:
                        event.checkpoint = str(self.save_checkpoint(event.elapsed_seconds, event.losses, finished))
                    last_checkpoint = time.perf_counter()
                    if self.dist is not None:  # no rank goes on, or exits, before the checkpoint is on disk
                        self.dist.barrier()
                if finished:
                    event.status = "finished"
                    done = f"{c.minutes:g} minutes ({self.step} steps)" if budget_seconds else f"{c.steps} steps"
                    event.message = (f"finished {done} in {event.elapsed_seconds:.0f}s; "
                                     f"generator saved in {self.out_dir}")
                elif stopping:
                    event.status = "stopped"
                    where = (f"{event.elapsed_seconds / 60:.1f} of {c.minutes:g} minutes (step {self.step})"
                             if budget_seconds else f"step {self.step}/{c.steps}")
                    event.message = f"stopped at {where}; checkpoint kept in {self.out_dir}: resume to continue"
                yield event
                if finished or stopping:
                    return
                window_start = time.perf_counter()  # do not count the time spent by the consumer
        finally:
            self.source.close()

    def elapsed_seconds(self, session_start: float) -> float:
        """Training time of the run so far, earlier sessions included."""
        return self.elapsed_before + time.perf_counter() - session_start

    def _diverged_event(self, logs: dict, session_start: float) -> TrainEvent:
        last = checkpoints.latest_checkpoint(self.out_dir)
        kept = f"the last good checkpoint ({last.name}) is kept" if last else "no checkpoint had been written yet"
        hint = ("lower the learning rates (e.g. halve lr_d and lr_g), add an R1 penalty (r1_gamma) or "
                "spectral norm, or switch the loss to 'hinge'")
        loss_d, loss_g = float(logs["d_total"]), float(logs["g"])
        return TrainEvent(
            step=self.step, total_steps=self.config.steps, status="diverged",
            losses={"d": loss_d, "g": loss_g}, device=str(self.device), precision=self.precision,
            elapsed_seconds=self.elapsed_before + time.perf_counter() - session_start,
            message=f"training diverged at step {self.step}: the losses became NaN or infinite "
                    f"(D {loss_d}, G {loss_g}); {kept}. Try: {hint}.")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _accumulate(sums: dict, name: str, value: torch.Tensor) -> None:
    value = value.detach().float()
    sums[name] = sums[name] + value if name in sums else value


def train(config: TrainConfig, resume: bool = False) -> TrainEvent:
    """Run to the end and return the last event (for scripts and tests)."""
    trainer = Trainer.resume(config.out_dir, steps=config.steps) if resume else Trainer(config)
    event = None
    for event in trainer.run():
        pass
    return event


def describe_run(out_dir: str | Path) -> dict:
    """What a run folder holds: its settings and the latest checkpoint's summary."""
    out_dir = Path(out_dir)
    info = {"train_config": checkpoints.saved_train_config(out_dir)}
    latest = checkpoints.latest_checkpoint(out_dir)
    if latest is not None:
        info["checkpoint"] = str(latest)
        info.update(json.loads((latest / "state.json").read_text()).get("summary", {}))
    return info


__all__ = ["TrainConfig", "TrainEvent", "Trainer", "ConfigError", "RunFolderError", "train", "describe_run",
           "PRESETS", "PICTURE_PRESETS", "picture_preset", "SOUND_RESOLUTION", "sound_preset"]
