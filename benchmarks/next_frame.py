"""Next-frame prediction on the built-in moving emoji: the NIPS 2016 GAN tutorial's example.
A model trained with L2 alone averages the futures it cannot tell apart into a blur; the same
model with the adversarial loss picks one and stays sharp. Both train for the same minutes
through the same Trainer as `python -m gan_space train --task next-frame`, one after the other
(nothing else should run), and are scored on the run's held-out clips next to "copy the last
frame": PSNR, SSIM and sharpness (gan_space.metrics.sharpness: the outputs' mean gradient
magnitude over the targets'; 1 = as sharp as the real next frames, below 1 = blurred).

    python benchmarks/next_frame.py [--minutes 10] [--out benchmarks/results/next_frame]

Writes <out>/side_by_side.png (rows: last given frame | L2 | adversarial | the true next frame),
<out>/rollout-l2.gif and rollout-adversarial.gif (8 predicted frames fed back), <out>/results.json,
and prints a Markdown table.
"""

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from gan_space.held_out import held_out_scores  # noqa: E402
from gan_space.sampling import image_grid, to_pil_images  # noqa: E402
from gan_space.training import TrainConfig, Trainer  # noqa: E402
from gan_space.translation import rollout, translate  # noqa: E402

ROLLOUT_FRAMES = 8
SHOWN = 6  # held-out clips in the side-by-side figure
# The tutorial's two models: the task's preset (L2 + the adversarial loss and feature matching)
# and the same generator trained with L2 alone (no discriminator at all).
MODELS = {"L2": dict(adversarial_weight=0.0, feature_weight=0.0, pixel_warmup=0), "adversarial": {}}


def train(name: str, minutes: float, out: Path) -> Trainer:
    config = TrainConfig.for_dataset("moving-emoji", task="next-frame", minutes=minutes, out_dir=str(out / name),
                                     **MODELS[name])
    trainer = Trainer(config)
    for event in trainer.run():
        if event.status != "running":
            print(f"  {name}: {event.message}", flush=True)
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "next_frame"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
               "minutes": args.minutes, "models": {}}
    outputs = {}
    with tempfile.TemporaryDirectory() as runs:
        for name in MODELS:
            start = time.perf_counter()
            trainer = train(name, args.minutes, Path(runs))
            generator = trainer.sampling_generator()
            scores = held_out_scores(generator, trainer.held_out, "next-frame")
            results["models"][name] = {"steps": trainer.step, "seconds": round(time.perf_counter() - start),
                                       **scores.to_dict()}
            condition, target = trainer.held_out.normalised()
            outputs[name] = translate(generator, condition[:SHOWN])
            given = condition[0].reshape(-1, target.shape[1], *target.shape[-2:])  # the first clip's given frames
            frames = rollout(generator, given, ROLLOUT_FRAMES)
            pictures = to_pil_images(frames, min_size=128)
            pictures[0].save(out / f"rollout-{name.lower()}.gif", save_all=True, append_images=pictures[1:],
                             duration=150, loop=0)
        channels = target.shape[1]
        last_given = condition[:SHOWN, -channels:]
        cells = torch.stack([last_given, outputs["L2"], outputs["adversarial"], target[:SHOWN]], 1).flatten(0, 1)
        image_grid(cells, min_cell=96, columns=4, padding=4, padding_value=255).save(out / "side_by_side.png")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    first = next(iter(results["models"].values()))
    print(f"\nnext-frame prediction on moving-emoji, {args.minutes:g} minutes each, {results['threads']} threads, "
          f"{first['num_pictures']} held-out clips\n")
    print("| model | steps | PSNR (dB) | SSIM | sharpness |")
    print("|---|---|---|---|---|")
    print(f"| copy the last frame | - | {first['baseline_psnr']:.2f} | {first['baseline_ssim']:.3f} | "
          f"{first['baseline_sharpness']:.2f} |")
    for name, model in results["models"].items():
        print(f"| {name} | {model['steps']:,} | {model['psnr']:.2f} | {model['ssim']:.3f} | {model['sharpness']:.2f} |")


if __name__ == "__main__":
    main()
