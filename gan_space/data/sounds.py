"""Sounds from files: a folder of sound files (sub-folders are classes) or a .zip file of them,
each made into one clip of a fixed length: mono, resampled, its leading and trailing silence
trimmed, centred in the clip (padded with silence, or cut to the clip's length), and scaled to
a fixed peak.

Files and archive members are read by the one safe reader (gan_space.data.decode: no
symbolic links, pipes or devices, nothing over MAX_FILE_BYTES, archive members in memory and
never extracted). What a sound file adds, guarded here:
- formats: only those in SOUND_FORMATS are decoded (libsndfile picks the decoder by the
  content, not the name);
- the header is checked before any sample is decoded: channels (none, or over MAX_CHANNELS),
  sample rate (outside MIN_SAMPLE_RATE..MAX_SAMPLE_RATE);
- length: only the frames a clip can use are decoded (the clip and at most MAX_LEAD_SECONDS of
  silence before it), a block at a time, so an hours-long file, or a header that claims hours,
  costs no more memory than a short one;
- content: a silent file, a file whose sound is too short, values that are not numbers, and a
  badly clipped recording (flat tops at full scale) are refused with the reason.

Every refusal of one file is a ValueError whose message says why; the loaders skip the file
and report it (Dataset.skipped), as they do for pictures. Many files are decoded as pictures
are, by the one pool of decoding processes (gan_space.data.pool, with a SoundDecoder): the same
clips, order, labels and skip reasons as one process gives, a few chunks of files in flight.
"""

import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .dataset import Dataset, DatasetError
from .decode import archive_members, name_parts, open_archive
from .files import _available_memory, folder_entries
from .pool import Entry, decode_files, default_workers, format_size, labels_of, upper_bound

SOUND_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".mp3"}
# The containers libsndfile may decode (it picks one by the content, whatever the name says).
SOUND_FORMATS = ("WAV", "WAVEX", "FLAC", "OGG", "MP3")

DEFAULT_SAMPLE_RATE = 16_000  # WaveGAN's and SpecGAN's rate: speech, and a 1 s clip the networks can learn
DEFAULT_CLIP_SECONDS = 1.0
DEFAULT_MAX_SOUNDS = 50_000

# Guards against hostile or unusable files.
MIN_SAMPLE_RATE = 4_000  # below this a file holds no usable speech or music
MAX_SAMPLE_RATE = 384_000  # the highest rate recorders use; a header claiming more lies
MAX_CHANNELS = 64
MAX_LEAD_SECONDS = 4.0  # silence read before the sound starts, at most (the rest of a file is never decoded)
READ_BLOCK_FRAMES = 65_536  # frames decoded at a time: memory stays bounded whatever the channels
MIN_SOUND_SECONDS = 0.05  # sound left after trimming the silence, at least
SILENT_PEAK = 10 ** (-60 / 20)  # a file whose loudest sample is under -60 dB of full scale is silent
TRIM_BELOW_PEAK_DB = 40.0  # leading and trailing frames this far under the loudest frame are silence
TRIM_FRAME_SECONDS = 0.01
PEAK_LEVEL = 0.9  # every clip's loudest sample after normalising (a little headroom under full scale)
FULL_SCALE = 0.999  # a sample at least this loud, equal to the one before, sits on a clipped flat top
MAX_CLIPPED_FRACTION = 0.01  # more of a file's samples than this on flat tops: badly clipped, refused
INT16_SCALE = 32767.0  # clips are stored as 16-bit integers: half the memory of float32, no audible loss


@dataclass(frozen=True)
class ClipSettings:
    """What every sound is made into: `seconds` of mono at `sample_rate`."""

    sample_rate: int = DEFAULT_SAMPLE_RATE
    seconds: float = DEFAULT_CLIP_SECONDS

    @property
    def samples(self) -> int:
        return int(round(self.sample_rate * self.seconds))

    def check(self) -> "ClipSettings":
        """Itself, or DatasetError saying which setting is out of range."""
        rate_ok = isinstance(self.sample_rate, int) and not isinstance(self.sample_rate, bool)
        if not rate_ok or not MIN_SAMPLE_RATE <= self.sample_rate <= 48_000:
            raise DatasetError(f"sample_rate must be a whole number of Hz from {MIN_SAMPLE_RATE} to 48000, "
                               f"got {self.sample_rate!r}")
        if not isinstance(self.seconds, (int, float)) or not MIN_SOUND_SECONDS <= self.seconds <= 30:
            raise DatasetError(f"clip seconds must be from {MIN_SOUND_SECONDS} to 30, got {self.seconds!r}")
        return self


