"""Training a GAN vocoder (gan_space.models.vocoder) on a sound set, readable top to bottom:

    clips -> their spectrogram pictures (the same transform a sound generator learns)
    repeat until the steps or minutes are spent:
        a batch of short stretches: pictures[:, :, :, t:t+k] and the waveforms they came from
        one update of the critics, one of the vocoder (gan_space.objectives.vocoder)
        every few minutes: the vocoder file, written whole (a crash loses minutes, never the file)
    the vocoder file, and how it did on held-out clips next to Griffin-Lim

    from gan_space.vocoder_training import VocoderTraining, train_vocoder
    path = train_vocoder("spoken-digits", "runs/digits-vocoder", VocoderTraining(minutes=20))

The last tenth of the clips (the last speakers, for the built-in spoken digits) is held out.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .data.sound_pictures import load_sound_clips
from .devices import select_device
from .models.vocoder import (VOCODER_FILE, MultiScaleDiscriminator, SoundInverter, Vocoder, VocoderConfig,
                             save_vocoder)
from .objectives.vocoder import VocoderObjective
from .randomness import seeded_construction
from .sound.inversion import compare_inversions
from .sound.spectrogram import FAST_64, MelSettings, mel_picture

HELD_OUT_FRACTION = 0.1
MEASURED_CLIPS = 32  # held-out clips the record compares with Griffin-Lim on
SAVE_EVERY_SECONDS = 120.0


@dataclass
class VocoderTraining:
    """How long and how: `steps` or `minutes` (whichever ends first; one of them must be set)."""

    steps: int | None = None
    minutes: float | None = None
    batch_size: int = 16
    segment_frames: int = 16  # picture columns per stretch (16 x 15.6 ms = 0.25 s at the 64 px transform)
    learning_rate: float = 2e-4  # with the critics (HiFi-GAN's)
    # The mel loss alone first, faster (1e-3 reached in 300 steps the mel loss 2e-4 reached in 500, measured):
    # the critics learn little from a vocoder that still makes noise.
    warm_up_steps: int = 3000
    warm_up_learning_rate: float = 1e-3
    channels: int = 128
    seed: int = 0
    device: str = "auto"  # gan_space.devices.select_device: CUDA, then MPS, then the CPU
    max_sounds: int = 50_000
    settings: MelSettings = field(default_factory=lambda: FAST_64)

    def check(self) -> None:
        if self.steps is None and self.minutes is None:
            raise ValueError("give the vocoder's training a length: steps or minutes")
        if self.steps is not None and self.steps < 1 or self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"steps must be at least 1 and minutes above 0, got steps={self.steps}, "
                             f"minutes={self.minutes}")
        if not 1 <= self.segment_frames <= self.settings.frames:
            raise ValueError(f"segment_frames must be from 1 to the picture's {self.settings.frames} columns, "
                             f"got {self.segment_frames}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")


def clips_and_pictures(source: str, settings: MelSettings, max_sounds: int, progress=None):
    """(float32 clips (N, samples) in [-1, 1], float32 pictures (N, 1, n_mels, frames)) of a sound source."""
    data = load_sound_clips(source, settings, max_sounds=max_sounds, progress=progress)
    clips = data.samples.numpy().astype(np.float32) / data.scale
    pictures = np.concatenate([mel_picture(clips[start:start + 256], settings)
                               for start in range(0, len(clips), 256)])
    return clips, pictures


def held_out_split(count: int) -> int:
    """How many of `count` clips train (the rest, the last ones, are held out); at least one each side."""
    if count < 2:
        raise ValueError(f"a vocoder needs at least 2 clips (one to train on, one to check it), got {count}")
    return min(count - 1, max(1, round(count * (1 - HELD_OUT_FRACTION))))


def stretches(pictures: torch.Tensor, clips: torch.Tensor, batch_size: int, frames: int, hop: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of random stretches: (pictures (B, 1, n_mels, frames), waveforms (B, frames x hop))."""
    rows = torch.randint(len(pictures), (batch_size,), generator=generator)
    starts = torch.randint(pictures.shape[-1] - frames + 1, (batch_size,), generator=generator)
    picture_batch = torch.stack([pictures[row, :, :, start:start + frames] for row, start in zip(rows, starts)])
    wave_batch = torch.stack([clips[row, start * hop:(start + frames) * hop] for row, start in zip(rows, starts)])
    return picture_batch, wave_batch


