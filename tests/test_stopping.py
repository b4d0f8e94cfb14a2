"""Every way a run stops (its steps, its minutes, Stop, SIGTERM) writes a final checkpoint and
ends with its final event ("finished" or "stopped")."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gan_space.checkpoints import latest_checkpoint
from gan_space.training import TrainConfig, Trainer

REPO = Path(__file__).resolve().parent.parent


def summary_of(checkpoint: str | Path) -> dict:
    return json.loads((Path(checkpoint) / "state.json").read_text())["summary"]


def test_thirty_tiny_clock_budgets_all_finish_with_a_checkpoint(tmp_path):
    """The budget was read twice a step (the loop's condition and `finished`): when it ran out
    between the two, the run ended with no final event and no final checkpoint. Budgets of a
    fraction of a second with an event every few steps (its preview and checkpoint take time
    the clock keeps counting) hit that gap often."""
    endings = []
    for attempt in range(30):
        config = TrainConfig.for_dataset("ring8", minutes=0.002 + 0.0002 * (attempt % 5), seed=attempt,
                                         out_dir=str(tmp_path / f"run-{attempt}"), width=16, batch_size=16,
                                         log_every=2, sample_every=3, checkpoint_every=5)
        events = list(Trainer(config).run())
        last = events[-1] if events else None
        on_disk = latest_checkpoint(config.out_dir)
        endings.append((attempt, last and last.status, last and last.checkpoint, on_disk))
    failed = [ending for ending in endings
              if not (ending[1] == "finished" and ending[2] is not None and ending[3] is not None
                      and Path(ending[2]) == ending[3] and summary_of(ending[3])["finished"] is True)]
    assert not failed, f"{len(failed)} of 30 clock runs did not end properly (attempt, status, event's " \
                       f"checkpoint, checkpoint on disk): {failed}"


def test_a_run_by_steps_ends_finished_with_its_last_checkpoint(tmp_path):
    config = TrainConfig.for_dataset("ring8", steps=7, out_dir=str(tmp_path / "run"), width=16, batch_size=16,
                                     log_every=5, sample_every=5, checkpoint_every=5)
    events = list(Trainer(config).run())
    assert [event.status for event in events] == ["running", "finished"] and events[-1].step == 7
    assert Path(events[-1].checkpoint) == latest_checkpoint(config.out_dir)
    assert summary_of(events[-1].checkpoint)["finished"] is True
    assert summary_of(events[0].checkpoint)["finished"] is False  # step 5 of 7


def test_a_stop_request_ends_stopped_with_a_final_checkpoint(tmp_path):
    config = TrainConfig.for_dataset("ring8", steps=100_000, out_dir=str(tmp_path / "run"), width=16, batch_size=16,
                                     log_every=3, sample_every=1000, checkpoint_every=1000)
    trainer = Trainer(config)
    events = []
    for event in trainer.run():
        events.append(event)
        trainer.request_stop()  # as the app's Stop button does, from the first report on
    assert [event.status for event in events] == ["running", "stopped"]
    assert events[-1].step == events[0].step + 1  # the step under way, then the stop
    assert Path(events[-1].checkpoint) == latest_checkpoint(config.out_dir)
    assert summary_of(events[-1].checkpoint)["finished"] is False
    assert "resume to continue" in events[-1].message


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is a POSIX signal")
def test_sigterm_stops_a_command_line_run_with_a_final_checkpoint(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-m", "gan_space", "train", "--dataset", "ring8", "--steps", "10000000",
                              "--width", "16", "--batch-size", "16", "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        started = child.stdout.readline()  # "<data> -> <out> on cpu (fp32)": built, about to train
        assert str(out) in started, started + child.stderr.read()
        child.send_signal(signal.SIGTERM)
        stdout, stderr = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    assert "stopped at step" in stdout and "resume to continue" in stdout, stdout + stderr
    final = latest_checkpoint(out)
    assert final is not None and summary_of(final)["finished"] is False and summary_of(final)["step"] >= 1
    assert str(final.parent.parent) in stdout  # the message names the run folder it kept
