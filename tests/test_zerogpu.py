"""Training on ZeroGPU in slices (gan_space.hosting.zerogpu), against its stand-in: each slice runs
in a forked child process, as ZeroGPU's workers do, with a time limit after which it is killed, and
what it yields crosses back pickled. A run of several slices equals one straight run, bit for bit;
a killed slice loses only itself; a refusal of the visitor's quota leaves a run that resumes."""

import sys
import time
import types
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gan_space.checkpoints import latest_checkpoint
from gan_space.hosting import zerogpu
from gan_space.hosting.zerogpu import ForkedGPU, SliceChain
from gan_space.training import TrainConfig, Trainer, train

pytestmark = pytest.mark.subprocess  # forks a child process per slice

STEPS = 30
SLICE_STEPS = 8  # 30 steps: slices of 8, 8, 8 and 6


def picture_config(run_dir: Path) -> TrainConfig:
    return TrainConfig.for_dataset("emoji", resolution=16, arch="resnet", width=8, batch_size=8, steps=STEPS,
                                   log_every=1, sample_every=1000, checkpoint_every=1000, checkpoint_minutes=0,
                                   num_preview=4, out_dir=str(run_dir))


def colorize_config(run_dir: Path) -> TrainConfig:
    # The GAN phase from step 10 on: the slices cross the warm-up's end and train D too.
    return TrainConfig.for_dataset("emoji", task="colorize", resolution=16, width=8, batch_size=4, steps=STEPS,
                                   pixel_warmup=10, max_images=60, log_every=1, sample_every=1000,
                                   checkpoint_every=1000, checkpoint_minutes=0, out_dir=str(run_dir))


@contextmanager
def one_thread():
    """Train as a slice trains: a forked child computes on one CPU thread (see run_slice)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def straight_run(config: TrainConfig) -> Path:
    with one_thread():
        assert train(config).status == "finished"
    return Path(config.out_dir)


def assert_same_weights(run_a: Path, run_b: Path) -> None:
    a, b = latest_checkpoint(run_a), latest_checkpoint(run_b)
    assert a.name == b.name == f"step-{STEPS:07d}"
    for network in ("generator", "generator_raw", "discriminator"):
        (file_a,), (file_b,) = (a / network).glob("*.safetensors"), (b / network).glob("*.safetensors")
        tensors_a, tensors_b = load_file(file_a), load_file(file_b)
        assert tensors_a.keys() == tensors_b.keys()
        unequal = [name for name in tensors_a if not torch.equal(tensors_a[name], tensors_b[name])]
        assert not unequal, f"{network}: {unequal[:3]}"


def slice_runner(stand_in: ForkedGPU):
    """The slice as the app calls it on ZeroGPU: the worker's function, decorated by the stand-in."""
    return stand_in.GPU(duration=zerogpu._slice_duration)(zerogpu._slice_in_worker)


@pytest.mark.parametrize("make_config", [picture_config, colorize_config], ids=["picture", "colorize"])
def test_a_run_in_forked_slices_equals_one_straight_run_bit_for_bit(tmp_path, make_config):
    straight = straight_run(make_config(tmp_path / "straight"))
    stand_in = ForkedGPU()
    chain = SliceChain(tmp_path / "sliced", slice_runner(stand_in), config=make_config(tmp_path / "sliced").to_dict(),
                       slice_seconds=600, max_steps=SLICE_STEPS)
    ends = [(event.step, event.status) for event in chain.run() if event.status != "running"]
    assert ends == [(8, "stopped"), (16, "stopped"), (24, "stopped"), (30, "finished")]
    assert stand_in.calls == chain.state.slices == 4 and chain.state.ended == "finished"
    assert chain.state.gpu_seconds > 0 and "GPU" in chain.state.note() and "4 slices" in chain.state.note()
    assert_same_weights(straight, tmp_path / "sliced")


def _hangs_after_its_first_step(*args):
    """A slice that stops answering after its first step: ZeroGPU kills such a worker at its limit."""
    for event in zerogpu._slice_in_worker(*args):
        yield event
        time.sleep(3600)


def test_a_slice_killed_at_its_limit_loses_only_itself(tmp_path):
    straight = straight_run(picture_config(tmp_path / "straight"))
    run_dir = tmp_path / "sliced"
    normal = slice_runner(ForkedGPU())
    hanging = ForkedGPU(kill_after=5).GPU(duration=zerogpu._slice_duration)(_hangs_after_its_first_step)
    calls, saved_before_the_kill = [], []

    def runner(*args):  # the second slice hangs and is killed; the others run as usual
        calls.append(len(calls))
        if len(calls) == 2:
            saved_before_the_kill.append(latest_checkpoint(run_dir).name)
            yield from hanging(*args)
            return
        yield from normal(*args)

    chain = SliceChain(run_dir, runner, config=picture_config(run_dir).to_dict(), slice_seconds=600,
                       max_steps=SLICE_STEPS)
    events = list(chain.run())
    assert saved_before_the_kill == ["step-0000008"]
    # The killed slice trained step 9 and was cut off; the next resumed from step 8 and redid it.
    assert [e.step for e in events if e.status != "running"] == [8, 16, 24, 30]
    assert [e.step for e in events][:11] == [*range(1, 10), 9, 10]
    assert chain.state.ended == "finished" and chain.state.slices == 5
    assert_same_weights(straight, run_dir)


