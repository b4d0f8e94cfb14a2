"""Next-frame models side by side: the NIPS 2016 GAN tutorial's "L2 blurs, adversarial stays
sharp" on one clip.

    models = {"L2 only": load_translator("runs/nf-l2"), "adversarial": load_translator("runs/nf-adv")}
    clip = held_out_clip(length=12, resolution=32, channels=3)        # or clip_from_file("walk.gif", 32, 3)
    result = compare_next_frame(models, clip, rollout=8)
    side_by_side_picture(result).save("compare.png"); rollout_gif(result, "rollout.gif")

Every model is given the clip's first `start` frames (by default as many as the model that
looks furthest back needs) and predicts what comes next; the clip's next frame is the truth
it is scored against, with PSNR and sharpness (gan_space.metrics.sharpness) next to copying
the last given frame. A rollout feeds each model's predictions back for `rollout` frames
(gan_space.translation.rollout) and is scored against the clip's true frames, where the clip
has them.
"""

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .image_metrics import mean_psnr, to_unit
from .metrics.sharpness import relative_sharpness
from .translation import rollout as predict_rollout

# Built-in held-out clips are drawn with seeds from here on: a run's moving emoji are drawn with
# its own seed (0 unless set), as thousands of clips from one random stream, so these never repeat them.
HELD_OUT_SEED = 1_000_003
MAX_ROLLOUT = 60
COPY_LAST = "copy the last frame"
DEFAULT_RESOLUTION = 32  # the next-frame preset's, for a model whose run did not record its own


@dataclass
class Outcome:
    """One model's predictions (or the copy of the last frame) and their scores against the
    clip's true frames (None where the clip has no true frame to compare with)."""

    name: str
    frames: torch.Tensor  # (rollout, C, H, W) in [-1, 1]: the next frame first
    psnr: float | None = None  # of the next frame, dB
    sharpness: float | None = None  # of the next frame, relative to the true one's (1 = as sharp)
    rollout_psnr: float | None = None  # mean over the rollout's frames that have a true frame
    rollout_sharpness: float | None = None

    @property
    def next_frame(self) -> torch.Tensor:
        return self.frames[0]


@dataclass
class NextFrameComparison:
    given: torch.Tensor  # (start, C, H, W): the frames the models were given
    truth: torch.Tensor  # (M, C, H, W): the clip's true frames after them, M from 1 to the rollout's length
    copy: Outcome  # the baseline: the last given frame, held
    models: list[Outcome] = field(default_factory=list)

    @property
    def last_given(self) -> torch.Tensor:
        return self.given[-1]

    @property
    def rollout_length(self) -> int:
        return len(self.copy.frames)

    def rows(self) -> list[dict]:
        """The scores as table rows: the copy of the last frame first, then each model."""
        return [{"prediction": outcome.name, "PSNR next frame (dB)": outcome.psnr,
                 "sharpness next frame": outcome.sharpness,
                 f"PSNR over {len(self.truth)} frame(s) (dB)": outcome.rollout_psnr,
                 f"sharpness over {len(self.truth)} frame(s)": outcome.rollout_sharpness}
                for outcome in (self.copy, *self.models)]


def _score(name: str, frames: torch.Tensor, truth: torch.Tensor) -> Outcome:
    made, wanted = to_unit(frames), to_unit(truth)
    known = len(truth)
    return Outcome(name, frames, psnr=mean_psnr(made[:1], wanted[:1]),
                   sharpness=relative_sharpness(made[:1], wanted[:1]),
                   rollout_psnr=mean_psnr(made[:known], wanted), rollout_sharpness=relative_sharpness(made[:known], wanted))


def compare_next_frame(models, frames: torch.Tensor, rollout: int = 8, start: int | None = None) -> NextFrameComparison:
    """Next-frame models on one clip: `models` maps a name to a next-frame generator (or is a
    list of (name, generator)); `frames` is the clip, [-1, 1] (T, C, H, W). Each model is
    given frames[:start] (default: as many as the model that looks furthest back needs) and
    predicts `rollout` frames, its own predictions fed back; frames[start] is the true next
    frame, so the clip needs at least start + 1 frames. ValueError with what to give otherwise."""
    named = list(models.items()) if isinstance(models, dict) else list(models)
    if not named:
        raise ValueError("choose at least one next-frame model to compare")
    for name, generator in named:
        task = generator.config.get("task")
        if task != "next-frame":
            raise ValueError(f"{name} is a {task or 'noise'} model, not a next-frame model: choose models trained "
                             f"with the next-frame task")
    channels = {generator.config.channels for _, generator in named}
    if len(channels) > 1:
        raise ValueError("the models differ in colour (grey and colour): compare models of the same kind of clips")
    channels = channels.pop()
    if frames.dim() != 4 or frames.shape[1] != channels:
        raise ValueError(f"give the clip as frames (T, {channels}, H, W), got {tuple(frames.shape)}")
    if not 1 <= rollout <= MAX_ROLLOUT:
        raise ValueError(f"a rollout of {rollout} frame(s): choose from 1 to {MAX_ROLLOUT}")
    needed = max(generator.config.get("frames", 1) for _, generator in named)
    start = needed if start is None else start
    if start < needed:
        raise ValueError(f"the models predict from the last {needed} frame(s): give them at least {needed} "
                         f"(start {start})")
    if len(frames) < start + 1:
        raise ValueError(f"a clip of {len(frames)} frame(s): these models are given {start} and scored against the "
                         f"next one, so it needs at least {start + 1} frames")
    frames = frames.float()
    given, truth = frames[:start], frames[start:start + rollout]
    result = NextFrameComparison(given=given, truth=truth,
                                 copy=_score(COPY_LAST, given[-1:].expand(rollout, -1, -1, -1).clone(), truth))
    for name, generator in named:
        result.models.append(_score(name, predict_rollout(generator, given, rollout), truth))
    return result


