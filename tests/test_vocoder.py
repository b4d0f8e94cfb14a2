"""The GAN vocoder: its network and file, a short training that learns, which way a sound
generator's spectrograms become sound (its own vocoder, the shipped speech vocoder, Griffin-Lim),
`train-vocoder` into a generator's folder, and the vocoder travelling with it through the Hub."""

import json

import numpy as np
import pytest
import soundfile
import torch
from safetensors.torch import save_file

from gan_space import cli, hub
from gan_space.checkpoints import load_generator
from gan_space.models.vocoder import (SHIPPED_VOCODER, VOCODER_FILE, MultiScaleDiscriminator, Vocoder, VocoderConfig,
                                      VocoderLoadError, beats_griffin_lim, load_vocoder, save_vocoder, sound_inverter,
                                      upsample_factors)
from gan_space.objectives.vocoder import multi_resolution_mel_loss
from gan_space.sound import FAST_64, SPEECH_128, mel_picture, spectral_convergence, wav_bytes
from gan_space.sound_pipeline import generate_sounds
from gan_space.vocoder_training import VocoderTraining, clips_and_pictures, stretches, train_vocoder
from test_sound_hub import RATE, TINY, tone  # (its tiny run's settings and its tones)

TONE_SECONDS = 0.6

@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vocoder-tones")
    for index, frequency in enumerate((220, 330, 440, 550, 660, 880, 990, 1320)):
        (folder / f"tone-{index}.wav").write_bytes(wav_bytes(tone(frequency, TONE_SECONDS), RATE))
    return folder


@pytest.fixture(scope="module")
def sound_run(tones, tmp_path_factory):
    run = tmp_path_factory.mktemp("vocoder-runs") / "tones"
    assert cli.main(["train", "--dataset", str(tones), "--out", str(run), *TINY]) == 0
    return run


def test_the_hop_is_made_of_small_upsampling_factors():
    assert upsample_factors(250) == (5, 5, 5, 2) and upsample_factors(125) == (5, 5, 5)
    assert upsample_factors(256) == (8, 8, 4)
    with pytest.raises(ValueError, match="prime factor above 8"):
        upsample_factors(11 * 25)


def test_the_vocoder_reads_any_number_of_columns_and_only_its_own_bands():
    vocoder = Vocoder(VocoderConfig.for_mel(FAST_64, channels=16)).eval()
    assert vocoder(torch.zeros(2, 1, 64, 5)).shape == (2, 5 * FAST_64.hop_length)
    assert vocoder.clips(np.zeros((3, 1, 64, FAST_64.frames), np.float32)).shape == (3, FAST_64.samples)
    with pytest.raises(ValueError, match="64 mel bands"):
        vocoder(torch.zeros(1, 1, 128, 5))
    scores = MultiScaleDiscriminator()(torch.zeros(2, 4000))
    assert len(scores) == 3 and all(score.shape[0] == 2 and features for score, features in scores)


def test_a_vocoder_file_comes_back_identical_and_nothing_else_loads_as_one(tmp_path):
    torch.manual_seed(0)
    vocoder = Vocoder(VocoderConfig.for_mel(SPEECH_128, channels=16)).eval()
    path = save_vocoder(vocoder, SPEECH_128, tmp_path / VOCODER_FILE, record={"steps": 7})
    loaded, settings = load_vocoder(path)
    assert settings == SPEECH_128 and loaded.config == vocoder.config and loaded.record == {"steps": 7}
    pictures = torch.rand(2, 1, 128, 8) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(pictures), vocoder(pictures))

    other = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3)}, str(other))
    with pytest.raises(VocoderLoadError, match="not a gan_space vocoder"):
        load_vocoder(other)
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(VocoderLoadError):
        load_vocoder(damaged)


def test_stretches_are_pictures_and_the_waveforms_they_were_made_from():
    clips = torch.from_numpy(np.stack([tone(300, TONE_SECONDS), tone(600, TONE_SECONDS)])[:, :FAST_64.samples].copy())
    clips = torch.nn.functional.pad(clips, (0, FAST_64.samples - clips.shape[1]))
    pictures = torch.from_numpy(mel_picture(clips.numpy(), FAST_64))
    picture_batch, waves = stretches(pictures, clips, 6, 8, FAST_64.hop_length, torch.Generator().manual_seed(0))
    assert picture_batch.shape == (6, 1, 64, 8) and waves.shape == (6, 8 * FAST_64.hop_length)
    for picture, wave in zip(picture_batch, waves):  # each stretch's waveform is inside one clip, where its picture is
        row = next(k for k in range(2) if any(torch.equal(picture, pictures[k, :, :, s:s + 8]) for s in range(57)))
        start = next(s for s in range(57) if torch.equal(picture, pictures[row, :, :, s:s + 8]))
        assert torch.equal(wave, clips[row, start * FAST_64.hop_length:(start + 8) * FAST_64.hop_length])


def test_a_short_training_lowers_the_mel_loss_and_records_how_it_compares_with_griffin_lim(tones, tmp_path):
    training = VocoderTraining(steps=60, batch_size=4, segment_frames=8, channels=32, warm_up_steps=40)
    path = train_vocoder(str(tones), tmp_path, training, log=lambda line: None)
    vocoder, settings = load_vocoder(path)
    assert settings == FAST_64 and vocoder.record["steps"] == 60
    assert set(vocoder.record["last_losses"]) == {"d", "adversarial", "features", "mel"}  # the critics joined
    measured = vocoder.record["held_out"]
    assert set(measured) == {"vocoder", "griffin-lim"} and measured["vocoder"]["clips"] == 1
    assert all(np.isfinite(value) for values in measured.values() for value in values.values())

    # It learnt: on the tones, its mel loss is well below an untrained vocoder's.
    clips, pictures = clips_and_pictures(str(tones), FAST_64, max_sounds=100)
    pictures, real = torch.from_numpy(pictures), torch.from_numpy(clips)
    torch.manual_seed(0)
    untrained = Vocoder(vocoder.config).eval()
    with torch.no_grad():
        trained_loss = float(multi_resolution_mel_loss(vocoder(pictures), real, RATE))
        untrained_loss = float(multi_resolution_mel_loss(untrained(pictures), real, RATE))
    assert trained_loss < 0.8 * untrained_loss, (trained_loss, untrained_loss)


