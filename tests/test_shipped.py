"""The generators in checkpoints/ load offline, from safetensors alone, and draw what their
summary says they draw: the scores recorded when they were shipped are reproduced here,
and they are far from what noise or an untrained network of the same shape scores."""

import json
from pathlib import Path

import pytest
import torch

from gan_space.checkpoints import load_generator
from gan_space.data import load_dataset
from gan_space.sampling import generate
from gan_space.scores import ImageReference, calibration_pictures, generator_score

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints"
SHIPPED_FILES = {"config.json", "diffusion_pytorch_model.safetensors", "summary.json", "sample_grid.png"}


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def test_the_emoji_generator_ships_as_safetensors_with_its_card_grid_and_score():
    folder = SHIPPED / "emoji"
    assert {p.name for p in folder.iterdir()} == SHIPPED_FILES  # no pickles, nothing else
    assert (folder / "diffusion_pytorch_model.safetensors").stat().st_size < 8 * 2**20  # "a few MB"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["train_config"]["dataset"] == "emoji" and summary["train_config"]["resolution"] == 64
    assert summary["quality"]["frechet_distance"] > 0 and summary["quality"]["num_samples"] == 1000


def test_the_emoji_generator_loads_offline_and_draws_what_its_score_says(offline):
    generator = load_generator(SHIPPED / "emoji")
    recorded = json.loads((SHIPPED / "emoji" / "summary.json").read_text())["quality"]
    real = load_dataset("emoji", 64, 3).samples
    score = generator_score(generator, real, num=1000, seed=1_000_000)
    # The same samples and features as when it shipped (thread counts may move the last digits).
    assert score["frechet_distance"] == pytest.approx(recorded["frechet_distance"], rel=0.02)

    # Not noise: an untrained generator of the same shape is far worse, and so is noise, both
    # scored against the reference generator_score drew (made once: its features take seconds).
    torch.manual_seed(0)
    untrained = type(generator).from_config(generator.config).eval()
    reference = ImageReference.of(real, 1000, max_reference=10_000, seed=1_000_000)
    untrained_score = reference.score(generate(untrained, 1000, seed=1_000_000), seed=1_000_000)
    noise = calibration_pictures(real[:1000])["pure noise"]
    noise_score = reference.score(noise, seed=1_000_000)
    assert score["frechet_distance"] < 0.25 * untrained_score["frechet_distance"], (score, untrained_score)
    assert score["frechet_distance"] < 0.1 * noise_score["frechet_distance"], (score, noise_score)

    # Varied: the samples of different seeds differ (not one picture drawn 64 times).
    samples = generate(generator, 64, seed=0)
    assert samples.shape == (64, 3, 64, 64) and samples.min() >= -1 and samples.max() <= 1
    assert samples.std(0).mean() > 0.2, "the samples barely differ from each other"


def test_the_spoken_digits_generator_ships_offline_and_says_all_ten_digits(offline):
    """The sound generator (issue 21): safetensors, its transform (sound.json) and WAV samples beside
    it; its samples, judged by the shipped spoken-digit classifier, cover all ten digits with an
    Inception-style score near what it shipped with, far above an untrained network of its shape."""
    from gan_space.checkpoints import sound_settings
    from gan_space.metrics.sounds import spoken_digit_scores
    from gan_space.sound_pipeline import generate_sounds

    folder = SHIPPED / "spoken-digits"
    assert {p.name for p in folder.iterdir()} == SHIPPED_FILES | {"sound.json", "samples"}
    assert (folder / "diffusion_pytorch_model.safetensors").stat().st_size < 8 * 2**20
    recorded = json.loads((folder / "summary.json").read_text())["quality"]
    generator = load_generator(folder)
    assert sound_settings(generator) is not None  # it knows it makes sounds, and how to invert them

    scores = spoken_digit_scores(generate(generator, 500, seed=1_000_000))
    assert scores["classes_covered"] == 10, scores
    assert scores["inception_score"] > recorded["inception_score"] - 1.0, (scores, recorded)
    torch.manual_seed(0)
    untrained = type(generator).from_config(generator.config).eval()
    assert spoken_digit_scores(generate(untrained, 500, seed=1_000_000))["inception_score"] < 4.0

    clips, rate = generate_sounds(generator, 2, seed=0)
    assert rate == 16_000 and clips.shape == (2, 16_000) and abs(clips).max() > 0.05  # one second, not silence
