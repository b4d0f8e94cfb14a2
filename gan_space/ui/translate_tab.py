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
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from gan_space import names
from gan_space.hosting.zerogpu import on_gpu
from gan_space.tasks import get_task, task_names

from .common import AppContext, model_dropdown, push_to_hub, session_hash, user_error
from .jobs import ScorePoint, TranslationJob
from .models import WEIGHTS_NAME, GeneratorEntry, ModelKind, find_model, list_models, read_json
from .next_frame_compare import build_next_frame_section
from .runs import PREVIEW, RUN_NAME, STATUS, RunHandlers
from .train_tab import UPLOAD, build_new_trainer, build_resumed_trainer, training_settings, unique_run_name

EMOJI = "emoji (built-in pictures)"
PICTURE_SOURCES = (EMOJI, UPLOAD)
# Unpaired translation's second domain: the built-in flat emoji style (aligned with the Noto emoji
# by code point, for measuring only) or the user's pictures.
EMOJI_FLAT = "flat emoji (built-in, Fluent style)"
STYLE_SOURCES = (EMOJI_FLAT, UPLOAD)
DIRECTION_CHOICES = [("A → B", "AtoB"), ("B → A (CycleGAN models)", "BtoA")]
DEGRADATIONS = {"blur": ("blur", 2.0), "noise": ("noise", 10.0), "JPEG": ("jpeg", 40)}
APPLY_MAX_OUTPUT_PIXELS = 16_000_000  # a result of at most 4000x4000: the page shows it and the PNG downloads
APPLY_MAX_FILE_BYTES = 32 * 2**20
APPLY_CONCURRENCY_ID = "translate-apply"


# ---------------------------------------------------------------------------
# The models Apply lists (JSON only: no torch to list them)


def translator_config(folder: Path) -> dict | None:
    """config.json of an image-to-image generator folder with safetensors weights, else None."""
    config = read_json(folder / "config.json")
    if {"in_channels", "channels", "scale", "task"} <= set(config) and (folder / WEIGHTS_NAME).is_file():
        return config
    return None


def task_choices() -> list[tuple[str, str]]:
    """The image-to-image tasks of the registry (gan_space.tasks) that this tab can feed (pictures;
    a task that takes sequences of frames trains from the CLI), as the page names them."""
    return [(get_task(name).label, name) for name in task_names(pairs=True) if not get_task(name).takes_sequences]


def _describe(config: dict) -> str:
    task = config.get("task")
    return get_task(task).words_for(config) if task in task_names() else str(task)


TRANSLATORS = ModelKind(
    noun="image-to-image model", config=translator_config,
    run_label=lambda run_name, config, summary: f"{run_name} ({_describe(config)}, step {summary.get('step', '?')})",
    hub_label=lambda repo_id, config: f"{repo_id} ({_describe(config)}, Hub)",
    none_yet="no image-to-image model yet: train one above first")


def list_translators(context: AppContext, owner: str | None = None) -> list[GeneratorEntry]:
    """Image-to-image models: runs trained here (their newest checkpoint) and Hub pulls."""
    return list_models(context.paths, TRANSLATORS, owner)


def find_translator(context: AppContext, key: str | None, owner: str | None) -> GeneratorEntry:
    return find_model(context.paths, TRANSLATORS, key, owner)


# ---------------------------------------------------------------------------
# Progress -> what the page shows (the job is gan_space.ui.jobs.TranslationJob)


def loss_frame(points: list[tuple], adversarial: bool, content: str) -> pd.DataFrame:
    """The loss curves; `adversarial`: the run trains D (an L1-only run has no adversarial loss and no D);
    `content`: the name of the term that keeps outputs true to their inputs (the update step's).
    Its curves are in the table from the first one on, empty during the warm-up: a plot keeps the
    legend of its first table, so a curve added later would never be named."""
    points = points[:: max(1, math.ceil(len(points) / 400))]
    series = {content: [p[1] for p in points]}
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
    from gan_space.metrics import pair_metric

    point = points[-1]
    s = point.scores

    def measured(name, value, baseline_value):
        metric = pair_metric(name)
        return (f"{metric.label} **{metric.format.format(value)}** ({s.baseline} "
                f"{metric.format.format(baseline_value)})")

    text = f"**Held-out pictures** ({s.num_pictures}, never trained on) at step {point.step}: "
    if not s.values:  # unpaired without an alignment measures only a Fréchet distance, which needs a distribution
        return text + (f"too few to measure how close the translations are to B: the Fréchet distance needs at least "
                       f"{pair_metric('frechet_distance').min_pictures} (a tenth of the pictures is held out).")
    text += " · ".join(measured(name, value, s.baseline_values[name]) for name, value in s.values.items())
    text += ". Higher PSNR and SSIM, lower Fréchet distance are better."
    if not s.aligned:
        text += (" The held-out B pictures do not belong to their inputs, so only the distance between the two "
                 "sets says how close the translations are to B's style.")
    reference = next((p for p in points if p.warmup), None)
    if reference is not None and reference is not point:
        r = reference.scores
        text += (f"\n\nThe L1 model at the end of the warm-up (step {reference.step}), before the GAN: PSNR "
                 f"{r.psnr:.2f} dB · SSIM {r.ssim:.3f}"
                 + (f" · Fréchet distance {r.frechet_distance:.3g}" if r.frechet_distance is not None else "") + ".")
    return text