def train_vocoder(source: str, out: str | Path, training: VocoderTraining,
                  log: Callable[[str], None] = print) -> Path:
    """Train a vocoder on the clips of `source` (a sound folder, zip or built-in set) and write
    OUT/vocoder.safetensors (OUT a folder; a sound generator's folder makes it that generator's
    vocoder). Returns the file's path."""
    training.check()
    settings = training.settings
    path = Path(out) / VOCODER_FILE
    clips, pictures = clips_and_pictures(source, settings, training.max_sounds)
    train_count = held_out_split(len(clips))
    train_clips, train_pictures = torch.from_numpy(clips[:train_count]), torch.from_numpy(pictures[:train_count])
    device = select_device(training.device)
    log(f"vocoder: {train_count} clips to train on, {len(clips) - train_count} held out; "
        f"{settings.n_mels} mel bands every {settings.hop_length} samples; on {device}")

    with seeded_construction(training.seed):
        vocoder = Vocoder(VocoderConfig.for_mel(settings, channels=training.channels)).to(device)
        discriminator = MultiScaleDiscriminator().to(device)
    betas = (0.8, 0.99)  # HiFi-GAN's
    objective = VocoderObjective(
        vocoder, discriminator, torch.optim.AdamW(vocoder.parameters(), training.learning_rate, betas=betas),
        torch.optim.AdamW(discriminator.parameters(), training.learning_rate, betas=betas),
        sample_rate=settings.sample_rate, adversarial_from=training.warm_up_steps)
    _set_learning_rate(objective.vocoder_optimiser, training.warm_up_learning_rate if training.warm_up_steps
                       else training.learning_rate)
    draw = torch.Generator().manual_seed(training.seed)

    started = last_saved = time.monotonic()
    deadline = started + training.minutes * 60 if training.minutes is not None else float("inf")
    step, losses = 0, {}
    while (training.steps is None or step < training.steps) and time.monotonic() < deadline:
        picture_batch, wave_batch = stretches(train_pictures, train_clips, training.batch_size,
                                              training.segment_frames, settings.hop_length, draw)
        if step == training.warm_up_steps:  # the critics join: the vocoder slows down to their pace
            _set_learning_rate(objective.vocoder_optimiser, training.learning_rate)
        losses = objective.step(picture_batch.to(device), wave_batch.to(device), step)
        step += 1
        if time.monotonic() - last_saved >= SAVE_EVERY_SECONDS:
            save_vocoder(vocoder, settings, path, _record(source, training, step, started, losses))
            last_saved = time.monotonic()
            log(f"vocoder step {step}: " + ", ".join(f"{name} {value:.3f}" for name, value in losses.items()))

    vocoder.eval().cpu()  # (measured, saved and used on the CPU)
    held_out = clips[train_count:train_count + MEASURED_CLIPS]
    measured = compare_inversions(held_out, settings, {"vocoder": SoundInverter(settings, vocoder=vocoder),
                                                       "griffin-lim": SoundInverter(settings)})
    record = _record(source, training, step, started, losses, held_out=measured)
    save_vocoder(vocoder, settings, path, record)
    log(f"vocoder: {step} steps in {record['minutes']:.1f} minutes; on {len(held_out)} held-out clips, spectral "
        f"convergence {measured['vocoder']['spectral_convergence']:.3f} (Griffin-Lim "
        f"{measured['griffin-lim']['spectral_convergence']:.3f}); written to {path}")
    return path


def _set_learning_rate(optimiser: torch.optim.Optimizer, rate: float) -> None:
    for group in optimiser.param_groups:
        group["lr"] = rate


def _record(source: str, training: VocoderTraining, step: int, started: float, losses: dict, **extra) -> dict:
    settings = asdict(training)
    settings.pop("settings")
    return {"source": source, "steps": step, "minutes": round((time.monotonic() - started) / 60, 2),
            "training": settings, "last_losses": {name: round(value, 4) for name, value in losses.items()}, **extra}


__all__ = ["VocoderTraining", "train_vocoder", "clips_and_pictures", "held_out_split",
           "stretches"]
