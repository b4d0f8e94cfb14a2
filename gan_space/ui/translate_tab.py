"""The Translate tab: image-to-image GANs. Pick a task (super-resolution x2/x4,
colourisation, sketch -> picture, or your own pairs) and the pictures (the built-in emoji
or an upload), press Train and watch held-out (input | output | target) triplets sharpen
while the losses and the held-out PSNR (next to bicubic, or the input) grow; then apply a
model to a picture of any size (processed in blended tiles) and download the result.

Training is the library's Trainer with `TrainConfig.task` set, run by the same kind of
job as the Train tab's (one run per session, one at a time on the device, a checkpoint
on Stop); this module turns the choices into settings and the job's progress into the
page. No traceback reaches the page: every error is a one-line message.
"""

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from gan_space import names

from .common import AppContext, session_hash, user_error
from .jobs import TrainingJob, describe_error
from .models import GeneratorEntry, RESERVED_RUN_NAMES, latest_generator_folder, may_use
from .train_tab import (POLL_SECONDS, TRAINING_CONCURRENCY_ID, UPLOAD, build_new_trainer,
                        build_resumed_trainer, status_text, training_settings, unique_run_name)

# The image-to-image tasks (gan_space.names.task_names(), less "generate": the Train tab's), as the
# page names them; a test checks that they are the library's.
TASKS = [("Super-resolution (sharper, larger)", "super-resolution"), ("Colourise (grey → colour)", "colorize"),
         ("Sketch → picture", "edges"), ("Your pairs (input → target)", "paired")]
TASK_NAMES = {"super-resolution": "sr", "colorize": "colorize", "edges": "sketch", "paired": "pairs"}
EMOJI = "emoji (built-in pictures)"
PICTURE_SOURCES = (EMOJI, UPLOAD)
DEGRADATIONS = {"blur": ("blur", 2.0), "noise": ("noise", 10.0), "JPEG": ("jpeg", 40)}
TASK_HELP = {
    "super-resolution": "The pictures are made smaller (antialiased bicubic), and the model learns to give back the "
                        "original; optional blur, noise and JPEG make it work on poorer pictures too.",
    "colorize": "The pictures are turned grey, and the model learns their colours.",
    "edges": "A sketch (dark lines on white) is drawn from each picture, and the model learns to paint the picture.",
    "paired": "Upload one .zip holding A/ (inputs) and B/ (targets) with matching file names, or pictures with the "
              "input on the left and the target on the right (the pix2pix datasets' layout).",
}
SCORE_SECONDS = 5.0  # held-out scores at most this often (and within 1/PREVIEW_COST_RATIO of the time)
APPLY_MAX_OUTPUT_PIXELS = 16_000_000  # a result of at most 4000x4000: the page shows it and the PNG downloads
APPLY_MAX_FILE_BYTES = 32 * 2**20
APPLY_CONCURRENCY_ID = "translate-apply"


# ---------------------------------------------------------------------------
# The models Apply lists (JSON only: no torch to list them)


def translator_config(folder: Path) -> dict | None:
    """config.json of an image-to-image generator folder with safetensors weights, else None."""
    from .models import WEIGHTS_NAME, _read_json

    config = _read_json(folder / "config.json")
    if {"in_channels", "channels", "scale", "task"} <= set(config) and (folder / WEIGHTS_NAME).is_file():
        return config
    return None


def list_translators(context: AppContext, owner: str | None = None) -> list[GeneratorEntry]:
    """Image-to-image models: runs trained here (their newest checkpoint) and Hub pulls."""
    from .models import _read_json, _subfolders

    paths = context.paths
    entries = []
    for run in _subfolders(paths.runs_dir):
        if run.name in RESERVED_RUN_NAMES or not may_use(run, owner):
            continue
        folder = latest_generator_folder(run)
        config = translator_config(folder) if folder is not None else None
        if config is not None:
            summary = _read_json(folder.parent / "state.json").get("summary", {})
            label = f"{run.name} ({_describe(config)}, step {summary.get('step', '?')})"
            entries.append(GeneratorEntry(f"runs/{run.name}", label, folder, "trained", config, summary))
    for pulled in _subfolders(paths.hub_dir):
        config = translator_config(pulled) if may_use(pulled, owner) else None
        if config is not None:
            label = f"{pulled.name.replace('--', '/', 1)} ({_describe(config)}, Hub)"
            entries.append(GeneratorEntry(f"hub/{pulled.name}", label, pulled, "hub", config, {}))
    return entries


