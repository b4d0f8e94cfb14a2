"""The Translate tab's next-frame part: the NIPS 2016 GAN tutorial's "L2 blurs, adversarial
stays sharp" side by side. Train the pair in two clicks (the task's preset, then its L2-only
twin: the same settings with adversarial weight 0 and feature matching 0), on the built-in
moving emoji or uploaded animations; pick two next-frame models and a clip (a held-out clip of
the moving emoji, or an uploaded animation), and see the last given frame (= copying it), each
model's next frame and the true one with PSNR and sharpness, and each model's rollout as a GIF.
The comparison is gan_space.frame_comparison's and the runs are the Translate tab's kind of job
(gan_space.ui.runs: one at a time on the device, Stop keeps a checkpoint); this module wires
them to the page.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from gan_space import names
from gan_space.hosting.zerogpu import on_gpu
from gan_space.tasks import get_task

from .common import AppContext, session_hash, user_error
from .jobs import TranslationJob
from .models import WEIGHTS_NAME, GeneratorEntry, ModelKind, check_run_name, find_model, list_models, read_json
from .runs import PREVIEW, RUN_NAME, STATUS, RunHandlers
from .train_tab import UPLOAD, build_new_trainer, training_settings, unique_run_name

NEXT_FRAME = "next-frame"
HELD_OUT = "a held-out moving-emoji clip"
UPLOAD_CLIP = "upload an animation (GIF, WebP, PNG)"
CLIP_SOURCES = (HELD_OUT, UPLOAD_CLIP)
MAX_CLIP_BYTES = 32 * 2**20
DEFAULT_ROLLOUT = 8
MAX_ROLLOUT = 30  # in the page (the library takes up to 60)
DEFAULT_RESOLUTION = 32  # the next-frame preset's, for a model whose run did not record its own
TWIN_SUFFIX = "-l2"
COMPARE_CONCURRENCY_ID = "next-frame-compare"
SECTION_HELP = (
    "### Next frame: L2 against adversarial, side by side\n"
    "The NIPS 2016 GAN tutorial's example: a model trained with L2 alone averages the futures it cannot tell "
    "apart into a blur (a good PSNR), an adversarial one picks one and stays sharp. Train a next-frame model "
    "(the task's preset: L2 + adversarial), then its twin with **Train the L2-only twin** (the same settings with "
    "adversarial weight 0 and feature matching 0), and compare them on a clip neither trained on. Sharpness is "
    "the prediction's mean gradient over the true frame's: 1 = as sharp, below 1 = blurred.")


def next_frame_config(folder: Path) -> dict | None:
    """config.json of a next-frame generator folder with safetensors weights, else None."""
    config = read_json(folder / "config.json")
    if config.get("task") == NEXT_FRAME and {"in_channels", "channels"} <= set(config) and (
            folder / WEIGHTS_NAME).is_file():
        return config
    return None


NEXT_FRAME_MODELS = ModelKind(
    noun="next-frame model", config=next_frame_config,
    run_label=lambda run_name, config, summary: f"{run_name} (step {summary.get('step', '?')})",
    hub_label=lambda repo_id, config: f"{repo_id} (Hub)",
    none_yet="no next-frame model yet: train one above (task: Next frame) first")


def run_settings(entry: GeneratorEntry) -> dict:
    """The settings of the run a listed model came from (JSON only; {} when not recorded)."""
    state = read_json(entry.folder.parent / "state.json")
    return dict(state.get("train_config") or read_json(entry.folder / "summary.json").get("train_config") or {})


def loss_kind(settings: dict) -> str:
    """'L2 only' for a model trained without the adversarial loss, 'adversarial' with it."""
    weight = settings.get("adversarial_weight")
    if weight is None:
        return "loss not recorded"
    return "L2 only" if float(weight) == 0 else "adversarial"


def model_name(entry: GeneratorEntry) -> str:
    """How the pictures and the table name a model: its run or repo, and how it was trained."""
    return f"{entry.key.split('/', 1)[-1]} ({loss_kind(run_settings(entry))})"


def twin_run_name(runs_dir: Path, run_name: str | None, source: str) -> str:
    """The L2-only twin's run: the named run's name + '-l2', else a new name."""
    name = (run_name or "").strip()
    if not name:
        return unique_run_name(runs_dir, f"next-frame-l2-{source}")
    return check_run_name(name[: 64 - len(TWIN_SUFFIX)] + TWIN_SUFFIX)


# ---------------------------------------------------------------------------
# Comparing


def _whole(value, name: str, low: int, high: int) -> int:
    if value is None or value == "" or float(value) != int(float(value)) or not low <= int(float(value)) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high:,}, got {value}")
    return int(float(value))


def load_clip(source: str, upload, number, length: int, resolution: int, channels: int):
    """The clip the models are compared on: a held-out moving-emoji clip of `length` frames, or
    the uploaded animation's frames, at the models' size."""
    from gan_space.data.decode import read_file
    from gan_space.frame_comparison import clip_from_file, held_out_clip

    if source == HELD_OUT:
        return held_out_clip(length, resolution, channels, _whole(number, "clip number", 0, 999_999)), \
            f"held-out moving-emoji clip {int(float(number))}"
    if source != UPLOAD_CLIP:
        raise ValueError(f"clip must be one of: {', '.join(CLIP_SOURCES)}")
    path = getattr(upload, "name", upload)
    if not path:
        raise ValueError("upload an animation first (a GIF, an animated WebP or PNG)")
    path = Path(path)
    read_file(path, MAX_CLIP_BYTES)  # refused with a clear message when over the limit
    return clip_from_file(path, resolution, channels), path.name


def compare_models(context: AppContext, model_a, model_b, clip_source, clip_upload, clip_number, rollout_frames,
                   request: gr.Request | None):
    """The comparison: (side-by-side picture, score table, rollout GIF, each model's GIF, summary)."""
    from gan_space.frame_comparison import (compare_next_frame, model_rollout_gif, rollout_gif,
                                            side_by_side_picture)

    owner = context.owner(request)
    keys = [key for key in (model_a, model_b) if key]
    if not keys:
        raise ValueError("choose a next-frame model (two to compare them)")
    entries = [find_model(context.paths, NEXT_FRAME_MODELS, key, owner) for key in keys]
    rollout = _whole(rollout_frames, "rollout frames", 1, MAX_ROLLOUT)
    channels = int(entries[0].config["channels"])
    resolution = int(run_settings(entries[0]).get("resolution") or DEFAULT_RESOLUTION)
    looks_back = max(int(entry.config.get("frames", 1)) for entry in entries)
    clip, clip_name = load_clip(clip_source, clip_upload, clip_number, looks_back + rollout, resolution, channels)
    named = [(model_name(entry), context.generators.get(entry)) for entry in entries]
    result = on_gpu(compare_next_frame)(named, clip, rollout)

    folder = context.paths.session_dir(session_hash(request))
    stamp = time.time_ns()
    side_by_side = rollout_gif(result, folder / f"rollout-side-by-side-{stamp}.gif")
    own = [str(model_rollout_gif(outcome, folder / f"rollout-{entry.key.split('/')[-1][:60]}-{index}-{stamp}.gif"))
           for index, (outcome, entry) in enumerate(zip(result.models, entries))]
    table = pd.DataFrame(result.rows()).round(2)
    return side_by_side_picture(result), table, str(side_by_side), own, summary_text(result, clip_name, resolution)


def summary_text(result, clip_name: str, resolution: int) -> str:
    given = len(result.given)
    lines = [f"**{clip_name}** at {resolution} px: each model was given frames 1-{given} and predicted "
             f"{result.rollout_length} more, its own predictions fed back; scored against the clip's frames "
             f"{given + 1}-{given + len(result.truth)}."]
    if len(result.models) > 1:
        sharpest = max(result.models, key=lambda outcome: outcome.sharpness)
        closest = max(result.models, key=lambda outcome: outcome.psnr)
        lines.append(f"Next frame: the sharpest is **{sharpest.name}** ({sharpest.sharpness:.2f} of the true frame's "
                     f"sharpness), the highest PSNR **{closest.name}** ({closest.psnr:.2f} dB; copying the last "
                     f"frame {result.copy.psnr:.2f} dB).")
    return " ".join(lines)


# ---------------------------------------------------------------------------
# Training the pair


MOVING_EMOJI = "moving emoji (built-in clips)"
UPLOAD_ANIMATIONS = "upload animations or a .zip"
TRAINING_CLIPS = (MOVING_EMOJI, UPLOAD_ANIMATIONS)
L2_ONLY = dict(adversarial_weight=0.0, feature_weight=0.0, pixel_warmup=0)  # no discriminator at all


def training_settings_for(l2_only: bool, minutes, steps, seed) -> dict:
    """The next-frame task's preset (TrainConfig) with the page's budget; the L2-only twin
    turns the adversarial loss and feature matching off."""
    dataset = names.BUILTIN_SEQUENCE_SETS[0]
    return {**training_settings(dataset, steps=steps, seed=seed, minutes=minutes), "task": NEXT_FRAME,
            **(L2_ONLY if l2_only else {})}


def score_line(points) -> str:
    """The latest held-out scores of a next-frame run, next to copying the last frame."""
    if not points:
        return "Held-out scores appear after the first steps."
    point = points[-1]
    s = point.scores
    return (f"**Held-out clips** ({s.num_pictures}) at step {point.step}: PSNR **{s.psnr:.2f} dB** "
            f"({s.baseline} {s.baseline_psnr:.2f}) · sharpness **{s.sharpness:.2f}** ({s.baseline} "
            f"{s.baseline_sharpness:.2f}; 1 = as sharp as the true next frames)")


class NextFrameProgress:
    """A run's snapshots -> the section's score line (the run plumbing adds grid, status, run name)."""

    def __init__(self, job):
        self.sent = -1

    def __call__(self, snapshot) -> dict:
        if len(snapshot.quality) == self.sent:
            return {"score_text": gr.skip()}
        self.sent = len(snapshot.quality)
        return {"score_text": score_line(snapshot.quality)}


# ---------------------------------------------------------------------------
# The page


@dataclass
class NextFrameSection:
    """What the Translate tab may wire to: the two model lists, refresh(selected_a, selected_b,
    request) -> their updates, and the Train and Train-the-twin events."""

    model_a: gr.Dropdown
    model_b: gr.Dropdown
    refresh: Callable
    run_events: list


def build_next_frame_section(context: AppContext, demo: gr.Blocks) -> NextFrameSection:
    with gr.Accordion("Next frame: L2 against adversarial, side by side", open=False, elem_id="next-frame-section"):
        gr.Markdown(SECTION_HELP)
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                clips = gr.Radio(list(TRAINING_CLIPS), value=MOVING_EMOJI, label="Train on",
                                 elem_id="next-frame-clips",
                                 info="emoji moving, turning and bouncing (made on the fly), or your animated GIFs")
                clips_upload = gr.File(label="Animations or one .zip", file_count="multiple",
                                       file_types=["image", ".zip"], visible=False, elem_id="next-frame-clips-upload",
                                       height=140)
                with gr.Row():
                    run_name = gr.Textbox(label="Run name", placeholder="blank: a new name like next-frame-emoji-3f9a",
                                          info=f"the twin trains in this name + '{TWIN_SUFFIX}'",
                                          elem_id="next-frame-run-name")
                    minutes = gr.Number(label="Train for (minutes)", minimum=0, elem_id="next-frame-minutes",
                                        value=context.hosting.defaults.translate_minutes,
                                        info="0: by steps")
                    steps = gr.Number(label="Steps", precision=0, elem_id="next-frame-steps",
                                      value=get_task(NEXT_FRAME).preset["steps"], info="with minutes: a cap")
                with gr.Row():
                    train_button = gr.Button("Train (L2 + adversarial)", variant="primary",
                                             elem_id="next-frame-train")
                    twin_button = gr.Button("Train the L2-only twin", elem_id="next-frame-train-twin")
                    stop_button = gr.Button("Stop", variant="stop", elem_id="next-frame-stop")
                status = gr.Textbox(label="Status", interactive=False, lines=2, elem_id="next-frame-status")
            with gr.Column(scale=3, min_width=320):
                grid = gr.Image(label="Held-out clips: last given frame | prediction | true next frame", type="pil",
                                format="png", interactive=False, elem_id="next-frame-grid", height=260)
                scores = gr.Markdown(elem_id="next-frame-scores")
        gr.Markdown("#### Compare two models on a clip neither trained on")
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                with gr.Row():
                    model_a = gr.Dropdown([], label="Model A", allow_custom_value=True, elem_id="next-frame-model-a")
                    model_b = gr.Dropdown([], label="Model B", allow_custom_value=True, elem_id="next-frame-model-b")
                    refresh_button = gr.Button("↻", scale=0, min_width=48, elem_id="next-frame-refresh")
                clip_source = gr.Radio(list(CLIP_SOURCES), value=HELD_OUT, label="Clip", elem_id="next-frame-clip",
                                       info="a moving-emoji clip no run trained on, or your animation (its first "
                                            "frames are given, the next ones are the truth)")
                clip_number = gr.Number(label="Clip number", value=0, precision=0, minimum=0,
                                        elem_id="next-frame-clip-number")
                clip_upload = gr.File(label="Animation", file_types=[".gif", ".webp", ".png"], visible=False,
                                      elem_id="next-frame-upload", height=140)
                rollout = gr.Slider(1, MAX_ROLLOUT, value=DEFAULT_ROLLOUT, step=1, label="Rollout frames",
                                    info="predicted frames, each from the model's own previous predictions",
                                    elem_id="next-frame-rollout")
                compare_button = gr.Button("Compare", variant="primary", elem_id="next-frame-compare")
            with gr.Column(scale=3, min_width=320):
                picture = gr.Image(label="Last given frame (= copy it) | each model's next frame | the true next "
                                         "frame", type="pil", format="png", interactive=False,
                                   elem_id="next-frame-side-by-side", height=220)
                table = gr.Dataframe(label="Scores against the true frames", interactive=False,
                                     elem_id="next-frame-table")
                summary = gr.Markdown(elem_id="next-frame-summary")
                animation = gr.Image(label="Rollouts: true | model A | model B", type="filepath", interactive=False,
                                     elem_id="next-frame-rollout-gif", height=220)
                gifs = gr.File(label="Each model's rollout (GIF)", file_count="multiple", interactive=False,
                               elem_id="next-frame-gifs")

    runs = RunHandlers(context, (PREVIEW, STATUS, RUN_NAME, "score_text"), TranslationJob, NextFrameProgress,
                       "Compare works meanwhile")

    def train(l2_only: bool, clips, clips_upload, run_name, minutes, steps, live_preview, request):
        def build(progress):
            if clips not in TRAINING_CLIPS:
                raise ValueError(f"clips must be one of: {', '.join(TRAINING_CLIPS)}")
            dataset = names.BUILTIN_SEQUENCE_SETS[0] if clips == MOVING_EMOJI else UPLOAD
            source = "emoji" if clips == MOVING_EMOJI else "upload"
            if l2_only:
                name = twin_run_name(context.paths.runs_dir, run_name, source)
            else:
                name = (run_name or "").strip() or unique_run_name(context.paths.runs_dir, f"next-frame-{source}")
            settings = training_settings_for(l2_only, minutes, steps, None)
            return build_new_trainer(context, dataset, clips_upload, None, name, settings, context.owner(request),
                                     progress)

        what = "the L2-only twin" if l2_only else "the next-frame model"
        yield from runs.start(request, f"Loading the clips and building {what}…", build, live_preview)

    def next_frame_train(clips=MOVING_EMOJI, clips_upload=None, run_name=None, minutes=None, steps=None,
                         live_preview=True, request: gr.Request = None):
        """Train a next-frame model with the task's preset (L2 + the adversarial loss) and stream its progress:
        (held-out grid, status, run name, held-out PSNR and sharpness next to copying the last frame). clips: the
        built-in moving emoji or an upload (animations, or one .zip of them or of numbered frames)."""
        yield from train(False, clips, clips_upload, run_name, minutes, steps, live_preview, request)

    def next_frame_train_l2_twin(clips=MOVING_EMOJI, clips_upload=None, run_name=None, minutes=None, steps=None,
                                 live_preview=True, request: gr.Request = None):
        """Train the L2-only twin of /next_frame_train's model: the same settings with adversarial_weight=0,
        feature_weight=0 and no warm-up (no discriminator), in the run run_name + '-l2' (blank: a new name).
        Streams like /next_frame_train."""
        yield from train(True, clips, clips_upload, run_name, minutes, steps, live_preview, request)

    def refresh(selected_a=None, selected_b=None, request: gr.Request = None):
        """Both lists: model A prefers an L2-only model, model B an adversarial one (the tutorial's pair)."""
        entries = list_models(context.paths, NEXT_FRAME_MODELS, context.owner(request))
        kinds = {entry.key: loss_kind(run_settings(entry)) for entry in entries}
        choices = [(f"{entry.label} · {kinds[entry.key]}", entry.key) for entry in entries]
        keys = [entry.key for entry in entries]

        def pick(selected, kind, avoid=None):
            if selected in keys:
                return selected
            return next((k for k in keys if kinds[k] == kind and k != avoid),
                        next((k for k in keys if k != avoid), keys[0] if keys else None))

        a = pick(selected_a, "L2 only")
        b = pick(selected_b, "adversarial", avoid=a)
        return gr.update(choices=choices, value=a), gr.update(choices=choices, value=b)

    def next_frame_compare(model_a=None, model_b=None, clip=HELD_OUT, clip_upload=None, clip_number=0,
                           rollout_frames=DEFAULT_ROLLOUT, request: gr.Request = None):
        """Two next-frame models (keys from /next_frame_models; model_b may be blank) on one clip: a held-out
        moving-emoji clip by number, or an uploaded animation. Returns (the last given frame | each model's next
        frame | the true next frame, with PSNR and sharpness; the score table next to copying the last frame; the
        rollouts side by side as a GIF; each model's rollout GIF; a summary)."""
        try:
            return compare_models(context, model_a, model_b, clip, clip_upload, clip_number, rollout_frames, request)
        except Exception as error:
            raise user_error(error) from None

    def list_next_frame_models(request: gr.Request) -> list[dict]:
        """The next-frame models /next_frame_compare accepts: key (pass it as model_a or model_b), label, how it
        was trained (L2 only or adversarial) and how many frames it looks back."""
        return [{"key": e.key, "label": e.label, "loss": loss_kind(run_settings(e)), "frames": e.config.get("frames")}
                for e in list_models(context.paths, NEXT_FRAME_MODELS, context.owner(request))]

    live_preview = gr.State(True)
    inputs, outputs = [clips, clips_upload, run_name, minutes, steps, live_preview], [grid, status, run_name, scores]
    events = [runs.wire_button(train_button, [train_button, twin_button], status, next_frame_train, inputs, outputs,
                               "next_frame_train"),
              runs.wire_button(twin_button, [train_button, twin_button], status, next_frame_train_l2_twin, inputs,
                               outputs, "next_frame_train_l2_twin")]
    stop_button.click(runs.stop_clicked, None, status, concurrency_limit=None, api_visibility="private")
    for event in events:
        event.then(refresh, [model_a, model_b], [model_a, model_b], queue=False, api_visibility="private")
    clips.change(lambda source: gr.update(visible=source == UPLOAD_ANIMATIONS), clips, clips_upload, queue=False,
                 api_visibility="private")
    clip_source.change(lambda source: (gr.update(visible=source == HELD_OUT), gr.update(visible=source != HELD_OUT)),
                       clip_source, [clip_number, clip_upload], queue=False, api_visibility="private")
    demo.load(refresh, [model_a, model_b], [model_a, model_b], queue=False, api_visibility="private")
    refresh_button.click(refresh, [model_a, model_b], [model_a, model_b], queue=False, api_visibility="private")
    compare_button.click(next_frame_compare, [model_a, model_b, clip_source, clip_upload, clip_number, rollout],
                         [picture, table, animation, gifs, summary], api_name="next_frame_compare",
                         concurrency_limit=1, concurrency_id=COMPARE_CONCURRENCY_ID)
    gr.api(list_next_frame_models, api_name="next_frame_models", concurrency_limit=None)
    return NextFrameSection(model_a=model_a, model_b=model_b, refresh=refresh, run_events=events)


__all__ = ["CLIP_SOURCES", "HELD_OUT", "NEXT_FRAME_MODELS", "NextFrameSection", "UPLOAD_CLIP",
           "build_next_frame_section", "twin_run_name"]
