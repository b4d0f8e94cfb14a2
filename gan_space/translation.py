"""Image-to-image GANs on the shared machinery: super-resolution, colourisation, sketches
and a user's own pairs (gan_space.pairs makes the pairs).

Training is the ordinary `Trainer` with `TrainConfig.task` set: its batches carry the
target as `real` and the input as `condition`, and the pair families (gan_space.models:
"unet", pix2pix; "rrdb", ESRGAN) update through `TranslationObjective`, a GANObjective
whose generator maps `batch.condition`, with a pixel loss (L1 or Charbonnier), the
adversarial loss, feature matching in D's features (a perceptual term that needs no
download) and, when VGG-19 weights are present, a VGG perceptual term:

    config = TrainConfig.for_dataset("my-photos/", task="super-resolution", scale=4, out_dir="runs/sr")
    for event in Trainer(config).run(): ...

Applying a model to a picture of any size works in overlapping tiles blended with linear
ramps (`apply`), so a large picture never needs the memory of one pass and shows no
seams; `held_out_scores` measures PSNR, SSIM and a Fréchet distance on the run's
held-out pictures next to the baseline (bicubic for super-resolution, else the input).
"""

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from .losses import RELATIVISTIC_LOSSES, generator_loss
from .names import PIXEL_LOSSES
from .objective import Batch, GANObjective
from .pairs import (DIRECTIONS, HELD_OUT_FILE, PAIR_TASKS, SCALES, TASKS, HeldOut, Pairing, luma, match_channels,
                    sketch, to_float, upscale_bicubic)

CHARBONNIER_EPSILON = 1e-3
DEFAULT_TILE = 128  # input pixels a side per tile
DEFAULT_OVERLAP = 32  # input pixels shared by neighbouring tiles (blended)
MAX_OUTPUT_PIXELS = 64_000_000
VGG_WEIGHTS_ENV = "GAN_SPACE_VGG19"  # a safetensors file of torchvision's vgg19 `features.*` weights
DEFAULT_VGG_WEIGHTS = Path("~/.cache/gan_space/vgg19.safetensors")

# Settings that train each task in a few CPU minutes on 64x64 pictures; anything the user
# sets wins (TrainConfig.for_dataset).
# pixel_warmup: the L1 model first, then the GAN from it (ESRGAN). On the emoji benchmark (x4, 400 L1
# steps, then 200 more) the GAN phase took the held-out Fréchet distance from 134 to 114 (L1 alone:
# 125) for 0.2 dB of PSNR (21.75 vs 21.96); from scratch the same 400+200 steps lost 1 dB to L1 alone.
_COMMON = dict(resolution=64, channels=3, width=32, num_layers=2, batch_size=16, steps=2000, pixel_warmup=500,
               lr_g=2e-4, lr_d=2e-4, beta1=0.9, beta2=0.99, r1_gamma=0.0, ema_decay=0.999, lr_decay_fraction=0.3,
               augment="flip", sample_every=250, checkpoint_every=1000, pixel_loss="l1", pixel_weight=1.0)
TRANSLATION_PRESETS = {
    # ESRGAN's recipe in small: RRDB generator, relativistic D; feature matching stands in for VGG.
    "super-resolution": dict(_COMMON, arch="rrdb", scale=4, loss="rpgan", adversarial_weight=0.005,
                             feature_weight=0.1),
    # pix2pix: U-Net, conditional PatchGAN, L1 at 100x the adversarial loss.
    # (width 16: a U-Net convolves at the full size, where width 32 costs 4x as much on a CPU)
    "colorize": dict(_COMMON, arch="unet", width=16, loss="non-saturating", adversarial_weight=0.01,
                     feature_weight=0.1),
    "edges": dict(_COMMON, arch="unet", width=16, loss="non-saturating", adversarial_weight=0.01, feature_weight=0.1),
    "paired": dict(_COMMON, arch="unet", width=16, loss="non-saturating", adversarial_weight=0.01, feature_weight=0.1),
}