def test_a_quota_refusal_mid_chain_leaves_a_run_that_resumes(tmp_path):
    straight = straight_run(picture_config(tmp_path / "straight"))
    run_dir = tmp_path / "sliced"
    stand_in = ForkedGPU(refuse_from=2)  # two slices, then the visitor's quota is used up
    chain = SliceChain(run_dir, slice_runner(stand_in), config=picture_config(run_dir).to_dict(), slice_seconds=600,
                       max_steps=SLICE_STEPS)
    list(chain.run())
    assert chain.state.ended == "refused" and chain.state.slices == 2 and stand_in.calls == 3
    message = chain.state.message
    assert "quota" in message and "Resume" in message and "Traceback" not in message and "\n" not in message
    assert latest_checkpoint(run_dir).name == "step-0000016"
    # Later, or on the CPU: the run resumes from its checkpoint and ends as the straight run did.
    with one_thread():
        assert train(picture_config(run_dir), resume=True).status == "finished"
    assert_same_weights(straight, run_dir)


def test_a_stop_asked_in_the_app_reaches_the_slice_through_the_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    config = picture_config(run_dir).to_dict()
    config["steps"] = 100_000
    chain = SliceChain(run_dir, slice_runner(ForkedGPU()), config=config, slice_seconds=600)
    events = []
    for event in chain.run():
        events.append(event)
        if event.step == 3:
            chain.request_stop()  # the worker cannot see the app's memory: it sees the stop file
    assert events[-1].status == "stopped" and chain.state.ended == "stopped" and chain.state.slices == 1
    assert latest_checkpoint(run_dir).name == f"step-{events[-1].step:07d}"
    assert not (run_dir / zerogpu.STOP_FILE).exists()  # the next chain is not stopped by it
    assert Trainer.resume(str(run_dir)).step == events[-1].step


def test_off_zero_gpu_nothing_changes(monkeypatch):
    monkeypatch.delenv(zerogpu.ZERO_GPU_VARIABLE, raising=False)
    job, function = object(), len
    assert zerogpu.in_slices(job) is job and zerogpu.on_gpu(function) is function


def test_refusals_are_told_apart_from_other_errors():
    import gradio as gr

    quota = gr.Error("You have exceeded your free ZeroGPU quota (120s requested vs. 31s left). Try again in 0:41:00.",
                     title="ZeroGPU quota exceeded")
    queue = gr.Error("No GPU was available after 60s. Retry later", title="ZeroGPU queue timeout")
    assert "31 s left" in zerogpu.refusal_message(quota) and "0:41:00" in zerogpu.refusal_message(quota)
    assert "no GPU was free" in zerogpu.refusal_message(queue)
    assert zerogpu.refusal_message(gr.Error("GPU task aborted", title="ZeroGPU worker error")) is None
    assert zerogpu.refusal_message(ValueError("lr_d=5 is out of range")) is None


def _slices_of_15_steps(run_dir, limit_seconds, config, device, max_steps, job_class, job_options):
    """The app's slice, ended after 15 steps (rather than by the clock, which a test cannot count on)."""
    yield from zerogpu._slice_in_worker(run_dir, limit_seconds, config, device, 15, job_class, job_options)


@pytest.fixture
def zero_gpu_stand_in(monkeypatch):
    """The app as on a ZeroGPU Space, with the stand-in in place of the `spaces` package."""
    stand_in = ForkedGPU()

    def gpu(task=None, *, duration=None, size=None):  # spaces.GPU, as the stand-in
        def decorate(function):
            return stand_in.GPU(_slices_of_15_steps if function is zerogpu._slice_in_worker else function,
                                duration=duration)

        return decorate if task is None else decorate(task)

    monkeypatch.setenv(zerogpu.ZERO_GPU_VARIABLE, "true")
    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    monkeypatch.setattr(zerogpu, "_gpu_entries", None)
    return stand_in


def test_the_app_trains_in_gpu_slices_on_zero_gpu(app_server, client_factory, zero_gpu_stand_in):
    client = client_factory()
    job = client.submit(dataset="emoji", run_name="zerogpu-run", steps=40, batch_size=8, resolution=16,
                        api_name="/train")
    outputs = list(job)
    status = outputs[-1][3]
    assert "finished 40 steps" in status and "in 3 slices" in status, status  # 15, 15 and 10 steps
    assert zero_gpu_stand_in.calls == 3
    assert latest_checkpoint(app_server.run_dir("zerogpu-run")).name == "step-0000040"
    # Generate's model call is a short GPU call too, and answers as before.
    picture, _ = client.predict(model="runs/zerogpu-run", seed=1, count=4, api_name="/generate")
    assert Path(picture).is_file() and zero_gpu_stand_in.calls == 4
