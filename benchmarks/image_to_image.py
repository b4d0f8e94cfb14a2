"""Image-to-image on held-out emoji: x4 super-resolution (bicubic vs L1-only vs GAN) and
colourisation (the grey input vs L1-only vs GAN), through the same Trainer as
`python -m gan_space train --task ...`.

Data: ../shared/data/noto-emoji-64.npz (3,781 64x64 RGB pictures; read its README). A tenth
of the emoji *groups* (an emoji with all its skin-tone variants) is held out, so no variant
of a test picture is ever trained on. Each model trains on the rest with the task's preset;
the L1-only model is the same generator with adversarial_weight=0 and feature_weight=0
(SRResNet's recipe: no discriminator at all). Scores on the held-out pictures
(gan_space.image_metrics): PSNR and SSIM against the originals (RGB, [0, 1], no border
crop), and a Fréchet distance between the outputs and the originals (lower: the set of
outputs looks more like real pictures; blur is far). One figure per task shows held-out
pictures side by side, as in the SRGAN paper's figure 2.

    python benchmarks/image_to_image.py [--tasks super-resolution colorize] [--steps 1500]
        [--threads 2] [--out benchmarks/results/image_to_image]

Writes <out>/<task>.png (the figure), <out>/results.json, and prints a Markdown table.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gan_space.checkpoints import load_generator  # noqa: E402
from gan_space.data import Dataset  # noqa: E402
from gan_space.image_metrics import frechet_distance, mean_psnr, mean_ssim, to_unit  # noqa: E402
from gan_space.pairs import Pairing, to_float  # noqa: E402
from gan_space.tasks import get_task  # noqa: E402
from gan_space.sampling import image_grid  # noqa: E402
from gan_space.training import TrainConfig, Trainer  # noqa: E402
from gan_space.translation import translate  # noqa: E402

EMOJI = ROOT.parent / "shared" / "data" / "noto-emoji-64.npz"
HELD_OUT_GROUPS = 0.1
SPLIT_SEED = 0
FIGURE_PICTURES = (3, 41, 87, 140, 201, 265)  # rows of the held-out set shown in the figures


def emoji_split() -> tuple[torch.Tensor, torch.Tensor]:
    """(training pictures, held-out pictures) as uint8 (N, 3, 64, 64), split by emoji group."""
    data = np.load(EMOJI)
    images = torch.from_numpy(data["images"]).permute(0, 3, 1, 2).contiguous()
    groups = torch.from_numpy(data["groups"].astype(np.int64))
    unique = groups.unique()
    order = torch.randperm(len(unique), generator=torch.Generator().manual_seed(SPLIT_SEED))
    test_groups = unique[order[: int(len(unique) * HELD_OUT_GROUPS)]]
    is_test = torch.isin(groups, test_groups)
    return images[~is_test], images[is_test]


def train(task: str, name: str, train_images: torch.Tensor, out: Path, steps: int, **settings) -> tuple[Path, float]:
    run = out / name
    config = TrainConfig.for_dataset("emoji", task=task, out_dir=str(run), steps=steps, log_every=50,
                                     sample_every=max(250, steps // 4), checkpoint_every=steps, checkpoint_minutes=0,
                                     **settings)
    dataset = Dataset(name="emoji (benchmark training split)", kind="images", samples=train_images)
    trainer = Trainer(config, dataset=dataset)
    start = time.perf_counter()
    event = None
    for event in trainer.run():
        if event.step % 100 == 0 or event.status != "running":
            print(f"  {name}: {event.status_line()}", flush=True)
    if event.status != "finished":
        raise RuntimeError(f"{name} did not finish: {event.message}")
    return run, time.perf_counter() - start


def scores(outputs: torch.Tensor, targets: torch.Tensor) -> dict:
    out, ref = to_unit(outputs), to_unit(targets)
    return {"psnr": mean_psnr(out, ref), "ssim": mean_ssim(out, ref), "frechet": frechet_distance(out, ref)}


def figure(columns: list[torch.Tensor], path: Path) -> None:
    """Rows of held-out pictures; columns as given (e.g. bicubic | L1-only | GAN | original)."""
    rows = torch.stack([c[list(FIGURE_PICTURES)] for c in columns], 1).flatten(0, 1)
    image_grid(rows, min_cell=128, columns=len(columns), padding=4, padding_value=255).save(path)


def run_task(task: str, train_images, test_images, out: Path, runs: Path, steps: int, warmup: int) -> dict:
    pairing = Pairing(task=get_task(task), channels=3, scale=4 if task == "super-resolution" else 1)
    target = to_float(test_images)
    condition = pairing.make_condition(target, torch.Generator().manual_seed(0))
    baseline = pairing.baseline(condition, tuple(target.shape[-2:]))
    baseline_name = "bicubic" if task == "super-resolution" else "grey input"
    results = {baseline_name: {**scores(baseline, target), "train_seconds": 0.0}}
    columns = [baseline]
    for name, settings in (("L1-only", dict(adversarial_weight=0.0, feature_weight=0.0)),
                           ("GAN", dict(pixel_warmup=warmup))):
        print(f"{task}: training {name} for {steps} steps", flush=True)
        run, seconds = train(task, f"{task}-{name}", train_images, runs, steps, **settings)
        outputs = torch.cat([translate(load_generator(run), chunk) for chunk in condition.split(64)])
        results[name] = {**scores(outputs, target), "train_seconds": round(seconds, 1)}
        columns.append(outputs)
        print(f"  {name}: {results[name]}", flush=True)
    columns.append(target)
    figure(columns, out / f"{task}.png")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["super-resolution", "colorize"])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=500,
                        help="the GAN's first steps with the pixel loss alone (ESRGAN's PSNR model first)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "image_to_image"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not EMOJI.is_file():
        sys.exit(f"{EMOJI} is missing: this benchmark needs the shared emoji set (see ../shared/data/README.md)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_images, test_images = emoji_split()
    print(f"emoji: {len(train_images)} training pictures, {len(test_images)} held out (by emoji group)")
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    everything = {"cpu": cpu, "threads": args.threads, "steps": args.steps, "warmup": args.warmup,
                  "held_out": len(test_images),
                  "tasks": {}}
    with tempfile.TemporaryDirectory(prefix="gan_space-i2i-") as runs:
        for task in args.tasks:
            everything["tasks"][task] = run_task(task, train_images, test_images, out, Path(runs), args.steps,
                                                 args.warmup)
            (out / "results.json").write_text(json.dumps(everything, indent=2) + "\n")
    print(f"\n{cpu}, {args.threads} threads, {args.steps} steps a model, {len(test_images)} held-out pictures\n")
    print("| task | method | PSNR (dB) | SSIM | Fréchet distance | training (s) |")
    print("|---|---|---|---|---|---|")
    for task, results in everything["tasks"].items():
        for method, r in results.items():
            print(f"| {task} | {method} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r['frechet']:.3g} | "
                  f"{r['train_seconds']:.0f} |")


if __name__ == "__main__":
    main()
