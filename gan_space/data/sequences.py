"""Sequences of frames for next-frame prediction (gan_space.tasks.next_frame): animated
pictures (GIF, WebP, APNG), folders of numbered frames, and the built-in moving emoji.

A training row holds `frames + 1` consecutive frames of one sequence stacked in channels,
oldest first: the first `frames` are the model's input, the last its target (so the data
source streams them like any picture set, and gan_space.pairs splits them). Every file is
read and decoded by gan_space.data.decode, as any other picture is.

- a file: an animation, one sequence;
- a folder: each animation in it is a sequence, and the still pictures of each folder (the
  folder itself or a sub-folder) are one sequence in the order of the number in their names
  (`frame-9.png` before `frame-10.png`);
- "moving-emoji": emoji moving, turning and bouncing on a white canvas, made on the fly
  (seeded): each row is a clip of its own.

Rows are every window of `frames + 1` consecutive frames (a window slides by one frame), so
windows of one clip share frames, and held-out windows (gan_space.pairs.split_held_out) have
neighbours in training: their scores say how well the model predicts these clips, not new ones.
"""

import math
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..names import BUILTIN_SEQUENCE_SETS
from .builtin import load_emoji
from .dataset import DEFAULT_MAX_IMAGES, Dataset, DatasetError
from .decode import Refusal, archive_members, fit_picture, is_image_name, open_archive, open_frames, read_file
from .files import folder_entries

MOVING_EMOJI_CLIPS = 4000  # clips of the built-in set (rows), unless max_images is smaller
_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # the last number in a name


def read_sequence(data: bytes, resolution: int, channels: int, name: str = "the animation") -> np.ndarray:
    """One animation's bytes -> uint8 frames (T, C, resolution, resolution), centre-cropped.
    ValueError for a still picture (one frame) or anything unreadable."""
    frames = open_frames(data, channels)
    if len(frames) < 2:
        raise ValueError(f"{name} is a still picture (one frame), not an animation")
    return np.stack([fit_picture(frame, resolution, channels) for frame in frames])


def frame_number(name: str) -> int | None:
    """The number in a frame's file name (its last one: 'shot2/frame-0010.png' -> 10), or None."""
    match = _NUMBER.search(Path(name).stem)
    return int(match.group(1)) if match else None


def windows(sequence: np.ndarray, frames: int) -> np.ndarray:
    """(T, C, H, W) -> every run of `frames + 1` consecutive frames, stacked in channels:
    (T - frames, (frames + 1) * C, H, W)."""
    length, channels = sequence.shape[:2]
    if length < frames + 1:
        raise ValueError(f"{length} frame(s): too few for {frames} past frame(s) and the next one "
                         f"(at least {frames + 1})")
    return np.stack([sequence[start:start + frames + 1].reshape(-1, *sequence.shape[2:])
                     for start in range(length - frames)])


def load_sequences(source: str | os.PathLike, frames: int, resolution: int, channels: int,
                   max_images: int = DEFAULT_MAX_IMAGES, seed: int = 0) -> Dataset:
    """Rows of `frames + 1` consecutive frames (Dataset of (N, (frames + 1) * C, R, R) uint8)
    from the built-in "moving-emoji", an animated picture, a .zip or a folder (module docstring).
    Files that are no usable sequence are skipped and listed in `skipped`; DatasetError when
    nothing is left, saying what a sequence must be."""
    if not isinstance(frames, int) or frames < 1:
        raise DatasetError(f"frames must be a whole number of at least 1, got {frames!r}")
    if str(source) in BUILTIN_SEQUENCE_SETS:
        return moving_emoji(frames, resolution, channels, clips=min(max_images, MOVING_EMOJI_CLIPS), seed=seed)
    path = Path(os.path.expanduser(str(source)))
    if path.is_file() and not (zipfile.is_zipfile(path) or path.suffix.lower() == ".zip"):
        try:
            sequences, skipped = {path.name: read_sequence(read_file(path), resolution, channels, path.name)}, []
        except ValueError as error:
            raise DatasetError(f"{path.name}: {error}. Give an animated GIF (or WebP/PNG) of at least {frames + 1} "
                               f"frames, or a folder of numbered frames") from None
    elif path.is_file():
        with open_archive(path) as archive:
            sequences, skipped = _sequences(archive_members(archive, path.name), resolution, channels)
    elif path.is_dir():
        sequences, skipped = _sequences(folder_entries(path), resolution, channels)
    else:
        raise DatasetError(f"no such file or folder: {source} (give an animated GIF, a folder of them, a folder of "
                           f"numbered frames, or {', '.join(BUILTIN_SEQUENCE_SETS)})")
    rows = []
    for name, sequence in sequences.items():
        if len(sequence) < frames + 1:
            skipped.append(f"{name}: {len(sequence)} frame(s), too few for {frames} past frame(s) and the next one")
            continue
        rows.extend(windows(sequence, frames))
        if len(rows) >= max_images:
            break
    if not rows:
        detail = f" ({len(skipped)} skipped: {'; '.join(skipped[:3])})" if skipped else ""
        raise DatasetError(f"{path.name} holds no sequence of at least {frames + 1} frames{detail}. Give animated "
                           f"GIFs (or WebP/PNG), or folders of still frames numbered in their names (frame-001.png, "
                           f"frame-002.png, ...)")
    samples = torch.from_numpy(np.stack(rows[:max_images]))
    return Dataset(name=f"{path.name} ({len(sequences)} sequence(s) of frames)", kind="images", samples=samples,
                   skipped=skipped)


