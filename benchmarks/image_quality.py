"""Picture quality against training minutes: the DCGAN preset against the new default recipe,
side by side on the built-in emoji set (3,781 Noto Emoji pictures).

    python benchmarks/image_quality.py --resolution 32 --minutes 15
    python benchmarks/image_quality.py --resolution 64 --minutes 30 --keep-generator checkpoints/emoji

Both recipes train AT THE SAME TIME, one process each with one torch thread (on a 2-core
CPU each gets a core), so they see the same machine and the same other load; pass
--sequential to run them one after the other with all threads instead. Each process samples
the EMA generator's fixed latents at regular marks of its training time; afterwards those
samples are scored (gan_space.scores: Fréchet distance and KID in the random-network
features, next to what held-out real pictures score) and each recipe's last grid is saved.
Prints a markdown table for benchmarks/RESULTS.md.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RECIPES = {
    "default": {},  # what a user gets with nothing set
    "dcgan": {"arch": "dcgan"},  # the 2015 recipe, still a choice
}
NUM_SAMPLES = 1000

CHILD = r"""
import json, sys, time
import numpy as np
import torch
from gan_space.sampling import preview_image, sample_latents, to_uint8
from gan_space.training import TrainConfig, Trainer

out, resolution, minutes, marks, threads = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
overrides = json.loads(sys.argv[6])
torch.set_num_threads(threads)
config = TrainConfig.for_dataset("emoji", resolution=resolution, channels=3, minutes=minutes, out_dir=out + "/run",
                                 **overrides)
trainer = Trainer(config)
latents = sample_latents(1000, config.latent_dim, seed=123_456)
next_mark, mark = minutes * 60 / marks, 0

def snapshot(event):
    samples = trainer.sample(latents)
    np.save(f"{out}/samples-{mark:02d}.npy", to_uint8(samples))
    preview_image(samples[:64]).save(f"{out}/grid-{mark:02d}.png")
    print(json.dumps({"mark": mark, "step": event.step, "elapsed": event.elapsed_seconds,
                      "images_per_second": event.images_per_second, "arch": config.arch}), flush=True)

for event in trainer.run():
    if event.elapsed_seconds >= next_mark or event.status != "running":
        mark += 1
        snapshot(event)
        next_mark += minutes * 60 / marks
        if event.status != "running":
            break
print(json.dumps({"done": event.status, "step": event.step, "elapsed": event.elapsed_seconds,
                  "settings": {k: getattr(config, k) for k in ("arch", "width", "batch_size", "loss", "r1_gamma",
                               "augment", "lr_g", "lr_d", "beta1", "ema_decay")}}), flush=True)
"""


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--marks", type=int, default=5, help="score the samples at this many points of the run")
    parser.add_argument("--sequential", action="store_true", help="one recipe after the other, all threads each")
    parser.add_argument("--out", default=None, help="folder for the runs, samples and grids")
    parser.add_argument("--keep-generator", default=None,
                        help="copy the default recipe's final generator (EMA) into this folder")
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES),
                        help="train only these recipes (default: both)")
    args = parser.parse_args()
    out = Path(args.out or REPO / "benchmarks" / "results" / f"image-quality-{args.resolution}px")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    threads = os.cpu_count() if args.sequential else 1

    def start(name):
        folder = out / name
        folder.mkdir()
        return subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(args.resolution), str(args.minutes),
                                 str(args.marks), str(threads), json.dumps(RECIPES[name])], env=env, cwd=REPO,
                                stdout=subprocess.PIPE, text=True)

    records = {}
    began = time.time()
    if args.sequential:
        for name in args.recipes:
            records[name] = [json.loads(line) for line in start(name).stdout]
    else:
        children = {name: start(name) for name in args.recipes}
        for name, child in children.items():
            records[name] = [json.loads(line) for line in child.stdout]
            child.wait()
    print(f"trained in {time.time() - began:.0f} s wall")

    from gan_space.data import load_dataset
    from gan_space.scores import ImageReference
    import numpy as np

    real = load_dataset("emoji", args.resolution, 3).samples
    reference = ImageReference.of(real, NUM_SAMPLES)
    rows = {}
    for name, lines in records.items():
        for line in lines:
            if "mark" in line:
                samples = np.load(out / name / f"samples-{line['mark']:02d}.npy")  # uint8 (N, H, W, C)
                import torch

                score = reference.score(torch.from_numpy(samples).permute(0, 3, 1, 2).contiguous())
                rows.setdefault(line["mark"], {})[name] = (line, score)
    load = os.getloadavg()
    print(f"\n{cpu_name()}, {os.cpu_count()} cores; {'sequential, all threads' if args.sequential else 'concurrent, one thread each'}; "
          f"emoji at {args.resolution} px, {args.minutes:g} minutes each; load average now {load[0]:.1f}")
    print(f"real held-out pictures ({reference.num_held_out}): FD {reference.real_frechet_distance:.3f}, "
          f"KID {reference.real_kid:.4f} ({reference.statistics.description})\n")
    names = list(args.recipes)
    header = "| minutes | " + " | ".join(f"{n}: step, FD, KID" for n in names) + " | FD ratio default/dcgan |"
    print(header)
    print("|" + "---|" * (len(names) + 2))
    for mark in sorted(rows):
        cells, fds = [], {}
        for name in names:
            if name in rows[mark]:
                line, score = rows[mark][name]
                fds[name] = score["frechet_distance"]
                cells.append(f"{line['step']:,}, {score['frechet_distance']:.3f}, {score['kid']:.4f}")
            else:
                cells.append("")
        ratio = f"{fds['default'] / fds['dcgan']:.2f}" if {"default", "dcgan"} <= set(fds) else ""
        minutes = max(rows[mark][n][0]["elapsed"] for n in rows[mark]) / 60
        print(f"| {minutes:.1f} | " + " | ".join(cells) + f" | {ratio} |")
    for name, lines in records.items():
        done = lines[-1]
        speed = [l["images_per_second"] for l in lines if "images_per_second" in l]
        print(f"\n{name}: {done.get('done')} at step {done.get('step')}, {done.get('settings')}; "
              f"{speed[-1]:,.0f} img/s at the end; last grid {out / name / f'grid-{args.marks:02d}.png'}")
    if args.keep_generator:
        from gan_space.checkpoints import generator_folder

        target = Path(args.keep_generator)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(generator_folder(out / "default" / "run"), target)
        print(f"kept the default recipe's generator in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
