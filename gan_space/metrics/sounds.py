"""Scores for sounds, measured on their spectrogram pictures (what a sound generator makes,
gan_space.data.sound_pictures):

- for the built-in spoken digits, a small digit classifier (shipped: gan_space/builtin/
  spoken-digits-classifier.safetensors, trained by tools/train_sound_digit_classifier.py on
  the first speakers only): the classes covered among the samples, an Inception-style score
  (exp of the mean KL divergence between each sample's class probabilities and their
  average: 10 for ten equally frequent, confidently recognised digits, 1 for one digit or
  none recognised; WaveGAN's paper reports 9.18 for real SC09 with its own classifier), and
  the classifier's accuracy on real held-out speakers;
- for any sound set, the Fréchet distance and KID in the project's fixed random network's
  features of the spectrogram pictures (gan_space.scores), next to what real held-out
  clips get (README "Sounds": calibrated with real, noisy and noise clips).

The classifier reads pictures of any of the mel sizes averaged down to JUDGE_SIZE pixels,
so it judges 64 and 128 px generators alike (it was trained on both).
"""

import functools
import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.sound_pictures import is_sound_source
from ..names import BUILTIN_SOUND_SETS
from ..scores import ImageReference, generator_score
from .registry import SampleMetric, register_metric

SPOKEN_DIGITS = BUILTIN_SOUND_SETS[0]
JUDGE_FILE = Path(__file__).resolve().parent.parent / "builtin" / "spoken-digits-classifier.safetensors"
JUDGE_SIZE = 32  # pixels a side the classifier reads
NUM_DIGITS = 10
COVERED_FRACTION = 0.02  # a class is covered when at least this share of the samples is of it (as for the digits)
REFERENCE_PICTURES, REFERENCE_SEED = 1000, 1_000_003
CARD_SAMPLES, CARD_SEED = 1000, 1_000_000
MIN_PICTURES = 4


class DigitClassifier(nn.Module):
    """Three 3x3 convolutions (16, 32, 64 channels, each with ReLU and 2x2 max pooling) and two
    linear layers, on one-channel JUDGE_SIZE pictures in [-1, 1]: about 90k weights."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * (JUDGE_SIZE // 8) ** 2, 64), nn.ReLU(),
                                  nn.Linear(64, NUM_DIGITS))

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(judge_input(pictures)))


def judge_input(pictures: torch.Tensor) -> torch.Tensor:
    """Spectrogram pictures (N, 1, H, W): float in [-1, 1] or uint8 -> float (N, 1, JUDGE_SIZE, JUDGE_SIZE)."""
    pictures = torch.as_tensor(pictures)
    if pictures.dtype == torch.uint8:
        pictures = pictures.float() / 127.5 - 1.0
    pictures = pictures.float().clamp(-1, 1)
    if pictures.dim() != 4 or pictures.shape[1] != 1:
        raise ValueError(f"the spoken-digit classifier reads one-channel spectrogram pictures (N, 1, H, W), "
                         f"got shape {tuple(pictures.shape)}")
    if pictures.shape[-2:] != (JUDGE_SIZE, JUDGE_SIZE):
        pictures = nn.functional.adaptive_avg_pool2d(pictures, JUDGE_SIZE)
    return pictures


class SpokenDigitJudge:
    """The shipped classifier (safetensors only) and what its training script measured."""

    def __init__(self, path: str | Path = JUDGE_FILE):
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"the spoken-digit classifier {path} is missing: make it with "
                                    "`python tools/train_sound_digit_classifier.py`")
        self.network = DigitClassifier()
        self.network.load_state_dict(load_file(path))
        self.network.eval()
        with safe_open(str(path), "pt") as handle:
            self.about = json.loads((handle.metadata() or {}).get("about", "{}"))
        self.held_out_accuracy = float(self.about.get("held_out_accuracy", math.nan))

    @torch.no_grad()
    def probabilities(self, pictures: torch.Tensor, batch: int = 500) -> np.ndarray:
        """(N, 10) class probabilities of spectrogram pictures."""
        pictures = torch.as_tensor(pictures)
        rows = [torch.softmax(self.network(pictures[start:start + batch]), 1) for start in range(0, len(pictures), batch)]
        return torch.cat(rows).double().numpy()

    def predict(self, pictures: torch.Tensor) -> np.ndarray:
        return self.probabilities(pictures).argmax(1)


@functools.lru_cache(maxsize=1)
def spoken_digit_judge() -> SpokenDigitJudge:
    return SpokenDigitJudge()


def inception_score(probabilities: np.ndarray) -> float:
    """exp(mean over samples of KL(p(y|x) || p(y))), p(y) the samples' mean prediction."""
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)
    marginal = p.mean(0, keepdims=True)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