def _sequences(entries, resolution: int, channels: int) -> tuple[dict, list[str]]:
    """({sequence name: frames (T, C, R, R)}, skipped) from listed files (`_sequence_pictures`),
    each frame centre-cropped and resized."""
    pictures, skipped = _sequence_pictures(entries, channels)
    return {name: np.stack([fit_picture(p, resolution, channels) for p in frames])
            for name, frames in pictures.items()}, skipped


def _sequence_pictures(entries, channels: int) -> tuple[dict, list[str]]:
    """({sequence name: PIL frames}, skipped) from listed files: each animation is a sequence
    (named by its file), each folder's still pictures one more (named by the folder, '.' at the
    top), ordered by the number in their names."""
    sequences, skipped, stills = {}, [], {}
    for name, read, _ in entries:
        if not is_image_name(name):
            skipped.append(f"{name}: not an image file extension")
            continue
        if isinstance(read, Refusal):
            skipped.append(f"{name}: {read.reason}")
            continue
        try:
            pictures = open_frames(read(), channels)
        except ValueError as error:
            skipped.append(f"{name}: {error}")
            continue
        if len(pictures) > 1:
            sequences[name] = pictures
        else:
            stills.setdefault(name.rpartition("/")[0], []).append((name, pictures[0]))
    for folder, pictures in sorted(stills.items()):
        numbered = [(frame_number(name), name, picture) for name, picture in pictures]
        skipped += [f"{name}: a still picture with no number in its name (frames are ordered by their numbers)"
                    for number, name, _ in numbered if number is None]
        numbered = sorted(((n, name, p) for n, name, p in numbered if n is not None), key=lambda item: item[:2])
        if numbered:
            sequences[folder or "."] = [picture for _, _, picture in numbered]
    return sequences, skipped


def open_sequences(source: str | os.PathLike, channels: int) -> tuple[dict, list[str]]:
    """The sequences of an animation, a folder or a .zip at their own size, for applying a model:
    ({name: PIL frames}, skipped). DatasetError when there is none."""
    path = Path(os.path.expanduser(str(source)))
    if path.is_file() and not (zipfile.is_zipfile(path) or path.suffix.lower() == ".zip"):
        try:
            frames = open_frames(read_file(path), channels)
        except ValueError as error:
            raise DatasetError(f"{path.name}: {error}") from None
        sequences, skipped = {path.name: frames}, []
    elif path.is_file():
        with open_archive(path) as archive:
            sequences, skipped = _sequence_pictures(archive_members(archive, path.name), channels)
    elif path.is_dir():
        sequences, skipped = _sequence_pictures(folder_entries(path), channels)
    else:
        raise DatasetError(f"no such file or folder: {source}")
    if not sequences:
        detail = f" ({'; '.join(skipped[:3])})" if skipped else ""
        raise DatasetError(f"{path.name} holds no sequence of frames{detail}: give an animated GIF (or WebP/PNG), a "
                           f"folder of them, or a folder of still frames numbered in their names")
    return sequences, skipped


# ---------------------------------------------------------------------------
# The built-in moving emoji

