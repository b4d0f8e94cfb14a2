"""The built-in spoken digits: "zero" to "nine" said by eSpeak NG (a speech synthesiser that
installs as an ordinary package and needs no network) in many voices, pitches and speeds, made
on first use and cached. A stand-in for SC09, the spoken digits WaveGAN and SpecGAN learnt.

A "speaker" is one eSpeak NG voice (an English accent) with one variant (a voice quality:
male, female, older, ...), one pitch and one speed; each speaker says the ten digits. The
speakers are drawn from a seeded generator, so a count and a seed always give the same set.
Every clip goes through the same decoder as a user's files (gan_space.data.sounds): mono,
resampled, silence trimmed, centred, peak-normalised.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..names import BUILTIN_SOUND_SETS, implemented
from .dataset import Dataset, DatasetError
from .sounds import ClipSettings, ProgressCallback, decode_sound, sounds_dataset

SPOKEN_DIGITS = BUILTIN_SOUND_SETS[0]
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# eSpeak NG's English accents (its own voices, not the MBROLA ones, which need another program).
ESPEAK_VOICES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
# Voice variants that sound like people (eSpeak NG also ships robots, whispers and croaks). A
# variant eSpeak NG lacks would silently fall back to its default voice: those not installed are
# left out (available_variants).
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "Alex", "Andy",
                   "Annie", "Denis", "Gene", "Jacky", "Lee", "Mike", "paul", "anika", "aunty", "belinda",
                   "boris", "david", "edward", "grandma", "grandpa", "linda", "max", "steph", "john", "iven")
PITCHES = (20, 80)  # eSpeak NG's -p, 0-99 (50 its default): the range drawn from
SPEEDS = (120, 210)  # -s, words a minute (175 its default): slow enough, fast enough to fit in 1 s
DEFAULT_SPEAKERS = 300  # x 10 digits: 3,000 clips (SC09 has some 2,600 speakers, 18,620 clips)
CLIP_TIMEOUT_SECONDS = 10.0  # one word takes eSpeak NG some 20 ms
CACHE_VERSION = 1  # bump when the way clips are made changes: older caches are not read
DEFAULT_CACHE_DIR = Path("~/.cache/gan_space")
INSTALL_HINT = ("Install it with your system's package manager: `apt-get install espeak-ng` (Debian, Ubuntu), "
                "`brew install espeak-ng` (macOS), `dnf install espeak-ng` (Fedora); on a Hugging Face Space "
                "packages.txt lists it.")


@dataclass(frozen=True)
class Speaker:
    voice: str
    variant: str
    pitch: int
    speed: int

    def command(self, program: str, word: str) -> list[str]:
        """eSpeak NG's arguments to say `word` as this speaker, the WAV file on its output."""
        return [program, "-v", f"{self.voice}+{self.variant}", "-p", str(self.pitch), "-s", str(self.speed),
                "--stdout", word]


def find_espeak(program: str | None = None) -> str:
    """The path of eSpeak NG's program, or DatasetError saying how to install it."""
    found = shutil.which(program or "espeak-ng")
    if found is None:
        raise DatasetError(f"the built-in spoken-digits set is spoken by eSpeak NG, and {program or 'espeak-ng'} "
                           f"is not installed. {INSTALL_HINT}")
    return found


def espeak_version(program: str) -> str:
    """eSpeak NG's own line about itself (its version and where its data is)."""
    return _run([program, "--version"]).decode(errors="replace").strip()


def available_variants(program: str, variants: tuple = ESPEAK_VARIANTS) -> list[str]:
    """The `variants` eSpeak NG has (files in its data folder's voices/!v). When its data folder
    cannot be found all of them are kept."""
    version = espeak_version(program)
    folder = version.rpartition("Data at:")[2].strip() if "Data at:" in version else ""
    variant_folder = Path(folder) / "voices" / "!v"
    if not folder or not variant_folder.is_dir():
        return list(variants)
    return [variant for variant in variants if (variant_folder / variant).is_file()]


def available_voices(program: str, voices: tuple = ESPEAK_VOICES) -> list[str]:
    """The `voices` (languages) eSpeak NG lists among its English voices."""
    listed = set()
    for line in _run([program, "--voices=en"]).decode(errors="replace").splitlines()[1:]:
        columns = line.split()
        if len(columns) > 1:
            listed.add(columns[1].lower())
    return [voice for voice in voices if voice.lower() in listed]


def draw_speakers(count: int, seed: int, voices: list[str], variants: list[str]) -> list[Speaker]:
    """`count` speakers, each a voice, variant, pitch and speed drawn from a generator seeded by `seed`."""
    if not voices or not variants:
        raise DatasetError("eSpeak NG has none of the English voices or variants the spoken digits use "
                           f"(voices {ESPEAK_VOICES}, variants {ESPEAK_VARIANTS}); reinstall espeak-ng")
    generator = np.random.default_rng(seed)
    return [Speaker(voice=str(generator.choice(voices)), variant=str(generator.choice(variants)),
                    pitch=int(generator.integers(PITCHES[0], PITCHES[1] + 1)),
                    speed=int(generator.integers(SPEEDS[0], SPEEDS[1] + 1))) for _ in range(count)]


