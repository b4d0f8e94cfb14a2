"""One run plumbing for the tabs that train (Train, Translate).

A tab makes a `RunHandlers` with what it differs in (its job class, its stream's outputs, how a
snapshot becomes its plots and texts) and wires the handlers to its own buttons. Everything else
is here, once: the click that queues a run (`announce`) and the end that frees the buttons
(`run_ended`), Stop (also while a run waits in the queue), building the trainer in the background
while the status line counts the decoded pictures, the failure report, and the follow loop that
streams a run's snapshots to the page until it ends.

One training run at a time on the device: every Train and Resume of both tabs shares one queue
(TRAINING_CONCURRENCY_ID), and a session runs one job at a time (Session.job).
"""

import threading
from collections.abc import Callable, Sequence

import gradio as gr

from gan_space.hosting.zerogpu import in_slices

from .common import AppContext, session_hash
from .jobs import JobSnapshot, RunJob, describe_error

TRAINING_CONCURRENCY_ID = "training-device"
POLL_SECONDS = 0.5  # the page gets at most two updates a second, however fast training runs
# The outputs every run stream has (API clients read the status at index 3 and the run name at 4).
PREVIEW, STATUS, RUN_NAME = "preview", "status", "run_name"
# Handler options for a run's event: one run at a time on the device, no progress overlay (the
# status line says what is happening: queued, training, failed).
# What the status line says while the data loads, before "N of M" (a run on sounds says its own).
DECODING = "Decoding the pictures (once; a resume reuses them)"
RUN_EVENT_OPTIONS = dict(concurrency_limit=1, concurrency_id=TRAINING_CONCURRENCY_ID, show_progress="hidden")


def status_text(snapshot: JobSnapshot, stopping: bool) -> str:
    text = _run_status(snapshot, stopping)
    return " · ".join([text, *(extra for extra in (snapshot.note, snapshot.hub_save) if extra)])


def _run_status(snapshot: JobSnapshot, stopping: bool) -> str:
    event = snapshot.event
    if snapshot.error:
        return f"{snapshot.run_name}: failed: {snapshot.error}"
    if event is None:
        return f"{snapshot.run_name}: starting…"
    if event.status != "running":
        return f"{snapshot.run_name}: {event.message}"
    return f"{snapshot.run_name} · {'stopping after this step · ' if stopping else ''}{event.status_line()}"


def request_stop(session) -> str:
    """Stop the session's run after its current step (or cancel the run it has queued); says what happened."""
    if session.training:
        session.job.request_stop()
        return f"{session.job.run_name}: stopping after this step; the checkpoint is kept (Resume continues it)."
    if session.waiting:
        session.cancel_requested = True
        return "Cancelled: the queued run will not start."
    return "Nothing is training in this session."


