"""Sound as data: sound files made into clips (gan_space.data.sounds), hostile and unusable
files refused with a reason and nothing decoded unbounded, folders and .zip files with labels
from sub-folders, the built-in spoken digits (eSpeak NG: tests/run.sh installs it), and the
spectrogram pictures and their inversion (gan_space.sound)."""

import io
import os
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
import soundfile

from gan_space.data import DatasetError
from gan_space.data.sounds import (MAX_CHANNELS, PEAK_LEVEL, ClipSettings, decode_sound, load_sound_folder,
                                   load_sound_zip, load_sounds, sound_bounds)
from gan_space.data import spoken_digits
from gan_space.data.spoken_digits import DIGIT_WORDS, load_spoken_digits
from gan_space.names import BUILTIN_DATASETS, BUILTIN_SOUND_SETS
from gan_space.sound import (FAST_64, SPEECH_128, MelSettings, log_spectral_distance, mel_picture, picture_to_sound,
                             spectral_convergence, wav_bytes, write_wav)
from gan_space.sound.spectrogram import mel_magnitudes, picture_mel_magnitudes

RATE = 16_000


def tone(seconds: float, rate: int = RATE, frequency: float = 440.0, amplitude: float = 0.5,
         channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    wave = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return wave if channels == 1 else np.repeat(wave[:, None], channels, axis=1)


def encoded(samples: np.ndarray, rate: int = RATE, format: str = "WAV", subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=format, subtype=subtype)
    return buffer.getvalue()


def wav_with_header(channels: int, rate: int, data: bytes, claimed_bytes: int | None = None) -> bytes:
    """A 16-bit PCM WAV whose header says what the test wants, whatever the data holds."""
    claimed = len(data) if claimed_bytes is None else claimed_bytes
    block = max(channels, 1) * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 16)
    return (b"RIFF" + struct.pack("<I", min(36 + claimed, 0xFFFFFFFF)) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
            + fmt + b"data" + struct.pack("<I", claimed) + data)


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


# ---------------------------------------------------------------------------
# One file -> one clip


def test_a_sound_is_made_mono_resampled_trimmed_centred_and_peak_normalised():
    silence = np.zeros((int(0.2 * 22_050), 2), np.float32)
    stereo = np.concatenate([silence, tone(0.3, 22_050, channels=2), silence])
    clip = decode_sound(encoded(stereo, 22_050))
    assert clip.shape == (RATE,) and clip.dtype == np.float32
    assert np.abs(clip).max() == pytest.approx(PEAK_LEVEL, abs=1e-3)
    start, end = sound_bounds(clip, RATE)
    # The 0.3 s of sound (its leading silence trimmed), centred in the 1 s clip.
    assert (end - start) / RATE == pytest.approx(0.3, abs=0.02)
    assert (start + end) / 2 == pytest.approx(RATE / 2, abs=0.02 * RATE)
    assert not clip[:start - 200].any() and not clip[end + 200:].any()


def test_resampling_keeps_the_pitch():
    clip = decode_sound(encoded(tone(0.5, 44_100, frequency=1000.0), 44_100))
    spectrum = np.abs(np.fft.rfft(clip))
    assert np.fft.rfftfreq(clip.size, 1 / RATE)[spectrum.argmax()] == pytest.approx(1000.0, abs=2.0)


def test_a_longer_sound_fills_the_clip_from_its_start_and_other_settings_are_followed():
    clip = decode_sound(encoded(tone(3.0)))
    assert clip.shape == (RATE,) and np.abs(clip[:50]).max() > 0.05 and np.abs(clip[-50:]).max() > 0.05
    half_second_at_8k = decode_sound(encoded(tone(0.2)), ClipSettings(sample_rate=8_000, seconds=0.5))
    assert half_second_at_8k.shape == (4_000,)