def translation_preset(task: str) -> dict:
    if task not in TRANSLATION_PRESETS:
        raise ValueError(f"task={task!r} is not an image-to-image task: one of {', '.join(PAIR_TASKS)}")
    return dict(TRANSLATION_PRESETS[task])


def check_settings(config, check) -> None:
    """TrainConfig.validate's checks of the image-to-image settings; `check(name, ok, allowed)`
    raises the ConfigError."""
    check("task", config.task in TASKS, f"one of {', '.join(TASKS)}")
    check("scale", isinstance(config.scale, int) and not isinstance(config.scale, bool) and config.scale in SCALES,
          "2 or 4 (how many times larger the output is)")
    check("blur", _number(config.blur) and 0 <= config.blur <= 8, "a blur sigma from 0 (off) to 8 pixels")
    check("noise", _number(config.noise) and 0 <= config.noise <= 50, "a noise level from 0 (off) to 50 (of 255)")
    check("jpeg", isinstance(config.jpeg, int) and not isinstance(config.jpeg, bool) and 0 <= config.jpeg <= 95,
          "the lowest JPEG quality, from 1 to 95, or 0 (off)")
    check("direction", config.direction in DIRECTIONS, f"one of {', '.join(DIRECTIONS)} (which side is the input)")
    check("pixel_loss", config.pixel_loss in PIXEL_LOSSES, f"one of {', '.join(PIXEL_LOSSES)}")
    for name in ("pixel_weight", "adversarial_weight", "feature_weight", "perceptual_weight"):
        check(name, _number(getattr(config, name)) and 0 <= getattr(config, name) <= 1000, "from 0 (off) to 1000")
    check("pixel_warmup", isinstance(config.pixel_warmup, int) and not isinstance(config.pixel_warmup, bool)
          and 0 <= config.pixel_warmup <= 10_000_000, "a number of steps from 0 (adversarial from the start)")
    if config.task == "generate":
        return
    check("pixel_weight", config.pixel_weight + config.adversarial_weight + config.feature_weight
          + config.perceptual_weight > 0, "above 0 when every other loss weight is 0 too: nothing would be learnt")
    check("pixel_warmup", config.pixel_warmup == 0 or config.pixel_weight > 0,
          "0 when pixel_weight is 0 (the warm-up trains with the pixel loss alone)")
    if config.task != "super-resolution":
        for name in ("blur", "noise", "jpeg"):
            check(name, getattr(config, name) == 0, f"0: degradations are for task='super-resolution' only")
    if config.task == "colorize":
        check("channels", config.channels == 3, "3: colourisation makes colour pictures (channels=3)")
    check("resolution", isinstance(config.resolution, int) and 16 <= config.resolution <= 256
          and config.resolution % 8 == 0, "a multiple of 8 from 16 to 256 for image-to-image tasks")
    if config.task == "super-resolution":
        check("resolution", config.resolution // config.scale >= 8,
              f"at least {8 * config.scale} for x{config.scale} super-resolution (inputs of 8 pixels or more)")
    check("augment", config.augment in ("none", "flip"),
          "'none' or 'flip' for image-to-image tasks (flips mirror input and target alike; D's other "
          "augmentations would separate them)")
    check("pack", config.pack == 1, "1 for image-to-image tasks (D judges one pair at a time)")
    check("conditional", not config.conditional, "False for image-to-image tasks: the input picture is the condition")
    if config.perceptual_weight > 0:
        path = vgg_weights_path()
        check("perceptual_weight", path is not None,
              f"0, unless VGG-19 weights are present: put torchvision's vgg19 'features.*' weights as a safetensors "
              f"file at {DEFAULT_VGG_WEIGHTS} or name it in ${VGG_WEIGHTS_ENV}. Feature matching in D's features "
              f"(feature_weight) is the perceptual term that needs no download")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------------------
# The update step


