"""Unpaired translation on the built-in emoji styles: Noto's pictures (A, `emoji`) drawn in the
flat Fluent style (B, `emoji-flat`), learnt from the two sets without their alignment. Each
family trains with the task's defaults for its minutes, one after the other, through the same
Trainer as `python -m gan_space train --task unpaired --dataset emoji --dataset-b emoji-flat`
(nothing else should run), and is scored on the run's held-out A pictures:

- Fréchet distance of the translated held-out A pictures to real B pictures (the held-out B
  pictures, and a larger reference of 1,000 of B's training pictures), next to the untranslated
  A pictures' (is the output closer to B's style?);
- against the true counterparts (the emoji of the same code point in style B, known for
  measuring only): PSNR and mean absolute difference, next to the untranslated pictures' (is
  the content kept, and moved towards B?).

    python benchmarks/unpaired.py [--minutes 15] [--cyclegan-minutes 15] [--out benchmarks/results/unpaired]

Writes <out>/<family>.png (rows of held-out emoji: A | translated | true B counterpart),
<out>/tiled-<family>.png (a 256x256 mosaic translated in 64-pixel tiles), <out>/results.json
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
from gan_space.image_metrics import frechet_distance, mean_psnr, to_unit  # noqa: E402
from gan_space.sampling import image_grid, to_pil_images  # noqa: E402
from gan_space.training import TrainConfig, Trainer  # noqa: E402
from gan_space.translation import apply_tiled, translate  # noqa: E402

DATASET_A, DATASET_B = "emoji", "emoji-flat"
REFERENCE_B = 1000  # B training pictures the larger Fréchet reference holds
SHOWN = 8


def train(arch: str, minutes: float, out: Path, resolution: int) -> Trainer:
    config = TrainConfig.for_dataset(DATASET_A, task="unpaired", dataset_b=DATASET_B, arch=arch, minutes=minutes,
                                     resolution=resolution, out_dir=str(out / arch))
    trainer = Trainer(config)
    for event in trainer.run():
        if event.status != "running":
            print(f"  {arch}: {event.message}", flush=True)
    return trainer


def measure(trainer: Trainer) -> tuple[dict, torch.Tensor]:
    generator = trainer.sampling_generator()
    condition, target = trainer.held_out.normalised()
    translated = torch.cat([translate(generator, chunk) for chunk in condition.split(32)])
    channels = target.shape[1]
    b_rows = trainer.data.samples[:, channels:]
    pick = torch.linspace(0, len(b_rows) - 1, min(REFERENCE_B, len(b_rows))).long()
    reference = to_unit(b_rows[pick].float() / 127.5 - 1)
    out, given, counterpart = to_unit(translated), to_unit(condition), to_unit(target)
    scores = held_out_scores(generator, trainer.held_out, "unpaired")
    return {
        "steps": trainer.step,
        "held_out": len(target),
        "aligned": trainer.held_out.aligned,
        "fd_to_held_out_b": scores.frechet_distance, "fd_untranslated_to_held_out_b": scores.baseline_frechet_distance,
        "fd_to_b_reference": frechet_distance(out, reference),
        "fd_untranslated_to_b_reference": frechet_distance(given, reference),
        "psnr_to_counterpart": mean_psnr(out, counterpart), "psnr_untranslated": mean_psnr(given, counterpart),
        "l1_to_counterpart": float((out - counterpart).abs().mean()),
        "l1_untranslated": float((given - counterpart).abs().mean()),
    }, translated


def mosaic(condition: torch.Tensor) -> torch.Tensor:
    """16 held-out pictures as one 4x4 picture (1, C, 4h, 4w): larger than the model was trained on."""
    rows = [torch.cat(list(condition[i * 4:(i + 1) * 4]), -1) for i in range(4)]
    return torch.cat(rows, -2)[None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0, help="CUT's minutes (the default family)")
    parser.add_argument("--cyclegan-minutes", type=float, default=15.0, help="CycleGAN's minutes (0: skip)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "unpaired"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
               "resolution": args.resolution, "families": {}}
    runs = {"cut": args.minutes, "cyclegan": args.cyclegan_minutes}
    with tempfile.TemporaryDirectory() as folder:
        for arch, minutes in runs.items():
            if minutes <= 0:
                continue
            start = time.perf_counter()
            trainer = train(arch, minutes, Path(folder), args.resolution)
            numbers, translated = measure(trainer)
            results["families"][arch] = {"minutes": minutes, "seconds": round(time.perf_counter() - start), **numbers}
            condition, target = trainer.held_out.normalised()
            cells = torch.stack([condition[:SHOWN], translated[:SHOWN], target[:SHOWN]], 1).flatten(0, 1)
            image_grid(cells, min_cell=96, columns=6, padding=4, padding_value=255).save(out / f"{arch}.png")
            big = mosaic(condition[:16])
            tiled = apply_tiled(trainer.sampling_generator(), big, tile=args.resolution, overlap=args.resolution // 4)
            to_pil_images(torch.cat([big, tiled], -1), min_size=1)[0].save(out / f"tiled-{arch}.png")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    print(f"\nunpaired translation {DATASET_A} -> {DATASET_B} at {args.resolution} px, {results['threads']} threads\n")
    print("| family | minutes | steps | FD to B (held-out) | FD to B (1,000 B) | PSNR to counterpart (dB) | "
          "L1 to counterpart |")
    print("|---|---|---|---|---|---|---|")
    for arch, r in results["families"].items():
        print(f"| untranslated A | - | - | {r['fd_untranslated_to_held_out_b']:.3g} | "
              f"{r['fd_untranslated_to_b_reference']:.3g} | {r['psnr_untranslated']:.2f} | {r['l1_untranslated']:.4f} |")
        break
    for arch, r in results["families"].items():
        print(f"| {arch} | {r['minutes']:g} | {r['steps']:,} | {r['fd_to_held_out_b']:.3g} | {r['fd_to_b_reference']:.3g} | "
              f"{r['psnr_to_counterpart']:.2f} | {r['l1_to_counterpart']:.4f} |")


if __name__ == "__main__":
    main()