@pytest.mark.parametrize("format", ["WAV", "FLAC", "OGG", "MP3"])
def test_each_accepted_format_decodes(format):
    clip = decode_sound(encoded(tone(0.5, 22_050), 22_050, format=format))
    start, end = sound_bounds(clip, RATE)
    assert clip.shape == (RATE,) and (end - start) / RATE == pytest.approx(0.5, abs=0.1)


def _clipped_recording() -> bytes:
    return encoded(np.clip(3 * tone(0.5), -1, 1), subtype="PCM_16")


def _not_numbers() -> bytes:
    samples = tone(0.5)
    samples[100] = np.nan
    return encoded(samples, subtype="FLOAT")


HOSTILE = {
    "empty": (lambda: b"", "empty file"),
    "not a sound": (lambda: b"\x00\x01garbage" * 100, "not a readable sound file"),
    "no data chunk": (lambda: wav_with_header(1, RATE, pcm16(tone(0.5)))[:30], "not a readable sound file"),
    "zero channels": (lambda: wav_with_header(0, RATE, pcm16(tone(0.5))), "Channel count is zero"),
    "too many channels": (lambda: wav_with_header(1000, RATE, pcm16(tone(0.5))), "too many channels"),
    "a billion hertz": (lambda: wav_with_header(1, 1_000_000_000, pcm16(tone(0.5))), "sample rate of 1000000000 Hz"),
    "too low a rate": (lambda: wav_with_header(1, 1_000, pcm16(tone(0.5))), "sample rate of 1000 Hz"),
    "another format (AIFF)": (lambda: encoded(tone(0.5), format="AIFF"), "not an accepted sound format"),
    "silent": (lambda: encoded(np.zeros(RATE, np.float32)), "silent"),
    "too short": (lambda: encoded(tone(0.01)), "too short"),
    "no frames": (lambda: wav_with_header(1, RATE, b""), "0 frames"),
    "badly clipped": (_clipped_recording, "badly clipped"),
    "not numbers": (_not_numbers, "not numbers"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_an_unusable_file_is_refused_with_its_reason(case):
    make, reason = HOSTILE[case]
    with pytest.raises(ValueError, match=reason):
        decode_sound(make())


def test_a_loud_float_file_is_not_taken_for_a_clipped_one():
    clip = decode_sound(encoded(3 * tone(0.5), subtype="FLOAT"))  # over 1, but no flat tops
    assert np.abs(clip).max() == pytest.approx(PEAK_LEVEL, abs=1e-3)


def test_a_header_that_claims_hours_decodes_what_is_there():
    clip = decode_sound(wav_with_header(1, RATE, pcm16(tone(0.5)), claimed_bytes=0xFFFFFFF0))
    start, end = sound_bounds(clip, RATE)
    assert (end - start) / RATE == pytest.approx(0.5, abs=0.02)


def test_an_hour_long_file_decodes_only_the_seconds_a_clip_needs():
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", 8_000, 2, format="FLAC", subtype="PCM_16") as sound:
        sound.write(tone(0.5, 8_000, channels=2))
        minute = np.zeros((8_000 * 60, 2), np.float32)
        for _ in range(60):
            sound.write(minute)
    data = buffer.getvalue()
    with soundfile.SoundFile(io.BytesIO(data)) as sound:
        assert sound.frames / sound.samplerate > 3600  # an hour, held in a small file
    tracemalloc.start()
    try:
        clip = decode_sound(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert clip.shape == (RATE,) and np.abs(clip).max() > 0.5
    # Decoding the whole hour would take 8000 x 3600 x 2 channels x 4 bytes = 230 MB.
    assert peak < 8 * 2**20, f"decoding took {peak / 2**20:.1f} MiB"


def test_a_channel_limit_is_what_the_header_is_checked_against():
    ok = wav_with_header(MAX_CHANNELS, RATE, pcm16(tone(0.3, channels=MAX_CHANNELS).reshape(-1)))
    assert decode_sound(ok).shape == (RATE,)


@pytest.mark.parametrize("settings, message", [(ClipSettings(sample_rate=100), "sample_rate"),
                                               (ClipSettings(seconds=0.0), "seconds"),
                                               (ClipSettings(seconds=1e6), "seconds")])
def test_clip_settings_out_of_range_are_a_clear_error(tmp_path, settings, message):
    (tmp_path / "a.wav").write_bytes(encoded(tone(0.5)))
    with pytest.raises(DatasetError, match=message):
        load_sound_folder(tmp_path, settings)


# ---------------------------------------------------------------------------
# Folders and .zip files


def _labelled_files() -> dict[str, bytes]:
    return {"low/a.wav": encoded(tone(0.4, frequency=220.0)), "low/b.flac": encoded(tone(0.6, frequency=200.0),
                                                                                    format="FLAC"),
            "high/c.ogg": encoded(tone(0.5, 22_050, frequency=2000.0), 22_050, format="OGG"),
            "high/d.wav": encoded(tone(0.3, 48_000, frequency=2500.0, channels=2), 48_000),
            "high/empty.wav": b"", "high/silent.wav": encoded(np.zeros(8_000, np.float32)),
            "low/notes.txt": b"not a sound"}


def _check_labelled(dataset):
    assert dataset.kind == "sounds" and dataset.sample_rate == RATE
    assert dataset.samples.dtype.is_floating_point is False and tuple(dataset.samples.shape) == (4, RATE)
    assert dataset.class_names == ["high", "low"] and dataset.num_classes == 2
    assert dataset.labels.tolist() == [0, 0, 1, 1]  # sorted by name: high/c, high/d, low/a, low/b
    clips = dataset.normalised()
    assert clips.abs().amax(1).tolist() == pytest.approx([PEAK_LEVEL] * 4, abs=1e-3)
    # The high sounds are high and the low sounds low: the right file went to the right row.
    pitches = [np.fft.rfftfreq(RATE, 1 / RATE)[np.abs(np.fft.rfft(clip.numpy())).argmax()] for clip in clips]
    assert pitches == pytest.approx([2000.0, 2500.0, 220.0, 200.0], abs=3.0)
    reasons = "\n".join(dataset.skipped)
    assert "empty.wav: empty file" in reasons and "silent.wav: silent" in reasons
    assert "notes.txt: not a sound file extension" in reasons and len(dataset.skipped) == 3
    assert "4 sounds of shape 16000, 2 classes; skipped 3" in dataset.summary()


def test_a_folder_of_sounds_with_classes_in_sub_folders(tmp_path):
    for name, data in _labelled_files().items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.wav"
    outside.write_bytes(encoded(tone(0.5)))
    os.symlink(outside, tmp_path / "low" / "link.wav")
    dataset = load_sound_folder(tmp_path)
    assert "low/link.wav: a symbolic link (not followed)" in dataset.skipped
    dataset.skipped.remove("low/link.wav: a symbolic link (not followed)")
    _check_labelled(dataset)
    progress = []
    load_sounds(str(tmp_path), progress=lambda done, total: progress.append((done, total)))
    assert progress[-1] == (8, 8)


def test_a_zip_of_sounds_is_read_in_memory_with_the_same_labels(tmp_path):
    archive = tmp_path / "sounds.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in _labelled_files().items():
            zipped.writestr(name, data)
    _check_labelled(load_sound_zip(archive))
    assert len(load_sounds(archive)) == 4
    assert os.listdir(tmp_path) == ["sounds.zip"]  # nothing extracted


def test_a_file_over_the_size_limit_is_never_read(tmp_path):
    (tmp_path / "a.wav").write_bytes(encoded(tone(0.5)))
    with open(tmp_path / "huge.wav", "wb") as handle:
        handle.truncate(65 * 2**20)  # sparse: over MAX_FILE_BYTES on paper only
    dataset = load_sound_folder(tmp_path)
    assert len(dataset) == 1 and dataset.labels is None
    assert dataset.skipped == ["huge.wav: file too large (65 MiB)"]


def test_no_usable_sound_is_a_clear_error_with_the_reasons(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "quiet.flac").write_bytes(encoded(np.zeros(RATE, np.float32), format="FLAC"))
    with pytest.raises(DatasetError, match=r"holds no usable sound \(2 file\(s\) skipped: empty.wav: empty file; "
                                           r"quiet.flac: silent.*Supply WAV, FLAC, OGG or MP3"):
        load_sound_folder(tmp_path)
    with pytest.raises(DatasetError, match="neither a folder nor a .zip"):
        load_sounds(tmp_path / "missing")
    (tmp_path / "not.zip").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable .zip file"):
        load_sounds(tmp_path / "not.zip")


def test_max_sounds_keeps_the_first_and_reports_the_rest(tmp_path):
    for index in range(4):
        (tmp_path / f"{index}.wav").write_bytes(encoded(tone(0.2 + 0.1 * index)))
    dataset = load_sound_folder(tmp_path, max_sounds=2)
    assert len(dataset) == 2 and dataset.skipped == ["2.wav: over the limit of 2 sounds",
                                                     "3.wav: over the limit of 2 sounds"]


@pytest.fixture
def counted_sound_pools(monkeypatch):
    """Decoding pools started (the parallel path ran), with pools taken from a few files and
    chunks of three, so a small folder spans several chunks in flight."""
    import gan_space.data.pool as pool

    started, original = [], pool._DecoderPool

    class Counted(original):
        def __init__(self, *args, **kwargs):
            started.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(pool, "_DecoderPool", Counted)
    monkeypatch.setattr(pool, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(pool, "CHUNK_FILES", 3)
    return started


def _sound_folder_with_bad_files(folder):
    """20 tones in two classes (each its own pitch and length), a few hostile files among them."""
    for index in range(20):
        name = f"{'high' if index % 2 else 'low'}/{index:02d}.wav"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        frequency = (1500.0 if index % 2 else 200.0) + 37.0 * index
        (folder / name).write_bytes(encoded(tone(0.2 + 0.03 * index, frequency=frequency)))
    for case in ("empty", "silent", "too short", "a billion hertz", "not a sound"):
        (folder / "low" / f"07-{case.replace(' ', '-')}.wav").write_bytes(HOSTILE[case][0]())
    (folder / "high" / "readme.txt").write_bytes(b"not a sound")
    return 20, 6


def test_parallel_sound_decoding_gives_what_one_process_does(tmp_path, counted_sound_pools):
    """A folder and a .zip of generated WAVs with bad files among them, with a limit that falls
    inside a chunk: the pool of decoding processes gives the same clips, labels and skip reasons
    in the same order as one process."""
    folder = tmp_path / "clips"
    good, bad = _sound_folder_with_bad_files(folder)
    archive = tmp_path / "clips.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zipped.writestr(path.relative_to(folder).as_posix(), path.read_bytes())
    for source in (folder, archive):
        for max_sounds in (1_000, 13):
            serial = load_sounds(source, max_sounds=max_sounds, workers=1)
            assert not counted_sound_pools
            parallel = load_sounds(source, max_sounds=max_sounds, workers=2)
            assert len(counted_sound_pools) == 1, "the parallel path did not run"
            counted_sound_pools.clear()
            assert parallel.samples.dtype == serial.samples.dtype
            assert np.array_equal(parallel.samples.numpy(), serial.samples.numpy())
            assert parallel.labels.tolist() == serial.labels.tolist() and parallel.class_names == ["high", "low"]
            assert parallel.skipped == serial.skipped
            assert len(parallel) == min(good, max_sounds) and len(parallel) + len(parallel.skipped) == good + bad
            reasons = "\n".join(parallel.skipped)
            assert "high/readme.txt: not a sound file extension" in reasons
            if max_sounds == 13:
                assert parallel.skipped[-1].endswith("over the limit of 13 sounds")
            else:
                for case in ("empty file", "silent", "too short", "sample rate of 1000000000 Hz",
                             "not a readable sound file"):
                    assert case in reasons
    # The rows are the files: each clip's pitch is its file's.
    pitches = [np.fft.rfftfreq(RATE, 1 / RATE)[np.abs(np.fft.rfft(clip.numpy())).argmax()]
               for clip in parallel.normalised()]
    high = [1500.0 + 37.0 * index for index in range(1, 20, 2)]
    low = [200.0 + 37.0 * index for index in range(0, 20, 2)]
    assert pitches == pytest.approx((high + low)[:13], abs=3.0)


@pytest.mark.skipif(os.name != "posix", reason="decoding processes are forked on Linux only")
def test_a_sound_that_kills_its_decoding_process_costs_that_file_only(tmp_path, counted_sound_pools, monkeypatch):
    import gan_space.data.sounds as sounds

    for index in range(6):
        (tmp_path / f"{index}.wav").write_bytes(encoded(tone(0.2 + 0.05 * index)))
    (tmp_path / "3-crash.wav").write_bytes(b"CRASH" + bytes(100))
    original = sounds.decode_sound

    def crashing(data, settings):  # the decoding processes are forked: they inherit this
        if data.startswith(b"CRASH"):
            os._exit(3)  # as a segfault in a C decoder would
        return original(data, settings)

    monkeypatch.setattr(sounds, "decode_sound", crashing)
    dataset = load_sounds(tmp_path, workers=2)
    assert len(dataset) == 6 and dataset.skipped == ["3-crash.wav: crashed the sound decoder"]


# ---------------------------------------------------------------------------
# The built-in spoken digits


def test_spoken_digits_are_one_second_at_16k_labelled_and_not_silent(two_speakers):
    dataset = two_speakers
    assert "spoken-digits" in BUILTIN_SOUND_SETS and "spoken-digits" in BUILTIN_DATASETS  # (the trainer takes it)
    assert dataset.name == "spoken-digits" and dataset.kind == "sounds" and dataset.sample_rate == RATE
    assert tuple(dataset.samples.shape) == (20, RATE)
    assert dataset.labels.tolist() == list(range(10)) * 2 and dataset.class_names == list(DIGIT_WORDS)
    clips = dataset.normalised().numpy()
    for clip in clips:
        start, end = sound_bounds(clip, RATE)
        assert np.abs(clip).max() == pytest.approx(PEAK_LEVEL, abs=1e-3)
        assert 0.1 < (end - start) / RATE < 1.0  # a word, centred, inside the second
        assert np.sqrt(np.mean(clip[start:end] ** 2)) > 0.05
    assert not np.allclose(clips[0], clips[10], atol=0.05)  # two speakers say "zero" differently


def test_spoken_digits_are_cached_whole_and_read_back(two_speakers, digits_cache, monkeypatch):
    assert [path.suffix for path in digits_cache.iterdir()] == [".npz"]  # no temporary file left
    monkeypatch.setattr(spoken_digits, "_make_clips", lambda *args: pytest.fail("the cache was not used"))
    again = load_spoken_digits(speakers=2, cache_dir=digits_cache)
    assert np.array_equal(again.samples.numpy(), two_speakers.samples.numpy())


def test_a_damaged_cache_is_made_again(two_speakers, tmp_path):
    load_spoken_digits(speakers=1, cache_dir=tmp_path)
    (cached,) = tmp_path.iterdir()
    cached.write_bytes(b"damaged")
    remade = load_spoken_digits(speakers=1, cache_dir=tmp_path)
    assert np.array_equal(remade.samples.numpy(), two_speakers.samples.numpy()[:10])


def test_missing_espeak_says_how_to_install_it(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install espeak-ng"):
        load_spoken_digits(speakers=1, cache_dir=tmp_path, program="no-such-espeak-ng")
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------
# Spectrogram pictures and back


def test_mel_settings_hold_a_second_and_travel_as_a_dict():
    assert SPEECH_128.samples == FAST_64.samples == RATE
    assert SPEECH_128.picture_shape == (1, 128, 128) and FAST_64.picture_shape == (1, 64, 64)
    assert MelSettings.from_dict(FAST_64.to_dict()) == FAST_64
    with pytest.raises(ValueError, match="not mel settings"):
        MelSettings.from_dict({"n_fft": 512, "colour": "blue"})


def test_a_picture_is_in_range_with_high_frequencies_on_top(two_speakers):
    low, high = tone(1.0, frequency=200.0), tone(1.0, frequency=6000.0)
    pictures = mel_picture(np.stack([low, high]))
    assert pictures.shape == (2, 1, 128, 128) and pictures.dtype == np.float32
    assert pictures.min() >= -1.0 and pictures.max() <= 1.0
    rows = pictures[:, 0].mean(axis=2).argmax(axis=1)
    assert rows[0] > 100 and rows[1] < 30  # the low tone near the bottom row, the high one near the top
    digit = two_speakers.normalised().numpy()[7]
    picture = mel_picture(digit)
    assert picture.shape == (1, 128, 128) and picture.min() == -1.0  # the padded silence sits at the floor
    # The picture's numbers invert to the mel magnitudes above the floor.
    magnitudes = mel_magnitudes(digit)[0]
    above = 20 * np.log10(np.maximum(magnitudes, 1e-10)) > SPEECH_128.db_floor + 1
    assert np.allclose(picture_mel_magnitudes(picture)[0][above], magnitudes[above], rtol=1e-3)


@pytest.mark.parametrize("settings, worst_convergence, worst_distance", [(SPEECH_128, 0.35, 6.5), (FAST_64, 0.6, 6.5)])
def test_griffin_lim_brings_a_spoken_digit_back_far_closer_than_noise(two_speakers, settings, worst_convergence,
                                                                      worst_distance):
    """Bounds a little over the worst measured on 50 clips of the default set: SPEECH_128
    spectral convergence 0.12 on average (worst 0.24), log-spectral distance 2.5 dB (worst 5.5);
    FAST_64 0.38 (worst 0.50), 3.6 dB (worst 5.1). Noise of a tenth of full scale: convergence
    over 1.0, distance over 28 dB."""
    clips = two_speakers.normalised().numpy()[[3, 17]]
    back = picture_to_sound(mel_picture(clips, settings), settings)
    assert back.shape == (2, RATE) and np.abs(back).max() <= 1.0
    noise = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1
    for clip, sound in zip(clips, back):
        assert spectral_convergence(clip, sound) < worst_convergence
        assert log_spectral_distance(clip, sound) < worst_distance
        assert spectral_convergence(clip, noise) > 0.9 and log_spectral_distance(clip, noise) > 20
    again = picture_to_sound(mel_picture(clips[0], settings), settings)
    assert again.shape == (RATE,) and np.array_equal(again, back[0])  # same picture, same seed: same sound


def test_a_clip_is_written_as_a_16_bit_wav(tmp_path):
    clip = tone(1.0, amplitude=0.8)
    clip[5] = 2.0  # out of range: clipped, not wrapped
    data = wav_bytes(clip, RATE)
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    info = soundfile.info(io.BytesIO(data))
    assert rate == RATE and info.subtype == "PCM_16" and info.channels == 1 and samples.shape == (RATE,)
    assert samples[5] == pytest.approx(1.0, abs=1e-4) and np.allclose(samples[6:], clip[6:], atol=1e-4)
    write_wav(tmp_path / "clip.wav", clip, RATE)
    assert (tmp_path / "clip.wav").read_bytes() == data
    with pytest.raises(ValueError, match="one non-empty row"):
        wav_bytes(np.zeros((2, 10)), RATE)