def spoken_digit_scores(pictures: torch.Tensor, labels=None, judge: SpokenDigitJudge | None = None) -> dict:
    """The classifier's view of spectrogram pictures: classes covered (at least COVERED_FRACTION
    of the samples), each class's share, the Inception-style score and, given the true `labels`
    (real clips), the accuracy."""
    judge = judge or spoken_digit_judge()
    probabilities = judge.probabilities(pictures)
    fractions = np.bincount(probabilities.argmax(1), minlength=NUM_DIGITS) / len(probabilities)
    scores = {"num_samples": len(probabilities), "classes_covered": int((fractions >= COVERED_FRACTION).sum()),
              "class_fractions": fractions.round(4).tolist(), "min_class_fraction": float(fractions.min()),
              "inception_score": inception_score(probabilities)}
    if labels is not None:
        scores["accuracy"] = float((probabilities.argmax(1) == np.asarray(labels)).mean())
    return scores


# ---------------------------------------------------------------------------
# Registered: live measurements (SampleWatcher), `python -m gan_space score` and the Hub card


def _reference(data, num_samples) -> ImageReference | None:
    if len(data) < MIN_PICTURES:
        return None
    return ImageReference.of(data.samples, num_samples, max_reference=REFERENCE_PICTURES, seed=REFERENCE_SEED)


def _frechet(reference: ImageReference, pictures: torch.Tensor) -> dict:
    if not bool(torch.isfinite(pictures).all()):
        return {}
    score = reference.score(pictures)
    return {"frechet_distance": score["frechet_distance"], "real_frechet_distance": score["real_frechet_distance"],
            "kid": score["kid"], "real_kid": score["real_kid"], "frechet_features": "random network (spectrograms)"}


def _digits_prepare(data, num_samples):
    reference = _reference(data, num_samples)
    if reference is None:
        return None
    real = data.samples[torch.randperm(len(data), generator=torch.Generator().manual_seed(REFERENCE_SEED))[:num_samples]]
    return {"reference": reference, "real_inception_score": spoken_digit_scores(real)["inception_score"]}


def _digits_measure(state, pictures: torch.Tensor) -> dict:
    values = _frechet(state["reference"], pictures)
    if values:
        judged = spoken_digit_scores(pictures)
        values.update(classes_covered=judged["classes_covered"], inception_score=judged["inception_score"],
                      real_inception_score=state["real_inception_score"])
    return values


def _digits_card_measure(generator, dataset=None, pictures=None) -> dict:
    from ..sampling import generate

    measured = generator_score(generator, pictures, num=CARD_SAMPLES, seed=CARD_SEED, max_reference=REFERENCE_PICTURES)
    samples = generate(generator, CARD_SAMPLES, seed=CARD_SEED)
    judged = spoken_digit_scores(samples)
    held = pictures[torch.randperm(len(pictures), generator=torch.Generator().manual_seed(CARD_SEED))[:CARD_SAMPLES]]
    keys = ("num_samples", "frechet_distance", "real_frechet_distance", "kid", "real_kid", "num_held_out")
    return {**{key: measured[key] for key in keys if key in measured},
            "classes_covered": judged["classes_covered"], "min_class_fraction": judged["min_class_fraction"],
            "inception_score": judged["inception_score"],
            "real_inception_score": spoken_digit_scores(held)["inception_score"],
            "classifier_accuracy_held_out": spoken_digit_judge().held_out_accuracy}


