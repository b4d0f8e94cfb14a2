"""Kills a training run over and over and checks that nothing is lost (used by tests/test_crashes.py).

    python tests/crash_worker.py OUT_DIR --random 20 --targeted --disk-full --seed 0

One process imports torch and gan_space once, then forks a child per trial. The child resumes
the run in OUT_DIR (or starts it), says from which step, and trains; the parent kills it with
SIGKILL, then checks that the newest checkpoint loads, is complete, and never went back. The
next trial's child resumes from it, and must start exactly at its step.

  --random N     kill after a random delay (seeded): most land inside a checkpoint write, since
                 these tiny networks checkpoint every 1-3 steps and a step takes milliseconds
  --targeted     kill at each named moment inside `save_checkpoint` (the child pauses there)
  --disk-full    limit the size of any file the child writes (RLIMIT_FSIZE): the checkpoint
                 write fails partway through a file, as on a full disk

Prints one JSON object per trial, then a summary line {"summary": ...}.
"""

import argparse
import json
import os
import random
import resource
import select
import signal
import sys
import time
from pathlib import Path

import torch

torch.set_num_threads(1)  # no thread pool before fork(); the children train on one thread each

from gan_space import checkpoints  # noqa: E402
from gan_space.checkpoints import latest_checkpoint, load_generator  # noqa: E402
from gan_space.data import load_dataset  # noqa: E402
from gan_space.sampling import generate  # noqa: E402
from gan_space.training import TrainConfig, Trainer  # noqa: E402

DIGITS = load_dataset("digits", resolution=8, channels=1)  # read once, shared with every child
TARGETS = ("before-weights", "before-state", "before-rename", "before-pointer", "mid-discard")


def config(out_dir: str) -> TrainConfig:
    return TrainConfig.for_dataset("digits", out_dir=out_dir, steps=1_000_000, width=16, latent_dim=8,
                                   batch_size=16, num_preview=4, log_every=1, sample_every=1_000_000,
                                   checkpoint_every=2)


def checkpoint_step(out_dir: str) -> int | None:
    latest = latest_checkpoint(out_dir)
    return None if latest is None else json.loads((latest / "state.json").read_text())["step"]


def pause_here(pipe: int) -> None:
    """Tell the parent we are at the chosen moment, then wait for the SIGKILL."""
    os.write(pipe, b"paused\n")
    time.sleep(3600)