def _describe(config: dict) -> str:
    task = config.get("task")
    return f"x{config.get('scale')} super-resolution" if task == "super-resolution" else {
        "colorize": "colourise", "edges": "sketch → picture", "paired": "pairs"}.get(task, str(task))


def find_translator(context: AppContext, key: str | None, owner: str | None) -> GeneratorEntry:
    entries = list_translators(context, owner)
    for entry in entries:
        if entry.key == key:
            return entry
    if not entries:
        raise ValueError("no image-to-image model yet: train one above first")
    raise ValueError(f"no image-to-image model {key!r}: choose one of {', '.join(e.key for e in entries)}")


# ---------------------------------------------------------------------------
# The job: the Train tab's, with held-out scores instead of sample diagnostics


@dataclass
class ScorePoint:
    step: int
    scores: object  # gan_space.translation.Scores
    warmup: bool = False  # the L1 model at the end of the pixel warm-up (the GAN's own L1-only reference)


class TranslationJob(TrainingJob):
    """A TrainingJob whose measurements are the held-out scores (PSNR, SSIM, Fréchet distance of
    the EMA generator, next to the baseline), taken between steps at most every SCORE_SECONDS
    and within 1/PREVIEW_COST_RATIO of the run's time; it also keeps the pixel-loss curve."""

    def __init__(self, trainer, run_name: str, live_preview_seconds: float | None = 1.0):
        super().__init__(trainer, run_name, live_preview_seconds=live_preview_seconds,
                         diagnostics_seconds=SCORE_SECONDS)
        self._losses: list[tuple] = []  # (step, pixel, adversarial, d)
        config = trainer.config
        # A run with a warm-up measures its L1 model once, when the warm-up ends: the L1-only
        # reference its GAN phase is judged against (PSNR kept, Fréchet distance lowered).
        self.warmup_reference = (trainer.objective.uses_discriminator and 0 < config.pixel_warmup
                                 and trainer.step < config.pixel_warmup)

    def losses(self) -> list[tuple]:
        with self._lock:
            return list(self._losses)

    def _maybe_measure(self, event) -> None:
        if event.losses:
            point = (event.step, event.losses.get("pixel", math.nan), event.losses.get("adversarial", math.nan),
                     event.losses.get("d", math.nan))
            with self._lock:
                self._losses.append(point)
        if self.diagnostics_seconds is None or event.status == "diverged":
            return
        if self._quality and self._quality[-1].step == event.step:
            return
        final = event.status != "running"
        warmup_end = self.warmup_reference and event.step >= self.trainer.config.pixel_warmup and not any(
            p.warmup for p in self._quality)
        if not (final or warmup_end):
            if time.monotonic() - self._last_measurement < self.diagnostics_seconds:
                return
            if not self._budget_allows(self._expected_cost):
                return
        from gan_space.translation import held_out_scores

        start = time.monotonic()
        try:
            with self.trainer.networks.sampling_weights() as generator:
                scores = held_out_scores(generator, self.trainer.held_out, self.trainer.config.task)
        except Exception:  # a failed measurement turns them off; training goes on
            import logging

            logging.getLogger(__name__).exception("held-out scores failed; training goes on without them")
            self.diagnostics_seconds = None
            return
        self._book_measurement(start)
        with self._lock:
            self._quality.append(ScorePoint(event.step, scores, warmup=warmup_end))


