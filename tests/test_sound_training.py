"""Sounds through the picture trainer (SpecGAN): sound sources load as one-channel spectrogram
pictures with a sound record, a few steps train end to end from the CLI, the generator's
folder knows it makes sounds, `generate` writes WAV files, interpolation morphs sounds, and
the sound scores (the spoken-digit classifier, the Fréchet distance of spectrograms) tell
real clips from noise. eSpeak NG makes the clips (tests/run.sh installs it)."""

import numpy as np
import pytest
import soundfile
import torch

from gan_space import cli
from gan_space.checkpoints import SOUND_NAME, generator_folder, generator_record, load_generator, sound_settings
from gan_space.data import DatasetError, is_sound_source, load_dataset, mel_settings_for, spoken_digits
from gan_space.data.sound_pictures import clips_to_pictures
from gan_space.data.spoken_digits import DIGIT_WORDS, load_spoken_digits
from gan_space.metrics import sample_metrics
from gan_space.metrics.sounds import spoken_digit_judge, spoken_digit_scores
from gan_space.scores import ImageReference
from gan_space.sound import FAST_64, SPEECH_128, spectral_convergence, write_wav
from gan_space.sound_pipeline import generate_sounds, sound_morph
from gan_space.training import ConfigError, TrainConfig

RATE = 16_000
TINY = ["--steps", "4", "--batch-size", "4", "--width", "8", "--sample-every", "2", "--checkpoint-every", "4",
        "--log-every", "2", "--device", "cpu", "--num-preview", "4", "--augment", "none"]


@pytest.fixture(scope="module")
def clip_folder(two_speakers, tmp_path_factory):
    """2 speakers x 10 digits as WAV files, one sub-folder a digit."""
    folder = tmp_path_factory.mktemp("clips")
    for row, (clip, label) in enumerate(zip(two_speakers.samples.numpy(), two_speakers.labels.tolist())):
        (folder / DIGIT_WORDS[label]).mkdir(exist_ok=True)
        write_wav(folder / DIGIT_WORDS[label] / f"speaker{row // 10}.wav", clip / 32767.0, RATE)
    return folder


