"""Sounds from a sound generator: a generator trained on spectrogram pictures (SpecGAN; its
folder's sound.json, gan_space.checkpoints.sound_settings) makes pictures, and an inverter
turns them into clips: a GAN vocoder (gan_space.models.vocoder) or Griffin-Lim (gan_space.sound).

    from gan_space.checkpoints import load_generator
    from gan_space.sound_pipeline import generate_sounds, write_sounds

    generator = load_generator("runs/spoken-digits")
    clips, sample_rate = generate_sounds(generator, num=16, seed=0)   # inverter="auto"
    write_sounds(clips, sample_rate, "sounds/")

Which vocoder "auto" takes: the generator's own (vocoder.safetensors in its folder or run, from
`python -m gan_space train-vocoder`), else the shipped speech vocoder (trained on the built-in
spoken digits) when the generator's transform is the one it reads, each only if its training
record says it beat Griffin-Lim on held-out clips; otherwise Griffin-Lim
(gan_space.models.vocoder.sound_inverter). The shipped one does not yet (benchmarks/RESULTS.md).
"""

import os
from pathlib import Path

import numpy as np
import torch

from .checkpoints import sound_settings
from .models.vocoder import SoundInverter, sound_inverter
from .sampling import generate, image_grid, interpolate
from .sound.spectrogram import MelSettings
from .sound.wav import write_wav

SPECTROGRAM_GRID_NAME = "spectrograms.png"
MAX_SOUNDS = 10_000  # clips one call makes at most (each 1 s clip is 64 kB as float32)


def generator_inverter(generator, choice: str = "auto", iterations: int | None = None) -> SoundInverter:
    """sound_inverter for a loaded sound generator (its own vocoder file counts)."""
    return sound_inverter(generator_mel_settings(generator), choice, getattr(generator, "vocoder_file", None),
                          iterations)


def generator_mel_settings(generator) -> MelSettings:
    """The generator's spectrogram transform, or ValueError when it makes pictures, not sounds."""
    settings = sound_settings(generator)
    if settings is None:
        raise ValueError(f"this {type(generator).__name__} makes pictures, not sounds: its folder has no sound.json "
                         "(only a generator trained on sounds makes sounds)")
    return settings


def generate_sounds(generator, num: int = 16, seed: int = 0, truncation: float = 1.0, labels=None,
                    iterations: int | None = None, inverter: str = "auto") -> tuple[np.ndarray, int]:
    """(float32 clips (num, samples) in [-1, 1], sample rate): sample i from latent seed seed + i
    (as gan_space.sampling.generate), its spectrogram turned into sound by `inverter` (one of
    SOUND_INVERTERS; Griffin-Lim with `iterations`, default the transform's own)."""
    return generate_sounds_and_pictures(generator, num, seed, truncation, labels, iterations, inverter)[:2]


def generate_sounds_and_pictures(generator, num: int = 16, seed: int = 0, truncation: float = 1.0, labels=None,
                                 iterations: int | None = None, inverter: str = "auto"
                                 ) -> tuple[np.ndarray, int, torch.Tensor]:
    """As generate_sounds, with the spectrogram pictures the clips came from ((num, 1, H, W) in [-1, 1])."""
    if not 1 <= num <= MAX_SOUNDS:
        raise ValueError(f"num must be from 1 to {MAX_SOUNDS:,}, got {num}")
    invert = generator_inverter(generator, inverter, iterations)
    pictures = generate(generator, num, seed=seed, truncation=truncation, labels=labels)
    return invert(pictures), invert.settings.sample_rate, pictures


def sound_morph(generator, seed_a: int, seed_b: int, steps: int = 8, method: str = "slerp", truncation: float = 1.0,
                label: int | None = None, iterations: int | None = None,
                inverter: str = "auto") -> tuple[list[np.ndarray], int]:
    """A sound morph: ([`steps` float32 clips along the latent path from seed_a's sample to
    seed_b's], sample rate). Its ends are exactly the samples of those seeds."""
    invert = generator_inverter(generator, inverter, iterations)
    pictures = interpolate(generator, seed_a, seed_b, frames=steps, method=method, truncation=truncation, label=label)
    return list(invert(pictures)), invert.settings.sample_rate


def spectrogram_grid(pictures: torch.Tensor, columns: int | None = None):
    """A PIL grid of spectrogram pictures (high frequencies at the top), each cell at least 128
    px, grey lines between them."""
    return image_grid(pictures, min_cell=128, columns=columns, padding=2)


def write_sounds(clips, sample_rate: int, folder: str | os.PathLike, prefix: str = "sound",
                 pictures: torch.Tensor | None = None) -> list[Path]:
    """Each clip as FOLDER/PREFIX-000.wav, ... (16-bit PCM), and with `pictures`, their grid as
    FOLDER/spectrograms.png. Returns the WAV files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(len(clips) - 1)))
    paths = []
    for index, clip in enumerate(clips):
        path = folder / f"{prefix}-{index:0{width}d}.wav"
        write_wav(path, clip, sample_rate)
        paths.append(path)
    if pictures is not None:
        spectrogram_grid(pictures).save(folder / SPECTROGRAM_GRID_NAME)
    return paths


__all__ = ["SPECTROGRAM_GRID_NAME", "generator_inverter", "generator_mel_settings", "generate_sounds",
           "generate_sounds_and_pictures", "sound_morph", "spectrogram_grid", "write_sounds"]