class RunHandlers:
    """The handlers of one tab's runs.

    outputs: the names of the stream's outputs in order; PREVIEW, STATUS and RUN_NAME are filled
    here, the others by the tab's view.
    job_class: makes the job, as job_class(trainer, run name, live_preview_seconds=...).
    new_view: job -> a view, called with each snapshot, returning {output name: update} for the
    tab's own outputs (it keeps what it already sent; see TrainProgress in train_tab).
    meanwhile: what the user can do while a queued run waits ("Apply works meanwhile").
    """

    def __init__(self, context: AppContext, outputs: Sequence[str], job_class: type[RunJob],
                 new_view: Callable[[RunJob], Callable[[JobSnapshot], dict]], meanwhile: str):
        missing = {PREVIEW, STATUS, RUN_NAME} - set(outputs)
        if missing:
            raise ValueError(f"a run stream's outputs need {', '.join(sorted(missing))}")
        self.context = context
        self.outputs = tuple(outputs)
        self.job_class = job_class
        self.new_view = new_view
        self.meanwhile = meanwhile

    def status_only(self, text: str) -> tuple:
        """A page update that only writes the status line."""
        return tuple(text if name == STATUS else gr.skip() for name in self.outputs)

    # Train and Resume

    def start(self, request: gr.Request | None, starting: str, build: Callable, live_preview,
              new_run: bool = True, saver: Callable | None = None, decoding: str = DECODING):
        """The body of a Train or Resume handler (yield from it): the status line says `starting`,
        then `build(progress)` makes (trainer, run name) in the background, then the run streams
        until it ends. An error ends the stream with its message in the status line and a gr.Error.
        saver(trainer, run name): a gan_space.hub.RunSaver for the run's checkpoints, or None.
        decoding: what the status line says while the data loads (then "N of M")."""
        session = self.context.sessions.get(session_hash(request))
        if _cancelled_while_waiting(session):
            yield self.status_only("Cancelled before it started.")
            return
        yield self.status_only(starting)
        try:
            if session.training:
                raise ValueError("this session is already training: press Stop first")
            trainer, name = yield from self._build_in_background(build, decoding)
        except Exception as error:
            yield from self._report_failure(error)
        if new_run:
            for skipped in trainer.data.skipped[:1]:
                gr.Warning(f"skipped {len(trainer.data.skipped)} unusable file(s), e.g. {skipped}")
        seconds = self.context.live_preview_seconds if live_preview is None or live_preview else None
        job = self.job_class(trainer, name, live_preview_seconds=seconds)
        job.saver = saver(trainer, name) if saver is not None else None
        # On ZeroGPU the run trains in GPU slices (gan_space.hosting.zerogpu); elsewhere in the job's thread.
        yield from self.follow(session, in_slices(job))

    def resume(self, request: gr.Request | None, run_name: str | None, build: Callable, live_preview,
               saver: Callable | None = None):
        """start() for Resume: `build(progress)` loads the run's last checkpoint."""
        yield from self.start(request, f"Resuming {run_name}…", build, live_preview, new_run=False, saver=saver)

    def follow(self, session, job: RunJob):
        """Start the job and yield page updates until it ends. Unchanged parts are skipped or
        re-sent unchanged (which Gradio's stream sends as an empty diff), so nothing crosses the
        wire twice."""
        session.job, session.last_run = job, job.run_name
        job.start()
        view = self.new_view(job)
        sent_version, run_name = 0, job.run_name
        snapshot = job.snapshot()
        try:
            while True:
                ended = job.wait(POLL_SECONDS)
                snapshot = job.snapshot()
                # The picture keeps gr.skip() when unchanged (it would be re-encoded; the image
                # component copies its value, so a skip does not strip it).
                updates = {**view(snapshot), STATUS: status_text(snapshot, job.stop_requested), RUN_NAME: run_name,
                           PREVIEW: snapshot.preview if snapshot.preview_version != sent_version else gr.skip()}
                sent_version, run_name = snapshot.preview_version, gr.skip()
                yield tuple(updates[name] for name in self.outputs)
                if ended:
                    break
        finally:
            if not job.done:  # the page went away mid-run: stop cleanly, keeping a checkpoint
                job.request_stop()
        if snapshot.error:  # the status line already shows it
            raise gr.Error(snapshot.error, print_exception=False)
        if snapshot.event is not None and snapshot.event.status == "diverged":
            gr.Warning(snapshot.event.message)

    def _build_in_background(self, build: Callable, decoding: str = DECODING):
        """Runs `build(progress)` (loading the data, building the networks) in a thread; yields
        status-line updates with the decoding progress until it is done, then returns what it
        returned (or raises its error here)."""
        outcome, progress = {}, {}

        def work():
            try:
                outcome["result"] = build(lambda done, total: progress.update(now=(done, total)))
            except BaseException as error:  # handed to the caller's thread below
                outcome["error"] = error

        thread = threading.Thread(target=work, name="build-trainer", daemon=True)
        thread.start()
        shown = None
        while thread.is_alive():
            thread.join(timeout=0.5)
            if progress.get("now") not in (None, shown):
                shown = done, total = progress["now"]
                yield self.status_only(f"{decoding}: {done:,} of {total:,}…")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def _report_failure(self, error: BaseException):
        """Put the message in the status line (it stays there), then raise it as a gr.Error
        (a notice in the page, an exception for API clients)."""
        message = describe_error(error)
        yield self.status_only(f"Error: {message}")
        raise gr.Error(message, print_exception=False)

    # The buttons

    def announce(self, request: gr.Request):
        """Runs at once on a click, before the run waits its turn for the device: (status, Train
        button, Resume button)."""
        session = self.context.sessions.get(session_hash(request))
        session.waiting, session.cancel_requested = True, False
        busy = self.context.sessions.running_jobs()
        if busy:
            snapshot = busy[0].snapshot()
            event = snapshot.event
            where = f" (step {event.step}/{event.total_steps})" if event is not None else ""
            text = (f"Queued: the training device is busy with run {snapshot.run_name}{where}. Yours starts when it "
                    f"ends; {self.meanwhile}.")
        else:
            text = "Starting…"
        return text, gr.update(interactive=False), gr.update(interactive=False)

    def run_ended(self, request: gr.Request):
        """The run's stream ended (or failed): the Train and Resume buttons work again."""
        self.context.sessions.get(session_hash(request)).waiting = False
        return gr.update(interactive=True), gr.update(interactive=True)

    def stop_clicked(self, request: gr.Request):
        """The Stop button. The status line belongs to the training stream (its last word is
        "stopped at step N"); Stop only writes there when no stream runs yet: a run still queued."""
        session = self.context.sessions.get(session_hash(request))
        waiting = session.waiting and not session.training
        message = request_stop(session)
        if waiting:
            return message
        (gr.Info if session.training else gr.Warning)(message)
        return gr.skip()

    def stop(self, request: gr.Request) -> str:
        """Stop this session's run after its current step; its checkpoint is kept for /resume. Returns what
        happened."""
        return request_stop(self.context.sessions.get(session_hash(request)))

    def page_closed(self, request: gr.Request) -> None:
        """The page went away: its session is forgotten, and its run stops (nobody is watching:
        checkpoint and free the device)."""
        session = self.context.sessions.pop(session_hash(request))
        if session is not None and session.training:
            session.job.request_stop()

    def wire(self, train_button: gr.Button, resume_button: gr.Button, stop_button: gr.Button, status: gr.Textbox,
             train: tuple, resume: tuple) -> list:
        """Wire the buttons: each of `train` and `resume` is (handler, inputs, outputs, api_name).
        A click says at once whether the run is queued and disables both buttons; the run then
        waits its turn for the device; when it ends or fails the buttons come back. Returns the
        Train and Resume events (chain `.then` on them)."""
        buttons = [train_button, resume_button]
        events = [self.wire_button(button, buttons, status, *wiring)
                  for button, wiring in ((train_button, train), (resume_button, resume))]
        stop_button.click(self.stop_clicked, None, status, concurrency_limit=None, api_visibility="private")
        return events

    def wire_button(self, button: gr.Button, buttons: list, status: gr.Textbox, handler, inputs, outputs,
                    api_name: str):
        """Wire one button that starts a run, as `wire` does Train and Resume (`buttons`: those two,
        disabled while the run waits and runs). Returns its event."""
        event = button.click(self.announce, None, [status, *buttons], queue=False, api_visibility="private").then(
            handler, inputs, outputs, api_name=api_name, **RUN_EVENT_OPTIONS)
        # `.then` follows success only; `.failure` brings the buttons back after an error too.
        event.then(self.run_ended, None, buttons, queue=False, api_visibility="private")
        event.failure(self.run_ended, None, buttons, queue=False, api_visibility="private")
        return event


def _cancelled_while_waiting(session) -> bool:
    """True (once) when Stop was pressed while this run waited in the queue."""
    cancelled = session.cancel_requested
    session.waiting = session.cancel_requested = False
    return cancelled
