"""Quality versus training time, through the same calls as `python -m gan_space train`.

Each dataset trains with the CLI's defaults (TrainConfig.for_dataset(name, out_dir=...),
so the preset for the data), and every checkpoint the run writes is judged right away:

    grid25, ring8   2,500 samples: modes captured, high-quality share, reverse KL (the PacGAN
                    paper's protocol, gan_space.metrics.mode_metrics), next to the paper's table
    digits          1,000 samples: Fréchet distance in the judge classifier's features, the
                    digits covered (>= 2% of the samples each) and the copying check
                    (gan_space.metrics.digits_metrics), next to real held-out digits

Training seconds are the run's own clock with the time spent judging taken out.

--precision-check trains a convolutional digits model (arch dcgan at 16x16, width 32) in
the trainer's fast precision (bf16 autocast where the CPU has it) and in fp32, with each of
--check-seeds, to show whether the fast path reaches the same quality within run-to-run noise.
(The MLP presets above always train in fp32: bf16 only applies to the convolutional nets.)

    python benchmarks/quality.py [--datasets grid25 ring8 digits] [--seeds 0] [--steps N]
        [--precision-check] [--check-steps 3000] [--check-seeds 0 1] [--threads N]

--steps shortens every run (for trying the script); leave it out for the real figures.
The last line holds the final figures of each run.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from gan_space.checkpoints import load_generator  # noqa: E402
from gan_space.metrics import digits_metrics, mode_metrics  # noqa: E402
from gan_space.sampling import generate  # noqa: E402
from gan_space.training import TrainConfig, Trainer  # noqa: E402

# Lin et al., "PacGAN: The power of two samples in generative adversarial networks" (NeurIPS
# 2018), Table 1: modes captured (of 8 / 25), high-quality samples, reverse KL; means over
# their runs, with their MLP architecture and 2,500 samples.
PACGAN_TABLE = {
    "ring8": [("GAN", 6.3, 0.982, 0.45), ("PacGAN2", 7.9, 0.956, 0.07), ("PacGAN3", 7.8, 0.987, 0.10),
              ("PacGAN4", 7.8, 0.992, 0.05)],
    "grid25": [("GAN", 17.3, 0.948, 0.70), ("PacGAN2", 23.8, 0.913, 0.13), ("PacGAN3", 24.6, 0.942, 0.06),
               ("PacGAN4", 24.8, 0.936, 0.04)],
}
POINT_SAMPLES, DIGIT_SAMPLES, EVAL_SEED = 2500, 1000, 12345


def judge(dataset: str, checkpoint: str) -> dict:
    generator = load_generator(checkpoint)
    if dataset in PACGAN_TABLE:
        return mode_metrics(generate(generator, POINT_SAMPLES, seed=EVAL_SEED), dataset)
    return digits_metrics(generate(generator, DIGIT_SAMPLES, seed=EVAL_SEED))


def train_and_judge(dataset: str, out_dir: Path, seed: int, steps: int | None, **overrides) -> list[dict]:
    """One run; a row of metrics per checkpoint, with the training seconds up to it."""
    config = TrainConfig.for_dataset(dataset, out_dir=str(out_dir), seed=seed, steps=steps, **overrides)
    trainer = Trainer(config)
    rows, judging_seconds = [], 0.0
    print(f"  {dataset} seed {seed}: {config.steps} steps on {trainer.device} in {trainer.precision} "
          f"({config.arch}, batch {config.batch_size})", flush=True)
    for event in trainer.run():
        if event.status == "diverged":
            print(f"    {event.message}")
            break
        if event.checkpoint is None:
            continue
        start = time.perf_counter()
        metrics = judge(dataset, event.checkpoint)
        rows.append({"step": event.step, "seconds": event.elapsed_seconds - judging_seconds,
                     "precision": trainer.precision, **metrics})
        judging_seconds += time.perf_counter() - start
        print("    " + describe(dataset, rows[-1]), flush=True)
    return rows


def describe(dataset: str, row: dict) -> str:
    head = f"step {row['step']:6d} {row['seconds']:7.0f}s"
    if dataset in PACGAN_TABLE:
        return (f"{head}  modes {row['modes']:2d}/{row['total_modes']}  high quality {100 * row['high_quality']:5.1f}%"
                f"  reverse KL {row['reverse_kl']:.3f}")
    return (f"{head}  FD {row['frechet_distance']:6.2f} (real {row['real_frechet_distance']:.2f})  "
            f"classes {row['classes_covered']}/10 (smallest {100 * row['min_class_fraction']:.1f}%)  "
            f"NN distance {row['median_nn_distance']:.2f} (real {row['real_median_nn_distance']:.2f})")


def print_pacgan_table(dataset: str, finals: list[dict]) -> None:
    total = finals[0]["total_modes"] if finals else (8 if dataset == "ring8" else 25)
    print(f"\n  {dataset}: {'':22s} {'modes':>7s} {'high quality':>13s} {'reverse KL':>11s}")
    for name, modes, quality, kl in PACGAN_TABLE[dataset]:
        print(f"  {'PacGAN paper, ' + name:30s} {modes:5.1f}/{total} {100 * quality:12.1f}% {kl:11.2f}")
    for index, row in enumerate(finals):
        label = f"gan_space, run {index + 1} ({row['seconds']:.0f}s)"
        print(f"  {label:30s} {row['modes']:5d}/{total} {100 * row['high_quality']:12.1f}% {row['reverse_kl']:11.3f}")


def precision_check(args, runs_dir: Path) -> str:
    """Digits on a DCGAN in the fast precision and in fp32, seed by seed."""
    overrides = dict(arch="dcgan", resolution=16, channels=1, width=32, latent_dim=64, batch_size=64, lr_g=2e-4,
                     lr_d=2e-4, beta1=0.5, beta2=0.999, r1_gamma=0.0, augment="none",
                     checkpoint_every=max(1, args.check_steps // 3))
    print(f"\nprecision check: digits on a DCGAN (16x16, width 32), {args.check_steps} steps, seeds {args.check_seeds}")
    finals = {"auto": [], "fp32": []}
    for seed in args.check_seeds:
        for precision in finals:  # the two precisions take turns, so drifts in load hit both alike
            rows = train_and_judge("digits", runs_dir / f"check-{precision}-{seed}", seed, args.check_steps,
                                   precision=precision, **overrides)
            finals[precision].append(rows[-1])
    print(f"\n  {'precision':12s} {'FD per seed':>22s} {'classes':>10s} {'seconds':>12s}")
    for precision, rows in finals.items():
        distances = " ".join(f"{row['frechet_distance']:6.2f}" for row in rows)
        classes = " ".join(str(row["classes_covered"]) for row in rows)
        seconds = " ".join(f"{row['seconds']:.0f}" for row in rows)
        label = f"{precision} ({rows[0]['precision']})"
        print(f"  {label:12s} {distances:>22s} {classes:>10s} {seconds:>12s}")
    fast = statistics.mean(r["frechet_distance"] for r in finals["auto"])
    exact = statistics.mean(r["frechet_distance"] for r in finals["fp32"])
    return f"precision check: mean FD {fast:.2f} ({finals['auto'][0]['precision']}) vs {exact:.2f} (fp32)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="*", default=["grid25", "ring8", "digits"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, help="override the presets' steps (for a quick try)")
    parser.add_argument("--precision-check", action="store_true")
    parser.add_argument("--check-steps", type=int, default=3000)
    parser.add_argument("--check-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    runs_dir = Path(tempfile.mkdtemp(prefix="gan_space-quality-"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; runs in {runs_dir}")
    figures = []
    for dataset in args.datasets:
        print(f"\n{dataset}")
        finals = [train_and_judge(dataset, runs_dir / f"{dataset}-{seed}", seed, args.steps)[-1]
                  for seed in args.seeds]
        if dataset in PACGAN_TABLE:
            print_pacgan_table(dataset, finals)
            figures += [f"{dataset} {r['modes']}/{r['total_modes']} modes, {100 * r['high_quality']:.1f}% HQ, "
                        f"rKL {r['reverse_kl']:.3f} in {r['seconds']:.0f}s" for r in finals]
        else:
            figures += [f"digits FD {r['frechet_distance']:.2f} (real {r['real_frechet_distance']:.2f}), "
                        f"{r['classes_covered']}/10 classes in {r['seconds']:.0f}s" for r in finals]
    if args.precision_check:
        figures.append(precision_check(args, runs_dir))
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"{time.perf_counter() - started:.0f}s in all")
    print("; ".join(figures))


if __name__ == "__main__":
    main()
