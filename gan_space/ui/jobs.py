"""A training run in a background thread, watched by the UI.

The Trainer runs in its own thread and never waits for the browser: the UI polls
`snapshot()` a few times a second and sends what changed. So a slow connection or a
busy page cannot slow training down, and when the browser goes away the run still
stops cleanly (the UI calls `request_stop()`, the trainer checkpoints and ends).

`RunJob` is that thread with everything both training tabs need: stop, the failure
report, the events, the curve, the previews and one budget for measurements. Its two
kinds differ only in what they measure: `TrainingJob` (the Train tab) measures the
samples (gan_space.diagnostics), `TranslationJob` (the Translate tab) the held-out scores.

No gradio here: this module is plain Python over the gan_space library.
"""

import logging
import math
import threading
import time
from dataclasses import dataclass, field

from .pictures import grid_picture
from .sound_previews import PLAYERS, SOUND_PREVIEW_SECONDS, PreviewClips

logger = logging.getLogger(__name__)

# Live previews are drawn at most every 1/50 of the time: under 2% of training. The same
# budget holds for the sample measurements (diversity, Fréchet distances).
PREVIEW_COST_RATIO = 50
# Measure the samples at most this often (seconds).
DIAGNOSTICS_SECONDS = 5.0
# At the end of a run, a measurement this cheap (seconds) is made even over the budget: the last
# word on the samples is worth up to a second once (a loaded machine makes it slower).
FREE_FINAL_MEASUREMENT = 1.0
# A measurement expected to take longer than this is made with SMALL_MEASUREMENT samples.
SLOW_MEASUREMENT = 1.0
SMALL_MEASUREMENT = 256
JUDGE_WAIT_SECONDS = 30.0
# Image-to-image runs: held-out scores at most this often (and within the same budget).
SCORE_SECONDS = 5.0
# A run saved to the Hub ends when its final save is done, or after this long (it goes on uploading).
FINAL_SAVE_WAIT_SECONDS = 300.0


