"""Sounds as training pictures (SpecGAN): a sound source (the built-in spoken digits, a folder
or a .zip of sound files) -> a Dataset of kind "images" holding each clip's log-mel
spectrogram as a one-channel uint8 picture, with a `sound` record saying how to turn a
picture back into sound. The picture families and the trainer then need nothing new.

The picture size chooses the transform (gan_space.sound.spectrogram): 128 px is SPEECH_128
(the default: consonants stay sharp), 64 px is FAST_64 (a quarter of the pixels, a blurrier
inversion). The transform's numbers are fixed, not taken from the data, so any generated
picture can be inverted with the record alone.
"""

import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..names import BUILTIN_SOUND_SETS
from ..sound.spectrogram import FAST_64, SPEECH_128, MelSettings, mel_picture
from .dataset import Dataset, DatasetError
from .decode import IMAGE_EXTENSIONS
from .sounds import DEFAULT_MAX_SOUNDS, ClipSettings, ProgressCallback, is_sound_name, load_sounds
from .spoken_digits import BUILTIN_SOUND_LOADERS

# Mel picture size (pixels a side) -> the transform that makes pictures of that size.
MEL_SETTINGS = {128: SPEECH_128, 64: FAST_64}
SOUND_RECORD_KIND = "log-mel spectrogram"
SNIFF_NAMES = 2_000  # file names looked at to tell a folder of sounds from one of pictures
PICTURE_BATCH = 256  # clips turned into pictures at a time (librosa's arrays stay small)


def mel_settings_for(resolution: int) -> MelSettings:
    """The transform for mel pictures of `resolution` pixels, or DatasetError naming the sizes there are."""
    settings = MEL_SETTINGS.get(resolution)
    if settings is None:
        raise DatasetError(f"sounds train as spectrogram pictures of {' or '.join(map(str, MEL_SETTINGS))} pixels "
                           f"(128: the default, sharper; 64: faster), not {resolution!r}: set resolution to one of them")
    return settings


def sound_record(settings: MelSettings) -> dict:
    """What a model trained on these pictures keeps to make sound again (JSON)."""
    return {"kind": SOUND_RECORD_KIND, "sample_rate": settings.sample_rate,
            "seconds": settings.samples / settings.sample_rate, "mel": settings.to_dict()}


def mel_settings_of_record(record: dict | None) -> MelSettings | None:
    """The transform a sound record (sound_record) names; None for no record. ValueError for a
    record this version cannot read."""
    if not record:
        return None
    if not isinstance(record, dict) or record.get("kind") != SOUND_RECORD_KIND or not isinstance(record.get("mel"), dict):
        raise ValueError(f"not a sound record of a spectrogram model: {str(record)[:200]}")
    return checked_mel_settings(MelSettings.from_dict(record["mel"]))


# What a stored transform may ask for. A record comes with a model, perhaps from the Hub: numbers
# past these would make librosa build filter banks or clips of any size when the model is heard.
MEL_LIMITS = {"sample_rate": (4_000, 48_000), "n_fft": (16, 8_192), "hop_length": (1, 8_192), "n_mels": (8, 512),
              "frames": (8, 1_024), "griffin_lim_iterations": (1, 1_000)}
MAX_RECORD_SECONDS = 30.0


def checked_mel_settings(settings: MelSettings) -> MelSettings:
    """The settings, or ValueError naming the one out of range (MEL_LIMITS, frequencies within
    the sample rate's band, a clip of at most MAX_RECORD_SECONDS)."""
    for name, (low, high) in MEL_LIMITS.items():
        value = getattr(settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"mel setting {name}={value!r} is out of range: a whole number from {low} to {high}")
    numbers = [settings.fmin, settings.fmax, settings.db_floor, settings.db_ceiling]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in numbers):
        raise ValueError(f"mel settings fmin, fmax, db_floor and db_ceiling must be numbers, got {numbers}")
    if not 0 <= settings.fmin < settings.fmax <= settings.sample_rate / 2:
        raise ValueError(f"mel settings need 0 <= fmin < fmax <= sample_rate / 2, got fmin={settings.fmin}, "
                         f"fmax={settings.fmax}, sample_rate={settings.sample_rate}")
    if not settings.db_floor < settings.db_ceiling:
        raise ValueError(f"mel settings need db_floor < db_ceiling, got {settings.db_floor} and {settings.db_ceiling}")
    if settings.samples > MAX_RECORD_SECONDS * settings.sample_rate:
        raise ValueError(f"mel settings make clips of {settings.samples / settings.sample_rate:.1f} s: at most "
                         f"{MAX_RECORD_SECONDS:g} s")
    return settings