def _run(command: list[str]) -> bytes:
    """The program's output; DatasetError when it fails or takes over CLIP_TIMEOUT_SECONDS."""
    try:
        finished = subprocess.run(command, capture_output=True, timeout=CLIP_TIMEOUT_SECONDS, check=False,
                                  stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DatasetError(f"eSpeak NG took over {CLIP_TIMEOUT_SECONDS:.0f} s on {' '.join(command[1:])}") from None
    except OSError as error:
        raise DatasetError(f"eSpeak NG could not be run ({error.strerror or error}). {INSTALL_HINT}") from None
    if finished.returncode != 0 or not finished.stdout:
        message = " ".join(finished.stderr.decode(errors="replace").split())[:200]
        raise DatasetError(f"eSpeak NG failed on {' '.join(command[1:])} (exit {finished.returncode}: {message})")
    return finished.stdout


def speak(word: str, speaker: Speaker, program: str, settings: ClipSettings = ClipSettings()) -> np.ndarray:
    """One clip (float32, settings.samples) of `speaker` saying `word`."""
    wav = _run(speaker.command(program, word))
    try:
        return decode_sound(wav, settings)
    except ValueError as error:
        raise DatasetError(f"eSpeak NG's clip of {word!r} by {speaker} is unusable: {error}") from None


def load_spoken_digits(speakers: int = DEFAULT_SPEAKERS, seed: int = 0, settings: ClipSettings = ClipSettings(),
                       cache_dir: str | os.PathLike | None = None, program: str | None = None,
                       workers: int | None = None, progress: ProgressCallback | None = None) -> Dataset:
    """The spoken digits: `speakers` x 10 clips, labels 0-9 (the digit). Made with eSpeak NG
    the first time (by `workers` threads, each running one eSpeak NG at a time; progress(done,
    total) as they finish) and kept in `cache_dir` (default ~/.cache/gan_space); later calls
    with the same settings read the cache. Processes that make the same set at once each write
    their own temporary file and rename it into place: the cache is always whole."""
    settings.check()
    if not isinstance(speakers, int) or isinstance(speakers, bool) or not 1 <= speakers <= 100_000:
        raise DatasetError(f"speakers must be a whole number from 1 to 100000, got {speakers!r}")
    program = find_espeak(program)
    version = espeak_version(program)
    cast = draw_speakers(speakers, seed, available_voices(program), available_variants(program))
    key = json.dumps({"version": CACHE_VERSION, "espeak": version, "settings": asdict(settings),
                      "speakers": [asdict(speaker) for speaker in cast]}, sort_keys=True)
    folder = Path(os.path.expanduser(str(cache_dir if cache_dir is not None else DEFAULT_CACHE_DIR)))
    path = folder / f"spoken-digits-{speakers}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    clips = _read_cache(path, speakers * len(DIGIT_WORDS), settings.samples)
    if clips is None:
        clips = _make_clips(cast, program, settings, workers, progress)
        _write_cache(path, clips)
    labels = [digit for _ in cast for digit in range(len(DIGIT_WORDS))]
    return sounds_dataset(SPOKEN_DIGITS, clips, settings.sample_rate, labels, list(DIGIT_WORDS))


def _make_clips(cast: list[Speaker], program: str, settings: ClipSettings, workers: int | None,
                progress: ProgressCallback | None) -> np.ndarray:
    jobs = [(word, speaker) for speaker in cast for word in DIGIT_WORDS]
    workers = workers or max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                    else os.cpu_count() or 1))
    clips = np.empty((len(jobs), settings.samples), np.int16)
    with ThreadPoolExecutor(workers) as pool:  # the work is in eSpeak NG's processes: threads suffice
        for row, clip in enumerate(pool.map(lambda job: speak(job[0], job[1], program, settings), jobs)):
            clips[row] = np.round(clip * 32767.0).astype(np.int16)
            if progress is not None:
                progress(row + 1, len(jobs))
    return clips


def _read_cache(path: Path, rows: int, samples: int) -> np.ndarray | None:
    """The cached clips, or None when there is no usable cache (missing, damaged, other shape)."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            clips = stored["clips"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    return clips if clips.shape == (rows, samples) and clips.dtype == np.int16 else None


def _write_cache(path: Path, clips: np.ndarray) -> None:
    """Written whole to a temporary file beside it, then renamed into place. A cache that cannot
    be written is not an error: the clips are in memory, and the next use makes them again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez_compressed(stream, clips=clips)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        pass


# Each built-in sound set's maker (all take the keyword arguments of load_spoken_digits they need).
BUILTIN_SOUND_LOADERS = implemented("built-in sound sets", BUILTIN_SOUND_SETS, {SPOKEN_DIGITS: load_spoken_digits})


__all__ = ["SPOKEN_DIGITS", "BUILTIN_SOUND_LOADERS", "DIGIT_WORDS", "ESPEAK_VOICES", "ESPEAK_VARIANTS", "DEFAULT_SPEAKERS", "Speaker", "find_espeak",
           "available_variants", "available_voices", "draw_speakers", "speak", "load_spoken_digits"]