@dataclass
class CurvePoint:
    step: int
    d_loss: float
    g_loss: float
    d_real: float  # D(x): D's mean probability that real samples are real
    d_fake: float  # D(G(z)): the same for generated samples


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress, taken under its lock."""

    run_name: str
    event: object = None  # the latest gan_space.training.TrainEvent, or None before the first
    curve: list = field(default_factory=list)  # one point per logged step (TrainingJob: CurvePoint)
    preview: object = None  # the latest PIL preview (sample grid, or scatter for 2-D data)
    preview_version: int = 0  # goes up by one with every new preview
    # A run on sounds: (sample rate, float32 clips (PLAYERS, samples)) of its first fixed latents
    clips: tuple | None = None
    clips_version: int = 0  # goes up by one with every new set of clips
    # The measurements, oldest first (TrainingJob: gan_space.diagnostics.QualityPoint; TranslationJob: ScorePoint)
    quality: list = field(default_factory=list)
    done: bool = False
    error: str | None = None  # a message for the user when the run failed
    hub_save: str | None = None  # what saving the run to the Hub last did (gan_space.hub.RunSaver.note)
    note: str = ""  # what the hosting adds to the status line (on ZeroGPU: the GPU seconds used and left)

    @property
    def step(self) -> int:
        return self.event.step if self.event is not None else 0


def describe_error(error: BaseException) -> str:
    """A one-line message for the user. Library errors are ValueErrors whose message
    already says what to do; anything else is unexpected, so it is logged in full on
    the server and summarised for the user."""
    if isinstance(error, ValueError):
        return str(error)
    if isinstance(error, MemoryError) or "out of memory" in str(error).lower():
        return "out of memory: lower the batch size or the resolution"
    logger.error("training failed", exc_info=error)
    return f"unexpected {type(error).__name__}: {error}"


class RunJob:
    """Runs `trainer.run()` in a thread and keeps what the UI shows: the latest event, the
    curve, the previews, the measurements and, when the run failed, why.

    live_preview_seconds: besides the trainer's scheduled previews (every
    `sample_every` steps, saved in the run folder), draw the fixed latents at most
    this often for the page; None turns these extra previews off.
    diagnostics_seconds: measure at most this often, and once at the end; None turns the
    measurements off. All measurements together keep within 1/PREVIEW_COST_RATIO of the run's time.

    A kind of job says what it measures (`_measure`) and may add measurements that are owed
    whatever the interval (`_milestone`), a preparation before measuring (`_ready`) and what its
    curve keeps of an event (`_curve_point`).
    """

    # A measurement owed at the end (or a milestone) is made over the budget when it is expected
    # to cost at most this many seconds.
    free_milestone_seconds = math.inf
    # While running, measure only on log steps (the losses were just measured).
    measure_on_log_steps = False
    measurement_name = "measurements"  # for the log, when they fail

    def __init__(self, trainer, run_name: str, live_preview_seconds: float | None = 1.0,
                 diagnostics_seconds: float | None = DIAGNOSTICS_SECONDS):
        self.trainer = trainer
        self.run_name = run_name
        self.live_preview_seconds = live_preview_seconds
        self.diagnostics_seconds = diagnostics_seconds
        self._quality = []
        self._started = time.monotonic()
        self._last_measurement = float("-inf")
        self._measurement_seconds = 0.0  # spent measuring so far, any cost probe included
        self._expected_cost = 0.0  # seconds the next measurement should take (the last one's)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._event = None
        self._curve: list = []
        self._preview = None
        self._preview_version = 0
        self._clips = None
        self._clips_version = 0
        self._error = None
        # A gan_space.hub.RunSaver (set by the tab when the run is saved to the Hub): it gets every
        # checkpoint and uploads in its own thread; the job ends once the final save is done.
        self.saver = None
        self._thread = threading.Thread(target=self._train, name=f"train-{run_name}", daemon=True)

    def start(self) -> "RunJob":
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """The trainer finishes its step, writes a checkpoint and stops."""
        self.trainer.request_stop()

    @property
    def stop_requested(self) -> bool:
        return self.trainer.stop_requested

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the run ends (or the timeout passes); True when it has ended."""
        return self._done.wait(timeout)

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(run_name=self.run_name, event=self._event, curve=list(self._curve),
                               preview=self._preview, preview_version=self._preview_version,
                               clips=self._clips, clips_version=self._clips_version,
                               quality=list(self._quality), done=self._done.is_set(), error=self._error,
                               hub_save=self.saver.note() if self.saver is not None else None)

    def _train(self) -> None:
        self._started = time.monotonic()
        self._before_run()
        last_live_preview, preview_cost = float("-inf"), 0.0
        try:
            for event in self.trainer.run():
                samples, preview = event.preview_samples, event.preview
                now = time.monotonic()
                # A preview may take at most 1/PREVIEW_COST_RATIO of the time between two,
                # so live previews stay cheap even for big, slow generators.
                interval = max(self.live_preview_seconds or 0.0, PREVIEW_COST_RATIO * preview_cost)
                wants_live_preview = (self.live_preview_seconds is not None and event.status == "running"
                                      and now - last_live_preview >= interval)
                drew_live_preview = preview is None and wants_live_preview
                if drew_live_preview:
                    # Between steps, in the training thread: the trainer is paused at its
                    # yield, so drawing its fixed latents cannot race with an update.
                    samples, preview = self.trainer.preview()
                if preview is not None and samples is not None and samples.dim() == 4:
                    preview = grid_picture(samples)  # the app's padded grid (2-D data keep their scatter)
                    self._pictures_drawn(samples, final=event.status != "running")
                if drew_live_preview:
                    preview_cost = time.monotonic() - now
                with self._lock:
                    self._event = event
                    if event.losses:
                        self._curve.append(self._curve_point(event))
                    if preview is not None:
                        self._preview = preview
                        self._preview_version += 1
                if preview is not None:
                    last_live_preview = now
                self._maybe_measure(event)
                if self.saver is not None and event.checkpoint:
                    self.saver.checkpoint_written(event.checkpoint, final=event.status != "running")
        except BaseException as error:  # the thread must always report why it ended
            with self._lock:
                self._error = describe_error(error)
        finally:
            if self.saver is not None:  # the last save is the one that matters: the run ends with it
                self.saver.wait(FINAL_SAVE_WAIT_SECONDS)
            with self._lock:
                self._done.set()

    def _maybe_measure(self, event) -> None:
        """Measure when it is time (between steps, like the live previews), keeping all
        measurements within 1/PREVIEW_COST_RATIO of the run's time. A failure here is logged
        and turns the measurements off; training goes on."""
        if self.diagnostics_seconds is None or event.status == "diverged":
            return
        if self._quality and self._quality[-1].step == event.step:
            return
        final = event.status != "running"  # finished or stopped: the last word on the run
        owed = final or self._milestone(event)
        if not owed and (
                (self.measure_on_log_steps and not event.losses)
                or time.monotonic() - self._last_measurement < self.diagnostics_seconds):
            return
        try:
            if not self._ready(final):
                return
            if not self._budget_allows(self._expected_cost) and not (
                    owed and self._expected_cost <= self.free_milestone_seconds):
                return
            measure_start = time.monotonic()
            point = self._measure(event)
        except Exception:
            logger.exception("%s failed; training goes on without them", self.measurement_name)
            self.diagnostics_seconds = None
            return
        self._book_measurement(measure_start)
        with self._lock:
            self._quality.append(point)

    def _budget_allows(self, cost: float) -> bool:
        """Whether a measurement of `cost` seconds keeps all of them within 1/PREVIEW_COST_RATIO
        of the run's time so far."""
        return cost <= (time.monotonic() - self._started) / PREVIEW_COST_RATIO - self._measurement_seconds

    def _book_measurement(self, started: float) -> None:
        """Count a measurement that began at `started`; its cost is the next one's estimate."""
        self._expected_cost = time.monotonic() - started
        self._measurement_seconds += self._expected_cost
        self._last_measurement = time.monotonic()

    # What a kind of job changes

    def _before_run(self) -> None:
        """Called in the job's thread before the first step."""

    def _pictures_drawn(self, samples, final: bool) -> None:
        """Called with the samples of each preview of pictures ((N, C, H, W) in [-1, 1]), between steps."""

    def _publish_clips(self, sample_rate: int, clips) -> None:
        with self._lock:
            self._clips = (sample_rate, clips)
            self._clips_version += 1

    def _curve_point(self, event):
        """What the curve keeps of an event with losses."""
        return CurvePoint(event.step, event.losses.get("d", float("nan")), event.losses.get("g", float("nan")),
                          event.d_real, event.d_fake)

    def _milestone(self, event) -> bool:
        """Whether a measurement is owed at this event whatever the interval (besides the run's end)."""
        return False

    def _ready(self, final: bool) -> bool:
        """Prepare to measure (its cost is booked by the caller's budget); False: not now."""
        return True

    def _measure(self, event):
        """One measurement point, with a `step`."""
        raise NotImplementedError


