"""Training speed: the project's Trainer against a plain fp32 eager loop of the same
networks, side by side in one process.

    plain     the loop everyone starts from, written out below: fp32, eager, contiguous
              tensors, torch.optim.Adam with its defaults (lr 2e-4, betas 0.5/0.999),
              BCEWithLogitsLoss, batch 64, the D-step fakes reused for the G step (as in
              PyTorch's DCGAN example)
    trainer   gan_space.training.Trainer with the "images" preset (DCGAN, width 64, latent
              100, batch 64, EMA generator, flip augmentation) and its automatic device and
              precision choice: the same networks, the same batch, more work per step

Both train the same DCGANGenerator / DCGANDiscriminator on scikit-learn's digits, scaled up
to the resolution and copied to RGB, from tensors in memory, on the device the trainer picks
(a GPU when there is one). Each round runs a few steps of each (the order alternates from
round to round); warm-up steps are not timed; the table gives the median speeds and the
median of the per-round ratios (the two measured under the same machine load), by the wall
clock and by this process's CPU time (which stands still while other processes use the
cores: on a shared machine, run with --threads 1 and read both).

--compile adds the trainer with compile=True (compiled during the warm-up); --layers adds a
table of each convolution alone, fp32 vs bf16, with its arithmetic: what limits the ratio.

Then what the app adds, on vs off: the app's training job (gan_space.ui.jobs.TrainingJob,
which draws the fixed latents at most once a second and measures the samples for the Train
tab's diagnostics at most every 5 s, each at most 1/50 of the time) around the same Trainer,
whole runs timed from start to end, in alternating order. stream_overhead.py measures the
previews through the running web app. `--resolutions` with no value measures this alone.

    python benchmarks/train_throughput.py [--resolutions 32 64] [--rounds 5] [--steps 2]
        [--threads N] [--preview-rounds 2] [--preview-steps 100] [--skip-previews]
        [--compile] [--layers]

The last line holds the figures: the ratios at each resolution and the preview cost.
"""

import argparse
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
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from gan_space.data import load_digits  # noqa: E402
from gan_space.models import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from gan_space.training import TrainConfig, Trainer  # noqa: E402

BATCH, WIDTH, LATENT = 64, 64, 100
# The 2015 DCGAN recipe these figures were first measured with (spelled out: the images
# preset has since moved to a newer recipe).
DCGAN_RECIPE = dict(arch="dcgan", width=WIDTH, latent_dim=LATENT, batch_size=BATCH, lr_g=2e-4, lr_d=2e-4, beta1=0.5,
                    beta2=0.999, r1_gamma=0.0, ema_decay=0.999, lr_decay_fraction=0.0, augment="flip",
                    checkpoint_minutes=0)


class PlainLoop:
    """The reference: a plain fp32 eager DCGAN loop, nothing tuned."""

    def __init__(self, images: torch.Tensor, resolution: int, device: torch.device, seed: int = 0):
        torch.manual_seed(seed)
        self.device = device
        self.images = images.contiguous().to(device)
        self.G = DCGANGenerator(resolution=resolution, channels=3, latent_dim=LATENT, width=WIDTH).to(device)
        self.D = DCGANDiscriminator(resolution=resolution, channels=3, width=WIDTH).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.criterion = nn.BCEWithLogitsLoss()
        self.ones, self.zeros = torch.ones(BATCH, device=device), torch.zeros(BATCH, device=device)

    def step(self) -> None:
        real = self.images[torch.randint(len(self.images), (BATCH,), device=self.device)]
        # Discriminator: real -> 1, fake -> 0.
        self.D.zero_grad()
        loss_real = self.criterion(self.D(real), self.ones)
        loss_real.backward()
        fake = self.G(torch.randn(BATCH, LATENT, device=self.device))
        loss_fake = self.criterion(self.D(fake.detach()), self.zeros)
        loss_fake.backward()
        self.opt_d.step()
        # Generator: the same fakes, judged by the updated D, should look real.
        self.G.zero_grad()
        loss_g = self.criterion(self.D(fake), self.ones)
        loss_g.backward()
        self.opt_g.step()

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()


