"""Train the spoken-digit classifier that judges sound generators (gan_space.metrics.sounds)
and write it as gan_space/builtin/spoken-digits-classifier.safetensors.

    python tools/train_sound_digit_classifier.py             # train, test on held-out speakers, write
    python tools/train_sound_digit_classifier.py --calibrate # the README's calibration of the sound scores

Data: the built-in spoken digits (300 speakers x 10 digits, seed 0). The first TRAIN_SPEAKERS
speakers train it; the others are held out and give the accuracy written into the file's
metadata (and the README). It learns from the spectrogram pictures of both sizes a sound
generator makes (64 and 128 px, each averaged down to the 32 px it reads), with each clip
shifted in time and in level at random, so it judges generators of either size.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gan_space.data import MEL_SETTINGS, load_spoken_digits  # noqa: E402
from gan_space.data.sound_pictures import clips_to_pictures  # noqa: E402
from gan_space.metrics.sounds import (JUDGE_FILE, DigitClassifier, SpokenDigitJudge, judge_input,  # noqa: E402
                                      spoken_digit_scores)

TRAIN_SPEAKERS = 240  # of 300: the other 60 are held out
EPOCHS, BATCH, LEARNING_RATE = 30, 64, 2e-3
MAX_SHIFT = 3  # columns of the 32 px picture (about 90 ms) a clip is moved in time, at most
MAX_LEVEL = 0.1  # picture units (8 dB) a clip is made louder or quieter, at most
SEED = 0


def pictures_of_both_sizes(clips: np.ndarray) -> dict:
    """{size: float pictures (N, 1, 32, 32) as the judge reads them} for each mel picture size."""
    return {size: judge_input(clips_to_pictures(clips, settings)) for size, settings in MEL_SETTINGS.items()}


def augment(pictures: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each picture moved by up to MAX_SHIFT columns (silence coming in) and up or down in level."""
    shifted = torch.full_like(pictures, -1.0)
    shifts = torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (len(pictures),), generator=generator)
    for index, shift in enumerate(shifts.tolist()):
        if shift >= 0:
            shifted[index, ..., shift:] = pictures[index, ..., :pictures.shape[-1] - shift]
        else:
            shifted[index, ..., :shift] = pictures[index, ..., -shift:]
    level = (torch.rand(len(pictures), 1, 1, 1, generator=generator) * 2 - 1) * MAX_LEVEL
    return torch.where(shifted > -1.0, (shifted + level).clamp(-1, 1), shifted)


def train(pictures: torch.Tensor, labels: torch.Tensor) -> DigitClassifier:
    torch.manual_seed(SEED)
    network = DigitClassifier()
    optimiser = torch.optim.Adam(network.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, EPOCHS)
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(EPOCHS):
        network.train()
        order = torch.randperm(len(pictures), generator=generator)
        total = 0.0
        for start in range(0, len(order), BATCH):
            rows = order[start:start + BATCH]
            loss = torch.nn.functional.cross_entropy(network(augment(pictures[rows], generator)), labels[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss) * len(rows)
        schedule.step()
        print(f"epoch {epoch + 1}/{EPOCHS}: loss {total / len(order):.4f}", flush=True)
    return network.eval()


@torch.no_grad()
def accuracy(network: DigitClassifier, pictures: torch.Tensor, labels: torch.Tensor) -> float:
    return float((network(pictures).argmax(1) == labels).float().mean())


def main_train(out: Path) -> None:
    from safetensors.torch import save_file

    data = load_spoken_digits()
    clips, labels = data.samples.numpy(), data.labels
    train_rows = np.arange(TRAIN_SPEAKERS * 10)
    held_rows = np.arange(TRAIN_SPEAKERS * 10, len(clips))
    start = time.perf_counter()
    sizes = pictures_of_both_sizes(clips)
    pictures = torch.cat([sizes[size][train_rows] for size in sizes])
    network = train(pictures, labels[train_rows].repeat(len(sizes)))
    held = {size: accuracy(network, sizes[size][held_rows], labels[held_rows]) for size in sizes}
    about = {"held_out_accuracy": round(min(held.values()), 4),
             "held_out_accuracy_by_size": {str(size): round(value, 4) for size, value in held.items()},
             "held_out": f"{len(held_rows)} clips of {len(held_rows) // 10} speakers it never heard",
             "trained_on": f"{len(train_rows)} clips of {TRAIN_SPEAKERS} speakers of the built-in spoken digits "
                           f"(seed 0), at both mel picture sizes ({', '.join(map(str, sizes))} px)",
             "epochs": EPOCHS, "training_seconds": round(time.perf_counter() - start, 1),
             "made_by": "tools/train_sound_digit_classifier.py"}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(out), metadata={"about": json.dumps(about)})
    print(json.dumps(about, indent=2))
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} kB)")


def main_calibrate() -> None:
    """The sound scores on real clips, real clips with noise, and noise (README "Sounds")."""
    from gan_space.scores import ImageReference

    data = load_spoken_digits()
    clips = data.samples.numpy().astype(np.float32) / 32767.0
    labels = data.labels.numpy()
    rng = np.random.default_rng(7)
    half = len(clips) // 2
    order = rng.permutation(len(clips))
    first, second = order[:half], order[half:]
    judge = SpokenDigitJudge()
    noise = rng.standard_normal(clips.shape).astype(np.float32)
    variants = {"real (other half)": clips[second],
                "real + noise at -20 dB": np.clip(clips[second] + 0.09 * noise[second], -1, 1),
                "real + noise at -6 dB": np.clip(clips[second] + 0.45 * noise[second], -1, 1),
                "white noise": np.clip(0.3 * noise[second], -1, 1)}
    print(f"judge held-out accuracy (metadata): {judge.held_out_accuracy:.4f}")
    for size, settings in MEL_SETTINGS.items():
        reference = clips_to_pictures(clips[first], settings)
        held = ImageReference.of(reference, 1000, max_reference=1000, seed=3)
        print(f"\n{size} px ({half} reference clips; 1000 compared; real held-out FD line {held.real_frechet_distance:.3f})")
        for name, variant in variants.items():
            pictures = clips_to_pictures(variant[:1000], settings)
            score = held.score(pictures)
            judged = spoken_digit_scores(pictures, labels[second][:1000] if name.startswith("real") else None, judge)
            print(f"  {name:24s} FD {score['frechet_distance']:8.3f}  KID {score['kid']:.4f}  classes "
                  f"{judged['classes_covered']:2d}  IS {judged['inception_score']:.2f}"
                  + (f"  accuracy {judged['accuracy']:.3f}" if "accuracy" in judged else ""))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calibrate", action="store_true", help="print the calibration of the sound scores instead")
    parser.add_argument("--out", type=Path, default=JUDGE_FILE)
    args = parser.parse_args()
    main_calibrate() if args.calibrate else main_train(args.out)