class TrainingJob(RunJob):
    """The Train tab's job: it measures the samples (gan_space.diagnostics: diversity, modes,
    classes, Fréchet distances) on log steps, and once at the end when that costs at most
    FREE_FINAL_MEASUREMENT seconds over the budget."""

    measure_on_log_steps = True
    measurement_name = "sample measurements"

    def __init__(self, trainer, run_name: str, live_preview_seconds: float | None = 1.0,
                 diagnostics_seconds: float | None = DIAGNOSTICS_SECONDS,
                 sound_preview_seconds: float = SOUND_PREVIEW_SECONDS):
        super().__init__(trainer, run_name, live_preview_seconds=live_preview_seconds,
                         diagnostics_seconds=diagnostics_seconds)
        self._watcher = None
        self._warm_up_thread = None
        # A run on sounds: its first fixed latents are heard too (gan_space.ui.sound_previews).
        record = getattr(getattr(trainer, "data", None), "sound", None)
        self.sound_clips = (PreviewClips(record, PLAYERS, sound_preview_seconds, PREVIEW_COST_RATIO)
                            if record else None)

    @property
    def makes_sounds(self) -> bool:
        return self.sound_clips is not None

    def _pictures_drawn(self, samples, final: bool) -> None:
        if self.sound_clips is None or not self.sound_clips.due(time.monotonic(), final):
            return
        try:
            clips = self.sound_clips.make(samples)
        except Exception:  # the pictures still stream; only the players stop changing
            logger.exception("turning the preview into sound failed; training goes on without it")
            self.sound_clips = None
            return
        self._publish_clips(self.sound_clips.sample_rate, clips)

    @property
    def free_milestone_seconds(self) -> float:
        return FREE_FINAL_MEASUREMENT

    def _before_run(self) -> None:
        if self.diagnostics_seconds is None:
            return
        # A metric's one-off fit (the digits judge: a small classifier, a few CPU-seconds once per
        # process) runs beside the first steps rather than in the middle of them.
        from gan_space.metrics import sample_metrics

        data = self.trainer.data
        dataset = self.trainer.config.dataset if data.kind == "images" else data.name
        warm_ups = [metric.warm_up for metric in sample_metrics(dataset, data.kind) if metric.warm_up is not None]
        if warm_ups:
            self._warm_up_thread = threading.Thread(target=lambda: [warm_up() for warm_up in warm_ups],
                                                  name="metric-warm-up", daemon=True)
            self._warm_up_thread.start()

    def _ready(self, final: bool) -> bool:
        if self._warm_up_thread is not None:
            # While training, skip until the digits judge is ready; at the end (the
            # checkpoint is written), wait for it: the last word is worth a few seconds.
            self._warm_up_thread.join(timeout=JUDGE_WAIT_SECONDS if final else 0)
            if self._warm_up_thread.is_alive():
                return False
        if self._watcher is None:
            from gan_space.diagnostics import SampleWatcher

            probe_start = time.monotonic()
            self._watcher = SampleWatcher(self.trainer)
            self._expected_cost = self._watcher.estimate_seconds()
            if self._expected_cost > SLOW_MEASUREMENT and self._watcher.num_samples > SMALL_MEASUREMENT:
                # A big generator: fewer samples, so that measurements come more often.
                self._expected_cost = self._watcher.estimate_seconds(SMALL_MEASUREMENT)
                self._watcher = SampleWatcher(self.trainer, num_samples=SMALL_MEASUREMENT)
            self._measurement_seconds += time.monotonic() - probe_start
        return True

    def _measure(self, event):
        return self._watcher.measure()


