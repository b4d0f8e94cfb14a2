"""GPU check: train the 64 px and 128 px picture recipes on a CUDA GPU and record what they give.

    python benchmarks/gpu_check.py                    # 5 minutes each, writes RESULTS.md's GPU table
    python benchmarks/gpu_check.py --minutes 15 --compile
    python benchmarks/gpu_check.py --dry-run          # the same code on the CPU, in seconds

For each recipe (`TrainConfig.for_dataset("emoji", resolution=R, minutes=N)`: the presets of
gan_space/training.py PICTURE_PRESETS, with `precision="auto"`, i.e. bf16 autocast where the
GPU runs it, else fp16 with loss scaling) it trains on the built-in emoji set for N minutes,
then reports the steps, pictures per second (the trainer's last logged rate, and the run's
mean), the peak GPU memory, the score of 1,000 samples of fixed latents (gan_space.scores:
Fréchet distance and KID in the random network's features, next to what held-out real
pictures score: the protocol of benchmarks/image_quality.py, so the numbers compare with its
CPU tables) and saves a grid of 64 samples. The rows go into the table between the
`gpu_check` markers in benchmarks/RESULTS.md (a row of the same GPU and recipe replaces
its earlier one), with the GPU's name, the torch and CUDA versions and the date.

--dry-run runs the same code path on the CPU: 16 and 32 px recipes (the built-in set is
decoded at the run's size, which at 128 px takes longer than the check may), a few steps,
64 samples scored, into a temporary folder, and RESULTS.md untouched unless --write-results.
"""

import argparse
import datetime
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from gan_space import devices  # noqa: E402

RESOLUTIONS = (64, 128)
DRY_RUN_RESOLUTIONS = (16, 32)
DRY_RUN_MINUTES, DRY_RUN_STEPS, DRY_RUN_SAMPLES = 0.05, 2, 64
NUM_SAMPLES, LATENT_SEED = 1000, 123_456  # as benchmarks/image_quality.py
GRID_PICTURES = 64
PRINT_SECONDS = 15  # a GPU logs many times a second: a line this often
RESULTS = REPO / "benchmarks" / "RESULTS.md"
TABLE_START = "<!-- gpu_check table: written by benchmarks/gpu_check.py -->"
TABLE_END = "<!-- gpu_check table end -->"
COLUMNS = ("date", "GPU", "torch / CUDA", "recipe", "precision", "minutes", "steps", "pictures/s (mean)",
           "FD (real held-out)", "KID (real held-out)", "peak memory", "grid")
GPU_COLUMN, RECIPE_COLUMN = COLUMNS.index("GPU"), COLUMNS.index("recipe")


def environment(device: torch.device) -> dict:
    return {"device": devices.describe(device), "torch": torch.__version__, "cuda": torch.version.cuda or "none",
            "date": datetime.date.today().isoformat()}


def check_recipe(resolution: int, minutes: float, device: torch.device, out: Path, *, steps: int | None,
                 num_samples: int, compile: bool) -> dict:
    """Train one picture recipe for `minutes` (at most `steps`), score it and save its grid."""
    from gan_space.sampling import preview_image, sample_latents, to_uint8
    from gan_space.scores import ImageReference
    from gan_space.training import TrainConfig, Trainer

    folder = out / f"emoji-{resolution}px"
    cap = {"steps": steps} if steps else {}
    config = TrainConfig.for_dataset("emoji", resolution=resolution, channels=3, minutes=minutes, device=str(device),
                                     out_dir=str(folder / "run"), compile=compile, **cap)
    devices.reset_peak_memory(device)
    trainer = Trainer(config)
    last_rate, event, last_print = 0.0, None, -math.inf
    for event in trainer.run():
        last_rate = event.images_per_second or last_rate
        if event.status != "running" or time.perf_counter() - last_print >= PRINT_SECONDS:
            print(f"  {resolution} px: {event.status_line()}", flush=True)
            last_print = time.perf_counter()
    if event is None or event.status not in ("finished", "stopped"):
        raise RuntimeError(f"the {resolution} px run ended {event.status if event else 'before its first step'}: "
                           f"{event.message if event else ''}")
    peak = devices.peak_memory_bytes(device)

    samples = trainer.sample(sample_latents(num_samples, config.latent_dim, seed=LATENT_SEED))
    grid = folder / f"emoji-{resolution}px-grid.png"
    preview_image(samples[:GRID_PICTURES]).save(grid)
    reference = ImageReference.of(trainer.data.samples, num_samples)
    score = reference.score(torch.from_numpy(to_uint8(samples)).permute(0, 3, 1, 2).contiguous())
    return {"resolution": resolution, "arch": config.arch, "batch_size": config.batch_size, "precision": trainer.precision,
            "minutes": event.elapsed_seconds / 60, "steps": event.step, "images_per_second": last_rate,
            "mean_images_per_second": event.step * config.batch_size / max(event.elapsed_seconds, 1e-9),
            "frechet_distance": score["frechet_distance"], "real_frechet_distance": score["real_frechet_distance"],
            "kid": score["kid"], "real_kid": score["real_kid"], "num_samples": num_samples,
            "peak_memory_bytes": peak, "grid": str(grid)}