class TrainerChunks:
    """The project's Trainer, driven `steps` steps at a time through its own event loop."""

    def __init__(self, resolution: int, steps: int, out_dir: str, **overrides):
        values = {**DCGAN_RECIPE, "dataset": "digits", "resolution": resolution, "channels": 3,
                  "out_dir": out_dir, "steps": 10_000_000, "log_every": steps, "sample_every": 10_000_000,
                  "checkpoint_every": 10_000_000, **overrides}
        assert values["batch_size"] == BATCH and values["width"] == WIDTH and values["latent_dim"] == LATENT
        self.trainer = Trainer(TrainConfig(**values))
        self.device = self.trainer.device
        self.events = self.trainer.run()

    def run(self, steps: int) -> None:
        event = next(self.events)  # one event per `steps` steps (log_every)
        assert event.status == "running", event.message


def step_gflops_per_image(resolution: int, freeze_d_in_g_step: bool) -> float:
    """Arithmetic of one training step per image (convolutions and matmuls, forward and
    backward): what either loop must compute at the very least."""
    G = DCGANGenerator(resolution=resolution, channels=3, latent_dim=LATENT, width=WIDTH)
    D = DCGANDiscriminator(resolution=resolution, channels=3, width=WIDTH)
    bce = nn.BCEWithLogitsLoss()
    real, z = torch.randn(BATCH, 3, resolution, resolution), torch.randn(BATCH, LATENT)
    with FlopCounterMode(display=False) as counter:
        fake = G(z)
        (bce(D(real), torch.ones(BATCH)) + bce(D(fake.detach()), torch.zeros(BATCH))).backward()
        D.requires_grad_(not freeze_d_in_g_step)
        bce(D(fake), torch.ones(BATCH)).backward()
    return counter.get_total_flops() / BATCH / 1e9


