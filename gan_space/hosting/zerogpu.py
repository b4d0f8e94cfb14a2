"""Training on ZeroGPU in slices, and short GPU calls for sampling.

On a ZeroGPU Space (`SPACES_ZERO_GPU` set) the GPU exists only inside functions decorated with
`spaces.GPU(duration=...)`, each call runs in a forked worker process (what it changes in memory
does not come back), lasts at most its duration, and counts against the visitor's daily quota.
So a training run there is a chain of slices:

- `run_slice` (one slice, in the worker): resume the run from its folder's checkpoint (or start it
  from its settings when it has none), train until `limit - margin` seconds have passed, the run's
  steps or minutes are done, or a stop is asked (a file in the run folder: the worker cannot see
  the app's memory), write the checkpoint, and yield what the run reports as it goes. All state
  passes through the run folder. A run by the clock keeps counting its training time across
  slices (the checkpoint's elapsed seconds), as across any resume.
- `SliceChain` (in the app): calls slices one after another until the run is done, Stop is
  pressed, or ZeroGPU refuses (the visitor's quota, no GPU in the queue); a refusal becomes one
  plain message and the run stays resumable, later or on the CPU. It counts the GPU seconds used.
- `in_slices(job)`: the app's one hook. Off ZeroGPU it returns the job unchanged (the run trains in
  the app's thread, as always); on ZeroGPU a `SlicedJob` with the job's face, whose job of the same
  class runs inside each slice (its previews and measurements too).
- `on_gpu(fn, seconds)`: a short decorated call for Generate, Interpolate, Steer and Apply; the
  function itself off ZeroGPU.

`spaces` (in requirements.txt) is imported only on ZeroGPU: its import patches torch there and
must come before CUDA starts, which is why the decorated functions are made when this module is
imported there. Off a Space, `spaces.GPU` returns the function unchanged, so nothing here depends
on it. `ForkedGPU` is a faithful stand-in for tests: each call runs in a forked child with a time
limit after which the child is killed, the results cross a pipe pickled, and a refusal is raised
the way ZeroGPU raises it.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import multiprocessing
import os
import pickle
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

ZERO_GPU_VARIABLE = "SPACES_ZERO_GPU"
# A slice asks ZeroGPU for this many seconds. A call may last "a few minutes at most", and a
# shorter request waits less in ZeroGPU's queue; two minutes leave most of a slice to training.
SLICE_SECONDS = 120.0
# A slice stops training this long before its end: the final checkpoint and preview fit in it.
SAVE_MARGIN_SECONDS = 15.0
# Generate, Interpolate, Steer and Apply: a sampling call is short.
CALL_SECONDS = 30
# The file that asks a slice to stop (the app writes it; the worker sees only the run folder).
STOP_FILE = "stop-requested"
STOP_FILE_CHECK_SECONDS = 0.25
# A slice that saves nothing this many times in a row (killed before its first checkpoint) ends the chain.
MAX_FRUITLESS_SLICES = 2
POLL_SECONDS = 0.25
# What ZeroGPU's refusals say (spaces.zero.client.schedule raises them as gradio errors titled
# "ZeroGPU quota exceeded", "ZeroGPU queue timeout", "ZeroGPU client error", ...).
REFUSAL_SIGNS = ("quota", "no gpu was available", "gpu limit", "requested gpu duration", "pending credits",
                 "zerogpu runs limit")
# A worker that died mid-call (it ran past its duration and was killed) ends with this.
ABORTED_SIGN = "gpu task aborted"


def on_zero_gpu() -> bool:
    """Whether this app runs on a ZeroGPU Space (read as `spaces` reads it)."""
    return os.environ.get(ZERO_GPU_VARIABLE, "").lower() in ("1", "t", "true")


class GPURefused(ValueError):
    """ZeroGPU gave no GPU (the visitor's quota, or none free): the message says what to do."""


# ---------------------------------------------------------------------------
# One slice (in the worker)


def _resume_settings(config: dict) -> dict:
    """The settings of `config` that a resumed run may take (the budget, the machinery, ...)."""
    from gan_space.training import TrainConfig

    changeable = {f.name for f in dataclasses.fields(TrainConfig) if f.metadata["may_change_on_resume"]}
    return {name: value for name, value in config.items() if name in changeable}


def load_trainer(run_dir: str | os.PathLike, config: dict | None = None, device: str | None = None):
    """The run's trainer: resumed from its checkpoint, with `config`'s changeable settings when
    given, or a new run of `config` (or of its train_config.json) when it has none yet. `device`
    replaces the run's device ("auto" on ZeroGPU: the worker's GPU, and a run that resumes anywhere)."""
    from gan_space import checkpoints
    from gan_space.training import TrainConfig, Trainer

    run_dir = Path(run_dir)
    device_setting = {"device": device} if device else {}
    if checkpoints.latest_checkpoint(run_dir) is not None:
        return Trainer.resume(str(run_dir), **{**_resume_settings(config or {}), **device_setting})
    if config is None:
        config = checkpoints.saved_train_config(run_dir)
    return Trainer(TrainConfig.from_dict({**config, "out_dir": str(run_dir), **device_setting}))


def _stop_when(trainer, should_stop: Callable[[], bool]) -> None:
    """Ask the trainer to stop (it checkpoints and ends with a "stopped" event) right after the
    first step at which should_stop() holds: the check runs after each step, in the training
    thread, so a stop at a step count lands on that exact step."""
    train_step = trainer.train_step

    def step_then_check(*args, **kwargs):
        logs = train_step(*args, **kwargs)
        if not trainer.stop_requested and should_stop():
            trainer.request_stop()
        return logs

    trainer.train_step = step_then_check


def stop_file(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / STOP_FILE


def run_slice(run_dir: str | os.PathLike, limit_seconds: float, config: dict | None = None,
              margin_seconds: float = SAVE_MARGIN_SECONDS, device: str | None = None,
              max_steps: int | None = None, job_class=None, job_options: dict | None = None,
              poll_seconds: float = POLL_SECONDS) -> Iterator:
    """One slice of the run in `run_dir` (see the module's notes). Trains until `limit_seconds -
    margin_seconds` have passed since the call (at least one step), the run is done, the run
    folder's stop file appears, or `max_steps` steps of this slice are done; the trainer then
    writes its checkpoint. Yields the trainer's TrainEvents or, with `job_class` (the app's
    RunJob kind, made as job_class(trainer, run name, **job_options)), that job's snapshots
    whenever they change: the job draws its previews and makes its measurements here, beside
    the trainer."""
    started = time.monotonic()
    deadline = started + max(0.0, limit_seconds - margin_seconds)
    _one_thread_in_a_forked_worker()
    trainer = load_trainer(run_dir, config, device)
    stop_at = trainer.step + max_steps if max_steps else None
    flag, last_look = stop_file(run_dir), [float("-inf")]

    def should_stop() -> bool:
        now = time.monotonic()
        if now >= deadline or (stop_at is not None and trainer.step >= stop_at):
            return True
        if now - last_look[0] >= STOP_FILE_CHECK_SECONDS:
            last_look[0] = now
            return flag.exists()
        return False

    _stop_when(trainer, should_stop)
    if flag.exists() or (stop_at is not None and trainer.step >= stop_at):
        trainer.request_stop()  # asked before the slice began: one step, its checkpoint, the end
    if job_class is None:
        for event in trainer.run():
            yield _portable(event)
        return
    job = job_class(trainer, Path(run_dir).name, **(job_options or {})).start()
    sent = None
    while True:
        ended = job.wait(poll_seconds)
        snapshot = job.snapshot()
        seen = (id(snapshot.event), snapshot.preview_version, len(snapshot.curve), len(snapshot.quality),
                snapshot.done, snapshot.error)
        if seen != sent:
            sent = seen
            yield dataclasses.replace(snapshot, event=_portable(snapshot.event))
        if ended:
            return


def _portable(event):
    """The event without its raw preview tensor (drawn into its picture already): what crosses back
    from a worker is pickled, and a tensor would cross as a handle into the worker's memory."""
    return None if event is None else dataclasses.replace(event, preview_samples=None)


def _slice_in_worker(run_dir: str, limit_seconds: float, config: dict | None, device: str | None,
                     max_steps: int | None, job_class, job_options: dict | None) -> Iterator:
    """What a GPU call runs. A ValueError (a library error whose message says what to do) crosses
    as a gradio error: ZeroGPU passes only those with their message (others by class name)."""
    try:
        yield from run_slice(run_dir, limit_seconds, config, device=device, max_steps=max_steps,
                             job_class=job_class, job_options=job_options)
    except ValueError as error:
        import gradio as gr

        raise gr.Error(str(error), print_exception=False) from None


def _slice_duration(run_dir, limit_seconds, *args, **kwargs) -> float:
    """The seconds a slice asks ZeroGPU for (spaces.GPU's dynamic duration): its limit."""
    return limit_seconds


def _call_in_worker(fn: Callable, args: tuple, kwargs: dict, seconds: float):
    _one_thread_in_a_forked_worker()
    return fn(*args, **kwargs)


def _one_thread_in_a_forked_worker() -> None:
    """In a forked worker (ZeroGPU's, or the stand-in's), torch's CPU work on one thread: GNU
    OpenMP is not fork-safe, and the first parallel region of a forked child whose parent ran one
    waits forever. One thread runs no parallel region (the GPU does the work)."""
    if multiprocessing.parent_process() is not None:
        import torch

        torch.set_num_threads(1)


def _call_duration(fn, args, kwargs, seconds) -> float:
    return seconds


_gpu_entries: dict | None = None  # the decorated slice and call, made once on ZeroGPU


def gpu_entries() -> dict:
    """{"slice": ..., "call": ...}: `_slice_in_worker` and `_call_in_worker` decorated by
    `spaces.GPU` (each call a forked worker on a GPU, its duration asked per call)."""
    global _gpu_entries
    if _gpu_entries is None:
        import spaces  # imported only on ZeroGPU (it patches torch there)

        _gpu_entries = {"slice": spaces.GPU(duration=_slice_duration)(_slice_in_worker),
                        "call": spaces.GPU(duration=_call_duration)(_call_in_worker)}
    return _gpu_entries


def on_gpu(fn: Callable, seconds: float = CALL_SECONDS) -> Callable:
    """`fn` as a short GPU call on ZeroGPU (its arguments and result cross to the worker pickled:
    a module-level function and plain values, tensors or modules); `fn` itself elsewhere."""
    if not on_zero_gpu():
        return fn
    call = gpu_entries()["call"]

    def on_the_gpu(*args, **kwargs):
        return call(fn, args, kwargs, seconds)

    return on_the_gpu


if on_zero_gpu():
    gpu_entries()  # now, at the app's start: ZeroGPU looks for decorated functions when the app launches


# ---------------------------------------------------------------------------
# The chain (in the app)


def refusal_message(error: BaseException) -> str | None:
    """The plain message for ZeroGPU's refusal of a call (quota, queue), or None for another error."""
    title = str(getattr(error, "title", "") or "")
    text = str(error)
    if not any(sign in f"{title} {text}".lower() for sign in REFUSAL_SIGNS):
        return None
    left = re.search(r"(\d+)s left", text)
    wait = re.search(r"Try again in ([0-9:]+)", text)
    reason = ("your GPU quota is used up" + (f" ({left.group(1)} s left)" if left else "")
              if "quota" in f"{title} {text}".lower() and "no gpu" not in text.lower()
              else "no GPU was free in time")
    return (f"ZeroGPU refused the next slice: {reason}. The run is saved at its last checkpoint: press Resume "
            f"{'in ' + wait.group(1) if wait else 'later'} (or on a machine of your own) to continue it")


def _event_of(item):
    """The TrainEvent an item of a slice carries (a snapshot's, or the item itself)."""
    return item.event if hasattr(item, "run_name") else item


def _checkpoint_step(run_dir) -> int:
    from gan_space import checkpoints

    latest = checkpoints.latest_checkpoint(Path(run_dir))
    return -1 if latest is None else int(latest.name.rpartition("-")[2] or 0)


@dataclasses.dataclass
class ChainState:
    """Where a chain stands: its slices, the GPU seconds they used, and how it ended."""

    slices: int = 0
    gpu_seconds: float = 0.0
    quota_seconds: float | None = None  # the visitor's GPU seconds, when known
    ended: str = ""  # "", "finished", "stopped", "diverged", "refused", "failed"
    message: str = ""

    def note(self) -> str:
        """For the status line: GPU seconds used and what is left."""
        text = f"GPU {self.gpu_seconds:.0f} s in {self.slices} slice{'s' if self.slices != 1 else ''}"
        if self.quota_seconds is not None:
            text += f", about {max(0.0, self.quota_seconds - self.gpu_seconds):.0f} s of quota left"
        return text


class SliceChain:
    """Slices of the run in `run_dir`, one after another (see the module's notes).

    slice_runner(run_dir, limit_seconds, config, device, max_steps, job_class, job_options): a
    generator function, the decorated `_slice_in_worker` on ZeroGPU, or a stand-in.
    config: the run's settings for its first slice when the folder has no checkpoint yet, and its
    changeable settings (steps, minutes, ...) for a resumed one.
    """

    def __init__(self, run_dir, slice_runner: Callable, config: dict | None = None,
                 slice_seconds: float = SLICE_SECONDS, device: str | None = None, max_steps: int | None = None,
                 job_class=None, job_options: dict | None = None, quota_seconds: float | None = None):
        self.run_dir = Path(run_dir)
        self.slice_runner = slice_runner
        self.config = config
        self.slice_seconds = slice_seconds
        self.device = device
        self.max_steps = max_steps
        self.job_class = job_class
        self.job_options = job_options
        self.state = ChainState(quota_seconds=quota_seconds)
        self.stop_requested = False

    def request_stop(self) -> None:
        """The running slice checkpoints and ends; no other starts."""
        self.stop_requested = True
        stop_file(self.run_dir).touch()

    def run(self) -> Iterator:
        """Yields each slice's items (events, or the job's snapshots) as they come; ends with
        state.ended set. A refusal ends it with state.ended "refused" and a plain message; any
        other error of a slice is raised (a ValueError with its message)."""
        stop_file(self.run_dir).unlink(missing_ok=True)  # a stop asked of an earlier chain
        fruitless = 0
        try:
            while not self.state.ended:
                if self.stop_requested:
                    self._end("stopped", "stopped before the next slice; resume to continue")
                    break
                saved_before, last = _checkpoint_step(self.run_dir), None
                self.state.slices += 1
                started = time.monotonic()
                try:
                    for item in self.slice_runner(str(self.run_dir), self.slice_seconds, self.config, self.device,
                                                  self.max_steps, self.job_class, self.job_options):
                        last = item
                        yield item
                except Exception as error:
                    message = refusal_message(error)
                    if message is not None:
                        self.state.slices -= 1  # refused before it began: no GPU time
                        self._end("refused", message)
                        break
                    if ABORTED_SIGN not in str(error).lower():
                        raise ValueError(str(error)) from None  # the worker's own message
                    # Killed at its limit: it loses what it did since its last checkpoint.
                finally:
                    self.state.gpu_seconds += time.monotonic() - started
                self._after_slice(last)
                if self.state.ended:
                    break
                fruitless = fruitless + 1 if _checkpoint_step(self.run_dir) <= saved_before else 0
                if fruitless >= MAX_FRUITLESS_SLICES:
                    self._end("failed", f"{fruitless} GPU slices in a row saved nothing (each was cut off before its "
                                        f"checkpoint): the run needs longer slices than {self.slice_seconds:.0f} s")
        finally:
            stop_file(self.run_dir).unlink(missing_ok=True)

    def _after_slice(self, last) -> None:
        if last is not None and getattr(last, "error", None):
            self._end("failed", last.error)
            return
        event = None if last is None else _event_of(last)
        if event is None or event.status == "running":
            return  # cut off (or ended before its first event): the next slice resumes
        if event.status in ("finished", "diverged"):
            self._end(event.status, event.message)
        elif self.stop_requested:
            self._end("stopped", event.message)
        # else: stopped at the slice's limit; the next slice continues

    def _end(self, how: str, message: str) -> None:
        self.state.ended, self.state.message = how, message


# ---------------------------------------------------------------------------
# The app's hook


class SlicedJob:
    """A training job of the app (gan_space.ui.jobs.RunJob) run as a chain of GPU slices, with the
    same face: start, wait, snapshot, request_stop, stop_requested, done, run_name (and, for the
    tabs' views, the given job's other attributes). A job of the given job's class runs inside each
    slice over the slice's trainer; its snapshots come back here, where the curve and the
    measurements of the slices before are kept, and the status line gets the GPU seconds."""

    def __init__(self, job, slice_runner: Callable, slice_seconds: float = SLICE_SECONDS,
                 device: str | None = None, quota_seconds: float | None = None):
        self.job = job  # made in the app (its trainer never trains here): its class, settings and first snapshot
        self.run_name = job.run_name
        self.chain = SliceChain(job.trainer.out_dir, slice_runner, config=job.trainer.config.to_dict(),
                                slice_seconds=slice_seconds, device=device, job_class=type(job),
                                job_options={"live_preview_seconds": job.live_preview_seconds},
                                quota_seconds=quota_seconds)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._snapshot = job.snapshot()
        self._earlier_curve, self._earlier_quality = [], []  # of the slices before this one
        self._slice = None  # (slice number, its latest snapshot)
        self._preview_version = self._snapshot.preview_version
        self._thread = threading.Thread(target=self._run, name=f"slices-{self.run_name}", daemon=True)

    def __getattr__(self, name):  # what a tab's view reads of its job (e.g. trainer, warmup_reference)
        if "job" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["job"], name)

    def start(self) -> SlicedJob:
        self._thread.start()
        return self

    def request_stop(self) -> None:
        self.chain.request_stop()

    @property
    def stop_requested(self) -> bool:
        return self.chain.stop_requested

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def snapshot(self):
        with self._lock:
            return self._snapshot

    def _run(self) -> None:
        try:
            for snapshot in self.chain.run():
                self._take(snapshot)
            outcome = self.chain.state
            if outcome.ended in ("refused", "failed"):
                self._finish(outcome.message, as_error=outcome.ended == "failed" or self._snapshot.event is None)
        except BaseException as failure:  # the thread must always report why it ended
            self._finish(_describe(failure), as_error=True)
        finally:
            with self._lock:
                self._snapshot = dataclasses.replace(self._snapshot, done=True, note=self.chain.state.note())
            self._done.set()

    def _take(self, snapshot) -> None:
        """A slice's snapshot -> the run's: the curve and measurements of the slices before, then its own."""
        with self._lock:
            if self._slice is not None and self._slice[0] != self.chain.state.slices:  # a new slice began
                self._earlier_curve += self._slice[1].curve
                self._earlier_quality += self._slice[1].quality
            previous = self._slice[1] if self._slice is not None and self._slice[0] == self.chain.state.slices else None
            if snapshot.preview is not None and (previous is None
                                                 or snapshot.preview_version != previous.preview_version):
                self._preview_version += 1
            self._slice = (self.chain.state.slices, snapshot)
            self._snapshot = dataclasses.replace(
                snapshot, run_name=self.run_name, curve=self._earlier_curve + snapshot.curve,
                quality=self._earlier_quality + snapshot.quality,
                preview=snapshot.preview if snapshot.preview is not None else self._snapshot.preview,
                preview_version=self._preview_version, done=False, note=self.chain.state.note())

    def _finish(self, message: str, as_error: bool) -> None:
        """End with `message`: as the run's error, or as its last event's (a stop the run resumes from)."""
        with self._lock:
            if as_error:
                self._snapshot = dataclasses.replace(self._snapshot, error=message)
            else:
                event = dataclasses.replace(self._snapshot.event, status="stopped", message=message)
                self._snapshot = dataclasses.replace(self._snapshot, event=event)


def _describe(error: BaseException) -> str:
    """A one-line message (a library error's says what to do; another is logged in full)."""
    if isinstance(error, ValueError):
        return str(error)
    logger.error("a GPU slice failed", exc_info=error)
    return f"unexpected {type(error).__name__}: {error}"


def in_slices(job, slice_seconds: float | None = None, quota_seconds: float | None = None):
    """The app's hook for a training job: unchanged off ZeroGPU; on ZeroGPU the same job run in GPU
    slices of `slice_seconds` (default SLICE_SECONDS), each resumed on the worker's GPU (device
    "auto": a run that also resumes anywhere later)."""
    if not on_zero_gpu():
        return job
    return SlicedJob(job, gpu_entries()["slice"], slice_seconds=slice_seconds or SLICE_SECONDS, device="auto",
                     quota_seconds=quota_seconds)


# ---------------------------------------------------------------------------
# The stand-in for tests


class ForkedGPU:
    """A faithful stand-in for `spaces` on ZeroGPU: `ForkedGPU(...).GPU(duration=...)` decorates
    like `spaces.GPU`, and each call runs in a forked child process ("fork", as ZeroGPU's workers
    are made), its arguments and results pickled across a pipe. The child is killed when the call
    runs past its duration (or `kill_after` seconds), and the caller then gets ZeroGPU's "GPU task
    aborted" error; from call number `refuse_from` (0-based) on, a call is refused before it starts
    with the error ZeroGPU raises when the visitor's quota is used up. As on ZeroGPU, a gradio
    error raised in the child crosses with its message, any other error by its class name only.
    `calls` counts the calls made (refused ones included)."""

    def __init__(self, kill_after: float | None = None, refuse_from: int | None = None):
        self.kill_after = kill_after
        self.refuse_from = refuse_from
        self.calls = 0

    def GPU(self, task=None, *, duration=None, size=None):  # noqa: N802 (spaces.GPU's name)
        if task is None:
            return lambda function: self.GPU(function, duration=duration, size=size)
        stand_in = self

        def seconds(args, kwargs) -> float:
            asked = duration(*args, **kwargs) if callable(duration) else (duration or 60)
            return stand_in.kill_after if stand_in.kill_after is not None else asked

        if inspect.isgeneratorfunction(task):
            def generator_call(*args, **kwargs):
                yield from stand_in._forked(task, args, kwargs, seconds(args, kwargs), streams=True)

            return generator_call

        def regular_call(*args, **kwargs):
            return next(stand_in._forked(task, args, kwargs, seconds(args, kwargs), streams=False))

        return regular_call

    def _forked(self, task, args, kwargs, seconds: float, streams: bool) -> Iterator:
        import gradio as gr

        call, self.calls = self.calls, self.calls + 1
        if self.refuse_from is not None and call >= self.refuse_from:
            raise gr.Error(f"You have exceeded your free ZeroGPU quota ({round(seconds)}s requested vs. 0s left). "
                           f"Try again in 23:59:00. ", title="ZeroGPU quota exceeded", print_exception=False)
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_child, args=(sender, task, args, kwargs, streams), daemon=True)
        child.start()
        sender.close()
        deadline = time.monotonic() + seconds
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not receiver.poll(left):
                    raise gr.Error("GPU task aborted", title="ZeroGPU worker error", print_exception=False)
                try:
                    kind, value = pickle.loads(receiver.recv_bytes())
                except EOFError:  # the child died
                    raise gr.Error("GPU task aborted", title="ZeroGPU worker error", print_exception=False) from None
                if kind == "end":
                    return
                if kind == "error":
                    message, title = value
                    raise gr.Error(message, title=title, print_exception=False)
                yield value
        finally:
            if child.is_alive():
                child.kill()
            child.join()
            receiver.close()


def _child(sender, task, args, kwargs, streams: bool) -> None:
    """The forked child of a ForkedGPU call: runs the task and sends what it yields or returns."""
    import gradio as gr

    def send(message) -> None:  # plain pickle: a tensor would cross as a handle into this child's memory
        sender.send_bytes(pickle.dumps(message))

    try:
        if streams:
            for item in task(*args, **kwargs):
                send(("item", item))
        else:
            send(("item", task(*args, **kwargs)))
        send(("end", None))
    except gr.Error as error:
        send(("error", (error.message, error.title or "Error")))
    except Exception as error:
        send(("error", (type(error).__name__, "ZeroGPU worker error")))
    finally:
        sender.close()