def table_row(env: dict, result: dict, results_file: Path) -> list[str]:
    grid = Path(result["grid"])
    try:
        grid_cell = f"`{grid.resolve().relative_to(results_file.resolve().parent)}`"
    except ValueError:  # outside the benchmarks folder (a dry run's temporary folder)
        grid_cell = f"`{grid}`"
    peak = result["peak_memory_bytes"]
    return [env["date"], env["device"], f"{env['torch']} / {env['cuda']}",
            f"emoji {result['resolution']} px ({result['arch']}, batch {result['batch_size']})", result["precision"],
            f"{result['minutes']:.1f}", f"{result['steps']:,}",
            f"{result['images_per_second']:,.0f} ({result['mean_images_per_second']:,.0f})",
            f"{result['frechet_distance']:.2f} ({result['real_frechet_distance']:.2f})",
            f"{result['kid']:.3f} ({result['real_kid']:.3f})",
            f"{peak / 2**30:.1f} GiB" if peak is not None else "-", grid_cell]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _line(cells) -> str:
    return "| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |"


def update_results_table(text: str, rows: list[list[str]]) -> str:
    """RESULTS.md's text with `rows` in the GPU table: a row of the same GPU and recipe replaces
    its earlier one, others stay; the placeholder row (a first cell of '-') goes."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"the results file has no GPU table: add the lines {TABLE_START!r} and {TABLE_END!r} "
                         f"where it should go")
    block = text[start + len(TABLE_START):end]
    old_rows = [_cells(line) for line in block.splitlines() if line.strip().startswith("|")][2:]  # no header
    new_keys = {(row[GPU_COLUMN], row[RECIPE_COLUMN]) for row in rows}
    kept = [row for row in old_rows if row[0] not in ("-", "—") and len(row) == len(COLUMNS)
            and (row[GPU_COLUMN], row[RECIPE_COLUMN]) not in new_keys]
    lines = [_line(COLUMNS), "|" + "---|" * len(COLUMNS)] + [_line(row) for row in kept + rows]
    return text[:start] + TABLE_START + "\n" + "\n".join(lines) + "\n" + text[end:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training minutes per recipe (default 5)")
    parser.add_argument("--resolutions", type=int, nargs="+", default=None,
                        help=f"picture sizes to train (default {' '.join(map(str, RESOLUTIONS))}; "
                             f"dry run {' '.join(map(str, DRY_RUN_RESOLUTIONS))})")
    parser.add_argument("--device", default="cuda", help="the GPU to check: cuda or cuda:N (default cuda)")
    parser.add_argument("--compile", action="store_true", help="train with torch.compile")
    parser.add_argument("--dry-run", action="store_true",
                        help="the same code on the CPU in seconds: tiny pictures, a few steps, a temporary folder")
    parser.add_argument("--out", default=None, help="folder for the runs and grids (default "
                        "benchmarks/results/gpu-check/<GPU>; dry run: a new temporary folder)")
    parser.add_argument("--results", default=str(RESULTS), help="the results file whose GPU table is updated")
    parser.add_argument("--write-results", action=argparse.BooleanOptionalAction, default=None,
                        help="update the results file's GPU table (default: yes, but not on a dry run)")
    args = parser.parse_args(argv)

    if args.dry_run:
        device, minutes, steps, num_samples = torch.device("cpu"), DRY_RUN_MINUTES, DRY_RUN_STEPS, DRY_RUN_SAMPLES
        resolutions = args.resolutions or DRY_RUN_RESOLUTIONS
    else:
        try:
            device = devices.select_device(args.device)
        except ValueError as error:
            print(f"gpu_check: {error}. To check this script on the CPU, run it with --dry-run.", file=sys.stderr)
            return 2
        if device.type != "cuda":
            print(f"gpu_check: --device {args.device} is not a CUDA GPU: use cuda or cuda:N (or --dry-run)",
                  file=sys.stderr)
            return 2
        minutes, steps, num_samples = args.minutes, None, NUM_SAMPLES
        resolutions = args.resolutions or RESOLUTIONS
    if minutes <= 0:
        print("gpu_check: --minutes must be more than 0", file=sys.stderr)
        return 2
    env = environment(device)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", env["device"].split(" (")[0]).strip("-").lower()
    out = Path(args.out) if args.out else (Path(tempfile.mkdtemp(prefix="gpu-check-")) if args.dry_run
                                          else REPO / "benchmarks" / "results" / "gpu-check" / slug)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{env['device']}; torch {env['torch']}, CUDA {env['cuda']}; {minutes:g} minutes per recipe; "
          f"output in {out}" + (" (dry run on the CPU)" if args.dry_run else ""), flush=True)

    results = []
    for resolution in resolutions:
        began = time.perf_counter()
        results.append(check_recipe(resolution, minutes, device, out, steps=steps, num_samples=num_samples,
                                    compile=args.compile))
        print(f"  {resolution} px done in {time.perf_counter() - began:.0f} s wall", flush=True)

    results_file = Path(args.results)
    rows = [table_row(env, result, results_file) for result in results]
    print("\n" + "\n".join([_line(COLUMNS), "|" + "---|" * len(COLUMNS)] + [_line(row) for row in rows]))
    (out / "gpu_check.json").write_text(json.dumps({"environment": env, "dry_run": args.dry_run,
                                                    "results": results}, indent=2) + "\n")
    write = args.write_results if args.write_results is not None else not args.dry_run
    if write:
        results_file.write_text(update_results_table(results_file.read_text(), rows))
        print(f"\nupdated the GPU table in {results_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