@dataclass
class ScorePoint:
    step: int
    scores: object  # gan_space.held_out.Scores
    warmup: bool = False  # the L1 model at the end of the pixel warm-up (the GAN's own L1-only reference)


class TranslationJob(RunJob):
    """The Translate tab's job: its measurements are the held-out scores (PSNR, SSIM, Fréchet
    distance of the EMA generator, next to the baseline), taken between steps at most every
    SCORE_SECONDS, and always at the end and at the end of the pixel warm-up; its curve holds
    (step, pixel, adversarial, d) losses."""

    measurement_name = "held-out scores"

    def __init__(self, trainer, run_name: str, live_preview_seconds: float | None = 1.0):
        super().__init__(trainer, run_name, live_preview_seconds=live_preview_seconds,
                         diagnostics_seconds=SCORE_SECONDS)
        config = trainer.config
        # A run with a warm-up measures its L1 model once, when the warm-up ends: the L1-only
        # reference its GAN phase is judged against (PSNR kept, Fréchet distance lowered).
        self.warmup_reference = (trainer.objective.uses_discriminator and 0 < config.pixel_warmup
                                 and trainer.step < config.pixel_warmup)

    def _curve_point(self, event) -> tuple:
        content = self.trainer.objective.content_loss[0]  # the pixel loss, PatchNCE or the cycle
        return (event.step, event.losses.get(content, math.nan), event.losses.get("adversarial", math.nan),
                event.losses.get("d", math.nan))

    def _milestone(self, event) -> bool:
        return self.warmup_reference and event.step >= self.trainer.config.pixel_warmup and not any(
            p.warmup for p in self._quality)

    def _measure(self, event) -> ScorePoint:
        from gan_space.held_out import held_out_scores

        warmup_end = self._milestone(event)
        with self.trainer.networks.sampling_weights() as generator:
            scores = held_out_scores(generator, self.trainer.held_out, self.trainer.config.task)
        return ScorePoint(event.step, scores, warmup=warmup_end)
