"""What does watching training in the app cost? Training speed (images/s) of the same
digits run three ways, in one process, in interleaved rounds (medians):

    library       Trainer(config).run() consumed directly: no app, no live previews
    app, off      through the running app, live previews off (status and curves still
                  stream); the client (gradio_client, standing in for the browser) runs in
                  its own process and downloads everything it is sent
    app, on       the same with live previews (the app's default: a grid about once a second)

The order of the modes rotates from round to round, and the ratios are taken within a
round (the same machine load), then their median. Speed is the run's own clock: steps x batch size / the run's wall-clock training time
(saved with its checkpoint), so time spent drawing previews or waiting on the page counts.

    python benchmarks/stream_overhead.py [--steps 1500] [--rounds 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from gan_space.checkpoints import latest_checkpoint  # noqa: E402
from gan_space.training import Trainer, TrainConfig  # noqa: E402
from gan_space.ui import build_demo  # noqa: E402
from gan_space.ui.train_tab import LOG_EVERY  # noqa: E402


def images_per_second(run_dir: Path) -> float:
    state = json.loads((latest_checkpoint(run_dir) / "state.json").read_text())
    return state["summary"]["step"] * state["train_config"]["batch_size"] / state["summary"]["training_seconds"]


def process_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def run_library(runs_dir: Path, name: str, steps: int, batch_size: int) -> float:
    config = TrainConfig.for_dataset("digits", out_dir=str(runs_dir / name), steps=steps, batch_size=batch_size,
                                     log_every=LOG_EVERY)
    for _ in Trainer(config).run():
        pass
    return images_per_second(runs_dir / name)


# The page's side runs in its own process, as a browser would: it receives every update
# and downloads every grid, so the app process pays for serving them.
CLIENT = """
import sys
from gradio_client import Client
url, name, steps, batch_size, live, downloads = sys.argv[1:]
client = Client(url, verbose=False, analytics_enabled=False, download_files=downloads)
updates = sum(1 for _ in client.submit(dataset="digits", run_name=name, steps=int(steps), batch_size=int(batch_size),
                                       live_preview=live == "on", api_name="/train"))
print(updates)
"""


def run_app(url: str, runs_dir: Path, name: str, steps: int, batch_size: int, live_preview: bool) -> tuple[float, int]:
    result = subprocess.run([sys.executable, "-c", CLIENT, url, name, str(steps), str(batch_size),
                             "on" if live_preview else "off", str(runs_dir / "downloads")],
                            capture_output=True, text=True, check=True)
    return images_per_second(runs_dir / name), int(result.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=7870)
    args = parser.parse_args()
    runs_dir = Path(tempfile.mkdtemp(prefix="gan_space-bench-runs-"))
    demo = build_demo(checkpoints_dir="checkpoints", runs_dir=runs_dir)
    demo.queue()
    demo.launch(server_name="127.0.0.1", server_port=args.port, prevent_thread_lock=True, ssr_mode=False, quiet=True)
    url = f"http://127.0.0.1:{args.port}/"
    print(f"digits, {args.steps} steps, batch {args.batch_size}, {torch.get_num_threads()} torch threads, "
          f"{args.rounds} interleaved rounds")
    modes = ("library", "app, off", "app, on")
    speeds = {mode: [] for mode in modes}
    updates = {mode: [] for mode in modes[1:]}
    run_app(url, runs_dir, "warm-up", 50, args.batch_size, True)  # first-call imports and caches
    cpu_per_image = {mode: [] for mode in modes}
    for round_index in range(args.rounds):
        # Rotate the order so that no mode always runs first in a round.
        for mode in modes[round_index % 3:] + modes[:round_index % 3]:
            name = f"{mode.replace(', ', '-')}-{round_index}"
            cpu_before = process_cpu_seconds()
            if mode == "library":
                speeds[mode].append(run_library(runs_dir, name, args.steps, args.batch_size))
            else:
                speed, count = run_app(url, runs_dir, name, args.steps, args.batch_size, mode == "app, on")
                speeds[mode].append(speed)
                updates[mode].append(count)
            cpu_per_image[mode].append((process_cpu_seconds() - cpu_before) / (args.steps * args.batch_size))
        print(f"round {round_index + 1}: " + ", ".join(f"{m} {v[-1]:,.0f} img/s" for m, v in speeds.items()),
              flush=True)
    demo.close()

    print()
    for mode, values in speeds.items():
        extra = f" ({statistics.median(updates[mode]):.0f} page updates per run)" if mode in updates else ""
        print(f"{mode:9s} {statistics.median(values):8,.0f} img/s (median){extra}")
    # Ratios within each round (same machine load), then their median.
    on_off = statistics.median(on / off for on, off in zip(speeds["app, on"], speeds["app, off"]))
    on_library = statistics.median(on / lib for on, lib in zip(speeds["app, on"], speeds["library"]))
    print(f"previews on / off (median of per-round ratios):  {on_off:.3f}")
    print(f"app with previews / library (same):              {on_library:.3f}")
    # CPU time of this process (trainer, app and server threads; not the client's), which
    # other processes on the machine disturb less than wall-clock speed.
    print()
    for mode, values in cpu_per_image.items():
        print(f"{mode:9s} {1e6 * statistics.median(values):8.1f} CPU-ms per 1,000 images (median)")
    cpu_on_off = statistics.median(on / off for on, off in zip(cpu_per_image["app, on"], cpu_per_image["app, off"]))
    cpu_on_library = statistics.median(on / lib for on, lib in zip(cpu_per_image["app, on"], cpu_per_image["library"]))
    print(f"CPU per image, previews on / off: {cpu_on_off:.3f}; app with previews / library: {cpu_on_library:.3f}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f}s)")