SPRITE_FRACTION = 0.5  # an emoji's size, of the canvas side
MAX_SPEED = 0.12  # of the canvas half-width a frame
MAX_TURN = math.radians(15)  # a frame
SURPRISE = 0.25  # the chance, each frame, that a sprite changes course (a future a model cannot know)


def moving_emoji(frames: int, resolution: int = 32, channels: int = 3, clips: int = MOVING_EMOJI_CLIPS,
                 seed: int = 0) -> Dataset:
    """`clips` rows of `frames + 1` frames: an emoji (of the built-in 3,781) at half the canvas's
    size, moving, turning and bouncing off the edges of a white canvas; now and then
    (SURPRISE) it changes course, so the next frame is not always predictable: a model trained
    with L2 averages the possible futures (a blur), an adversarial one picks one. Seeded."""
    if clips < 1:
        raise DatasetError(f"clips must be at least 1, got {clips}")
    generator = torch.Generator().manual_seed(seed)
    sprite_size = max(4, round(resolution * SPRITE_FRACTION))
    emoji = load_emoji(sprite_size, channels).samples
    which = torch.randint(len(emoji), (clips,), generator=generator)
    sprites = emoji[which].float() / 127.5 - 1  # (clips, C, s, s) in [-1, 1] on white
    zoom = sprite_size / resolution  # a sprite's half-size in the canvas's [-1, 1] coordinates
    limit = 1 - zoom
    position = (torch.rand(clips, 2, generator=generator) * 2 - 1) * limit
    velocity = _random_velocity(clips, generator)
    angle = torch.rand(clips, generator=generator) * 2 * math.pi
    spin = (torch.rand(clips, generator=generator) * 2 - 1) * MAX_TURN
    shown = []
    for index in range(frames + 1):
        shown.append(_draw(sprites, position, angle, zoom, resolution))
        surprised = torch.rand(clips, generator=generator) < SURPRISE
        velocity = torch.where(surprised[:, None], _random_velocity(clips, generator), velocity)
        position = position + velocity
        for axis in range(2):  # bounce: reflect off the edges
            over, under = position[:, axis] > limit, position[:, axis] < -limit
            position[:, axis] = torch.where(over, 2 * limit - position[:, axis], position[:, axis])
            position[:, axis] = torch.where(under, -2 * limit - position[:, axis], position[:, axis])
            velocity[:, axis] = torch.where(over | under, -velocity[:, axis], velocity[:, axis])
        angle = angle + spin
    rows = torch.cat(shown, 1)  # (clips, (frames + 1) * C, R, R), oldest first
    samples = ((rows.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Dataset(name=f"moving-emoji ({clips} clips of {frames + 1} frames)", kind="images",
                   samples=samples.contiguous())


def _random_velocity(count: int, generator: torch.Generator) -> torch.Tensor:
    direction = torch.rand(count, generator=generator) * 2 * math.pi
    speed = (0.3 + 0.7 * torch.rand(count, generator=generator)) * MAX_SPEED
    return torch.stack([direction.cos(), direction.sin()], 1) * speed[:, None]


def _draw(sprites: torch.Tensor, position: torch.Tensor, angle: torch.Tensor, zoom: float,
          resolution: int) -> torch.Tensor:
    """Each sprite turned by its angle, at its position on a white canvas: (N, C, R, R) in [-1, 1]."""
    cos, sin = angle.cos() / zoom, angle.sin() / zoom
    # The sampling grid maps each canvas point p to the sprite's point A (p - position), A = R(-angle) / zoom.
    a = torch.stack([torch.stack([cos, sin], 1), torch.stack([-sin, cos], 1)], 1)  # (N, 2, 2)
    theta = torch.cat([a, -(a @ position[:, :, None])], 2)
    grid = torch.nn.functional.affine_grid(theta, [len(sprites), sprites.shape[1], resolution, resolution],
                                           align_corners=False)
    # White outside the sprite: sample (sprite - 1), whose outside (zeros) is white again after + 1.
    return torch.nn.functional.grid_sample(sprites - 1, grid, mode="bilinear", padding_mode="zeros",
                                           align_corners=False) + 1


__all__ = ["load_sequences", "open_sequences", "read_sequence", "moving_emoji", "windows", "frame_number", "MOVING_EMOJI_CLIPS"]