def is_sound_name(name: str) -> bool:
    """Whether the name's extension, lower-cased, is a sound file's."""
    parts = name_parts(name)
    last = parts[-1] if parts else ""
    dot = last.rfind(".")
    return 0 < dot < len(last) - 1 and last[dot:].lower() in SOUND_EXTENSIONS


# ---------------------------------------------------------------------------
# One file -> one clip


def decode_sound(data: bytes, settings: ClipSettings = ClipSettings()) -> np.ndarray:
    """Bytes of a sound file -> float32 (settings.samples,): mono, at settings.sample_rate, the
    sound (silence trimmed) centred in the clip, its peak at PEAK_LEVEL.

    Raises ValueError (with a short reason) for anything that is not a usable sound of an
    accepted format. Decodes at most the clip's length plus MAX_LEAD_SECONDS of the file."""
    mono, rate = _read_mono(data, settings.seconds + MAX_LEAD_SECONDS)
    if rate != settings.sample_rate:
        mono = resample(mono, rate, settings.sample_rate)
    return fit_clip(mono, settings)


def _read_mono(data: bytes, seconds: float) -> tuple[np.ndarray, int]:
    """(float32 mono of at most `seconds` from the start, the file's sample rate)."""
    import soundfile

    if not data:
        raise ValueError("empty file")
    try:
        sound = soundfile.SoundFile(io.BytesIO(data))
    except Exception as error:  # libsndfile's errors (and soundfile's own) for anything it cannot parse
        raise ValueError(f"not a readable sound file ({_short(error)})") from None
    with sound:
        # The header alone has been read: everything below is checked before a sample is decoded.
        if sound.format not in SOUND_FORMATS:
            raise ValueError(f"not an accepted sound format ({sound.format}; use WAV, FLAC, OGG or MP3)")
        if sound.channels < 1:
            raise ValueError("no channels")
        if sound.channels > MAX_CHANNELS:
            raise ValueError(f"too many channels ({sound.channels}; at most {MAX_CHANNELS})")
        rate = sound.samplerate
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise ValueError(f"sample rate of {rate} Hz is outside {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz")
        wanted = int(math.ceil(seconds * rate))
        pieces, clipped, total = [], 0, 0
        try:
            # Block by block, each block mixed down at once: memory is one block of all the
            # channels plus the mono clip, however long the file is or claims to be.
            for block in sound.blocks(blocksize=READ_BLOCK_FRAMES, frames=wanted, dtype="float32", always_2d=True):
                if not np.isfinite(block).all():
                    raise ValueError("holds values that are not numbers (NaN or infinity)")
                clipped += _flat_tops(block)
                total += block.size
                pieces.append(block.mean(axis=1))
        except ValueError:
            raise
        except Exception as error:  # a damaged stream past its header
            raise ValueError(f"unreadable sound data ({_short(error)})") from None
    mono = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    if mono.size == 0:
        raise ValueError("holds no sound (0 frames)")
    if clipped > MAX_CLIPPED_FRACTION * total:
        raise ValueError(f"badly clipped ({100 * clipped / total:.1f}% of its samples are flat tops at full scale); "
                         f"record it quieter")
    return mono.astype(np.float32, copy=False), rate


def _flat_tops(block: np.ndarray) -> int:
    """Samples at full scale equal to the one before in their channel: what a recording
    clipped by its converter looks like (a loud float file that merely exceeds 1 has no flat tops)."""
    loud = np.abs(block[1:]) >= FULL_SCALE
    return int(np.count_nonzero(loud & (block[1:] == block[:-1])))


def _short(error: Exception) -> str:
    """libsndfile's own words (soundfile's message adds the name of the in-memory file object)."""
    text = getattr(error, "error_string", None) or str(error)
    return (" ".join(text.split()) or type(error).__name__)[:100]