class TranslateProgress:
    """One run's snapshots -> the Translate tab's own outputs (loss plot, PSNR plot, scores text);
    the run plumbing (gan_space.ui.runs) adds the grid, status and run name. The loss table is
    re-sent unchanged (an empty diff) rather than skipped, and the PSNR plot waits hidden for its
    first table: see train_tab.TrainProgress."""

    def __init__(self, job: TranslationJob):
        self.job = job
        self.sent_losses = self.sent_scores = -1
        self.losses = None
        self.scores = gr.update(visible="hidden")

    def __call__(self, snapshot) -> dict:
        if len(snapshot.curve) != self.sent_losses and snapshot.curve:
            objective = self.job.trainer.objective
            self.losses = loss_frame(snapshot.curve, objective.uses_discriminator, objective.content_loss[1])
            self.sent_losses = len(snapshot.curve)
        text = gr.skip()
        if len(snapshot.quality) != self.sent_scores:
            text = score_text(snapshot.quality)
            if snapshot.quality and snapshot.quality[-1].scores.psnr is not None:  # (unpaired, unaligned: none)
                self.scores = gr.update(value=score_frame(snapshot.quality, self.job.warmup_reference), visible=True)
            self.sent_scores = len(snapshot.quality)
        updates = dict(losses=self.losses, scores=self.scores, score_text=text)
        self.scores = gr.skip()
        return updates


# ---------------------------------------------------------------------------
# Settings