@pytest.fixture(scope="module")
def sound_run(clip_folder, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "clips"
    assert cli.main(["train", "--dataset", str(clip_folder), "--out", str(run), *TINY]) == 0
    return run


def test_a_sound_folder_loads_as_one_channel_spectrogram_pictures_with_its_record(clip_folder, tiny_image_folder):
    assert is_sound_source(str(clip_folder)) and is_sound_source("spoken-digits")
    assert not is_sound_source(str(tiny_image_folder)) and not is_sound_source("emoji")
    data = load_dataset(str(clip_folder), resolution=64, channels=1)
    assert data.kind == "images" and data.samples.dtype == torch.uint8 and tuple(data.samples.shape) == (20, 1, 64, 64)
    assert data.num_classes == 10 and sorted(data.class_names) == sorted(DIGIT_WORDS)
    assert data.sound["sample_rate"] == RATE and data.sound["mel"] == FAST_64.to_dict()
    # The pictures are the clips' spectrograms: speech rises well above the middle (-20 dB) somewhere in
    # each, and the silence around the word is at the floor
    assert int(data.samples.flatten(1).max(1).values.min()) > 150 and int(data.samples.flatten(1).min(1).values.max()) == 0
    big = load_dataset(str(clip_folder), resolution=128, channels=1)
    assert big.data_shape == [1, 128, 128] and big.sound["mel"] == SPEECH_128.to_dict()
    with pytest.raises(DatasetError, match="one channel"):
        load_dataset(str(clip_folder), resolution=64, channels=3)
    with pytest.raises(DatasetError, match="128 or 64"):
        load_dataset(str(clip_folder), resolution=32, channels=1)


def test_the_sound_preset_is_one_channel_spectrograms_and_other_sizes_are_refused(clip_folder):
    config = TrainConfig.for_dataset(str(clip_folder))
    assert (config.resolution, config.channels, config.arch) == (64, 1, "resnet")
    assert TrainConfig.for_dataset("spoken-digits", resolution=128).arch == "fastgan"
    with pytest.raises(ConfigError, match="for sounds"):
        TrainConfig.for_dataset(str(clip_folder), resolution=32)
    with pytest.raises(ConfigError, match="for sounds"):
        TrainConfig.for_dataset(str(clip_folder), channels=3)


def test_a_sound_run_trains_from_the_cli_and_its_generator_folder_knows_it_makes_sounds(sound_run):
    folder = generator_folder(sound_run)
    assert (folder / SOUND_NAME).is_file()
    assert sound_settings(folder) == FAST_64 and sound_settings(sound_run) == FAST_64
    generator = load_generator(sound_run)
    assert sound_settings(generator) == FAST_64
    summary, settings = generator_record(sound_run)
    assert summary["sound"]["mel"] == FAST_64.to_dict() and settings["channels"] == 1
    assert list((sound_run / "samples").glob("*.png"))


def test_generate_writes_one_second_wav_files_and_their_spectrograms(sound_run, tmp_path, capsys):
    out = tmp_path / "sounds"
    assert cli.main(["generate", "--model", str(sound_run), "--num", "3", "--out", str(out)]) == 0
    wavs = sorted(out.glob("*.wav"))
    assert [path.name for path in wavs] == ["sound-000.wav", "sound-001.wav", "sound-002.wav"]
    for path in wavs:
        samples, rate = soundfile.read(path)
        assert rate == RATE and samples.shape == (RATE,) and np.isfinite(samples).all()
    assert (out / "spectrograms.png").is_file()
    one = tmp_path / "one.wav"
    assert cli.main(["generate", "--model", str(sound_run), "--out", str(one), "--seed", "1"]) == 0
    samples, rate = soundfile.read(one)
    assert rate == RATE and samples.shape == (RATE,)
    # Sample seed s of a folder is the clip of --seed s alone (the network in a batch of 3 or of 1 differs
    # by float rounding, which Griffin-Lim's iterations carry into small differences of phase)
    assert spectral_convergence(soundfile.read(wavs[1])[0], samples) < 0.05
    assert spectral_convergence(soundfile.read(wavs[0])[0], samples) > 0.2
    capsys.readouterr()
    assert cli.main(["generate", "--model", str(sound_run), "--num", "2", "--out", str(tmp_path / "two.wav")]) == 2
    assert "one clip" in capsys.readouterr().err


def test_a_picture_generator_refuses_wav_output(tmp_path, capsys):
    run = tmp_path / "digits"
    assert cli.main(["train", "--dataset", "digits", "--out", str(run), "--steps", "2", "--batch-size", "8",
                     "--device", "cpu", "--log-every", "1"]) == 0
    capsys.readouterr()
    assert cli.main(["generate", "--model", str(run), "--out", str(tmp_path / "x.wav")]) == 2
    assert "for generators trained on sounds" in capsys.readouterr().err
    with pytest.raises(ValueError, match="makes pictures, not sounds"):
        generate_sounds(load_generator(run), 2)


def test_generate_sounds_and_a_sound_morph_from_python(sound_run):
    generator = load_generator(sound_run)
    clips, rate = generate_sounds(generator, num=2, seed=5, iterations=8)
    assert rate == RATE and clips.shape == (2, RATE) and clips.dtype == np.float32
    assert np.abs(clips).max() <= 1.0 and np.abs(clips).max() > 0
    morph, rate = sound_morph(generator, 5, 6, steps=4, iterations=8)
    assert rate == RATE and len(morph) == 4 and all(clip.shape == (RATE,) for clip in morph)
    # Its ends are the two seeds' own sounds; the middle is neither
    assert spectral_convergence(clips[0], morph[0]) < 0.05 and spectral_convergence(clips[1], morph[-1]) < 0.05
    assert spectral_convergence(morph[0], morph[1]) > spectral_convergence(clips[0], morph[0])


def test_a_folder_of_broken_sound_files_is_a_clear_error(tmp_path, capsys):
    folder = tmp_path / "broken"
    folder.mkdir()
    for index in range(3):
        (folder / f"clip{index}.wav").write_bytes(b"RIFF not really a wave file" * index)
    assert cli.main(["train", "--dataset", str(folder), "--out", str(tmp_path / "run"), *TINY]) == 2
    error = capsys.readouterr().err
    assert "holds no usable sound" in error and "clip0.wav: empty file" in error and "Traceback" not in error


# ---------------------------------------------------------------------------
# The scores


@pytest.fixture(scope="module")
def new_speakers(digits_cache):
    """Speakers of another seed than the built-in set's (seed 0), whom the classifier never heard."""
    return load_spoken_digits(speakers=4, seed=2027, cache_dir=digits_cache)


@pytest.mark.parametrize("settings", [FAST_64, SPEECH_128])
def test_the_digit_classifier_knows_real_digits_and_not_noise(new_speakers, settings):
    judge = spoken_digit_judge()
    assert judge.held_out_accuracy > 0.95  # what its training script measured on 60 held-out speakers
    real = clips_to_pictures(new_speakers.samples.numpy(), settings)
    scores = spoken_digit_scores(real, new_speakers.labels.numpy())
    assert scores["accuracy"] > 0.9 and scores["classes_covered"] == 10 and scores["inception_score"] > 7
    noise = np.random.default_rng(0).standard_normal((40, RATE)).astype(np.float32) * 0.3
    noise_scores = spoken_digit_scores(clips_to_pictures(noise, settings))
    assert noise_scores["inception_score"] < 2 and noise_scores["classes_covered"] <= 3


def test_the_frechet_distance_of_spectrograms_orders_real_noisy_and_noise(two_speakers, new_speakers):
    reference = ImageReference.of(clips_to_pictures(two_speakers.samples.numpy(), FAST_64), 10, seed=0)
    clips = new_speakers.samples.numpy().astype(np.float32) / 32767
    noise = np.random.default_rng(0).standard_normal(clips.shape).astype(np.float32)
    fd = {name: reference.score(clips_to_pictures(variant, FAST_64))["frechet_distance"]
          for name, variant in {"real": clips, "noisy": np.clip(clips + 0.03 * noise, -1, 1),
                                "noise": np.clip(0.3 * noise, -1, 1)}.items()}
    assert fd["real"] < fd["noisy"] < fd["noise"]
    assert fd["noise"] > 5 * fd["real"]


def test_sound_runs_get_the_sound_metrics(clip_folder):
    assert [m.name for m in sample_metrics("spoken-digits", "images")] == ["spoken digits"]
    assert [m.name for m in sample_metrics(str(clip_folder), "images")] == ["sound score"]
    assert [m.name for m in sample_metrics("emoji", "images")] == ["picture score"]


def test_spoken_digits_train_from_the_cli_and_score_with_the_classifier(two_speakers, digits_cache, tmp_path,
                                                                        monkeypatch, capsys):
    # The built-in set, made small: 2 speakers (the full set takes eSpeak NG about a minute to make)
    monkeypatch.setitem(spoken_digits.BUILTIN_SOUND_LOADERS, "spoken-digits",
                        lambda settings, progress=None: load_spoken_digits(2, settings=settings, cache_dir=digits_cache))
    run = tmp_path / "spoken"
    assert cli.main(["train", "--dataset", "spoken-digits", "--out", str(run), *TINY]) == 0
    assert sound_settings(run) == mel_settings_for(64)

    from gan_space.diagnostics import SampleWatcher
    from gan_space.training import Trainer

    trainer = Trainer.resume(str(run), steps=4)
    point = SampleWatcher(trainer, num_samples=20).measure()
    assert point.classes_covered is not None and point.frechet_distance > 0
    assert point.others["real_inception_score"] > 5
    capsys.readouterr()
    assert cli.main(["score", "--model", str(run), "--num", "10", "--max-reference", "10"]) == 0
    printed = capsys.readouterr().out
    assert "spoken-digit classifier" in printed and "Inception-style score" in printed
    assert "real clips: 10/10 digits covered" in printed
