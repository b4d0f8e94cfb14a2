"""Sound generators through the Hugging Face Hub, and sound datasets by id, on the loopback Hub
(tests/hub_server.py): a pushed sound run carries sound.json, WAV samples and a card that plays
them and gives its sound score; pulled back it has the same weights and makes the same sounds;
a picture generator's card stays silent; a dataset repo of sound files trains by its id (classes
from folders or from an audiofolder metadata.csv; a .zip of them too) and one of broken files says
so."""

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from gan_space import cli, hub
from gan_space.checkpoints import SOUND_NAME, generator_folder, load_generator, sound_settings
from gan_space.data import DatasetError, load_dataset
from gan_space.hub.staging import stage_repo_files
from gan_space.sound import FAST_64, SPEECH_128, wav_bytes

RATE = 16_000
TINY = ["--steps", "3", "--batch-size", "4", "--width", "8", "--sample-every", "3", "--checkpoint-every", "3",
        "--log-every", "3", "--device", "cpu", "--num-preview", "4", "--augment", "none"]
SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints"
PITCHES = {"low": (200.0, 240.0, 280.0, 320.0, 360.0), "high": (1500.0, 1700.0, 1900.0, 2100.0, 2300.0)}


def tone(frequency: float, seconds: float = 0.5) -> np.ndarray:
    """A smooth tone (a Hann-shaped swell), well inside full scale: what the sound reader accepts."""
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.5 * np.sin(2 * np.pi * frequency * t) * np.hanning(t.size)).astype(np.float32)


def tone_files(prefix: str = "") -> dict[str, bytes]:
    """Ten tones as WAV files, one sub-folder a class (low, high)."""
    return {f"{prefix}{label}/tone-{i}.wav": wav_bytes(tone(f), RATE)
            for label, frequencies in PITCHES.items() for i, f in enumerate(frequencies)}