def loss_frame(points: list[tuple], adversarial: bool) -> pd.DataFrame:
    """The loss curves; `adversarial`: the run trains D (an L1-only run has no adversarial loss and no D).
    Its curves are in the table from the first one on, empty during the warm-up: a plot keeps the
    legend of its first table, so a curve added later would never be named."""
    points = points[:: max(1, math.ceil(len(points) / 400))]
    series = {"pixel L1 (G)": [p[1] for p in points]}
    if adversarial:
        series["adversarial (G)"] = [p[2] for p in points]
        series["D loss"] = [p[3] if math.isfinite(p[2]) else math.nan for p in points]  # (no D in the warm-up)
    steps = [p[0] for p in points]
    return pd.DataFrame({"step": steps * len(series), "value": [v for vs in series.values() for v in vs],
                         "curve": [name for name in series for _ in steps]})


def score_frame(points: list[ScorePoint], warmup_reference: bool = False) -> pd.DataFrame:
    """PSNR over the steps: the model, the baseline and (a run with a warm-up) its L1 model at the
    warm-up's end, as a level line (in the table from the start, empty until measured: a plot keeps
    the legend of its first table)."""
    baseline = points[-1].scores.baseline
    steps = [p.step for p in points]
    series = {"this model": [p.scores.psnr for p in points], baseline: [p.scores.baseline_psnr for p in points]}
    if warmup_reference:
        reference = next((p.scores.psnr for p in points if p.warmup), math.nan)
        series["L1 model (end of warm-up)"] = [reference for _ in points]
    return pd.DataFrame({"step": steps * len(series), "value": [v for vs in series.values() for v in vs],
                         "curve": [name for name in series for _ in steps]})


def score_text(points: list[ScorePoint]) -> str:
    if not points:
        return "Held-out scores appear after the first steps."
    point = points[-1]
    s = point.scores
    text = (f"**Held-out pictures** ({s.num_pictures}, never trained on) at step {point.step}: "
            f"PSNR **{s.psnr:.2f} dB** ({s.baseline} {s.baseline_psnr:.2f}) · SSIM **{s.ssim:.3f}** "
            f"({s.baseline} {s.baseline_ssim:.3f})")
    if s.frechet_distance is not None:
        text += f" · Fréchet distance **{s.frechet_distance:.3g}** ({s.baseline} {s.baseline_frechet_distance:.3g})"
    text += ". Higher PSNR and SSIM, lower Fréchet distance are better."
    reference = next((p for p in points if p.warmup), None)
    if reference is not None and reference is not point:
        r = reference.scores
        text += (f"\n\nThe L1 model at the end of the warm-up (step {reference.step}), before the GAN: PSNR "
                 f"{r.psnr:.2f} dB · SSIM {r.ssim:.3f}"
                 + (f" · Fréchet distance {r.frechet_distance:.3g}" if r.frechet_distance is not None else "") + ".")
    return text


# ---------------------------------------------------------------------------
# Settings


def task_settings(task: str, scale, degradations, adversarial_weight, feature_weight, pixel_loss, arch,
                  pixel_warmup=None) -> dict:
    if task not in dict((value, label) for label, value in TASKS):
        raise ValueError(f"task {task!r} is not one of: {', '.join(value for _, value in TASKS)}")
    settings = {"task": task}
    if task == "super-resolution":
        if scale not in names.SCALES and str(scale) not in {str(choice) for choice in names.SCALES}:  # 4, "4"
            raise ValueError(f"scale must be {' or '.join(map(str, names.SCALES))}, got {scale!r}")
        settings["scale"] = int(scale)
        for name in degradations or []:
            if name not in DEGRADATIONS:
                raise ValueError(f"degradation {name!r} is not one of: {', '.join(DEGRADATIONS)}")
            field, value = DEGRADATIONS[name]
            settings[field] = value
    for name, value in (("adversarial_weight", adversarial_weight), ("feature_weight", feature_weight),
                        ("pixel_loss", pixel_loss), ("arch", arch)):
        if value is not None and value != "":
            settings[name] = float(value) if name.endswith("weight") else value
    if pixel_warmup is not None and pixel_warmup != "":
        if float(pixel_warmup) != int(float(pixel_warmup)):
            raise ValueError(f"pixel_warmup must be a whole number of steps, got {pixel_warmup}")
        settings["pixel_warmup"] = int(float(pixel_warmup))
    return settings