def resample(mono: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """float32 mono at `from_rate` -> at `to_rate` (soxr, the resampler librosa uses: band-limited, fast)."""
    import soxr

    return soxr.resample(mono, from_rate, to_rate).astype(np.float32, copy=False)


def sound_bounds(mono: np.ndarray, sample_rate: int, below_peak_db: float = TRIM_BELOW_PEAK_DB) -> tuple[int, int]:
    """(start, end) of the sound: from the first to the last short frame whose RMS is within
    `below_peak_db` of the loudest frame's. (0, 0) for silence."""
    frame = max(1, int(sample_rate * TRIM_FRAME_SECONDS))
    count = -(-mono.size // frame)
    padded = np.zeros(count * frame, np.float32)
    padded[:mono.size] = mono
    rms = np.sqrt(np.mean(padded.reshape(count, frame) ** 2, axis=1))
    loudest = float(rms.max()) if count else 0.0
    if loudest <= 0.0:
        return 0, 0
    loud = np.flatnonzero(rms >= loudest * 10 ** (-below_peak_db / 20))
    return int(loud[0]) * frame, min(mono.size, (int(loud[-1]) + 1) * frame)


def fit_clip(mono: np.ndarray, settings: ClipSettings = ClipSettings()) -> np.ndarray:
    """float32 mono at settings.sample_rate -> the clip: silence trimmed, the sound centred
    (padded with silence both sides; one longer than the clip keeps its first settings.seconds),
    its peak at PEAK_LEVEL. ValueError for a silent sound or one too short."""
    peak = float(np.abs(mono).max()) if mono.size else 0.0
    if peak < SILENT_PEAK:
        raise ValueError(f"silent (its loudest sample is {_decibels(peak)} of full scale)")
    start, end = sound_bounds(mono, settings.sample_rate)
    sound = mono[start:end]
    if sound.size < MIN_SOUND_SECONDS * settings.sample_rate:
        raise ValueError(f"too short ({sound.size / settings.sample_rate:.3f} s of sound; "
                         f"at least {MIN_SOUND_SECONDS} s)")
    sound = sound[:settings.samples]
    clip = np.zeros(settings.samples, np.float32)
    offset = (settings.samples - sound.size) // 2
    clip[offset:offset + sound.size] = sound * (PEAK_LEVEL / float(np.abs(sound).max()))
    return clip


def _decibels(amplitude: float) -> str:
    return "-inf dB" if amplitude <= 0 else f"{20 * math.log10(amplitude):.0f} dB"


# ---------------------------------------------------------------------------
# Many files -> a Dataset


ProgressCallback = Callable[[int, int], None]


def sounds_dataset(name: str, clips: np.ndarray, sample_rate: int, labels: list[int] | None = None,
                   class_names: list[str] | None = None, skipped: list[str] | None = None) -> Dataset:
    """Clips (N, samples), float in [-1, 1] or int16 -> a Dataset of kind "sounds": int16
    samples, `scale` INT16_SCALE (so Dataset.normalise gives float clips in [-1, 1])."""
    clips = np.asarray(clips)
    if clips.dtype != np.int16:
        clips = np.round(np.clip(clips, -1.0, 1.0) * INT16_SCALE).astype(np.int16)
    dataset = Dataset(name=name, kind="sounds", samples=torch.from_numpy(np.ascontiguousarray(clips)),
                      skipped=list(skipped or []), offset=[0.0], scale=INT16_SCALE, sample_rate=sample_rate)
    if labels is not None:
        dataset.labels = torch.tensor(labels, dtype=torch.long)
        dataset.num_classes, dataset.class_names = len(class_names), list(class_names)
    return dataset


class SoundDecoder(NamedTuple):
    """Sound files -> int16 clips (settings.samples,): what the decoding pool
    (gan_space.data.pool.decode_files) makes of each file."""

    settings: ClipSettings

    what = "sound"

    def accepts(self, name: str) -> bool:
        return is_sound_name(name)

    def decode(self, data: bytes) -> np.ndarray:
        return _to_int16(decode_sound(data, self.settings))

    def prepare(self) -> None:
        """Once in this process before the pool forks: the decoders' libraries, imported here
        rather than in each process."""
        import soundfile  # noqa: F401
        import soxr  # noqa: F401


def decode_sound_entries(name: str, entries: list[Entry], settings: ClipSettings, max_sounds: int,
                         progress: ProgressCallback | None = None, workers: int | None = None) -> Dataset:
    """The entries' sound files, in order, made into clips (the first `max_sounds` usable ones),
    by `workers` decoding processes (default: one per core; gan_space.data.pool) or, for few
    files, in this process: the same clips either way. Sub-folders are classes when every sound
    sits in one and there are at least two. Files that are not sounds or not usable are skipped
    and reported; DatasetError when none is usable, or when the clips could not fit in memory."""
    settings.check()
    workers = default_workers() if workers is None else workers
    decoder = SoundDecoder(settings)
    rows = upper_bound(entries, max_sounds, decoder)
    row_bytes = settings.samples * np.dtype(np.int16).itemsize
    available = _available_memory()
    if available is not None and rows * row_bytes > available:
        raise DatasetError(f"{name}: up to {rows} sounds of {settings.seconds:g} s need {format_size(rows * row_bytes)} "
                           f"of memory, but only {format_size(available)} are available: lower max_sounds "
                           f"(max_images when training).")
    clips = np.empty((rows, settings.samples), np.int16)  # pages are only taken when written

    def keep(row, clip):
        clips[row] = clip

    class_of, skipped = decode_files(entries, decoder, max_sounds, workers, progress, keep)
    if not class_of:
        detail = f" ({len(skipped)} file(s) skipped: {'; '.join(skipped[:3])})" if skipped else ""
        raise DatasetError(f"{name} holds no usable sound{detail}. Supply WAV, FLAC, OGG or MP3 files with at "
                           f"least {MIN_SOUND_SECONDS} s of sound.")
    kept = clips[:len(class_of)]
    if len(class_of) < rows // 2:
        kept = kept.copy()  # do not hold on to room for the many files that were unusable
    labels, class_names = labels_of(class_of)
    return sounds_dataset(name, kept, settings.sample_rate, labels, class_names, skipped)


def _to_int16(clip: np.ndarray) -> np.ndarray:
    return np.round(np.clip(clip, -1.0, 1.0) * INT16_SCALE).astype(np.int16)


def load_sound_folder(folder: str | os.PathLike, settings: ClipSettings = ClipSettings(),
                      max_sounds: int = DEFAULT_MAX_SOUNDS, progress: ProgressCallback | None = None,
                      workers: int | None = None) -> Dataset:
    """Sound files anywhere under `folder` (symbolic links are skipped and reported)."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    return decode_sound_entries(str(folder), folder_entries(root), settings, max_sounds, progress, workers)


def load_sound_zip(zip_path: str | os.PathLike, settings: ClipSettings = ClipSettings(),
                   max_sounds: int = DEFAULT_MAX_SOUNDS, progress: ProgressCallback | None = None,
                   workers: int | None = None) -> Dataset:
    """Sound files read straight out of the archive, in memory: nothing is extracted (this
    process reads the members and sends their bytes to the decoding processes)."""
    with open_archive(zip_path) as archive:
        entries = [Entry(*member) for member in archive_members(archive, Path(zip_path).name)]
        return decode_sound_entries(Path(zip_path).name, entries, settings, max_sounds, progress, workers)


def load_sounds(source: str | os.PathLike, settings: ClipSettings = ClipSettings(),
                max_sounds: int = DEFAULT_MAX_SOUNDS, progress: ProgressCallback | None = None,
                workers: int | None = None) -> Dataset:
    """A folder or a .zip file of sounds, decoded by `workers` processes (default: one per core)."""
    path = Path(os.path.expanduser(str(source)))
    if path.is_dir():
        return load_sound_folder(path, settings, max_sounds, progress, workers)
    if path.is_file():
        return load_sound_zip(path, settings, max_sounds, progress, workers)
    raise DatasetError(f"{source} is neither a folder nor a .zip file of sounds")


__all__ = ["SOUND_EXTENSIONS", "SOUND_FORMATS", "DEFAULT_SAMPLE_RATE", "DEFAULT_CLIP_SECONDS", "MAX_SAMPLE_RATE",
           "MIN_SAMPLE_RATE", "MAX_CHANNELS", "MAX_LEAD_SECONDS", "MIN_SOUND_SECONDS", "PEAK_LEVEL",
           "INT16_SCALE", "ClipSettings", "SoundDecoder", "is_sound_name", "decode_sound", "resample", "sound_bounds", "fit_clip",
           "sounds_dataset", "decode_sound_entries", "load_sound_folder", "load_sound_zip", "load_sounds"]