def pixel_loss(kind: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    difference = output.float() - target.float()
    if kind == "charbonnier":  # a smooth L1 (LapSRN): the same optimum, no kink at zero
        return torch.sqrt(difference**2 + CHARBONNIER_EPSILON**2).mean()
    return difference.abs().mean()


class TranslationObjective(GANObjective):
    """GANObjective for pairs: G maps `batch.condition`; G's loss is

        pixel_weight * L1 (or Charbonnier) to the target
        + adversarial_weight * the adversarial loss (config.loss; "rpgan" pairs each target
          with the output made from its own input: ESRGAN's relativistic game)
        + feature_weight * L1 between D's features of output and target (feature matching,
          pix2pixHD: a perceptual term learnt with D, no download)
        + perceptual_weight * L1 between VGG-19 features (only with the weights present).

    A conditional discriminator (pix2pix's) takes the input where class-conditional ones
    take labels, so D's terms, R1/R2 and the gradient penalty are the base class's. With
    adversarial_weight = feature_weight = 0 the discriminator is not trained at all (the
    L1-only "SRResNet" baseline costs only the generator's steps), nor is it during the
    first `pixel_warmup` steps: ESRGAN's recipe, a PSNR-oriented model first and the GAN
    from there, in one run (the phase follows the step, so a resumed run is in the same one)."""

    def __init__(self, config, device, precision, randomness, dist=None):
        super().__init__(config, device, precision, randomness, dist)
        self.pixel_kind = config.pixel_loss
        self.pixel_weight = config.pixel_weight
        self.adversarial_weight = config.adversarial_weight
        self.feature_weight = config.feature_weight
        self.perceptual_weight = config.perceptual_weight
        self.pixel_warmup = config.pixel_warmup
        self.adversarial_now = self.uses_discriminator and self.pixel_warmup == 0  # set by each D step
        # Flips are made on the pairs (gan_space.pairs.Pairing), both sides alike; augmenting what
        # D sees would mirror an output but not the input it is judged with.
        self.augment_kind = "none"
        self.perceptual = VGGFeatures.load(vgg_weights_path()).to(device) if self.perceptual_weight > 0 else None

    @property
    def uses_discriminator(self) -> bool:
        return self.adversarial_weight > 0 or self.feature_weight > 0

    def generate(self, networks, batch: Batch, grad: bool) -> torch.Tensor:
        with self.autocast(), torch.set_grad_enabled(grad):
            return networks.G_forward(batch.condition)

    @staticmethod
    def judged(networks, batch: Batch) -> Batch:
        """The batch as D sees it: a conditional D gets the input where labels go."""
        if networks.discriminator.config.condition_channels:
            return replace(batch, real_labels=batch.condition, fake_labels=batch.condition)
        return batch

    def discriminator_terms(self, networks, batch: Batch, fake: torch.Tensor, step: int, logs: dict) -> dict:
        return super().discriminator_terms(networks, self.judged(networks, batch), fake, step, logs)

    def discriminator_step(self, networks, batch: Batch, step: int, keep_fake_graph: bool = True):
        self.adversarial_now = self.uses_discriminator and step >= self.pixel_warmup
        if self.adversarial_now:
            return super().discriminator_step(networks, batch, step, keep_fake_graph)
        fake = self.generate(networks, batch, grad=keep_fake_graph)
        zero = torch.zeros((), device=fake.device)
        nan = torch.full((), float("nan"), device=fake.device)
        return fake, {"d": zero, "d_total": zero, "d_real": nan, "d_fake": nan}

    def generator_terms(self, networks, batch: Batch, fake: torch.Tensor, logs: dict) -> dict:
        target = batch.real
        pixel = pixel_loss(self.pixel_kind, fake, target)
        logs["pixel"] = pixel.detach()
        terms = {"pixel": self.pixel_weight * pixel} if self.pixel_weight > 0 else {}
        if self.adversarial_now:
            judged = self.judged(networks, batch)
            need_real = self.loss in RELATIVISTIC_LOSSES or self.feature_weight > 0
            with self.autocast():
                fake_logits, fake_features = networks.D_forward(fake, judged.fake_labels, return_features=True)
                real_logits = real_features = None
                if need_real:  # constants for G: no graph
                    with torch.no_grad():
                        real_logits, real_features = networks.D_forward(target, judged.real_labels,
                                                                        return_features=True)
            fake_logits = fake_logits.float()
            real_logits = real_logits.float() if real_logits is not None else None
            if self.adversarial_weight > 0:
                adversarial = generator_loss(self.loss, fake_logits, real_logits)
                terms["adversarial"] = self.adversarial_weight * adversarial
                logs["adversarial"] = adversarial.detach()
            if self.feature_weight > 0:
                matching = sum((f.float() - r.float()).abs().mean() for f, r in zip(fake_features, real_features))
                terms["features"] = self.feature_weight * matching / len(fake_features)
            relative = fake_logits if real_logits is None else fake_logits - real_logits
            logs["g_fake"] = torch.sigmoid(relative.detach()).mean()
        if self.perceptual is not None:
            with self.autocast():
                terms["perceptual"] = self.perceptual_weight * self.perceptual.distance(fake, target)
        return terms


# ---------------------------------------------------------------------------
# A VGG-19 perceptual term, only from weights the user has


def vgg_weights_path() -> Path | None:
    for candidate in (os.environ.get(VGG_WEIGHTS_ENV), DEFAULT_VGG_WEIGHTS):
        if candidate and Path(candidate).expanduser().is_file():
            return Path(candidate).expanduser()
    return None


class VGGFeatures(torch.nn.Module):
    """VGG-19's convolutions up to conv5_4 before its activation (ESRGAN's perceptual layer),
    loaded from a safetensors file with torchvision's key names (`features.0.weight`, ...).
    Nothing is downloaded and nothing is unpickled."""

    LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self):
        super().__init__()
        layers, channels = [], 3
        for item in self.LAYOUT:
            if item == "M":
                layers.append(torch.nn.MaxPool2d(2))
            else:
                layers += [torch.nn.Conv2d(channels, item, 3, 1, 1), torch.nn.ReLU()]
                channels = item
        self.features = torch.nn.Sequential(*layers[:-1])  # conv5_4 before its ReLU
        self.register_buffer("mean", torch.tensor(self.MEAN).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(self.STD).reshape(1, 3, 1, 1))
        self.requires_grad_(False)

    @classmethod
    def load(cls, path: Path) -> "VGGFeatures":
        from safetensors.torch import load_file

        network = cls()
        tensors = {key: value for key, value in load_file(path).items() if key.startswith("features.")}
        try:
            network.load_state_dict({**tensors, "mean": network.mean, "std": network.std})
        except RuntimeError as error:
            raise ValueError(f"{path} does not hold torchvision's VGG-19 'features.*' weights ({str(error)[:200]})") \
                from None
        return network.eval()

    def distance(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        def features(x):
            x = match_channels(x.float(), 3)
            return self.features(((x + 1) / 2 - self.mean) / self.std)

        with torch.no_grad():
            reference = features(target)
        return (features(output) - reference).abs().mean()


# ---------------------------------------------------------------------------
# Using a model


def is_translator(model) -> bool:
    return bool(getattr(model, "is_translator", False))


def load_translator(model: str | Path, device: str = "cpu", token: str | None = None):
    """An image-to-image generator from a run folder, a generator folder or a Hub repo id
    (pulled first: safetensors only). Raises ValueError when it is another kind of model."""
    from .checkpoints import load_generator

    path = Path(os.path.expanduser(str(model)))
    if path.exists() or "/" not in str(model) or str(model).startswith((".", "/", "~")):
        generator = load_generator(path, device)
    else:
        from . import hub

        generator = hub.pull(str(model), token=token, device=device)
    if not is_translator(generator):
        raise ValueError(f"{model} is a {type(generator).__name__}, which samples from noise: apply needs an "
                         f"image-to-image model (trained with --task super-resolution, colorize, edges or paired)")
    return generator


@torch.no_grad()
def translate(generator, condition: torch.Tensor) -> torch.Tensor:
    """[-1, 1] inputs (N, C, h, w) -> [-1, 1] outputs, in eval mode, in fp32 on the CPU."""
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        return generator(condition.to(device).float()).float().clamp(-1, 1).cpu()
    finally:
        generator.train(was_training)


def prepare_input(generator, picture, make_sketch: bool = False) -> torch.Tensor:
    """A PIL picture or a [-1, 1] tensor (C, h, w) -> the model's input (1, in_channels, h, w):
    grey for colourisation (luma), a sketch made from a photo for an edges model when
    `make_sketch`, colour matched to what the model takes otherwise."""
    if not torch.is_tensor(picture):
        import numpy as np

        array = np.asarray(picture.convert("RGB"), dtype=np.uint8)
        picture = to_float(torch.from_numpy(array.copy()).permute(2, 0, 1))
    x = picture.float()[None] if picture.dim() == 3 else picture.float()
    if make_sketch:
        x = sketch(x)
    return match_channels(x, generator.config.in_channels)


@torch.no_grad()
def apply_tiled(generator, condition: torch.Tensor, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
                batch_size: int = 4) -> torch.Tensor:
    """The model over a picture of any size, in overlapping tiles: (1, C, h, w) -> (1, C', h*s, w*s).

    The picture is padded (edge pixels repeated) to a multiple of what the network computes
    without padding of its own (a U-Net's 2**depth), and tiles start on that grid, so every
    tile sees its pixels where the whole picture would. Each tile's output is weighted by a
    ramp that falls towards its edges (where a tile lacks context) and the overlapping
    outputs are averaged with those weights: no tile edge is ever a hard cut."""
    if condition.dim() != 4 or condition.shape[0] != 1:
        raise ValueError(f"apply_tiled takes one picture (1, C, h, w), got {tuple(condition.shape)}")
    scale, multiple = generator.config.scale, getattr(generator, "multiple", 1)
    _, _, height, width = condition.shape
    if height * width * scale * scale > MAX_OUTPUT_PIXELS:
        raise ValueError(f"a {width}x{height} picture would make a {width * scale}x{height * scale} output, over the "
                         f"limit of {MAX_OUTPUT_PIXELS / 1e6:.0f} million pixels: make it smaller first")
    tile = max(multiple, tile // multiple * multiple)
    overlap = min(tile // 2, max(0, overlap // multiple * multiple))
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    x = F.pad(condition.float(), (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else condition.float()
    full_h, full_w = x.shape[-2:]
    tile_h, tile_w = min(tile, full_h), min(tile, full_w)
    rows, cols = _starts(full_h, tile_h, overlap, multiple), _starts(full_w, tile_w, overlap, multiple)
    ramp = _ramp(tile_h * scale, overlap * scale)[:, None] * _ramp(tile_w * scale, overlap * scale)[None, :]
    channels = generator.config.channels
    total = torch.zeros(1, channels, full_h * scale, full_w * scale)
    weights = torch.zeros(1, 1, full_h * scale, full_w * scale)
    places = [(r, c) for r in rows for c in cols]
    for start in range(0, len(places), batch_size):
        chunk = places[start:start + batch_size]
        tiles = torch.cat([x[..., r:r + tile_h, c:c + tile_w] for r, c in chunk])
        outputs = translate(generator, tiles)
        for (r, c), output in zip(chunk, outputs):
            where = (..., slice(r * scale, (r + tile_h) * scale), slice(c * scale, (c + tile_w) * scale))
            total[where] += output * ramp
            weights[where] += ramp
    return (total / weights)[..., : height * scale, : width * scale].clamp(-1, 1)


def _starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    if length <= tile:
        return [0]
    stride = max(multiple, tile - overlap)
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)  # the last tile ends at the edge (length and tile are on the grid)
    return sorted(set(starts))


def _ramp(size: int, overlap: int) -> torch.Tensor:
    """1 in the middle, falling linearly over `overlap` pixels to near 0 at both ends (never 0:
    a picture's own edge is covered by one tile only)."""
    position = torch.arange(size, dtype=torch.float32)
    distance = torch.minimum(position, size - 1 - position) + 1
    return (distance / max(1, overlap)).clamp(max=1.0)


def apply(generator, picture, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP, make_sketch: bool = False):
    """The model applied to one picture: a PIL picture in, a PIL picture out (a tensor in
    [-1, 1], (C, h, w), in: a tensor out)."""
    from .sampling import to_pil_images

    output = apply_tiled(generator, prepare_input(generator, picture, make_sketch), tile, overlap)
    if torch.is_tensor(picture):
        return output[0]
    return to_pil_images(output, min_size=1)[0]


def bicubic(picture, scale: int):
    """The bicubic upscale of a PIL picture (the baseline super-resolution is compared with)."""
    from PIL import Image

    return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.BICUBIC)


def comparison(generator, picture, result, make_sketch: bool = False):
    """(what the model was given, enlarged by bicubic for super-resolution | its result), side by side."""
    from PIL import Image

    from .sampling import to_pil_images

    given = to_pil_images(prepare_input(generator, picture, make_sketch), min_size=1)[0].convert("RGB")
    if generator.config.scale > 1:
        given = bicubic(given, generator.config.scale)
    both = Image.new("RGB", (given.width + 8 + result.width, max(given.height, result.height)), (255, 255, 255))
    both.paste(given, (0, 0))
    both.paste(result.convert("RGB"), (given.width + 8, 0))
    return both


OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def apply_pictures(generator, source, out, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
                   make_sketch: bool = False, compare: bool = False) -> tuple[list[str], list[str]]:
    """The model applied to a picture file or to every picture in a folder (not its
    sub-folders; links are not followed). `out` is a file for one picture (.png, .jpg,
    .webp), else a folder that gets NAME.png per picture. Returns (written files, skipped
    files with the reason); a file that cannot be read is skipped, not fatal."""
    from .data import IMAGE_EXTENSIONS, MAX_FILE_BYTES
    from .pairs import open_picture

    source, out = Path(os.path.expanduser(str(source))), Path(os.path.expanduser(str(out)))
    if source.is_file():
        inputs = [source]
    elif source.is_dir():
        inputs = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                        and not p.is_symlink())
        if not inputs:
            raise ValueError(f"{source} holds no picture files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    else:
        raise ValueError(f"no such picture or folder: {source}")
    if len(inputs) == 1 and source.is_file() and out.suffix.lower() in OUTPUT_SUFFIXES:
        targets = {source: out}
    else:
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out} is a file: name a folder for the results of a folder of pictures")
        if source.is_dir() and out.resolve() == source.resolve():
            raise ValueError("write the results to another folder than the pictures' own (they would be replaced)")
        targets = {path: out / f"{path.stem}.png" for path in inputs}
    written, skipped = [], []
    for path, target in targets.items():
        if target.resolve() == path.resolve():
            raise ValueError(f"{target} is the input itself: choose another output name")
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"file too large ({path.stat().st_size / 2**20:.0f} MiB)")
            picture = open_picture(path.read_bytes())
            result = apply(generator, picture, tile, overlap, make_sketch)
        except ValueError as error:
            skipped.append(f"{path.name}: {error}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        result.save(target)
        written.append(str(target))
        if compare:
            comparison(generator, picture, result, make_sketch).save(target.with_name(f"{target.stem}-compare.png"))
    if not written:
        raise ValueError(f"no picture could be processed ({'; '.join(skipped[:3])})")
    return written, skipped


# ---------------------------------------------------------------------------
# Previews and scores on held-out pairs


PREVIEW_PAIRS = 8


def triplets(condition: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(input | output | target) for each pair, as one batch of pictures of the target's size
    (the input enlarged by nearest neighbour: the pixels the model was given)."""
    size = target.shape[-2:]
    shown = condition.float()
    if shown.shape[-2:] != size:
        shown = F.interpolate(shown, size=size, mode="nearest")
    channels = target.shape[1]
    rows = [match_channels(shown, channels), output.float(), target.float()]
    return torch.stack(rows, 1).flatten(0, 1)


def triplet_picture(condition, output, target, pairs_per_row: int = 2):
    """A grid: each row holds `pairs_per_row` (input | output | target) triplets."""
    from .sampling import image_grid

    cells = triplets(condition, output, target)
    return image_grid(cells, min_cell=64, columns=3 * min(pairs_per_row, len(target)), padding=4)


def preview_picture(networks, held_out: HeldOut, count: int = PREVIEW_PAIRS):
    """The held-out triplets with the sampling generator (the EMA weights when kept)."""
    condition, target = held_out.normalised()
    condition, target = condition[:count], target[:count]
    with networks.sampling_weights() as generator:
        output = translate(generator, condition)
    return triplet_picture(condition, output, target)


def before_after_picture(generator, held_out: HeldOut, task: str, count: int = 4):
    """Rows of held-out pictures: before (bicubic for super-resolution, else the input) | the
    model's output | the original, enlarged to at least 128 pixels a cell."""
    from .sampling import image_grid

    condition, target = held_out.normalised()
    condition, target = condition[:count], target[:count]
    output = translate(generator, condition)
    if task == "super-resolution":
        before = upscale_bicubic(condition, size=tuple(target.shape[-2:]))
    else:
        before = match_channels(condition, target.shape[1])
    cells = torch.stack([before, output, target.float()], 1).flatten(0, 1)
    return image_grid(cells, min_cell=128, columns=3, padding=4, padding_value=255)


@dataclass
class Scores:
    """Held-out scores of a model next to the baseline (bicubic, or the input itself)."""

    num_pictures: int
    psnr: float
    ssim: float
    baseline_psnr: float
    baseline_ssim: float
    baseline: str  # "bicubic" or "input"
    frechet_distance: float | None = None
    baseline_frechet_distance: float | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def line(self) -> str:
        text = (f"held-out ({self.num_pictures} pictures): PSNR {self.psnr:.2f} dB, SSIM {self.ssim:.3f}; "
                f"{self.baseline}: PSNR {self.baseline_psnr:.2f} dB, SSIM {self.baseline_ssim:.3f}")
        if self.frechet_distance is not None:
            text += (f"; Fréchet distance {self.frechet_distance:.3g} ({self.baseline} "
                     f"{self.baseline_frechet_distance:.3g})")
        return text


MIN_FRECHET_PICTURES = 16


def held_out_scores(generator, held_out: HeldOut, task: str, frechet: bool = True) -> Scores:
    """PSNR and SSIM of the model's outputs against the held-out targets (and of the baseline),
    and the Fréchet distance of outputs and baseline to the targets (from 16 pictures up: fewer
    say little about a distribution)."""
    from .image_metrics import frechet_distance, mean_psnr, mean_ssim, to_unit

    condition, target = held_out.normalised()
    outputs = torch.cat([translate(generator, chunk) for chunk in condition.split(32)])
    if task == "super-resolution":
        baseline, name = upscale_bicubic(condition, size=tuple(target.shape[-2:])), "bicubic"
    else:
        baseline, name = match_channels(condition, target.shape[1]), "input"
    out, base, ref = to_unit(outputs), to_unit(baseline), to_unit(target)
    scores = Scores(num_pictures=len(target), psnr=mean_psnr(out, ref), ssim=mean_ssim(out, ref),
                    baseline_psnr=mean_psnr(base, ref), baseline_ssim=mean_ssim(base, ref), baseline=name)
    if frechet and len(target) >= MIN_FRECHET_PICTURES:
        scores.frechet_distance = frechet_distance(out, ref)
        scores.baseline_frechet_distance = frechet_distance(base, ref)
    return scores


def run_held_out(run_dir: str | Path) -> HeldOut:
    """The held-out pairs a run kept (`held_out.safetensors` in the run folder)."""
    path = Path(run_dir) / HELD_OUT_FILE
    if not path.is_file():
        raise ValueError(f"{run_dir} keeps no held-out pictures ({HELD_OUT_FILE}): it is not an image-to-image run, "
                         f"or it was made before they were kept")
    return HeldOut.load(path)


__all__ = ["TranslationObjective", "TRANSLATION_PRESETS", "translation_preset", "check_settings", "pixel_loss",
           "is_translator", "load_translator", "translate", "apply", "apply_tiled", "apply_pictures", "comparison",
           "prepare_input", "bicubic",
           "triplets", "triplet_picture", "preview_picture", "Scores", "held_out_scores", "run_held_out",
           "VGGFeatures", "vgg_weights_path", "Pairing", "luma"]