def is_sound_source(source: str) -> bool:
    """Whether a dataset name means sounds: a built-in sound set, or an existing folder or .zip
    whose files (the first SNIFF_NAMES names) are more sound files than pictures. Reads names
    only, never a file's content."""
    source = str(source).strip()
    if source in BUILTIN_SOUND_SETS:
        return True
    try:
        path = Path(os.path.expanduser(source))
        if path.is_dir():
            names = _first_names(path)
        elif path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [info.filename for info in archive.infolist()[:SNIFF_NAMES] if not info.is_dir()]
        else:
            return False
    except (OSError, RuntimeError, ValueError, zipfile.BadZipFile):
        return False
    return is_mostly_sounds(names)


def is_mostly_sounds(names: list[str]) -> bool:
    """Whether these file names are more sound files than pictures (a Hub dataset's file list:
    gan_space.data.hub_datasets)."""
    sounds = sum(1 for name in names if is_sound_name(name))
    pictures = sum(1 for name in names if Path(name).suffix.lower() in IMAGE_EXTENSIONS)
    return sounds > pictures


def _first_names(root: Path) -> list[str]:
    names = []
    for folder, _, files in os.walk(root):  # (symbolic links to folders are not followed)
        names.extend(files)
        if len(names) >= SNIFF_NAMES:
            break
    return names[:SNIFF_NAMES]


def clips_to_pictures(clips: np.ndarray, settings: MelSettings) -> torch.Tensor:
    """int16 or float clips (N, samples) -> uint8 mel pictures (N, 1, n_mels, frames)."""
    clips = np.asarray(clips)
    pictures = np.empty((len(clips), *settings.picture_shape), np.uint8)
    for start in range(0, len(clips), PICTURE_BATCH):
        batch = clips[start:start + PICTURE_BATCH]
        if batch.dtype == np.int16:
            batch = batch.astype(np.float32) / 32767.0
        pictures[start:start + len(batch)] = np.round((mel_picture(batch, settings) + 1.0) * 127.5).astype(np.uint8)
    return torch.from_numpy(pictures)


def load_sound_clips(source: str, settings: MelSettings, max_sounds: int = DEFAULT_MAX_SOUNDS,
                     progress: ProgressCallback | None = None, workers: int | None = None) -> Dataset:
    """The clips of a sound source (kind "sounds") at the transform's rate and length (a folder's
    or a .zip's decoded by `workers` processes, default one per core)."""
    clip = clip_settings(settings)
    if source in BUILTIN_SOUND_SETS:
        data = BUILTIN_SOUND_LOADERS[source](settings=clip, progress=progress)
        if len(data) > max_sounds:  # the first speakers, whole (each says every digit)
            data.samples, data.labels = data.samples[:max_sounds], data.labels[:max_sounds]
        return data
    return load_sounds(source, clip, max_sounds=max_sounds, progress=progress, workers=workers)


def load_sound_pictures(source: str, resolution: int = 128, channels: int = 1, max_sounds: int = DEFAULT_MAX_SOUNDS,
                        progress: ProgressCallback | None = None, workers: int | None = None) -> Dataset:
    """A sound source as mel pictures: kind "images", uint8 (N, 1, resolution, resolution), the
    labels of the source (digits; sub-folders), and `sound` (sound_record) for the trainer to
    keep with the model."""
    settings = picture_settings(resolution, channels)
    return clips_as_pictures(load_sound_clips(source, settings, max_sounds, progress, workers), settings)


def picture_settings(resolution: int, channels: int) -> MelSettings:
    """The transform for sounds trained as pictures of this size, or DatasetError for a size or
    a number of channels a spectrogram picture cannot have."""
    if channels != 1:
        raise DatasetError(f"a spectrogram picture has one channel: set channels to 1 for sounds, not {channels!r}")
    return mel_settings_for(resolution)


def clips_as_pictures(clips: Dataset, settings: MelSettings) -> Dataset:
    """A Dataset of clips (kind "sounds", at the transform's rate and length) -> its mel pictures,
    with the clips' labels, skipped files and the sound record."""
    return Dataset(name=clips.name, kind="images", samples=clips_to_pictures(clips.samples.numpy(), settings),
                   labels=clips.labels, num_classes=clips.num_classes, class_names=list(clips.class_names),
                   skipped=list(clips.skipped), sound=sound_record(settings))


def clip_settings(settings: MelSettings) -> ClipSettings:
    """The clips a transform's pictures hold: its sample rate, its length."""
    return ClipSettings(sample_rate=settings.sample_rate, seconds=settings.samples / settings.sample_rate)


__all__ = ["MEL_SETTINGS", "SOUND_RECORD_KIND", "MEL_LIMITS", "mel_settings_for", "sound_record", "mel_settings_of_record",
           "checked_mel_settings", "is_sound_source", "is_mostly_sounds", "clips_to_pictures", "load_sound_clips",
           "load_sound_pictures", "picture_settings", "clips_as_pictures", "clip_settings"]
