"""Generated data for classifiers, measured honestly: class-conditional generators trained on the
classifier test's training split only, then the classifier test on the held-out pictures they
never saw.

    python benchmarks/augmentation.py                   # digits and emoji categories, writes <out>
    python benchmarks/augmentation.py --threads 1       # a good neighbour on a shared machine
    python benchmarks/augmentation.py --dry-run         # the same code, tiny: seconds, into a temporary folder

For each set (the built-in digits at 8 px; the built-in emoji with their 9 Unicode categories
as classes, at 16 px by default) it
  1. splits the real set as `gan_space.classification.classifier_test` does
     (`training_split`: 30% of every class held out, fixed),
  2. trains a class-conditional generator on the training split only, with the project's
     recipe for the set (`TrainConfig.for_dataset(set, conditional=True)`: the digits preset,
     the picture preset at that size) for a fixed number of steps (not minutes, so the result does
     not depend on how busy the machine is),
  3. runs the classifier test on it for each "few per class" K over several seeds: a small CNN
     trained on (a) the real training split, (b) generated pictures only (CAS), (c) K real per
     class, (d) those K plus the generated ones, each tested on the held-out split,
  4. saves a grid per generator (one row per class: generated pictures, a black cell, then
     real training pictures of the class) to look at.

Writes <out>/<set>.json for each set (every accuracy, the settings, the machine and its load;
the sets can run as separate invocations) and <out>/augmentation.md (the table of every
<set>.json in <out>), and prints the table.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from gan_space.classification import CONDITIONS, TEST_FRACTION, classifier_test, training_split  # noqa: E402
from gan_space.export import generated_pictures, load_conditional  # noqa: E402
from gan_space.sampling import image_grid  # noqa: E402
from gan_space.training import TrainConfig, Trainer  # noqa: E402

# What each set trains: its resolution and channels, the generator's steps, the few-per-class
# values. Digits: the digits preset's own 6,000 steps (how checkpoints/digits was made).
# Emoji: 16 px, 2,000 steps of the 16 px picture preset: what the shared 2-vCPU machine allowed
# (32 px ran at under 1 step a second there, load 8-13); the classifier then sees 16 px pictures
# in all four conditions. --steps and --emoji-resolution for more.
SETS = {
    "digits": dict(resolution=8, channels=1, steps=6000, few=(10,)),
    "emoji": dict(resolution=16, channels=3, steps=2000, few=(10, 50)),
}
# The dry run: the same code, tiny (emoji at 16 px and one K: the held-out pictures are scored
# at the generator's size, which is most of a dry run's time).
DRY_RUN = dict(steps=4, seeds=1, classifier_steps=3, generated_per_class=4, resolution={"emoji": 16})
GRID_GENERATED, GRID_REAL = 10, 4  # pictures a class row shows
LABELS = {"real": "(a) real training split", "generated": "(b) generated only (CAS)",
          "few real": "(c) K real per class", "few real + generated": "(d) K real per class + generated"}


def machine() -> dict:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")),
                     platform.processor())
    except (OSError, subprocess.SubprocessError):
        model = platform.processor() or platform.machine()
    return {"cpu": model, "cores": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def train_generator(name: str, settings: dict, steps: int, out: Path, dry_run: bool) -> dict:
    """A class-conditional generator of `name` trained on the classifier test's training split only."""
    train, held_out = training_split(name, settings["resolution"], settings["channels"])
    extra = dict(sample_every=steps, checkpoint_every=steps, log_every=max(1, steps // 20)) if dry_run else {}
    config = TrainConfig.for_dataset(name, conditional=True, steps=steps, resolution=settings["resolution"],
                                     channels=settings["channels"], out_dir=str(out / f"{name}-run"), **extra)
    trainer = Trainer(config, dataset=train)
    start, cpu_start, loads, event = time.perf_counter(), time.process_time(), [load_average()], None
    for event in trainer.run():
        if event.checkpoint or event.status != "running":
            print(f"  {name}: {event.status_line()}", flush=True)
            loads.append(load_average())
    if event is None or event.status != "finished":
        raise RuntimeError(f"the {name} generator did not finish: {event.message if event else 'no step'}")
    run = Path(config.out_dir).resolve()
    return {"run": str(run.relative_to(ROOT) if run.is_relative_to(ROOT) else run), "train_pictures": len(train), "held_out_pictures": len(held_out),
            "recipe": {k: config.to_dict()[k] for k in ("arch", "resolution", "channels", "width", "latent_dim",
                                                        "batch_size", "loss", "lr_g", "augment", "steps")},
            "seconds": round(time.perf_counter() - start, 1), "cpu_seconds": round(time.process_time() - cpu_start, 1),
            "load_average": loads, "train": train}


def save_grid(source, train, path: Path) -> None:
    """One row per class: GRID_GENERATED generated pictures, a black cell, GRID_REAL real training pictures."""
    rows = []
    for c in range(source.num_classes):
        made = generated_pictures(source.generator, c, GRID_GENERATED, seed=0)
        real = train.samples[train.labels == c][:GRID_REAL]
        gap = torch.zeros_like(made[:1])
        rows.append(torch.cat([made, gap, real]))
    pictures = torch.cat(rows).float().div(127.5).sub(1.0)
    image_grid(pictures, min_cell=32, columns=GRID_GENERATED + 1 + GRID_REAL, padding=1).save(path)


def table(results: dict) -> list[str]:
    lines = ["| set | classifier trained on | K | held-out accuracy | balanced accuracy |", "|---|---|---|---|---|"]
    for name, result in results.items():
        tests = result["tests"]
        first = tests[0]
        lines.append(f"| {name} | always the largest class / chance | - | {100 * first['majority']:.1f}% | "
                     f"{100 * first['chance']:.1f}% |")
        for condition in CONDITIONS:
            rows = [first] if condition in ("real", "generated") else tests  # (a) and (b) do not depend on K
            for test in rows:
                k = "-" if condition in ("real", "generated") else str(test["few_per_class"])
                lines.append(f"| {name} | {LABELS[condition]} | {k} | {100 * test['mean'][condition]:.1f}% ± "
                             f"{100 * test['spread'][condition]:.1f} | {100 * test['balanced_mean'][condition]:.1f}% ± "
                             f"{100 * test['balanced_spread'][condition]:.1f} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--steps", type=int, default=0, help="the generators' training steps (0: each set's own)")
    parser.add_argument("--emoji-resolution", type=int, default=0, choices=(0, 16, 32, 64),
                        help="the emoji generator's size (0: 16 px)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the classifier test (default 5)")
    parser.add_argument("--classifier-steps", type=int, default=300, help="the classifier's training steps")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "augmentation"))
    parser.add_argument("--dry-run", action="store_true", help="a few steps of everything, into a temporary folder "
                                                                "unless --out is given")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out_given = "--out" in (argv if argv is not None else sys.argv[1:])
    out = Path(tempfile.mkdtemp(prefix="augmentation-")) if args.dry_run and not out_given else Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # The run folders (checkpoints, megabytes) stay out of the results: a new folder under runs/ each time.
    runs_parent = out if args.dry_run else ROOT / "runs"
    runs_parent.mkdir(parents=True, exist_ok=True)
    runs = Path(tempfile.mkdtemp(prefix="augmentation-", dir=runs_parent))
    seeds = DRY_RUN["seeds"] if args.dry_run else args.seeds
    classifier_steps = DRY_RUN["classifier_steps"] if args.dry_run else args.classifier_steps
    settings_shared = {"dry_run": args.dry_run, "machine": machine(), "test_fraction": TEST_FRACTION, "seeds": seeds,
                       "classifier_steps": classifier_steps}
    print(f"{settings_shared['machine']['cpu']}, {settings_shared['machine']['threads']} torch thread(s), "
          f"load {load_average()}")
    for name in args.sets:
        settings = SETS[name]
        if name == "emoji" and args.emoji_resolution:
            settings = dict(settings, resolution=args.emoji_resolution)
        if args.dry_run:
            settings = dict(settings, resolution=DRY_RUN["resolution"].get(name, settings["resolution"]),
                            few=settings["few"][:1])
        steps = DRY_RUN["steps"] if args.dry_run else args.steps or settings["steps"]
        print(f"{name}: training a class-conditional generator on the training split, {steps} steps", flush=True)
        trained = train_generator(name, settings, steps, runs, args.dry_run)
        train = trained.pop("train")
        source = load_conditional(ROOT / trained["run"])
        grid = out / f"{name}-grid.png"
        save_grid(source, train, grid)
        tests = []
        for few in settings["few"]:
            start = time.perf_counter()
            result = classifier_test(source, name, few_per_class=few, seeds=seeds, steps=classifier_steps,
                                     generated_per_class=DRY_RUN["generated_per_class"] if args.dry_run else None)
            print("\n".join(result.lines()), flush=True)
            tests.append({**result.as_dict(), "seconds": round(time.perf_counter() - start, 1),
                          "load_average": load_average()})
        # The split the generator trained on is the one the test trained its real classifiers on.
        assert tests[0]["train_count"] == trained["train_pictures"], "the generator's split is not the test's"
        report = {**settings_shared, "set": name, **trained, "grid": grid.name, "tests": tests}
        (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    reports = {name: json.loads((out / f"{name}.json").read_text()) for name in SETS if (out / f"{name}.json").exists()}
    lines = table(reports)
    (out / "augmentation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {', '.join(f'{name}.json' for name in args.sets)} and augmentation.md in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