def measured(vocoder: float, griffin_lim: float) -> dict:
    """A training record whose held-out clips came back at these spectral convergences (and dB)."""
    return {"held_out": {"vocoder": {"spectral_convergence": vocoder, "log_spectral_distance_db": 10 * vocoder},
                         "griffin-lim": {"spectral_convergence": griffin_lim,
                                         "log_spectral_distance_db": 10 * griffin_lim}}}


def test_which_way_spectrograms_become_sound(tmp_path):
    shipped = load_vocoder(SHIPPED_VOCODER)[0]  # the speech vocoder reads the 64 px transform
    expected = "speech vocoder (shipped)" if beats_griffin_lim(shipped.record) else "Griffin-Lim (speech vocoder"
    assert sound_inverter(FAST_64).label.startswith(expected)
    assert sound_inverter(FAST_64, "vocoder").label == "speech vocoder (shipped)"  # asked for, whatever it measured
    assert sound_inverter(FAST_64, "griffin-lim").vocoder is None
    assert sound_inverter(SPEECH_128).vocoder is None  # nothing reads 128 px: Griffin-Lim
    with pytest.raises(ValueError, match="train-vocoder"):
        sound_inverter(SPEECH_128, "vocoder")
    with pytest.raises(ValueError, match="auto, vocoder, griffin-lim"):
        sound_inverter(FAST_64, "wavenet")

    # A generator's own vocoder: "auto" takes it only when its held-out clips came back closer than by Griffin-Lim.
    network = Vocoder(VocoderConfig.for_mel(SPEECH_128, channels=8))
    better = save_vocoder(network, SPEECH_128, tmp_path / "better" / VOCODER_FILE, record=measured(0.2, 0.4))
    worse = save_vocoder(network, SPEECH_128, tmp_path / "worse" / VOCODER_FILE, record=measured(0.6, 0.4))
    assert sound_inverter(SPEECH_128, own_vocoder=better).label == "its own vocoder"
    auto = sound_inverter(SPEECH_128, own_vocoder=worse)
    assert auto.vocoder is None and auto.label == "Griffin-Lim (its own vocoder measured worse on held-out clips)"
    assert sound_inverter(SPEECH_128, "vocoder", own_vocoder=worse).label == "its own vocoder"
    assert not sound_inverter(FAST_64, own_vocoder=better).label.startswith("its own")  # made for other spectrograms


def test_train_vocoder_into_a_generators_run_makes_it_its_own_and_it_travels_through_the_hub(
        tones, sound_run, fake_hub, hub_repo_id, tmp_path, monkeypatch, capsys):
    assert cli.main(["train-vocoder", "--dataset", str(tones), "--out", str(sound_run), "--resolution", "128",
                     "--steps", "2"]) == 2
    assert "its vocoder must read those" in capsys.readouterr().err
    assert cli.main(["train-vocoder", "--dataset", str(tones), "--out", str(sound_run), "--steps", "3",
                     "--batch-size", "4"]) == 0
    assert (sound_run / VOCODER_FILE).is_file()
    generator = load_generator(sound_run)
    assert generator.vocoder_file == sound_run / VOCODER_FILE

    # Three steps do not beat Griffin-Lim: "auto" passes it over and says so; asked for, it makes the sound.
    capsys.readouterr()
    assert cli.main(["generate", "--model", str(sound_run), "--num", "2", "--out", str(tmp_path / "auto")]) == 0
    assert "sound by Griffin-Lim (its own vocoder measured worse on held-out clips)" in capsys.readouterr().out
    out = tmp_path / "own"
    assert cli.main(["generate", "--model", str(sound_run), "--num", "2", "--out", str(out), "--inverter",
                     "vocoder"]) == 0
    assert "sound by its own vocoder" in capsys.readouterr().out
    assert cli.main(["generate", "--model", str(sound_run), "--num", "2", "--out", str(tmp_path / "gl"),
                     "--inverter", "griffin-lim"]) == 0
    own, _ = soundfile.read(out / "sound-000.wav", dtype="float32")
    by_griffin_lim, _ = soundfile.read(tmp_path / "gl" / "sound-000.wav", dtype="float32")
    assert spectral_convergence(by_griffin_lim, own) > 0.1  # two different ways, two different sounds

    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    assert cli.main(["push", "--model", str(sound_run), "--repo", hub_repo_id]) == 0
    monkeypatch.delenv("HF_TOKEN")
    files = fake_hub.files(hub_repo_id)
    assert files[VOCODER_FILE] == (sound_run / VOCODER_FILE).read_bytes()
    card = files["README.md"].decode()
    assert f"`{VOCODER_FILE}`: its own vocoder" in card and "| to sound | Griffin-Lim" in card  # (as auto makes it)
    pulled = hub.pull(hub_repo_id)
    assert pulled.vocoder_file is not None and pulled.vocoder_file.name == VOCODER_FILE
    clips, _ = generate_sounds(pulled, 2, seed=0, inverter="vocoder")
    assert np.abs(clips[0] - own).max() < 1e-3  # the pulled generator makes sound with the same vocoder
    assert json.loads(files["summary.json"])["sound"]["mel"] == FAST_64.to_dict()
