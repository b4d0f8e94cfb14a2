"""How well a way of turning spectrogram pictures into sound brings real clips back: each
clip -> its picture -> the inverter's clip, compared with the original by its spectrum
(spectral convergence, log-spectral distance) and by its own picture (the mean distance in
decibels between the picture of the result and the picture it was made from: how faithfully
the inverter realised what it was given, the part a generator's picture decides).

The inverters are plain callables, (N, 1, n_mels, frames) pictures -> (N, samples) clips, so
Griffin-Lim and a vocoder are measured by the same code (gan_space.vocoder_training,
benchmarks/sound_quality.py)."""

import time
from collections.abc import Callable

import numpy as np

from .spectrogram import MelSettings, log_spectral_distance, mel_picture, spectral_convergence

Inverter = Callable[[np.ndarray], np.ndarray]


def picture_distance_db(pictures, clips, settings: MelSettings) -> float:
    """Mean |difference| in decibels between `pictures` and the pictures of `clips` (the same transform)."""
    again = mel_picture(np.asarray(clips, dtype=np.float32), settings)
    span = settings.db_ceiling - settings.db_floor
    return float(np.mean(np.abs(again - np.asarray(pictures).reshape(again.shape))) / 2.0 * span)


def compare_inversions(clips, settings: MelSettings, inverters: dict[str, Inverter]) -> dict[str, dict]:
    """Per inverter: mean spectral convergence and log-spectral distance (dB) to the original
    clips, the picture distance (dB), and seconds of computing per second of sound."""
    clips = np.asarray(clips, dtype=np.float32)
    pictures = mel_picture(clips, settings)
    results = {}
    for name, invert in inverters.items():
        started = time.perf_counter()
        made = np.asarray(invert(pictures), dtype=np.float32)
        seconds = time.perf_counter() - started
        results[name] = {
            "spectral_convergence": round(float(np.mean([spectral_convergence(a, b) for a, b in zip(clips, made)])), 4),
            "log_spectral_distance_db": round(float(np.mean([log_spectral_distance(a, b)
                                                             for a, b in zip(clips, made)])), 3),
            "picture_distance_db": round(picture_distance_db(pictures, made, settings), 3),
            "seconds_per_second": round(seconds / (len(clips) * settings.samples / settings.sample_rate), 5),
            "clips": len(clips)}
    return results


__all__ = ["Inverter", "picture_distance_db", "compare_inversions"]
