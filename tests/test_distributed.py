"""Two real processes on this CPU (gloo): the trainer under `torchrun` and under
`accelerate launch`, as the README shows them for several GPUs and machines.

(`accelerate launch --cpu --num_processes 2` starts one process on a CPU-only machine;
`--multi_gpu` with ACCELERATE_USE_CPU=1 starts two.)
"""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_space.checkpoints import latest_checkpoint, load_generator
from gan_space.sampling import generate
from gan_space.training import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parent.parent
STEPS = 20


def launch(command: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", ACCELERATE_USE_CPU="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """A conditional digits run trained by two processes; what each rank saw and holds."""
    out = tmp_path_factory.mktemp("two-ranks")
    # --standalone: torchrun picks a free port itself.
    launch([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "tests/distributed_worker.py", str(out), str(STEPS)])
    return out / "run", [json.loads((out / f"rank-{rank}.json").read_text()) for rank in (0, 1)]


def test_ranks_see_different_data_but_hold_identical_networks(two_ranks):
    _, (rank0, rank1) = two_ranks
    assert (rank0["rank"], rank1["rank"], rank0["world_size"]) == (0, 1, 2)
    assert rank0["generator"] == rank1["generator"] and rank0["discriminator"] == rank1["discriminator"]
    assert not set(rank0["batch_digests"]) & set(rank1["batch_digests"])  # each its own batches
    assert rank0["mean_gradient_is_the_full_batch_gradient"] and rank1["mean_gradient_is_the_full_batch_gradient"]
    # The logged means are averaged over the ranks: both report the same numbers.
    assert [e["losses"] for e in rank0["events"]] == [e["losses"] for e in rank1["events"]]
    assert [e["step"] for e in rank0["events"]] == [5, 10, 15, 20] == [e["step"] for e in rank1["events"]]


def test_the_global_batch_is_the_sum_of_the_rank_batches(two_ranks):
    _, ranks = two_ranks
    assert all(r["batch_rows"] == [r["local_batch_size"]] * STEPS for r in ranks)
    assert sum(r["local_batch_size"] for r in ranks) == ranks[0]["batch_size"] == 32
    assert sum(r["shard_rows"] for r in ranks) == 1797 == sum(r["shard_labels"] for r in ranks)  # sharded digits


def test_rank_0_alone_keeps_the_ema_previews_and_checkpoints(two_ranks):
    run, (rank0, rank1) = two_ranks
    assert rank0["has_ema"] and not rank1["has_ema"]
    assert [e["preview"] for e in rank0["events"]] == [False, True, False, True]
    assert not any(e["preview"] or e["checkpoint"] for e in rank1["events"])
    assert rank0["events"][-1]["checkpoint"].endswith("step-0000020") and rank1["events"][-1]["status"] == "finished"
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-0000010.png", "step-0000020.png"]


def test_the_result_loads_samples_and_resumes_in_one_process(two_ranks, tmp_path):
    run, (rank0, _) = two_ranks
    import hashlib

    raw = load_generator(latest_checkpoint(run) / "generator_raw")
    sha = hashlib.sha256()
    for p in raw.parameters():
        sha.update(p.detach().contiguous().numpy().tobytes())
    assert sha.hexdigest() == rank0["generator"]  # what both ranks held is what was saved
    samples = generate(load_generator(run), 10, labels=list(range(10)))
    assert samples.shape == (10, 1, 8, 8) and torch.isfinite(samples).all()

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    trainer = Trainer.resume(str(copy), steps=STEPS + 10)
    assert trainer.dist is None and trainer.step == STEPS and trainer.local_batch_size == 32
    events = list(trainer.run())
    assert [e.step for e in events] == [25, 30] and events[-1].status == "finished"
    assert torch.isfinite(generate(load_generator(copy), 4, labels=1)).all()


def test_cli_under_accelerate_launch_continues_a_single_process_run(tmp_path):
    out = tmp_path / "run"
    config = TrainConfig.for_dataset("digits", out_dir=str(out), arch="dcgan", resolution=8, width=8, batch_size=32,
                                     steps=10, log_every=5, sample_every=10, checkpoint_every=10, device="cpu")
    list(Trainer(config).run())  # one process (this one) ...
    result = launch([  # ... then two, through the CLI, with BatchNorm and channels-last in the generator
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(free_port()),
        "-m", "gan_space", "train", "--resume", "--out", str(out), "--steps", "20"])
    assert result.stdout.count("2 processes x 16 samples a step") == 1, result.stdout  # rank 0 prints, once
    assert result.stdout.count("finished 20 steps") == 1
    assert latest_checkpoint(out).name == "step-0000020"
    assert json.loads((latest_checkpoint(out) / "state.json").read_text())["step"] == 20
    samples = generate(load_generator(out), 8)
    assert samples.shape == (8, 1, 8, 8) and torch.isfinite(samples).all()
