"""What does watching training in the app cost? Training speed (images/s) of the same
digits run three ways, in one process, in interleaved rounds (medians):

    library       Trainer(config).run() consumed directly: no app, no live previews
    app, off      through the running app via gradio_client, live previews off
                  (status and curves still stream)
    app, on       the same with live previews (the app's default: a grid about once a second)

Speed is the run's own clock: steps x batch size / the run's wall-clock training time
(saved with its checkpoint), so time spent drawing previews or waiting on the page counts.

    python benchmarks/stream_overhead.py [--steps 1500] [--rounds 3]
"""

import argparse
import json
import os
import statistics
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
    summary = json.loads((latest_checkpoint(run_dir) / "state.json").read_text())["summary"]
    config = json.loads((latest_checkpoint(run_dir) / "state.json").read_text())["train_config"]
    return summary["step"] * config["batch_size"] / summary["training_seconds"]


def run_library(runs_dir: Path, name: str, steps: int, batch_size: int) -> float:
    config = TrainConfig.for_dataset("digits", out_dir=str(runs_dir / name), steps=steps, batch_size=batch_size,
                                     log_every=LOG_EVERY)
    for _ in Trainer(config).run():
        pass
    return images_per_second(runs_dir / name)


def run_app(client, runs_dir: Path, name: str, steps: int, batch_size: int, live_preview: bool) -> tuple[float, int]:
    updates = 0
    for _ in client.submit(dataset="digits", run_name=name, steps=steps, batch_size=batch_size,
                           live_preview=live_preview, api_name="/train"):
        updates += 1
    return images_per_second(runs_dir / name), updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=7870)
    args = parser.parse_args()

    from gradio_client import Client

    runs_dir = Path(tempfile.mkdtemp(prefix="gan_space-bench-runs-"))
    demo = build_demo(checkpoints_dir="checkpoints", runs_dir=runs_dir)
    demo.queue()
    demo.launch(server_name="127.0.0.1", server_port=args.port, prevent_thread_lock=True, ssr_mode=False, quiet=True)
    client = Client(f"http://127.0.0.1:{args.port}/", verbose=False, analytics_enabled=False,
                    download_files=str(runs_dir / "downloads"))
    print(f"digits, {args.steps} steps, batch {args.batch_size}, {torch.get_num_threads()} torch threads, "
          f"{args.rounds} interleaved rounds")
    speeds = {"library": [], "app, off": [], "app, on": []}
    updates = {"app, off": [], "app, on": []}
    run_app(client, runs_dir, "warm-up", 50, args.batch_size, True)  # first-call imports and caches
    for round_index in range(args.rounds):
        speeds["library"].append(run_library(runs_dir, f"library-{round_index}", args.steps, args.batch_size))
        for mode, live in (("app, off", False), ("app, on", True)):
            speed, count = run_app(client, runs_dir, f"app-{live}-{round_index}", args.steps, args.batch_size, live)
            speeds[mode].append(speed)
            updates[mode].append(count)
        print(f"round {round_index + 1}: " + ", ".join(f"{m} {v[-1]:,.0f} img/s" for m, v in speeds.items()),
              flush=True)
    client.close()
    demo.close()

    median = {mode: statistics.median(values) for mode, values in speeds.items()}
    print()
    for mode, value in median.items():
        extra = f" ({statistics.median(updates[mode]):.0f} page updates per run)" if mode in updates else ""
        print(f"{mode:9s} {value:8,.0f} img/s (median){extra}")
    print(f"previews on / off:      {median['app, on'] / median['app, off']:.3f}")
    print(f"app with previews / library: {median['app, on'] / median['library']:.3f}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f}s)")