def arm_target(target: str, pipe: int, out_dir: str) -> None:
    """Patch `save_checkpoint`'s helpers so that the child pauses at `target` (once a first
    checkpoint exists, so that there is one to lose)."""
    has_one = lambda: (Path(out_dir) / "checkpoints" / "latest").exists()  # noqa: E731
    real_replace, real_save_file, real_rmtree = os.replace, checkpoints.save_file, checkpoints.shutil.rmtree
    real_fsync_tree = checkpoints._fsync_tree

    def replace(src, dst, *args, **kwargs):
        name = Path(dst).name
        if has_one() and ((target == "before-rename" and name.startswith("step-"))
                          or (target == "before-pointer" and name == "latest")):
            pause_here(pipe)
        real_replace(src, dst, *args, **kwargs)

    def save_file(*args, **kwargs):  # the training state: after the three networks
        if target == "before-weights" and has_one():
            pause_here(pipe)
        real_save_file(*args, **kwargs)

    def fsync_tree(folder):  # everything but the rename is written
        if target == "before-state" and has_one():
            pause_here(pipe)
        real_fsync_tree(folder)

    def rmtree(path, *args, **kwargs):  # an old checkpoint renamed out of sight, half deleted
        if target == "mid-discard" and Path(path).name.startswith(".old-"):
            files = sorted(p for p in Path(path).rglob("*") if p.is_file())
            for file in files[: len(files) // 2]:
                file.unlink()
            pause_here(pipe)
        real_rmtree(path, *args, **kwargs)

    os.replace = replace
    checkpoints.save_file = save_file
    checkpoints._fsync_tree = fsync_tree
    checkpoints.shutil.rmtree = rmtree


def limit_checkpoint_files(limit: int) -> None:
    """From the next checkpoint on, no file may grow past `limit` bytes: the write fails partway."""
    real_save = checkpoints.save_checkpoint

    def save_checkpoint(*args, **kwargs):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        return real_save(*args, **kwargs)

    checkpoints.save_checkpoint = save_checkpoint


def child(out_dir: str, pipe: int, checkpoint_every: int, target: str | None, file_limit: int | None) -> None:
    try:
        if checkpoint_step(out_dir) is None:
            trainer = Trainer(config(out_dir), dataset=DIGITS)
        else:
            trainer = Trainer.resume(out_dir, checkpoint_every=checkpoint_every)
        if target:
            arm_target(target, pipe, out_dir)
        if file_limit:
            limit_checkpoint_files(file_limit)
        os.write(pipe, f"start {trainer.step}\n".encode())
        for _ in trainer.run():
            pass
    except BaseException as error:
        os.write(pipe, ("error " + json.dumps(f"{type(error).__name__}: {error}") + "\n").encode())
    finally:
        os._exit(0)


class Lines:
    """Lines from the child's pipe, unbuffered (so that select() sees every one)."""

    def __init__(self, fd: int):
        self.fd, self.buffer = fd, b""

    def next(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self.fd, 4096) if ready else b""
            if not chunk:
                raise TimeoutError(f"the child said nothing more (so far: {self.buffer!r})")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode().strip()


def verify(out_dir: str) -> dict:
    """What a user would do after the crash: load the newest checkpoint and sample it."""
    latest = latest_checkpoint(out_dir)
    if latest is None:
        return {"checkpoint": None}
    state = json.loads((latest / "state.json").read_text())
    assert latest.name == f"step-{state['step']:07d}", (latest.name, state["step"])
    names = sorted(p.name for p in latest.iterdir())
    assert names == ["discriminator", "generator", "generator_raw", "state.json", "training_state.safetensors"], names
    samples = generate(load_generator(out_dir), 4, seed=0)
    assert torch.isfinite(samples).all()
    root = Path(out_dir) / "checkpoints"
    return {"checkpoint": state["step"], "leftovers": sorted(p.name.split("-step")[0] for p in root.glob(".*"))}


def trial(out_dir: str, kind: str, rng: random.Random, target: str | None = None,
          file_limit: int | None = None) -> dict:
    before = checkpoint_step(out_dir)
    read_end, write_end = os.pipe()
    checkpoint_every = rng.choice((1, 2, 3))
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        child(out_dir, write_end, checkpoint_every, target, file_limit)
    os.close(write_end)
    record = {"kind": kind, "target": target, "file_limit": file_limit, "checkpoint_before": before,
              "checkpoint_every": checkpoint_every}
    lines = Lines(read_end)
    try:
        try:
            started = lines.next()
            record["started"] = started
            if started.startswith("start "):
                record["resumed_at"] = int(started.split()[1])
                if kind == "random":
                    delay = rng.uniform(0.0, 0.6)
                    record["delay"] = round(delay, 3)
                    time.sleep(delay)
                else:
                    record["event"] = lines.next()  # "paused", or the error of a full disk
        finally:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            record["killed"] = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    finally:
        os.close(read_end)
    record.update(verify(out_dir))
    return record


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--random", type=int, default=0)
    parser.add_argument("--targeted", action="store_true")
    parser.add_argument("--disk-full", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    plan = [("random", None, None)] * args.random
    if args.targeted:
        plan += [("targeted", target, None) for target in TARGETS]
    if args.disk_full:
        # Sizes that stop the write in the first weights file, and in the (larger) training state.
        plan += [("disk-full", None, limit) for limit in (1_000, 5_000, 12_000, 30_000)]
    records = []
    for kind, target, limit in plan:
        record = trial(args.out_dir, kind, rng, target, limit)
        records.append(record)
        print(json.dumps(record), flush=True)
    # The run goes on from the last checkpoint to a clean finish.
    last = checkpoint_step(args.out_dir)
    trainer = Trainer.resume(args.out_dir, steps=last + 5)
    events = list(trainer.run())
    summary = {"trials": len(records), "resumed_from": last, "first_step_after": events[0].step,
               "final": events[-1].status, "final_step": events[-1].step, "final_checkpoint": verify(args.out_dir)}
    print(json.dumps({"summary": summary}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