@pytest.fixture(scope="module")
def tone_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tones")
    for name, data in tone_files().items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def sound_run(tone_folder, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "tones"
    assert cli.main(["train", "--dataset", str(tone_folder), "--out", str(run), *TINY]) == 0
    return run


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    clip, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    return clip, rate


def test_a_sound_run_pushed_to_the_hub_carries_its_sounds_and_comes_back_making_them(
        fake_hub, hub_repo_id, sound_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    assert cli.main(["push", "--model", str(sound_run), "--repo", hub_repo_id]) == 0
    monkeypatch.delenv("HF_TOKEN")
    files = fake_hub.files(hub_repo_id)
    samples = [f"samples/sound-{seed}.wav" for seed in range(hub.NUM_CARD_SOUNDS)]
    assert {SOUND_NAME, "config.json", "diffusion_pytorch_model.safetensors", "sample_grid.png", "summary.json",
            "README.md", *samples} <= set(files)
    assert json.loads(files[SOUND_NAME])["mel"] == FAST_64.to_dict()
    for name in samples:  # one second of 16 kHz sound each, not silence
        clip, rate = read_wav(files[name])
        assert rate == RATE and clip.shape == (FAST_64.samples,) and np.abs(clip).max() > 0.01

    card = files["README.md"].decode()
    players = re.findall(r'<audio controls[^>]* src="([^"]+)"></audio>', card)
    assert players == [f"{fake_hub.endpoint}/{hub_repo_id}/resolve/main/{name}" for name in samples]
    metadata = card.split("---")[1]
    assert "pipeline_tag: other" in metadata and "- audio" in metadata and "unconditional-image-generation" not in card
    assert "## Sound score" in card and "Fréchet distance" in card  # the sound metric of a folder of sounds
    quality = json.loads(files["summary.json"])["quality"]
    assert quality["metric"] == "sound score" and np.isfinite(quality["frechet_distance"])
    assert f"python -m gan_space generate --model {hub_repo_id} --num 16 --out sounds/" in card
    assert "![spectrograms of 16 samples" in card and "tones" in card and str(sound_run.parent) not in card

    # Pulled back: the same weights, the same transform, and sound from the Hub id alone.
    original, pulled = load_generator(sound_run), hub.pull(hub_repo_id)
    assert sound_settings(pulled) == sound_settings(original) == FAST_64
    for (name, a), (_, b) in zip(original.state_dict().items(), pulled.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    out = tmp_path / "sounds"
    assert cli.main(["generate", "--model", hub_repo_id, "--num", "16", "--out", str(out)]) == 0
    assert sorted(path.name for path in out.glob("*.wav")) == [f"sound-{k:03d}.wav" for k in range(16)]
    # The card's sounds are what the command on the card makes (sample K from seed K).
    for seed, name in enumerate(samples):
        made, rate = read_wav((out / f"sound-{seed:03d}.wav").read_bytes())
        carded, _ = read_wav(files[name])
        assert rate == RATE and np.abs(made - carded).max() < 1e-3, name


def test_a_resumable_sound_push_pulls_back_as_a_run_whose_generators_make_sounds(fake_hub, hub_repo_id, sound_run,
                                                                                  tmp_path):
    hub.push(sound_run, hub_repo_id, token=fake_hub.token, resumable=True, measure_quality=False)
    assert "run/checkpoint/generator/sound.json" in fake_hub.files(hub_repo_id)
    run = hub.pull_run(hub_repo_id, tmp_path / "pulled", token=fake_hub.token)
    assert sound_settings(run) == FAST_64
    assert sound_settings(generator_folder(run).parent / "generator_raw") == FAST_64


def test_a_hub_copy_whose_sound_record_asks_for_too_much_is_refused(fake_hub, hub_repo_id, sound_run):
    folder = generator_folder(sound_run)
    record = json.loads((folder / SOUND_NAME).read_text())
    record["mel"]["n_fft"] = 10**9  # a filter bank no machine could build
    fake_hub.add_files(hub_repo_id, {"config.json": (folder / "config.json").read_bytes(),
                                     "diffusion_pytorch_model.safetensors":
                                         (folder / "diffusion_pytorch_model.safetensors").read_bytes(),
                                     SOUND_NAME: json.dumps(record).encode()})
    with pytest.raises(hub.NotAGeneratorError, match="n_fft"):
        hub.pull(hub_repo_id)


def test_a_picture_generator_card_has_no_sounds(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    stage_repo_files(SHIPPED / "digits", staging, "alice/digits", measure_quality=False)
    card = (staging / "README.md").read_text()
    assert "<audio" not in card and "pipeline_tag: unconditional-image-generation" in card
    assert not (staging / SOUND_NAME).exists() and not (staging / "samples").exists()


def test_a_sound_dataset_on_the_hub_loads_and_trains_by_its_id(fake_hub, hub_repo_id, tmp_path):
    fake_hub.add_files(hub_repo_id, {**tone_files("train/"), "README.md": b"# tones\n"}, repo_type="dataset")
    data = load_dataset(hub_repo_id, resolution=64, channels=1)
    assert data.name == hub_repo_id and data.kind == "images" and tuple(data.samples.shape) == (10, 1, 64, 64)
    assert data.class_names == ["high", "low"] and data.labels.tolist() == [0] * 5 + [1] * 5
    assert data.sound["mel"] == FAST_64.to_dict() and not data.skipped
    with pytest.raises(DatasetError, match=f"{hub_repo_id} holds sounds.*--resolution 64 --channels 1"):
        load_dataset(hub_repo_id, resolution=32, channels=3)

    run = tmp_path / "run"
    assert cli.main(["train", "--dataset", hub_repo_id, "--out", str(run), "--resolution", "64", "--channels", "1",
                     *TINY]) == 0
    assert sound_settings(run) == FAST_64 and sound_settings(load_generator(run)) == FAST_64


def test_a_hub_dataset_id_of_sounds_picks_the_sound_preset_by_its_file_list(fake_hub, hub_repo_id, tmp_path):
    """The repo's list of files (one request) tells sounds from pictures, as a local folder's
    names do: a repo of sounds trains by its id alone, as sound, with the sound preset."""
    from PIL import Image

    from gan_space.data import hub_holds_sounds
    from gan_space.training import TrainConfig, picture_preset, sound_preset

    picture = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(picture, format="PNG")
    # Mostly sounds in the train split; the pictures beside it (a card's figures) do not count.
    fake_hub.add_files(hub_repo_id, {**tone_files("train/"), **{f"figures/{i}.png": picture.getvalue()
                                                                 for i in range(12)}}, repo_type="dataset")
    pictures_id = f"{hub_repo_id}-pictures"
    fake_hub.add_files(pictures_id, {**{f"train/a/{i}.png": picture.getvalue() for i in range(3)},
                                     "train/a/hum.wav": wav_bytes(tone(300.0), RATE)}, repo_type="dataset")
    assert hub_holds_sounds(hub_repo_id) and not hub_holds_sounds(pictures_id)
    assert not hub_holds_sounds(f"{hub_repo_id}-missing")  # (loading it says what is wrong)

    config = TrainConfig.for_dataset(hub_repo_id, look_on_hub=True)
    preset = sound_preset()
    assert (config.resolution, config.channels, config.arch) == (preset["resolution"], 1, preset["arch"]) == (64, 1,
                                                                                                             "resnet")
    assert TrainConfig.for_dataset(hub_repo_id, look_on_hub=True, resolution=128).resolution == 128
    assert TrainConfig.for_dataset(pictures_id, look_on_hub=True).to_dict() == \
        TrainConfig.for_dataset(pictures_id).to_dict()
    unasked = TrainConfig.for_dataset(hub_repo_id)  # (no request: a picture preset)
    assert unasked.resolution == picture_preset()["resolution"]

    run = tmp_path / "run"
    assert cli.main(["train", "--dataset", hub_repo_id, "--out", str(run), *TINY]) == 0
    assert sound_settings(run) == FAST_64 and sound_settings(load_generator(run)) == FAST_64
    saved = json.loads((run / "train_config.json").read_text())
    assert (saved["resolution"], saved["channels"]) == (64, 1)


def test_an_audiofolder_metadata_csv_gives_the_classes_and_only_its_files_are_read(fake_hub, hub_repo_id):
    files = {f"clips/{i}.wav": wav_bytes(tone(f), RATE)
             for i, f in enumerate(PITCHES["low"][:3] + PITCHES["high"][:3])}
    files["clips/unlisted.wav"] = wav_bytes(tone(500.0), RATE)
    rows = [f"clips/{i}.wav,{'hum' if i < 3 else 'whistle'}" for i in range(6)] + ["clips/gone.wav,hum"]
    files["metadata.csv"] = ("file_name,label\n" + "\n".join(rows) + "\n").encode()
    fake_hub.add_files(hub_repo_id, files, repo_type="dataset")
    data = load_dataset(hub_repo_id, resolution=64, channels=1)
    assert len(data.samples) == 6 and data.class_names == ["hum", "whistle"]
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert any("gone.wav" in line and "not in the dataset" in line for line in data.skipped)
    assert not any("unlisted" in line for line in data.skipped)


def test_a_zip_of_sounds_on_the_hub_loads_as_sounds(fake_hub, hub_repo_id):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in tone_files().items():
            zipped.writestr(name, data)
    fake_hub.add_files(hub_repo_id, {"tones.zip": archive.getvalue()}, repo_type="dataset")
    data = load_dataset(hub_repo_id, resolution=128, channels=1)
    assert data.name == hub_repo_id and tuple(data.samples.shape) == (10, 1, 128, 128)
    assert data.class_names == ["high", "low"] and data.sound["mel"] == SPEECH_128.to_dict()


def test_a_hub_dataset_of_broken_sounds_says_what_is_wrong(fake_hub, hub_repo_id):
    fake_hub.add_files(hub_repo_id, {"a.wav": b"RIFF\x00\x00\x00\x00WAVEnot really", "b.wav": b"",
                                     "c.flac": b"\x00" * 64}, repo_type="dataset")
    with pytest.raises(DatasetError, match=f"{hub_repo_id}.*no usable sound.*3 file.*skipped") as error:
        load_dataset(hub_repo_id, resolution=64, channels=1)
    assert "not a readable sound file" in str(error.value) or "empty file" in str(error.value)