def _digits_card_lines(quality: dict) -> list[str]:
    n, nan = quality.get("num_samples"), math.nan
    return [f"Measured on {n} fresh samples (their spectrograms) with a small digit classifier trained on the "
            f"built-in spoken digits (accuracy {quality.get('classifier_accuracy_held_out', nan):.1%} on speakers it "
            "never heard), and in a fixed random network's features, next to what real clips score:", "",
            "| metric | generated | real clips |", "|---|---|---|",
            f"| digits covered (>= 2% of samples) | {quality['classes_covered']} of 10 | 10 of 10 |",
            f"| Inception-style score (10 at best) | {quality['inception_score']:.2f} | "
            f"{quality.get('real_inception_score', nan):.2f} |",
            f"| Fréchet distance (random features of spectrograms) | {quality.get('frechet_distance', nan):.3f} | "
            f"{quality.get('real_frechet_distance', nan):.3f} |"]


def _sounds_measure(reference, pictures: torch.Tensor) -> dict:
    return _frechet(reference, pictures)


def _sounds_card_measure(generator, dataset=None, pictures=None) -> dict:
    measured = generator_score(generator, pictures, num=CARD_SAMPLES, seed=CARD_SEED, max_reference=REFERENCE_PICTURES)
    keys = ("num_samples", "frechet_distance", "kid", "kid_std", "num_real", "num_held_out", "real_frechet_distance",
            "real_kid")
    return {**{key: measured[key] for key in keys if key in measured}, "spectrograms": True}


def _sounds_card_lines(quality: dict) -> list[str]:
    nan = math.nan
    return [f"Measured on {quality.get('num_samples')} fresh samples (their spectrograms) against "
            f"{quality.get('num_real')} of the clips it was trained on, next to what {quality.get('num_held_out')} "
            "real held-out clips score, in a fixed random network's features (lower is better):", "",
            "| metric | generated | real held-out clips |", "|---|---|---|",
            f"| Fréchet distance | {quality['frechet_distance']:.3f} | {quality.get('real_frechet_distance', nan):.3f} |",
            f"| KID | {quality.get('kid', nan):.5f} | {quality.get('real_kid', nan):.5f} |"]


SPOKEN_DIGITS_METRIC = register_metric(SampleMetric(
    name="spoken digits", description="the spoken-digit classifier's classes and Inception-style score, and the "
                                      "Fréchet distance in random features of the spectrograms",
    applies=lambda dataset, kind: kind == "images" and dataset == SPOKEN_DIGITS,
    measure=_digits_measure, prepare=_digits_prepare, num_samples=1000, warm_up=spoken_digit_judge,
    estimate_seconds=lambda state, num_samples: state["reference"].estimate_seconds(num_samples),
    card_measure=_digits_card_measure, card_pictures=True, card_lines=_digits_card_lines, card_key="inception_score"))

SOUNDS_METRIC = register_metric(SampleMetric(
    name="sound score", description="Fréchet distance and KID in a fixed random network's features of spectrograms",
    applies=lambda dataset, kind: kind == "images" and dataset != SPOKEN_DIGITS and dataset is not None
    and is_sound_source(dataset),
    measure=_sounds_measure, prepare=_reference, num_samples=256,
    estimate_seconds=lambda reference, num_samples: reference.estimate_seconds(num_samples),
    card_measure=_sounds_card_measure, card_pictures=True, card_lines=_sounds_card_lines, card_key="spectrograms"))


__all__ = ["DigitClassifier", "SpokenDigitJudge", "spoken_digit_judge", "judge_input", "inception_score",
           "spoken_digit_scores", "JUDGE_FILE", "JUDGE_SIZE", "SPOKEN_DIGITS_METRIC", "SOUNDS_METRIC"]