def matmul_ceiling_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """The best a large matmul reaches on this machine in `dtype`, by CPU time (what the cores
    do while they run it, however busy the machine)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        a @ b
        best = min(best, time.process_time() - start)
    return 2 * n**3 / best / 1e9 * torch.get_num_threads()  # CPU time counts every thread


def interleaved(contenders: dict, steps: int, rounds: int, warmup_steps: int) -> tuple[dict, dict]:
    """img/s of each contender per round, by the wall clock and by this process's CPU time;
    the order alternates to cancel drifts in load."""
    for contender in contenders.values():
        contender.run(warmup_steps)
    wall, cpu = {name: [] for name in contenders}, {name: [] for name in contenders}
    names = list(contenders)
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            start, start_cpu = time.perf_counter(), time.process_time()
            contenders[name].run(steps)
            if contenders[name].device.type == "cuda":
                torch.cuda.synchronize()  # the GPU's queue must be done before the clock stops
            wall[name].append(steps * BATCH / (time.perf_counter() - start))
            cpu[name].append(steps * BATCH / (time.process_time() - start_cpu))
        print(f"  round {round_index + 1}: " + ", ".join(f"{n} {v[-1]:.1f}" for n, v in wall.items()) + " img/s",
              flush=True)
    return wall, cpu


def per_round_ratio(speeds: dict, a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(speeds[a], speeds[b]))


def layer_table(resolution: int, rounds: int) -> None:
    """Each convolution of the two networks alone, forward and backward, fp32 contiguous vs
    bf16 autocast channels_last: where the time goes and what bf16 buys layer by layer."""
    G = DCGANGenerator(resolution=resolution, channels=3, latent_dim=LATENT, width=WIDTH)
    D = DCGANDiscriminator(resolution=resolution, channels=3, width=WIDTH)
    inputs = {}
    hooks = [module.register_forward_hook(lambda m, args, out, name=f"{prefix}.{name}": inputs.setdefault(
                 name, (m, args[0].shape)) and None)
             for prefix, net in (("G", G), ("D", D)) for name, module in net.named_modules()
             if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        D(G(torch.randn(BATCH, LATENT)))
    for hook in hooks:
        hook.remove()

    def forward_backward(module, shape, fast):
        memory_format = torch.channels_last if fast else torch.contiguous_format
        module = module.to(memory_format=memory_format)
        x = torch.randn(shape).contiguous(memory_format=memory_format).requires_grad_(True)

        def run():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
                y = module(x)
            y.backward(torch.ones_like(y))
        return run

    print(f"\n{resolution}x{resolution}, each convolution forward + backward (weights and input), batch {BATCH}, "
          f"median of {rounds}:")
    print(f"  {'layer':16s} {'input':>20s} {'GFLOP':>6s} {'fp32 ms':>8s} {'GFLOP/s':>8s} {'bf16 ms':>8s} "
          f"{'GFLOP/s':>8s} {'ratio':>6s}   (CPU time)")
    totals = [0.0, 0.0, 0.0]
    for name, (module, shape) in inputs.items():
        with FlopCounterMode(display=False) as counter:
            forward_backward(module, shape, False)()
        flops = counter.get_total_flops() / 1e9
        runs = {"fp32": forward_backward(module, shape, False), "bf16": forward_backward(module, shape, True)}
        times = {key: [] for key in runs}
        for _ in range(rounds + 1):  # the first is a warm-up
            for key, run in runs.items():
                start = time.process_time()  # CPU time: other processes' turns on the core do not count
                run()
                times[key].append(time.process_time() - start)
        slow, fast = (statistics.median(values[1:]) for values in times.values())
        totals = [totals[0] + flops, totals[1] + slow, totals[2] + fast]
        print(f"  {name:16s} {'x'.join(map(str, shape)):>20s} {flops:6.2f} {1000 * slow:8.1f} {flops / slow:8.1f} "
              f"{1000 * fast:8.1f} {flops / fast:8.1f} {slow / fast:6.2f}")
    flops, slow, fast = totals
    print(f"  {'all':16s} {'':>20s} {flops:6.1f} {1000 * slow:8.0f} {flops / slow:8.1f} {1000 * fast:8.0f} "
          f"{flops / fast:8.1f} {slow / fast:6.2f}")


def throughput(resolution: int, args, runs_dir: Path) -> tuple[float, float]:
    images = load_digits(resolution, 3).normalised()
    trainer = TrainerChunks(resolution, args.steps, str(runs_dir / f"throughput-{resolution}"))
    t = trainer.trainer
    plain = PlainLoop(images, resolution, t.device)  # on the device the trainer picked (CUDA, MPS, CPU)
    print(f"\n{resolution}x{resolution}: trainer on {t.device} in {t.precision}, "
          f"{'channels_last' if t.networks.memory_format == torch.channels_last else 'contiguous'}; "
          f"{args.rounds} rounds of {args.steps} steps each")
    contenders = {"plain": plain, "trainer": trainer}
    if args.compile:  # compiled in the warm-up steps, which are not timed
        contenders["compiled"] = TrainerChunks(resolution, args.steps, str(runs_dir / f"compiled-{resolution}"),
                                               compile=True)
    speeds, cpu_speeds = interleaved(contenders, args.steps, args.rounds, args.warmup)
    ratio = per_round_ratio(speeds, "trainer", "plain")
    trainer_flops = step_gflops_per_image(resolution, True)
    flops = {"plain": step_gflops_per_image(resolution, False), "trainer": trainer_flops, "compiled": trainer_flops}
    print(f"  {'':8s} {'img/s':>8s} {'GFLOP/img':>10s} {'GFLOP/s':>8s} {'img/CPU-s':>10s}")
    for name, values in speeds.items():
        median = statistics.median(values)
        print(f"  {name:8s} {median:8.1f} {flops[name]:10.2f} {median * flops[name]:8.1f} "
              f"{statistics.median(cpu_speeds[name]):10.1f}")
    print(f"  trainer / plain: {ratio:.2f}x (median of per-round ratios; "
          f"ratio of medians {statistics.median(speeds['trainer']) / statistics.median(speeds['plain']):.2f}x)")
    # CPU time stands still while other processes hold the cores, so with one torch thread,
    # images per CPU-second are close to what a core of its own would give.
    cpu_ratio = per_round_ratio(cpu_speeds, "trainer", "plain")
    print(f"  trainer / plain by CPU time: {cpu_ratio:.2f}x (median of per-round ratios)")
    if args.compile:
        print(f"  compiled / plain: {per_round_ratio(speeds, 'compiled', 'plain'):.2f}x, "
              f"compiled / trainer: {per_round_ratio(speeds, 'compiled', 'trainer'):.2f}x")
    if args.layers:
        layer_table(resolution, args.rounds)
    return ratio, cpu_ratio


def preview_overhead(args, runs_dir: Path) -> tuple[float, float]:
    """The speed lost with live previews on (from the two speeds by CPU time), and the share
    of the run spent inside live previews (timed around each)."""
    from gan_space.ui.jobs import DIAGNOSTICS_SECONDS, TrainingJob

    resolution = 32
    print(f"\nlive previews and sample measurements on vs off: the app's TrainingJob around the Trainer at {resolution}x{resolution}, "
          f"{args.preview_steps} steps a run, {args.preview_rounds} rounds")

    def one_run(name: str, live_preview_seconds) -> tuple[float, float, list[float], float]:
        values = {**DCGAN_RECIPE, "dataset": "digits", "resolution": resolution, "channels": 3,
                  "out_dir": str(runs_dir / name), "steps": args.preview_steps, "log_every": 5}
        trainer = Trainer(TrainConfig(**values))  # built outside the timing, as the app does before it starts
        preview_seconds = []
        draw = trainer.preview

        def timed_preview():  # every preview of the run: the job's live ones and the trainer's own
            begin = time.perf_counter()
            result = draw()
            preview_seconds.append(time.perf_counter() - begin)
            return result

        trainer.preview = timed_preview
        # "on" is what the app does: live previews and the sample measurements (diagnostics);
        # "off" neither.
        job = TrainingJob(trainer, name, live_preview_seconds=live_preview_seconds,
                          diagnostics_seconds=DIAGNOSTICS_SECONDS if live_preview_seconds else None)
        start, start_cpu = time.perf_counter(), time.process_time()
        job.start().wait()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
        snapshot = job.snapshot()
        assert snapshot.error is None and snapshot.event.status == "finished", snapshot.error
        measuring = job._measurement_seconds  # the job's own account of its sample measurements
        print(f"    {name}: {seconds:.1f}s ({cpu_seconds:.1f} CPU-s), {len(preview_seconds)} previews of "
              f"{' '.join(f'{x:.2f}' for x in preview_seconds)}s, {len(snapshot.quality)} measurements "
              f"({measuring:.2f}s)", flush=True)
        images = args.preview_steps * BATCH
        return images / seconds, images / cpu_seconds, preview_seconds + [measuring], seconds

    one_run("warm-up", 1.0)
    speeds, cpu_speeds, shares = {"on": [], "off": []}, {"on": [], "off": []}, {"on": [], "off": []}
    for round_index in range(args.preview_rounds):
        for mode in ("on", "off") if round_index % 2 == 0 else ("off", "on"):
            speed, cpu_speed, preview_seconds, seconds = one_run(f"previews-{mode}-{round_index}",
                                                                 1.0 if mode == "on" else None)
            speeds[mode].append(speed)
            cpu_speeds[mode].append(cpu_speed)
            shares[mode].append(sum(preview_seconds) / seconds)
    measured = 1 - per_round_ratio(speeds, "on", "off")
    measured_cpu = 1 - per_round_ratio(cpu_speeds, "on", "off")
    # The difference of two noisy speeds is a blunt measure of a few percent; the time spent
    # inside the previews themselves is exact, so it is reported beside it.
    accounted = statistics.median(shares["on"]) - statistics.median(shares["off"])
    print(f"  previews off {statistics.median(speeds['off']):.1f} img/s, on {statistics.median(speeds['on']):.1f} img/s"
          f" (medians); speed lost with previews on: {100 * measured:.1f}% (median of per-round ratios), "
          f"by CPU time {100 * measured_cpu:.1f}%")
    print(f"  time inside previews and measurements: {100 * statistics.median(shares['on']):.1f}% of a run with "
          f"them on, "
          f"{100 * statistics.median(shares['off']):.1f}% without (the trainer's own final preview): "
          f"previews and measurements cost {100 * accounted:.1f}%")
    return measured_cpu, accounted


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", type=int, nargs="*", default=[32, 64],
                        help="give none to measure the live previews alone")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2, help="steps of each loop per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps of each loop first")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--preview-rounds", type=int, default=2)
    parser.add_argument("--preview-steps", type=int, default=100)
    parser.add_argument("--skip-previews", action="store_true")
    parser.add_argument("--compile", action="store_true", help="also the trainer with compile=True")
    parser.add_argument("--layers", action="store_true", help="also each convolution alone, fp32 vs bf16")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    runs_dir = Path(tempfile.mkdtemp(prefix="gan_space-throughput-"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"matmul ceiling now: fp32 {matmul_ceiling_gflops(torch.float32):.0f} GFLOP/s, "
          f"bf16 {matmul_ceiling_gflops(torch.bfloat16):.0f} GFLOP/s")
    ratios = {resolution: throughput(resolution, args, runs_dir) for resolution in args.resolutions}
    costs = None if args.skip_previews else preview_overhead(args, runs_dir)
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"{time.perf_counter() - started:.0f}s in all")
    figures = [f"trainer/plain {wall:.2f}x at {res}px (by CPU time {cpu:.2f}x)" for res, (wall, cpu) in ratios.items()]
    if costs is not None:
        figures.append(f"live previews and sample measurements cost {100 * costs[1]:.1f}% of the run (CPU-time speeds on vs off: "
                       f"{100 * costs[0]:.1f}%)")
    print("; ".join(figures))


if __name__ == "__main__":
    main()
