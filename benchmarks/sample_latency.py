"""Sampling latency: a 64-sample grid from a generator to PNG bytes, as the Generate tab
and `python -m gan_space generate --out grid.png` make it.

    sample   gan_space.sampling.generate(generator, 64, seed): latents by seed, forward pass
    grid     the samples as one picture: the app's padded grid (gan_space.ui.pictures.grid_picture)
             or the CLI's plain grid (gan_space.sampling.preview_image)
    png      the picture encoded as PNG bytes (PIL, default settings)

Generators: the shipped one (checkpoints/digits) and, for scale, untrained DCGANs of the
training benchmark's size (width 64, latent 100) at 32 and 64 pixels. The cases take turns
within each round; the first round is a warm-up and is not counted; medians in ms.

    python benchmarks/sample_latency.py [--rounds 30] [--threads N]

The last line holds the figure: the shipped generator's median, grid to PNG, in the app.
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from gan_space.checkpoints import load_generator  # noqa: E402
from gan_space.models import DCGANGenerator  # noqa: E402
from gan_space.sampling import generate, preview_image  # noqa: E402
from gan_space.ui.pictures import grid_picture  # noqa: E402

NUM_SAMPLES = 64


def one_grid(generator, make_grid, seed: int) -> dict:
    """Milliseconds of each phase of one grid."""
    times = {}
    start = time.perf_counter()
    samples = generate(generator, NUM_SAMPLES, seed=seed)
    times["sample"] = time.perf_counter()
    picture = make_grid(samples)
    times["grid"] = time.perf_counter()
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    times["png"] = time.perf_counter()
    phases, previous = {}, start
    for name, moment in times.items():
        phases[name] = 1000 * (moment - previous)
        previous = moment
    phases["total"] = 1000 * (times["png"] - start)
    phases["kB"] = len(buffer.getvalue()) / 1024
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--model", default=str(ROOT / "checkpoints" / "digits"), help="the shipped generator")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    shipped = load_generator(args.model)
    generators = {"shipped digits": shipped,
                  "DCGAN 32px": DCGANGenerator(resolution=32, channels=3, latent_dim=100, width=64).eval(),
                  "DCGAN 64px": DCGANGenerator(resolution=64, channels=3, latent_dim=100, width=64).eval()}
    grids = {"app": grid_picture, "cli": preview_image}
    cases = [(g, grid) for g in generators for grid in grids]
    results = {case: [] for case in cases}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{args.rounds} rounds, the first not counted")
    for round_index in range(args.rounds):
        for name, grid in cases:
            phases = one_grid(generators[name], grids[grid], seed=round_index)
            if round_index > 0:
                results[(name, grid)].append(phases)

    print(f"\n{'generator':16s} {'grid':4s} {'sample':>8s} {'grid':>8s} {'png':>8s} {'total':>8s} {'PNG kB':>7s}  (median ms)")
    for (name, grid), rows in results.items():
        median = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        print(f"{name:16s} {grid:4s} {median['sample']:8.1f} {median['grid']:8.1f} {median['png']:8.1f} "
              f"{median['total']:8.1f} {median['kB']:7.0f}")
    shipped_app = statistics.median(row["total"] for row in results[("shipped digits", "app")])
    print(f"\nshipped generator, 64-sample grid to PNG bytes (app): {shipped_app:.1f} ms median")


if __name__ == "__main__":
    main()
