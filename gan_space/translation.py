"""Using an image-to-image model (super-resolution, colourisation, sketches, a user's own
pairs: gan_space.tasks): on one picture or a folder of them, at any size.

    model = hub.load_translator("runs/sr")      # a run, a generator folder or a Hub id
    result = apply(model, Image.open("small.png"))

A picture of any size is processed in overlapping tiles blended with linear ramps
(`apply_tiled`), so a large picture never needs the memory of one pass and shows no
seams. Training such a model is the ordinary `Trainer` with `TrainConfig.task` set; its
held-out previews and scores are in gan_space.held_out.
"""

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from .names import DIRECTIONS
from .pairs import match_channels, sketch, to_float

DEFAULT_TILE = 128  # input pixels a side per tile
DEFAULT_OVERLAP = 32  # input pixels shared by neighbouring tiles (blended)
MAX_OUTPUT_PIXELS = 64_000_000

# ---------------------------------------------------------------------------
# Using a model


def is_translator(model) -> bool:
    return bool(getattr(model, "is_translator", False))


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


def in_direction(generator, direction: str = "AtoB"):
    """The model that translates in `direction`: "AtoB" the model itself, "BtoA" the reverse of a
    model that learnt both (unpaired translation with CycleGAN: `translator("BtoA")`)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be {' or '.join(DIRECTIONS)}, got {direction!r}")
    if callable(getattr(generator, "translator", None)):  # unpaired translators know their directions
        return generator.translator(direction)
    if direction == "BtoA":
        raise ValueError(f"this {generator.config.get('task', 'image-to-image')} model ({type(generator).__name__}) "
                         f"maps its input one way only: B -> A needs an unpaired model that learnt both directions "
                         f"(--task unpaired --arch cyclegan)")
    return generator


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
    from .data.decode import IMAGE_EXTENSIONS, is_image_name, open_picture, read_file

    source, out = Path(os.path.expanduser(str(source))), Path(os.path.expanduser(str(out)))
    if source.is_file():
        inputs = [source]
    elif source.is_dir():
        inputs = sorted(p for p in source.iterdir() if is_image_name(p.name) and p.is_file() and not p.is_symlink())
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
            # (A file named by the user is read where its link points; a folder's links are not listed.)
            picture = open_picture(read_file(path.resolve() if path is source else path))
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
# Next-frame models (gan_space.tasks.next_frame): the last frames in, the next one out

MAX_ROLLOUT = 500  # frames predicted from one sequence


def frame_tensor(picture, channels: int) -> torch.Tensor:
    """A PIL frame -> [-1, 1] (C, h, w), grey or colour as the model takes it."""
    import numpy as np

    array = np.asarray(picture.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    array = array[None] if channels == 1 else array.transpose(2, 0, 1)
    return to_float(torch.from_numpy(array.copy()))


def rollout(generator, frames: torch.Tensor, count: int, tile: int = DEFAULT_TILE,
            overlap: int = DEFAULT_OVERLAP) -> torch.Tensor:
    """The next `count` frames of a clip, each predicted from the last `frames` ones (the model's
    own predictions once the given ones are used up, kept at 8 bits as a saved frame would be):
    [-1, 1] frames (T, C, h, w), T at least the model's frames -> (count, C, h, w)."""
    from .pairs import quantise_uint8

    given = generator.config.get("frames", 1)
    if frames.dim() != 4 or frames.shape[1] != generator.config.channels:
        raise ValueError(f"give frames as (T, {generator.config.channels}, h, w), got {tuple(frames.shape)}")
    if len(frames) < given:
        raise ValueError(f"{len(frames)} frame(s): this model predicts from the last {given}; give at least {given}")
    if not 1 <= count <= MAX_ROLLOUT:
        raise ValueError(f"a rollout of {count} frame(s): choose from 1 to {MAX_ROLLOUT}")
    history = [frame for frame in frames[-given:].float()]
    for _ in range(count):
        condition = torch.cat(history[-given:], 0)[None]
        history.append(to_float(quantise_uint8(apply_tiled(generator, condition, tile, overlap)[0])))
    return torch.stack(history[given:])


def apply_sequences(generator, source, out, count: int = 1, tile: int = DEFAULT_TILE,
                    overlap: int = DEFAULT_OVERLAP) -> tuple[list[str], list[str]]:
    """A next-frame model on each sequence of `source` (an animation, a folder of them or of
    numbered frames, a .zip): its next `count` frames, at the sequence's own size, as NAME.png
    (one frame) or NAME.gif (a rollout of several). `out` is a .png/.gif file for one sequence,
    else a folder. Returns (written files, skipped "name: reason")."""
    from .data import open_sequences
    from .sampling import to_pil_images

    source, out = Path(os.path.expanduser(str(source))), Path(os.path.expanduser(str(out)))
    channels = generator.config.channels
    sequences, skipped = open_sequences(source, channels)
    suffix = ".png" if count == 1 else ".gif"
    if len(sequences) == 1 and out.suffix.lower() in (".png", ".gif"):
        if out.suffix.lower() != suffix:
            raise ValueError(f"{out.name}: {count} frame(s) are written as a {suffix} file")
        targets = {name: out for name in sequences}
    else:
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out} is a file: name a folder for the frames of several sequences")
        targets = {name: out / f"{_file_stem(name, source)}{suffix}" for name in sequences}
    written = []
    for name, pictures in sequences.items():
        target = targets[name]
        if source.is_file() and target.resolve() == source.resolve():
            raise ValueError(f"{target} is the input itself: choose another output name")
        try:
            if len({picture.size for picture in pictures}) > 1:
                raise ValueError("its frames differ in size")
            frames = torch.stack([frame_tensor(picture, channels) for picture in pictures])
            predicted = to_pil_images(rollout(generator, frames, count, tile, overlap), min_size=1)
        except ValueError as error:
            skipped.append(f"{name}: {error}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if count == 1:
            predicted[0].save(target)
        else:
            predicted[0].save(target, save_all=True, append_images=predicted[1:], duration=100, loop=0)
        written.append(str(target))
    if not written:
        raise ValueError(f"no sequence could be continued ({'; '.join(skipped[:3])})")
    return written, skipped


def _file_stem(name: str, source: Path) -> str:
    """A sequence's name as a file name: 'clips/a.gif' -> 'clips-a', a folder of frames by its name."""
    if name == ".":
        return source.stem or "frames"
    return str(Path(name).with_suffix("")).replace("/", "-")


__all__ = ["is_translator", "translate", "in_direction", "apply", "apply_tiled", "apply_pictures", "comparison",
           "prepare_input", "bicubic", "rollout", "apply_sequences", "frame_tensor"]
