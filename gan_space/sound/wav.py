"""Clips -> WAV files (16-bit PCM, what every player and browser plays)."""

import io
import os

import numpy as np


def _samples(clip) -> np.ndarray:
    array = np.asarray(clip, dtype=np.float32)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"a clip is one non-empty row of samples, got shape {array.shape}")
    return np.clip(np.nan_to_num(array), -1.0, 1.0)


def wav_bytes(clip, sample_rate: int) -> bytes:
    """A clip (samples,) of floats in [-1, 1] -> the bytes of a mono 16-bit WAV file (values
    outside [-1, 1] are clipped, NaN is silence)."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, _samples(clip), sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def write_wav(path: str | os.PathLike, clip, sample_rate: int) -> None:
    """The clip as a WAV file at `path` (as wav_bytes)."""
    with open(path, "wb") as handle:
        handle.write(wav_bytes(clip, sample_rate))


__all__ = ["wav_bytes", "write_wav"]