# ---------------------------------------------------------------------------
# The tab


def build_translate_tab(context: AppContext, demo: gr.Blocks):
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            task = gr.Radio(TASKS, value="super-resolution", label="Task", elem_id="translate-task")
            task_help = gr.Markdown(TASK_HELP["super-resolution"])
            with gr.Row():
                scale = gr.Radio([(f"x{choice}", choice) for choice in names.SCALES], value=4, label="Scale")
                degradations = gr.CheckboxGroup(list(DEGRADATIONS), value=[], label="Degrade the inputs too",
                                                info="train for blurry, noisy or JPEG pictures")
            pictures = gr.Radio(list(PICTURE_SOURCES), value=EMOJI, label="Pictures", elem_id="translate-pictures",
                                info="3,781 Noto emoji, or yours (pictures, or one .zip)")
            upload = gr.File(label="Pictures or one .zip", file_count="multiple", file_types=["image", ".zip"],
                             visible=False, elem_id="translate-upload", height=180)
            run_name = gr.Textbox(label="Run name", placeholder="blank: a new name like sr-emoji-3f9a1c2e",
                                  info="the folder in runs/; Resume continues the run named here")
            minutes = gr.Number(label="Train for (minutes)", minimum=0,
                                info="blank: the preset's steps (2,000); the run stops on time with a checkpoint")
            with gr.Row():
                train_button = gr.Button("Train", variant="primary", elem_id="translate-train")
                stop_button = gr.Button("Stop", variant="stop", elem_id="translate-stop")
                resume_button = gr.Button("Resume", elem_id="translate-resume")
            status = gr.Textbox(label="Status", interactive=False, lines=2, elem_id="translate-status")
            with gr.Accordion("Advanced settings", open=False, elem_id="translate-advanced"):
                gr.Markdown("Blank: the task's preset. Adversarial weight 0 trains the L1-only baseline "
                            "(SRResNet): sharp in PSNR, blurry to the eye.")
                with gr.Row():
                    steps = gr.Number(label="Steps", precision=0, elem_id="translate-steps")
                    batch_size = gr.Number(label="Batch size", precision=0, elem_id="translate-batch")
                    resolution = gr.Number(label="Picture size (px)", precision=0, elem_id="translate-resolution",
                                           info="of the targets while training (16-256, a multiple of 8)")
                with gr.Row():
                    # Filled from the registry's picture -> picture families on load (it imports torch).
                    arch = gr.Dropdown([], label="Architecture")
                    pixel_loss = gr.Dropdown(list(names.PIXEL_LOSSES), label="Pixel loss")
                with gr.Row():
                    adversarial_weight = gr.Number(label="Adversarial weight", step=0.005, elem_id="translate-adversarial")
                    feature_weight = gr.Number(label="Feature matching weight", step=0.05,
                                               info="in D's features: a perceptual loss with no download")
                    pixel_warmup = gr.Number(label="Pixel-loss warm-up (steps)", precision=0, elem_id="translate-warmup",
                                             info="L1 alone first, then the GAN from it (ESRGAN)")
                with gr.Row():
                    seed = gr.Number(label="Seed", value=0, precision=0)
                    live_preview = gr.Checkbox(label="Live previews", value=True)
        with gr.Column(scale=3, min_width=320):
            grid = gr.Image(label="Held-out pictures: input | output | target", type="pil", format="png",
                            interactive=False, elem_id="translate-grid", height=460)
            with gr.Row():
                loss_plot = gr.LinePlot(x="step", y="value", color="curve", title="Losses", height=220,
                                        elem_id="translate-losses")
                score_plot = gr.LinePlot(x="step", y="value", color="curve", title="Held-out PSNR (dB)",
                                         height=220, elem_id="translate-psnr", visible=False)
            scores_md = gr.Markdown(elem_id="translate-scores")
    gr.Markdown("### Apply a model\nUpload a picture of any size (large ones are processed in overlapping tiles, "
                "blended without seams).")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            with gr.Row():
                model = gr.Dropdown([], label="Image-to-image model", allow_custom_value=True, scale=5,
                                    elem_id="translate-model")
                refresh_button = gr.Button("↻", scale=0, min_width=48, elem_id="translate-refresh")
            picture = gr.File(label="Picture", file_types=["image"], elem_id="translate-picture")
            make_sketch = gr.Checkbox(label="Sketch models: draw a sketch of the picture first (a photo, not a "
                                            "drawing)", value=False)
            apply_button = gr.Button("Apply", variant="primary", elem_id="translate-apply")
        with gr.Column(scale=3, min_width=320):
            with gr.Row():
                before = gr.Image(label="Before", type="pil", format="png", interactive=False,
                                  elem_id="translate-before", height=360)
                after = gr.Image(label="After", type="pil", format="png", interactive=False,
                                 elem_id="translate-after", height=360)
            download = gr.DownloadButton("Download result (PNG)", elem_id="translate-download")
    with gr.Accordion("Share the model on the Hugging Face Hub", open=False, elem_id="translate-share"):
        gr.Markdown("Pushes the model chosen above (safetensors) with a card: a before/after picture of its held-out "
                    "pictures and their PSNR, SSIM and Fréchet distance next to bicubic (or the input). Pull it back "
                    "in the **Hub** tab; it then shows in the list above.")
        with gr.Row():
            push_repo = gr.Textbox(label="Repo id", placeholder="you/emoji-sr-x4")
            push_token = gr.Textbox(label="Hugging Face token", type="password", placeholder="hf_...",
                                    info="used for this one push, never stored (signed in on a Space: not needed)")
            push_private = gr.Checkbox(label="Private repo", value=False)
        push_button = gr.Button("Push", elem_id="translate-push")
        push_status = gr.Markdown(elem_id="translate-push-status")

    def switch_task(task_value):
        sr = task_value == "super-resolution"
        return (TASK_HELP.get(task_value, ""), gr.update(visible=sr), gr.update(visible=sr),
                gr.update(value=UPLOAD) if task_value == "paired" else gr.skip())

    def switch_pictures(source):
        return gr.update(visible=source == UPLOAD)

    def preset(task_value):
        from gan_space.models import family_names, get_family
        from gan_space.training import TrainConfig

        values = TrainConfig.for_dataset("emoji", task=task_value).to_dict()
        # "unet: pix2pix (2017)": the family's name and the start of its description.
        families = [(f"{name}: {get_family(name).description.split(':')[0]}", name) for name in family_names("pairs")]
        return (values["steps"], values["batch_size"], values["resolution"],
                gr.update(choices=families, value=values["arch"]), values["pixel_loss"],
                values["adversarial_weight"], values["feature_weight"], values["pixel_warmup"])

    advanced = [steps, batch_size, resolution, arch, pixel_loss, adversarial_weight, feature_weight, pixel_warmup]
    task.change(switch_task, task, [task_help, scale, degradations, pictures], queue=False, api_visibility="private")
    task.change(preset, task, advanced, api_visibility="private")
    pictures.change(switch_pictures, pictures, upload, queue=False, api_visibility="private")
    demo.load(preset, task, advanced, api_visibility="private")

    outputs = [grid, loss_plot, score_plot, status, run_name, scores_md]

    def status_only(text):
        return gr.skip(), gr.skip(), gr.skip(), text, gr.skip(), gr.skip()

    def build_in_background(build):
        """Runs build(progress) in a thread; yields status updates (decoding progress) until done."""
        result, failure, progress = {}, [], [None]

        def work():
            try:
                result["value"] = build(lambda done, total: progress.__setitem__(0, (done, total)))
            except BaseException as error:  # raised in the caller's thread below
                failure.append(error)

        thread = threading.Thread(target=work, name="build-translation", daemon=True)
        thread.start()
        shown = None
        while thread.is_alive():
            thread.join(timeout=0.5)
            if progress[0] is not None and progress[0] != shown:
                shown = progress[0]
                yield status_only(f"Decoding the pictures: {shown[0]:,} of {shown[1]:,}…")
        if failure:
            raise failure[0]
        return result["value"]

    def follow(session, job: TranslationJob):
        session.job, session.last_run = job, job.run_name
        job.start()
        sent_version, sent_losses, sent_scores = 0, -1, -1
        name_update = job.run_name
        losses_table = None  # re-sent unchanged (an empty diff) rather than skipped: see train_tab.follow_job
        scores_update = gr.update(visible="hidden")
        snapshot = job.snapshot()
        try:
            while True:
                ended = job.wait(POLL_SECONDS)
                snapshot = job.snapshot()
                picture_update = snapshot.preview if snapshot.preview_version != sent_version else gr.skip()
                sent_version = snapshot.preview_version
                losses = job.losses()
                if len(losses) != sent_losses and losses:
                    losses_table = loss_frame(losses, job.trainer.objective.uses_discriminator)
                    sent_losses = len(losses)
                text = gr.skip()
                if len(snapshot.quality) != sent_scores:
                    text = score_text(snapshot.quality)
                    if snapshot.quality:
                        scores_update = gr.update(value=score_frame(snapshot.quality, job.warmup_reference),
                                                  visible=True)
                    sent_scores = len(snapshot.quality)
                yield (picture_update, losses_table, scores_update, status_text(snapshot, job.stop_requested),
                       name_update, text)
                name_update = scores_update = gr.skip()
                if ended:
                    break
        finally:
            if not job.done:  # the page went away: stop cleanly, keeping a checkpoint
                job.request_stop()
        if snapshot.error:
            raise gr.Error(snapshot.error, print_exception=False)
        if snapshot.event is not None and snapshot.event.status == "diverged":
            gr.Warning(snapshot.event.message)

    def fail(error):
        message = describe_error(error)
        yield status_only(f"Error: {message}")
        raise gr.Error(message, print_exception=False)

    def begin(session) -> bool:
        cancelled = session.cancel_requested
        session.waiting = session.cancel_requested = False
        return cancelled

    def translate_train(task="super-resolution", pictures=EMOJI, upload=None, run_name=None, scale=4,
                        degradations=None, minutes=None, steps=None, batch_size=None, resolution=None, arch=None,
                        pixel_loss=None, adversarial_weight=None, feature_weight=None, seed=None, live_preview=True,
                        pixel_warmup=None, request: gr.Request = None):
        """Train an image-to-image model and stream its progress: (held-out input | output | target grid, loss
        curves, held-out PSNR curves, status, run name, scores). task: super-resolution, colorize, edges or
        paired; pictures: the built-in emoji or an upload (pictures or one .zip; for paired, A/ and B/ or side by
        side). Blank settings take the task's preset."""
        session = context.sessions.get(session_hash(request))
        if begin(session):
            yield status_only("Cancelled before it started.")
            return
        yield status_only("Loading the pictures and building the networks…")
        try:
            if session.training:
                raise ValueError("this session is already training: press Stop first")
            if pictures not in PICTURE_SOURCES:
                raise ValueError(f"pictures must be one of: {', '.join(PICTURE_SOURCES)}")
            if task == "paired" and pictures != UPLOAD:
                raise ValueError("your pairs need an upload: one .zip with A/ and B/ folders (matching file names), "
                                 "or pictures with the input on the left and the target on the right")
            dataset = "emoji" if pictures == EMOJI else UPLOAD
            settings = {**training_settings(dataset, steps=steps, batch_size=batch_size, resolution=resolution,
                                            seed=seed, minutes=minutes),
                        **task_settings(task, scale, degradations, adversarial_weight, feature_weight, pixel_loss,
                                        arch, pixel_warmup)}
            name = (run_name or "").strip() or unique_run_name(
                context.paths.runs_dir, f"{TASK_NAMES[task]}-{'emoji' if dataset == 'emoji' else 'upload'}")
            trainer, name = yield from build_in_background(lambda progress: build_new_trainer(
                context, dataset, upload, None, name, settings, context.owner(request), progress))
        except Exception as error:
            yield from fail(error)
        skipped = trainer.data.skipped
        if skipped:
            gr.Warning(f"skipped {len(skipped)} file(s), e.g. {skipped[0]}")
        seconds = context.live_preview_seconds if live_preview is None or live_preview else None
        yield from follow(session, TranslationJob(trainer, name, live_preview_seconds=seconds))

    def translate_resume(run_name=None, steps=None, minutes=None, live_preview=True, request: gr.Request = None):
        """Continue the image-to-image run `run_name` from its last checkpoint (up to `steps` in total, or
        `minutes` of training in total). Streams like /translate_train."""
        session = context.sessions.get(session_hash(request))
        if begin(session):
            yield status_only("Cancelled before it started.")
            return
        yield status_only(f"Resuming {run_name}…")
        try:
            if session.training:
                raise ValueError("this session is already training: press Stop first")
            trainer, name = yield from build_in_background(lambda progress: build_resumed_trainer(
                context, run_name, steps, context.owner(request), minutes, progress))
            if trainer.pairing is None:
                raise ValueError(f"run {name!r} generates from noise: resume it in the Train tab")
        except Exception as error:
            yield from fail(error)
        seconds = context.live_preview_seconds if live_preview is None or live_preview else None
        yield from follow(session, TranslationJob(trainer, name, live_preview_seconds=seconds))

    def announce(request: gr.Request):
        session = context.sessions.get(session_hash(request))
        session.waiting, session.cancel_requested = True, False
        busy = context.sessions.running_jobs()
        text = "Starting…"
        if busy:
            text = (f"Queued: the training device is busy with run {busy[0].run_name}. Yours starts when it ends; "
                    f"Apply works meanwhile.")
        return text, gr.update(interactive=False), gr.update(interactive=False)

    def run_ended(request: gr.Request):
        context.sessions.get(session_hash(request)).waiting = False
        return gr.update(interactive=True), gr.update(interactive=True)

    def stop_clicked(request: gr.Request):
        session = context.sessions.get(session_hash(request))
        if session.training:
            session.job.request_stop()
            gr.Info(f"{session.job.run_name}: stopping after this step; the checkpoint is kept (Resume continues it).")
            return gr.skip()
        if session.waiting:
            session.cancel_requested = True
            return "Cancelled: the queued run will not start."
        gr.Warning("Nothing is training in this session.")
        return gr.skip()

    def refresh_models(selected=None, request: gr.Request = None):
        entries = list_translators(context, context.owner(request))
        keys = [e.key for e in entries]
        last = context.sessions.get(session_hash(request)).last_run if request is not None else None
        if f"runs/{last}" in keys and selected not in keys:
            selected = f"runs/{last}"
        return gr.update(choices=[(e.label, e.key) for e in entries],
                         value=selected if selected in keys else (keys[0] if keys else None))

    def after_run(selected, request: gr.Request):
        last = context.sessions.get(session_hash(request)).last_run
        return refresh_models(f"runs/{last}" if last else selected, request)

    def translate_apply(model=None, picture=None, make_sketch=False, request: gr.Request = None):
        """Apply the image-to-image `model` (a key from /translate_models) to an uploaded `picture` of any size:
        returns (before: bicubic for super-resolution, else the input as the model sees it; the result; the
        result as a PNG file)."""
        from gan_space.pairs import open_picture
        from gan_space.sampling import to_pil_images
        from gan_space.translation import apply, bicubic, prepare_input

        try:
            entry = find_translator(context, model, context.owner(request))
            path = getattr(picture, "name", picture)
            if not path:
                raise ValueError("upload a picture first")
            path = Path(path)
            if path.stat().st_size > APPLY_MAX_FILE_BYTES:
                raise ValueError(f"the picture file is over {APPLY_MAX_FILE_BYTES // 2**20} MiB: make it smaller")
            image = open_picture(path.read_bytes())
            scale = int(entry.config.get("scale", 1))
            if image.width * image.height * scale * scale > APPLY_MAX_OUTPUT_PIXELS:
                side = int(math.sqrt(APPLY_MAX_OUTPUT_PIXELS) / scale)
                raise ValueError(f"a {image.width}x{image.height} picture is too large for x{scale}: at most about "
                                 f"{side}x{side} pixels here (the command line takes larger ones)")
            generator = context.generators.get(entry)
            result = apply(generator, image, make_sketch=bool(make_sketch))
            given = to_pil_images(prepare_input(generator, image, bool(make_sketch)), min_size=1)[0]
            shown = bicubic(given.convert("RGB"), scale) if scale > 1 else given
        except Exception as error:
            raise user_error(error) from None
        out = context.paths.session_dir(session_hash(request)) / f"{path.stem[:60]}-{entry.key.split('/')[-1]}-" \
                                                                  f"{time.time_ns()}.png"
        result.save(out)
        return shown, result, str(out)

    def translate_push(model=None, repo_id=None, private=False, token=None,
                       oauth_token: gr.OAuthToken | None = None, request: gr.Request = None):
        """Push the image-to-image `model` (a key from /translate_models) to the Hub repo `repo_id`, with its
        before/after picture and held-out scores in the card; returns the repo URL (Markdown)."""
        from gan_space import hub

        try:
            repo_id = hub.validate_repo_id(repo_id)
            secret = context.hub_token(oauth_token.token if oauth_token else None, token)
            if not secret:
                raise hub.HubAuthError("pushing needs a Hugging Face token with write access: sign in or paste a "
                                       "token (https://huggingface.co/settings/tokens).")
            entry = find_translator(context, model, context.owner(request))
            url = hub.push(entry.folder, repo_id, secret, private=bool(private))
        except Exception as error:
            raise user_error(error) from None
        return f"Pushed **{entry.key}** to [{repo_id}]({url})"

    def list_models(request: gr.Request) -> list[dict]:
        """The image-to-image models /translate_apply accepts: key (pass it as `model`), label, task, scale."""
        return [{"key": e.key, "label": e.label, "task": e.config.get("task"), "scale": e.config.get("scale")}
                for e in list_translators(context, context.owner(request))]

    buttons = [train_button, resume_button]
    training = dict(concurrency_limit=1, concurrency_id=TRAINING_CONCURRENCY_ID, show_progress="hidden")
    train_event = train_button.click(announce, None, [status, *buttons], queue=False, api_visibility="private").then(
        translate_train, [task, pictures, upload, run_name, scale, degradations, minutes, steps, batch_size,
                          resolution, arch, pixel_loss, adversarial_weight, feature_weight, seed, live_preview,
                          pixel_warmup],
        outputs, api_name="translate_train", **training)
    resume_event = resume_button.click(announce, None, [status, *buttons], queue=False,
                                       api_visibility="private").then(
        translate_resume, [run_name, steps, minutes, live_preview], outputs, api_name="translate_resume", **training)
    for event in (train_event, resume_event):
        event.then(run_ended, None, buttons, queue=False, api_visibility="private")
        event.failure(run_ended, None, buttons, queue=False, api_visibility="private")
        event.then(after_run, model, model, queue=False, api_visibility="private")
    stop_button.click(stop_clicked, None, status, concurrency_limit=None, api_visibility="private")
    demo.load(refresh_models, model, model, queue=False, api_visibility="private")
    refresh_button.click(refresh_models, model, model, queue=False, api_visibility="private")
    apply_button.click(translate_apply, [model, picture, make_sketch], [before, after, download],
                       api_name="translate_apply", concurrency_limit=2, concurrency_id=APPLY_CONCURRENCY_ID)
    push_button.click(translate_push, [model, push_repo, push_private, push_token], push_status,
                      api_name="translate_push", concurrency_limit=1, concurrency_id="hub")
    gr.api(list_models, api_name="translate_models", concurrency_limit=None)
    return train_event, resume_event