def task_settings(task: str, scale, degradations, adversarial_weight, feature_weight, pixel_loss, arch,
                  pixel_warmup=None) -> dict:
    offered = [name for _, name in task_choices()]
    if task not in offered:
        raise ValueError(f"task {task!r} is not one of: {', '.join(offered)}")
    settings = {"task": task}
    if "scale" in get_task(task).settings:
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
            choices = task_choices()
            task = gr.Radio(choices, value=choices[0][1], label="Task", elem_id="translate-task")
            task_help = gr.Markdown(get_task(choices[0][1]).help)
            with gr.Row():
                scale = gr.Radio([(f"x{choice}", choice) for choice in names.SCALES], value=4, label="Scale")
                degradations = gr.CheckboxGroup(list(DEGRADATIONS), value=[], label="Degrade the inputs too",
                                                info="train for blurry, noisy or JPEG pictures")
            pictures = gr.Radio(list(PICTURE_SOURCES), value=EMOJI, label="Pictures", elem_id="translate-pictures",
                                info="3,781 Noto emoji, or yours (pictures, or one .zip)")
            upload = gr.File(label="Pictures or one .zip", file_count="multiple", file_types=["image", ".zip"],
                             visible=False, elem_id="translate-upload", height=180)
            # Unpaired translation: the style the pictures above are turned into (domain B).
            pictures_b = gr.Radio(list(STYLE_SOURCES), value=EMOJI_FLAT, label="Style B (what A is turned into)",
                                  elem_id="translate-pictures-b", visible=False,
                                  info="3,139 flat Fluent emoji (the same emoji as Noto's, never paired in "
                                       "training), or your pictures of the other style")
            upload_b = gr.File(label="Style B: pictures or one .zip", file_count="multiple",
                               file_types=["image", ".zip"], visible=False, elem_id="translate-upload-b", height=180)
            run_name = gr.Textbox(label="Run name", placeholder="blank: a new name like sr-emoji-3f9a1c2e",
                                  info="the folder in runs/; Resume continues the run named here")
            # On a Space the hardware may propose a time budget (gan_space.hosting.environment.DEFAULTS).
            minutes = gr.Number(label="Train for (minutes)", minimum=0,
                                value=context.hosting.defaults.translate_minutes,
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
                    # (A value from the API is checked by TrainConfig, which names the choices.)
                    arch = gr.Dropdown([], label="Architecture", allow_custom_value=True)
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
    build_next_frame_section(context, demo)  # next-frame models: train the pair, compare them side by side
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
            direction = gr.Radio(DIRECTION_CHOICES, value="AtoB", label="Unpaired models: direction",
                                 elem_id="translate-direction")
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

    def switch_task(task_value, source_b):
        chosen = get_task(task_value)
        scaled, degraded = "scale" in chosen.settings, "blur" in chosen.settings
        unpaired = chosen.data_kind == "unpaired"
        return (chosen.help, gr.update(visible=scaled), gr.update(visible=degraded),
                gr.update(value=UPLOAD) if chosen.pairs_from_data and not unpaired else gr.skip(),
                gr.update(visible=unpaired), gr.update(visible=unpaired and source_b == UPLOAD),
                gr.update(label="Held-out pictures: A | translated | B (its counterpart, where known)"
                          if unpaired else "Held-out pictures: input | output | target"),
                *[gr.update(visible=not unpaired)] * 4)

    def switch_pictures(source):
        return gr.update(visible=source == UPLOAD)

    def preset(task_value):
        from gan_space.models import family_names, get_family
        from gan_space.training import TrainConfig

        values = TrainConfig.for_dataset("emoji", task=task_value, dataset_b="emoji-flat" if get_task(
            task_value).data_kind == "unpaired" else "").to_dict()
        # "unet: pix2pix (2017)": the family's name and the start of its description.
        families = [(f"{name}: {get_family(name).description.split(':')[0]}", name)
                    for name in family_names(get_task(task_value).data_kind)]
        return (values["steps"], values["batch_size"], values["resolution"],
                gr.update(choices=families, value=values["arch"]), values["pixel_loss"],
                values["adversarial_weight"], values["feature_weight"], values["pixel_warmup"])

    advanced = [steps, batch_size, resolution, arch, pixel_loss, adversarial_weight, feature_weight, pixel_warmup]
    task.change(switch_task, [task, pictures_b],
                [task_help, scale, degradations, pictures, pictures_b, upload_b, grid, pixel_loss, adversarial_weight,
                 feature_weight, pixel_warmup], queue=False, api_visibility="private")
    task.change(preset, task, advanced, api_visibility="private")
    pictures.change(switch_pictures, pictures, upload, queue=False, api_visibility="private")
    pictures_b.change(switch_pictures, pictures_b, upload_b, queue=False, api_visibility="private")
    demo.load(preset, task, advanced, api_visibility="private")

    outputs = [grid, loss_plot, score_plot, status, run_name, scores_md]
    runs = RunHandlers(context, (PREVIEW, "losses", "scores", STATUS, RUN_NAME, "score_text"), TranslationJob,
                       TranslateProgress, "Apply works meanwhile")

    def translate_train(task="super-resolution", pictures=EMOJI, upload=None, run_name=None, scale=4,
                        degradations=None, minutes=None, steps=None, batch_size=None, resolution=None, arch=None,
                        pixel_loss=None, adversarial_weight=None, feature_weight=None, seed=None, live_preview=True,
                        pixel_warmup=None, pictures_b=EMOJI_FLAT, upload_b=None, request: gr.Request = None):
        """Train an image-to-image model and stream its progress: (held-out input | output | target grid, loss
        curves, held-out PSNR curves, status, run name, scores). task: super-resolution, colorize, edges, paired
        or unpaired; pictures: the built-in emoji or an upload (pictures or one .zip; for paired, A/ and B/ or side
        by side). Unpaired: pictures are domain A, pictures_b the style B they are turned into (the built-in flat
        emoji or upload_b). Blank settings take the task's preset."""

        def build(progress):
            if pictures not in PICTURE_SOURCES:
                raise ValueError(f"pictures must be one of: {', '.join(PICTURE_SOURCES)}")
            unpaired = task in task_names(pairs=True) and get_task(task).data_kind == "unpaired"
            if task in task_names(pairs=True) and get_task(task).pairs_from_data and not unpaired \
                    and pictures != UPLOAD:
                raise ValueError("your pairs need an upload: one .zip with A/ and B/ folders (matching file names), "
                                 "or pictures with the input on the left and the target on the right")
            if unpaired and pictures_b not in STYLE_SOURCES:
                raise ValueError(f"pictures_b must be one of: {', '.join(STYLE_SOURCES)}")
            dataset = "emoji" if pictures == EMOJI else UPLOAD
            settings = {**training_settings(dataset, steps=steps, batch_size=batch_size, resolution=resolution,
                                            seed=seed, minutes=minutes),
                        **task_settings(task, scale, degradations, adversarial_weight, feature_weight, pixel_loss,
                                        arch, pixel_warmup)}
            second = None
            if unpaired:
                if pictures_b == EMOJI_FLAT:
                    settings["dataset_b"] = "emoji-flat"
                else:
                    second = upload_b or []  # (an empty upload: copy_uploads says what to add)
            name = (run_name or "").strip() or unique_run_name(
                context.paths.runs_dir, f"{get_task(task).run_prefix}-{'emoji' if dataset == 'emoji' else 'upload'}")
            return build_new_trainer(context, dataset, upload, None, name, settings, context.owner(request), progress,
                                     upload_b=second)

        yield from runs.start(request, "Loading the pictures and building the networks…", build, live_preview)

    def translate_resume(run_name=None, steps=None, minutes=None, live_preview=True, request: gr.Request = None):
        """Continue the image-to-image run `run_name` from its last checkpoint (up to `steps` in total, or
        `minutes` of training in total). Streams like /translate_train."""

        def build(progress):
            trainer, name = build_resumed_trainer(context, run_name, steps, context.owner(request), minutes, progress)
            if trainer.pairing is None:
                raise ValueError(f"run {name!r} generates from noise: resume it in the Train tab")
            return trainer, name

        yield from runs.resume(request, run_name, build, live_preview)

    def refresh_models(selected=None, request: gr.Request = None):
        """The model list, keeping `selected`, else selecting the session's last run (when listed)."""
        last = context.sessions.get(session_hash(request)).last_run if request is not None else None
        return model_dropdown(context, TRANSLATORS, request, selected, f"runs/{last}" if last else None)

    def after_run(selected, request: gr.Request):
        last = context.sessions.get(session_hash(request)).last_run
        return refresh_models(f"runs/{last}" if last else selected, request)

    def translate_apply(model=None, picture=None, make_sketch=False, direction="AtoB", request: gr.Request = None):
        """Apply the image-to-image `model` (a key from /translate_models) to an uploaded `picture` of any size:
        returns (before: bicubic for super-resolution, else the input as the model sees it; the result; the
        result as a PNG file). direction: AtoB, or BtoA for unpaired models that learnt both (CycleGAN)."""
        from gan_space.data.decode import open_picture, read_file
        from gan_space.sampling import to_pil_images
        from gan_space.translation import apply, bicubic, in_direction, prepare_input

        try:
            entry = find_translator(context, model, context.owner(request))
            kind = entry.config.get("task")
            if kind in task_names() and get_task(kind).takes_sequences:
                raise ValueError(f"{entry.key} predicts the next frame of a clip: compare it under 'Next frame' above, "
                                 "or continue animations with `python -m gan_space apply --rollout N`")
            path = getattr(picture, "name", picture)
            if not path:
                raise ValueError("upload a picture first")
            path = Path(path)
            if path.stat().st_size > APPLY_MAX_FILE_BYTES:
                raise ValueError(f"the picture file is over {APPLY_MAX_FILE_BYTES // 2**20} MiB: make it smaller")
            image = open_picture(read_file(path, APPLY_MAX_FILE_BYTES))
            scale = int(entry.config.get("scale", 1))
            if image.width * image.height * scale * scale > APPLY_MAX_OUTPUT_PIXELS:
                side = int(math.sqrt(APPLY_MAX_OUTPUT_PIXELS) / scale)
                raise ValueError(f"a {image.width}x{image.height} picture is too large for x{scale}: at most about "
                                 f"{side}x{side} pixels here (the command line takes larger ones)")
            generator = in_direction(context.generators.get(entry), direction or "AtoB")
            result = on_gpu(apply)(generator, image, make_sketch=bool(make_sketch))
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
        return push_to_hub(context, TRANSLATORS, model, repo_id, private, token, oauth_token, request)

    def list_models(request: gr.Request) -> list[dict]:
        """The image-to-image models /translate_apply accepts: key (pass it as `model`), label, task, scale."""
        return [{"key": e.key, "label": e.label, "task": e.config.get("task"), "scale": e.config.get("scale")}
                for e in list_translators(context, context.owner(request))]

    train_event, resume_event = runs.wire(
        train_button, resume_button, stop_button, status,
        train=(translate_train, [task, pictures, upload, run_name, scale, degradations, minutes, steps, batch_size,
                                 resolution, arch, pixel_loss, adversarial_weight, feature_weight, seed, live_preview,
                                 pixel_warmup, pictures_b, upload_b], outputs, "translate_train"),
        resume=(translate_resume, [run_name, steps, minutes, live_preview], outputs, "translate_resume"))
    for event in (train_event, resume_event):
        event.then(after_run, model, model, queue=False, api_visibility="private")
    demo.load(refresh_models, model, model, queue=False, api_visibility="private")
    refresh_button.click(refresh_models, model, model, queue=False, api_visibility="private")
    apply_button.click(translate_apply, [model, picture, make_sketch, direction], [before, after, download],
                       api_name="translate_apply", concurrency_limit=2, concurrency_id=APPLY_CONCURRENCY_ID)
    push_button.click(translate_push, [model, push_repo, push_private, push_token], push_status,
                      api_name="translate_push", concurrency_limit=1, concurrency_id="hub")
    gr.api(list_models, api_name="translate_models", concurrency_limit=None)
    return train_event, resume_event
