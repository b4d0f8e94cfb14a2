"""Crashes (issue 7, part 2): training killed with SIGKILL at random moments and at every step
of a checkpoint write, and disks that fill up mid-write. The newest checkpoint always loads,
is complete, never goes back, and the run resumes from exactly its step."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_space import checkpoints
from gan_space.checkpoints import CheckpointWriteError, latest_checkpoint, load_generator
from gan_space.sampling import generate
from gan_space.training import TrainConfig, Trainer
from folders import folder_digest

REPO = Path(__file__).resolve().parent.parent
RANDOM_KILLS = 20


def test_sigkill_at_random_moments_and_mid_checkpoint_never_loses_a_checkpoint(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "tests" / "crash_worker.py"), str(tmp_path / "run"), "--random",
         str(RANDOM_KILLS), "--targeted", "--disk-full", "--seed", "1"],
        capture_output=True, text=True, timeout=480, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    *trials, summary = lines
    summary = summary["summary"]
    by_kind = {kind: [t for t in trials if t["kind"] == kind] for kind in ("random", "targeted", "disk-full")}
    assert len(by_kind["random"]) == RANDOM_KILLS and len(by_kind["targeted"]) == 5 and len(by_kind["disk-full"]) == 4

    previous = None
    for trial in trials:
        # Every child resumed exactly where the newest checkpoint stood (or started afresh before the first).
        assert trial["checkpoint_before"] == previous, trial
        assert trial["resumed_at"] == (previous or 0), trial
        # The newest complete checkpoint never goes back; the worker loaded and sampled it after each kill.
        if previous is not None:
            assert trial["checkpoint"] is not None and trial["checkpoint"] >= previous, trial
        previous = trial["checkpoint"]
    assert all(t["killed"] for t in by_kind["random"] + by_kind["targeted"])
    assert all(t["event"] == "paused" for t in by_kind["targeted"])  # each died at its chosen moment
    for trial in by_kind["targeted"]:
        # Killed before `latest` moved: the previous checkpoint is still the newest; a half-deleted
        # old one (mid-discard) was already out of sight.
        if trial["target"] != "mid-discard":
            assert trial["checkpoint"] == trial["checkpoint_before"], trial
    for trial in by_kind["disk-full"]:
        assert "CheckpointWriteError: could not write checkpoint" in trial["event"], trial
        assert f"the previous checkpoint (step-{trial['checkpoint_before']:07d}) is intact" in trial["event"]
        assert trial["checkpoint"] == trial["checkpoint_before"] and trial["leftovers"] == []

    # After all that, the run goes on from its last checkpoint to a clean finish, leftovers swept away.
    assert summary["first_step_after"] == summary["resumed_from"] + 1
    assert summary["final"] == "finished" and summary["final_checkpoint"] == {
        "checkpoint": summary["final_step"], "leftovers": []}
    killed_mid_write = sum(bool(t["leftovers"]) for t in by_kind["random"])
    print(f"\ncrash trials: {len(trials)} ({RANDOM_KILLS} random SIGKILLs, {killed_mid_write} of them inside a "
          f"checkpoint write; 5 at chosen moments of a write; 4 disks full mid-file); checkpoints lost: 0; "
          f"final step {summary['final_step']}")


# ---------------------------------------------------------------------------
# A full disk at each write of a checkpoint, in-process


def tiny_config(out_dir: Path) -> TrainConfig:
    return TrainConfig.for_dataset("digits", out_dir=str(out_dir), steps=6, width=16, latent_dim=8, batch_size=16,
                                   num_preview=4, log_every=1, sample_every=1000, checkpoint_every=2)


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _fail_when(original, predicate):
    def wrapper(*args, **kwargs):
        if predicate(*args, **kwargs):
            _disk_full()
        return original(*args, **kwargs)

    return wrapper


def _nth_call(n):
    calls = []

    def predicate(*args, **kwargs):
        calls.append(1)
        return len(calls) == n

    return predicate


def _dst_named(prefix):
    return lambda src, dst, *args, **kwargs: Path(dst).name.startswith(prefix)


INJECTIONS = {
    # where the disk fills up: (module, class or None, function, when)
    "generator weights": ("diffusers", "ModelMixin", "save_pretrained", lambda: _nth_call(1)),
    "discriminator weights": ("diffusers", "ModelMixin", "save_pretrained", lambda: _nth_call(3)),
    "training state": ("gan_space.checkpoints", None, "save_file", lambda: _nth_call(1)),
    "state.json": ("json", None, "dump", lambda: _nth_call(1)),
    "fsync": ("gan_space.checkpoints", None, "_fsync_tree", lambda: _nth_call(1)),
    "rename into place": ("os", None, "replace", lambda: _dst_named("step-")),
    "latest pointer file": ("pathlib", "Path", "write_text", lambda: lambda self, *a, **k: ".latest" in self.name),
    "latest pointer rename": ("os", None, "replace", lambda: _dst_named("latest")),
}


@pytest.mark.parametrize("where", list(INJECTIONS))
def test_a_disk_that_fills_up_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch, where):
    import importlib

    trainer = Trainer(tiny_config(tmp_path / "run"))
    run = trainer.run()
    for event in run:
        if event.checkpoint:
            break
    previous = latest_checkpoint(tmp_path / "run")
    assert previous.name == "step-0000002"
    before = folder_digest(previous)

    module, class_name, function, when = INJECTIONS[where]
    owner = importlib.import_module(module)
    owner = getattr(owner, class_name) if class_name else owner
    monkeypatch.setattr(owner, function, _fail_when(getattr(owner, function), when()))
    with pytest.raises(CheckpointWriteError) as failed:
        for event in run:
            pass
    monkeypatch.undo()  # the disk has room again

    message = str(failed.value)
    assert "No space left on device" in message and "the previous checkpoint (step-0000002) is intact" in message
    assert isinstance(failed.value, OSError) and isinstance(failed.value, ValueError)  # CLI and app show it as is
    assert latest_checkpoint(tmp_path / "run").name == "step-0000002"
    assert folder_digest(previous) == before  # not a byte of it changed
    assert torch.isfinite(generate(load_generator(tmp_path / "run"), 4)).all()

    resumed = Trainer.resume(str(tmp_path / "run"))
    assert resumed.step == 2
    events = list(resumed.run())
    assert events[0].step == 3 and events[-1].status == "finished"
    root = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step-0000004", "step-0000006"]  # no leftovers


def test_the_app_and_the_cli_say_what_happened_when_the_disk_is_full(tmp_path, monkeypatch, capsys):
    from gan_space import cli
    from gan_space.ui.jobs import describe_error

    monkeypatch.setattr(checkpoints, "save_file", _disk_full)
    code = cli.main(["train", "--dataset", "digits", "--out", str(tmp_path / "cli-run"), "--steps", "3",
                     "--batch-size", "16", "--width", "16"])
    err = capsys.readouterr().err
    assert code != 0 and "error: could not write checkpoint step-0000003" in err and "Traceback" not in err
    assert "No space left on device" in err and "Free some disk space, then resume" in err
    error = CheckpointWriteError("could not write checkpoint step-0000004 in x (No space left on device); ...")
    assert describe_error(error) == str(error)  # the app shows the message itself, not "unexpected ..."