# ---------------------------------------------------------------------------
# Clips


def held_out_clip(length: int, resolution: int = DEFAULT_RESOLUTION, channels: int = 3, number: int = 0) -> torch.Tensor:
    """Clip `number` of the built-in moving emoji that no run trained on: `length` frames,
    [-1, 1] (length, C, R, R), drawn as the training clips are (gan_space.data.moving_emoji)
    with a seed of its own."""
    from .data import moving_emoji
    from .pairs import to_float

    if not 2 <= length <= MAX_ROLLOUT + 5:
        raise ValueError(f"a held-out clip of {length} frame(s): choose from 2 to {MAX_ROLLOUT + 5}")
    if not 0 <= number < 1_000_000:
        raise ValueError(f"clip number must be from 0 to 999,999, got {number}")
    row = moving_emoji(length - 1, resolution, channels, clips=1, seed=HELD_OUT_SEED + number).samples[0]
    return to_float(row.reshape(length, channels, resolution, resolution))


def clip_from_file(path: str | Path, resolution: int = DEFAULT_RESOLUTION, channels: int = 3) -> torch.Tensor:
    """An animation (GIF, WebP, APNG) -> its frames at the models' size, centre-cropped as the
    training clips were: [-1, 1] (T, C, R, R). ValueError for a still picture or an unreadable file."""
    from .data import read_sequence
    from .data.decode import read_file
    from .pairs import to_float

    path = Path(path)
    return to_float(torch.from_numpy(read_sequence(read_file(path), resolution, channels, path.name)))


# ---------------------------------------------------------------------------
# Pictures

CELL = 128  # pixels a side a frame is shown at (enlarged, nearest neighbour)
CAPTION = 34  # pixels of caption above each frame
GAP = 6


def _cells(frames: torch.Tensor, cell: int) -> list:
    from PIL import Image

    from .sampling import to_pil_images

    return [picture.convert("RGB").resize((cell, cell), Image.Resampling.NEAREST)
            for picture in to_pil_images(frames, min_size=1)]


def _panel(columns: list[tuple[str, str, object]], cell: int):
    """A row of frames with two caption lines above each: [(title, detail, PIL frame or None)]."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=11)
    width = len(columns) * cell + (len(columns) - 1) * GAP
    panel = Image.new("RGB", (width, CAPTION + cell), (255, 255, 255))
    draw = ImageDraw.Draw(panel)
    for index, (title, detail, picture) in enumerate(columns):
        left = index * (cell + GAP)
        draw.text((left + 2, 2), _fit(draw, title, font, cell - 4), fill=(20, 20, 20), font=font)
        draw.text((left + 2, 17), _fit(draw, detail, font, cell - 4), fill=(90, 90, 90), font=font)
        if picture is None:
            draw.rectangle((left, CAPTION, left + cell - 1, CAPTION + cell - 1), fill=(235, 235, 235))
        else:
            panel.paste(picture, (left, CAPTION))
    return panel


def _fit(draw, text: str, font, width: int) -> str:
    while text and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…" if len(text) > 2 else ""
    return text


def _detail(psnr: float | None, sharpness: float | None) -> str:
    if psnr is None:
        return ""
    return f"{psnr:.1f} dB · sharp {sharpness:.2f}"


def side_by_side_picture(result: NextFrameComparison, cell: int = CELL):
    """The last given frame (= copying it) | each model's next frame | the true next frame, each
    with its PSNR and sharpness against the true one."""
    copy = result.copy
    columns = [("last given (= copy it)", _detail(copy.psnr, copy.sharpness), _cells(copy.frames[:1], cell)[0])]
    columns += [(outcome.name, _detail(outcome.psnr, outcome.sharpness), _cells(outcome.frames[:1], cell)[0])
                for outcome in result.models]
    columns.append(("true next frame", "", _cells(result.truth[:1], cell)[0]))
    return _panel(columns, cell)


def rollout_pictures(result: NextFrameComparison, cell: int = CELL) -> list:
    """One picture per rollout frame: the true frame (grey when the clip has none) | each model's."""
    truth = _cells(result.truth, cell)
    models = [_cells(outcome.frames, cell) for outcome in result.models]
    pictures = []
    for index in range(result.rollout_length):
        columns = [("true", f"frame +{index + 1}", truth[index] if index < len(truth) else None)]
        columns += [(outcome.name, f"frame +{index + 1}", frames[index])
                    for outcome, frames in zip(result.models, models)]
        pictures.append(_panel(columns, cell))
    return pictures


def save_gif(pictures: list, path: str | Path, milliseconds: int = 250) -> Path:
    """Pictures -> an animated GIF that loops."""
    path = Path(path)
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=milliseconds, loop=0)
    return path


def rollout_gif(result: NextFrameComparison, path: str | Path, cell: int = CELL) -> Path:
    """The rollouts side by side (true | each model), one GIF frame per predicted frame."""
    return save_gif(rollout_pictures(result, cell), path)


def model_rollout_gif(outcome: Outcome, path: str | Path) -> Path:
    """One model's predicted frames alone, at their own size, as a GIF."""
    from .sampling import to_pil_images

    return save_gif(to_pil_images(outcome.frames, min_size=1), path, milliseconds=150)


__all__ = ["COPY_LAST", "HELD_OUT_SEED", "MAX_ROLLOUT", "NextFrameComparison", "Outcome", "clip_from_file",
           "compare_next_frame", "held_out_clip", "model_rollout_gif", "rollout_gif", "rollout_pictures", "save_gif",
           "side_by_side_picture"]
