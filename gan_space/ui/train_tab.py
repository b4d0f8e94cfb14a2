"""The Train tab: pick data, press Train, watch the sample grid and the curves stream.

Training itself is `gan_space.training.Trainer`, run by a `TrainingJob` in its own
thread and streamed by the run plumbing both training tabs share (gan_space.ui.runs);
this module turns the user's choices into a `TrainConfig` and the job's progress into
pictures, curves and a reading.
"""

import dataclasses
import json
import math
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from gan_space import names
from gan_space.hosting.environment import Hosting

from .common import AppContext
from .jobs import JobSnapshot, TrainingJob
from .models import BUILTIN_DATASETS, check_run_name, latest_generator_folder, mark_owner, may_use
from .runs import PREVIEW, RUN_NAME, STATUS, RunHandlers
from .sounds import PLAYER_OUTPUTS, TrainPlayers, train_players

UPLOAD = "upload images or a .zip"
UPLOAD_SOUNDS = "upload sounds or a .zip"
HUB_DATASET = "Hugging Face dataset"
SOURCES = (*BUILTIN_DATASETS, UPLOAD, UPLOAD_SOUNDS, HUB_DATASET)
POINT_SETS = names.BUILTIN_POINT_SETS
SOUND_SOURCES = (*names.BUILTIN_SOUND_SETS, UPLOAD_SOUNDS)  # trained as spectrogram pictures
UPLOADS = (UPLOAD, UPLOAD_SOUNDS)
# The status line while sounds load (the built-in ones are made by eSpeak NG the first time, then cached).
SOUND_DECODING = {UPLOAD_SOUNDS: "Decoding the sounds into spectrograms"}
SOUND_DECODING.update({name: f"Making {name} (the first time, then cached) and their spectrograms"
                       for name in names.BUILTIN_SOUND_SETS})
# What each upload choice takes: the upload box's label and file types.
UPLOAD_KINDS = {
    UPLOAD: ("Images or one .zip (sub-folders in the .zip are classes)", ["image", ".zip"]),
    UPLOAD_SOUNDS: ("Sound files (WAV, FLAC, OGG, MP3) or one .zip of them (sub-folders are classes)",
                    ["audio", ".zip"]),
}

LOG_EVERY = 5  # steps between progress events: smooth curves, a live status line
MAX_CURVE_POINTS = 400  # longer curves are thinned before they go to the browser
RECENT_CURVE_POINTS = 10  # the reading looks at the last 10 logged steps' D(x) and D(G(z))

# Settings the "advanced" fold fills from the library's preset for the chosen data.
PRESET_FIELDS = ("steps", "batch_size", "resolution", "channels", "arch", "loss", "lr_g", "lr_d", "r1_gamma",
                 "ema_decay", "augment")
IMAGE_ONLY_FIELDS = ("resolution", "channels", "arch", "augment")  # 2-D points use an MLP, no augmentation
# TrainConfig fields that the page's own inputs set (/train's parameters of these names), never
# the settings JSON: the data, and the run folder (runs/<run_name>: a path must not come from a client).
SET_BY_THE_PAGE = {"dataset": "dataset", "out_dir": "run_name"}
SETTINGS_EXAMPLE = '{"r2_gamma": 0.2, "lr_decay_fraction": 0.25}'


@dataclass
class TrainTab:
    """What other tabs and build_demo wire to."""

    run_events: list  # the Train, Resume and Resume-from-the-Hub event dependencies (chain `.then` on them)
    status: gr.Textbox


# ---------------------------------------------------------------------------
# Data and settings -> a Trainer


def unique_run_name(runs_dir: Path, base: str) -> str:
    """base-<8 random hex digits>: another session cannot guess it (nor count the runs made)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "-", base).strip(".-_")[:40] or "run"
    while True:
        name = f"{base}-{secrets.token_hex(4)}"
        if not (runs_dir / name).exists():
            return name


def _safe_file_name(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name).lstrip(".") or "file"
    suffix = Path(safe).suffix[:16]
    return safe[: len(safe) - len(Path(safe).suffix)][:100] + suffix  # file systems allow 255 bytes a name


def copy_uploads(files: list | None, data_dir: Path, what: str = "images") -> str:
    """Uploaded files -> the run's own data folder (so Resume works after the session
    ends). Returns what `load_dataset` reads: the folder, or the one .zip file.
    what: "images" or "sounds", for the messages."""
    paths = [Path(getattr(f, "name", f)) for f in (files or []) if f]
    if not paths:
        noun = "sound files" if what == "sounds" else "image files"
        raise ValueError(f"no files uploaded: add {noun} or one .zip of {what}, or pick a built-in dataset")
    zips = [p for p in paths if p.suffix.lower() == ".zip"]
    if zips and len(paths) > 1:
        raise ValueError(f"upload either one .zip of {what} or {what[:-1]} files, not both ({len(zips)} .zip among "
                         f"{len(paths)} files)")
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    if zips:
        target = data_dir / f"{what}.zip"
        shutil.copyfile(zips[0], target)
        return str(target)
    for index, path in enumerate(paths):
        # Numbered so two uploads with the same name cannot overwrite each other.
        shutil.copyfile(path, data_dir / f"{index:05d}-{_safe_file_name(path.name)}")
    return str(data_dir)


def check_upload_kind(dataset: str, source: str) -> None:
    """The uploaded files are what the data choice says: sounds for UPLOAD_SOUNDS, else not sounds
    (by their names, gan_space.data.is_sound_source); ValueError naming the other choice."""
    from gan_space.data import is_sound_source

    sounds = is_sound_source(source)
    if dataset == UPLOAD_SOUNDS and not sounds:
        raise ValueError(f"the uploaded files are not sound files (WAV, FLAC, OGG, MP3): choose {UPLOAD!r} for "
                         f"pictures, or upload sounds")
    if dataset != UPLOAD_SOUNDS and sounds:
        raise ValueError(f"the uploaded files are sounds: choose {UPLOAD_SOUNDS!r} in the Train tab to train on them")


def hub_dataset_id(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValueError("enter a Hugging Face dataset id, like 'owner/name'")
    from gan_space.data import LOCAL, dataset_location, is_hub_id

    if not is_hub_id(name):
        raise ValueError(f"{name!r} is not a Hugging Face dataset id: use the form 'owner/name'")
    if dataset_location(name) == LOCAL:
        # load_dataset reads local folders first; the app only loads Hub datasets by id.
        raise ValueError(f"{name!r} names a folder on the server, not a Hugging Face dataset: upload the images "
                         f"instead")
    return name


def training_settings(dataset: str, **values) -> dict:
    """The user's settings for TrainConfig: blank ones (None) fall back to the preset."""
    settings = {k: v for k, v in values.items() if v is not None and v != ""}
    if dataset in POINT_SETS:
        for name in IMAGE_ONLY_FIELDS:
            settings.pop(name, None)
    for name in ("steps", "batch_size", "resolution", "channels", "seed"):
        if name in settings:
            value = settings[name]
            if float(value) != int(float(value)):
                raise ValueError(f"{name} must be a whole number, got {value}")
            settings[name] = int(float(value))
    return settings


def json_settings(text) -> dict:
    """The "More settings" input: a JSON object of TrainConfig settings by field name (a
    dict from an API client too). Each key must be a setting the page does not set itself,
    each value of the setting's type; the values' ranges are TrainConfig's to check (and
    on Resume, what a resumed run may change: gan_space.training.check_resume_overrides)."""
    from gan_space.training import TrainConfig  # torch: loaded on first use

    if text is None or (isinstance(text, str) and not text.strip()):
        return {}
    values = text
    if isinstance(text, str):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"settings are not JSON ({error.msg}, at character {error.pos}): write them like "
                             f"{SETTINGS_EXAMPLE}") from None
    if not isinstance(values, dict):
        raise ValueError(f"settings must be a JSON object of setting: value, like {SETTINGS_EXAMPLE}")
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for name, value in values.items():
        if name in SET_BY_THE_PAGE:
            raise ValueError(f"settings: {name} is set by the {SET_BY_THE_PAGE[name]!r} input, not in the settings")
        if name not in fields:
            settable = ", ".join(name for name in fields if name not in SET_BY_THE_PAGE)
            raise ValueError(f"settings: {name!r} is not a training setting; the settings are {settable}")
        if not _of_kind(value, fields[name].type):
            raise ValueError(f"settings: {name} must be {_KIND_NAMES[fields[name].type]}, got {value!r}")
    return {name: float(value) if fields[name].type is float else value for name, value in values.items()}


_KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def _of_kind(value, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):  # JSON's true is no number (though Python's bool is an int)
        return False
    return isinstance(value, (int, float)) if kind is float else isinstance(value, kind)


def app_device(context: AppContext) -> dict:
    """{"device": ...} when the app's process must build runs on another device than training uses
    (ZeroGPU: the CPU here, the GPU in the slices), else nothing (the run's own setting holds)."""
    device = context.hosting.app_device
    return {"device": device} if device else {}


def build_new_trainer(context: AppContext, dataset: str, upload, hf_dataset: str | None, run_name: str | None,
                      settings: dict, owner: str | None = None, progress=None, upload_b=None):
    """A Trainer for a new run in runs/<run name>, owned by `owner` (see AppContext.owner).
    `upload_b`: uploaded pictures of a second domain (unpaired translation), copied into the
    run beside the first and named as its `dataset_b`. Returns (trainer, run name)."""
    from gan_space.training import Trainer, TrainConfig  # torch and diffusers: loaded on first use

    builtin = BUILTIN_DATASETS + names.BUILTIN_SEQUENCE_SETS  # (the moving emoji: the Translate tab's next-frame task)
    if dataset not in SOURCES + names.BUILTIN_SEQUENCE_SETS:
        raise ValueError(f"dataset {dataset!r} is not one of: {', '.join(SOURCES)}")
    hub_id = hub_dataset_id(hf_dataset) if dataset == HUB_DATASET else None
    runs_dir = context.paths.runs_dir
    name = (run_name or "").strip()
    if name:
        check_run_name(name)
    else:
        base = (dataset if dataset in builtin else "upload" if dataset == UPLOAD else "sounds"
                if dataset == UPLOAD_SOUNDS else hub_id.split("/")[1])
        name = unique_run_name(runs_dir, base)
    run_dir = context.paths.run_dir(name)
    if not may_use(run_dir, owner):  # another session's run: nothing about it is told
        raise ValueError(f"the run name {name!r} is taken: choose another run name")
    if latest_generator_folder(run_dir) is not None:
        raise ValueError(f"a run named {name!r} already exists: press Resume to continue it, or choose another "
                         f"run name")
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if created:
            mark_owner(run_dir, owner)
        source = dataset if dataset in builtin else hub_id
        if dataset in UPLOADS:
            source = copy_uploads(upload, run_dir / "data", "sounds" if dataset == UPLOAD_SOUNDS else "images")
            check_upload_kind(dataset, source)
        if upload_b is not None:
            settings = {**settings, "dataset_b": copy_uploads(upload_b, run_dir / "data-b")}
        config = TrainConfig.for_dataset(source, out_dir=str(run_dir),
                                         **{"log_every": LOG_EVERY, **app_device(context), **settings})
        data = None
        if hub_id and owner is not None:
            # A shared app reads Hub datasets anonymously: huggingface_hub would otherwise send the
            # server's own token (HF_TOKEN), and any visitor could train on its private datasets.
            from gan_space.data import load_dataset

            data = load_dataset(hub_id, config.resolution, config.channels, token=False,
                                max_images=config.max_images, seed=config.seed, cache_dir=run_dir / "data-cache",
                                progress=progress)
        trainer = Trainer(config, dataset=data, progress=progress)
    except BaseException:
        if created:  # leave nothing behind for a run that never started
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return trainer, name


def build_resumed_trainer(context: AppContext, run_name: str | None, steps, owner: str | None = None,
                          minutes=None, progress=None, settings: dict | None = None):
    """settings: more settings (json_settings); a resumed run keeps its data, networks and task."""
    from gan_space.training import Trainer

    name = (run_name or "").strip()
    if not name:
        raise ValueError("enter the run name to resume (a folder in runs/)")
    run_dir = context.paths.run_dir(check_run_name(name))
    # Another session's run reads exactly like one that does not exist.
    if not may_use(run_dir, owner) or latest_generator_folder(run_dir) is None:
        raise ValueError(f"no run named {name!r} with a checkpoint to resume: train it first")
    if steps is not None:
        steps = training_settings("", steps=steps)["steps"]
    minutes = training_settings("", minutes=minutes).get("minutes")
    trainer = Trainer.resume(str(run_dir), progress=progress,
                             **{"steps": steps, "minutes": minutes, "log_every": LOG_EVERY, **app_device(context),
                                **(settings or {})})
    if trainer.config.minutes and trainer.elapsed_before >= trainer.config.minutes * 60:
        raise ValueError(f"run {name!r} has used its {trainer.config.minutes:g} minutes: set 'Train for (minutes)' "
                         f"above {trainer.elapsed_before / 60:.1f} to train it further")
    if trainer.step >= trainer.config.steps:
        raise ValueError(f"run {name!r} has done all its {trainer.config.steps} steps: set Steps (in the advanced "
                         f"settings) above {trainer.step} to train it further")
    return trainer, name


def build_trainer_from_hub(context: AppContext, repo_id: str | None, run_name: str | None, steps, token: str | None,
                           owner: str | None = None, minutes=None, progress=None, settings: dict | None = None):
    """Download the run a resumable Hub repo holds (gan_space.hub.pull_run) into runs/<run name>
    (blank: a new name from the repo's), then resume it like build_resumed_trainer."""
    from gan_space import hub

    repo_id = hub.validate_repo_id(repo_id)
    name = (run_name or "").strip()
    if name:
        check_run_name(name)
        if context.paths.run_dir(name).exists():
            raise ValueError(f"the run name {name!r} is taken: leave it blank for a new one, or choose another")
    else:
        name = unique_run_name(context.paths.runs_dir, repo_id.split("/")[1])
    run_dir = hub.pull_run(repo_id, context.paths.run_dir(name), token)
    mark_owner(run_dir, owner)
    try:
        return build_resumed_trainer(context, name, steps, owner, minutes, progress, settings)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)  # a run that cannot go on here is not kept
        raise


def hub_saver(context: AppContext, token: str | None, repo_id: str | None = None):
    """saver(trainer, run name) for RunHandlers.start: the run is saved to `repo_id` (default:
    <the token's user>/<run name>, private) every context.hub_save_minutes and at its end; None
    when saving is off or no token is at hand. A save that cannot start is a warning, not an error."""
    if context.hub_save_minutes is None or not token:
        return None

    def make(trainer, name):
        from gan_space import hub

        try:
            return hub.RunSaver(repo_id or hub.run_repo_id(token, name), token, context.hub_save_minutes * 60)
        except hub.HubError as error:
            gr.Warning(f"the run will not be saved to the Hub: {error}")
            return None

    return make


# ---------------------------------------------------------------------------
# Progress -> what the page shows


def curve_frames(snapshot: JobSnapshot) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long-format tables for the two line plots (thinned to MAX_CURVE_POINTS)."""
    points = snapshot.curve
    stride = max(1, math.ceil(len(points) / MAX_CURVE_POINTS))
    points = points[::stride] + ([points[-1]] if points and (len(points) - 1) % stride else [])
    steps = [p.step for p in points]
    losses = _long_frame(steps, {"D loss": [p.d_loss for p in points], "G loss": [p.g_loss for p in points]})
    probabilities = _long_frame(steps, {"D(x) real": [p.d_real for p in points],
                                        "D(G(z)) fake": [p.d_fake for p in points]})
    return losses, probabilities


def quality_frames(snapshot: JobSnapshot) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Tables for the sample-quality plots: diversity and coverage as shares (1 = like
    the data), and the Fréchet distance next to real held-out data's (digits: in the judge
    classifier's features; other pictures: in random-network features; else None).
    Before the first measurement, (None, None): an empty table would fix the plot's
    legend as a number scale before the series' names arrive."""
    points = snapshot.quality
    if not points:
        return None, None
    steps = [p.step for p in points]
    shares = {"diversity (data = 1)": [p.diversity for p in points]}
    if points[-1].classes_covered is not None:
        shares["digit classes covered (of 10)"] = [p.classes_covered / 10 for p in points]
    if points[-1].modes is not None:
        shares["modes captured (share)"] = [p.modes / p.total_modes for p in points]
    frechet = None
    if points[-1].frechet_distance is not None:
        real = "real held-out digits" if points[-1].frechet_features != "random network" else "real held-out pictures"
        frechet = _long_frame(steps, {"samples": [p.frechet_distance for p in points],
                                      real: [p.real_frechet_distance for p in points]})
    return _long_frame(steps, shares), frechet


def _long_frame(steps: list[int], series: dict) -> pd.DataFrame:
    return pd.DataFrame({
        "step": steps * len(series),
        "value": [v for values in series.values() for v in values],
        "curve": [name for name in series for _ in steps],
    })


def reading_text(snapshot: JobSnapshot) -> str:
    """The diagnostics in plain words (Markdown): the game of D(x) against D(G(z)) over
    the last logged steps, the latest sample measurement, and a mode-collapse warning."""
    from gan_space.diagnostics import collapse_warning, quality_line, read_game

    recent = [p for p in snapshot.curve[-RECENT_CURVE_POINTS:] if math.isfinite(p.d_real) and math.isfinite(p.d_fake)]
    if recent:
        game = read_game(sum(p.d_real for p in recent) / len(recent), sum(p.d_fake for p in recent) / len(recent))
    else:
        game = read_game(float("nan"), float("nan"))
    lines = [f"**Reading:** {game}"]
    if snapshot.quality:
        lines.append(quality_line(snapshot.quality[-1]))
        warning = collapse_warning(snapshot.quality)
        if warning:
            lines.append(f"**⚠ {warning}**")
    return "\n\n".join(lines)


class TrainProgress:
    """One run's snapshots -> the Train tab's own outputs (loss plot, D plot, quality plot, Fréchet
    distance plot, reading); the run plumbing (gan_space.ui.runs) adds the grid, status and run name.

    The curves never get gr.skip() once they hold a table: each update re-sends the last one.
    Gradio streams a generator's yields as diffs, and the browser applies each diff in place
    to the very object the component holds as its value; a table followed by gr.skip() diffs
    to "delete columns, data, datatypes and mark", which strips the plot's value under it.
    The plot still shows its last drawing, but when it is next resized or shown again (back
    from another tab) it reads value.datatypes[x] and the page throws "Cannot read
    properties of undefined (reading 'step')". An unchanged table diffs to nothing, so
    re-sending costs only its serialisation here.

    The sample-quality plots get their tables inside gr.update(value=..., visible=True): a
    gr.skip() after that deletes only the update's own keys, not the table. Until the run's
    first measurement they are hidden with visible="hidden" (kept in the page), not emptied
    and not visible=False: a plot given None, or visible=False, after it has drawn (the
    previous run's curves, in the same page) is taken out of the page while its resize
    observers still fire, and they throw "Cannot read properties of null (reading
    'offsetWidth')". Shown again with the new table, the plot redraws with its new legend.
    """

    def __init__(self, job=None):  # (the job: whether its run makes sounds; the rest is in its snapshots)
        self.sent_points = self.sent_quality = -1
        self.losses = self.probabilities = None
        self.quality = self.frechet = gr.update(visible="hidden")
        self.players = TrainPlayers(job)  # a run on sounds: its first fixed latents heard

    def __call__(self, snapshot: JobSnapshot) -> dict:
        reading = gr.skip()
        if len(snapshot.curve) != self.sent_points or len(snapshot.quality) != self.sent_quality:
            reading = reading_text(snapshot)
        if len(snapshot.curve) != self.sent_points:
            self.losses, self.probabilities = curve_frames(snapshot)
            self.sent_points = len(snapshot.curve)
        if len(snapshot.quality) != self.sent_quality and snapshot.quality:
            shares, distances = quality_frames(snapshot)
            self.quality = gr.update(value=shares, visible=True)
            if distances is not None:  # digits and other pictures have a Fréchet distance; points do not
                self.frechet = gr.update(value=distances, visible=True)
        self.sent_quality = len(snapshot.quality)
        updates = dict(losses=self.losses, probabilities=self.probabilities, quality=self.quality,
                       frechet=self.frechet, reading=reading, **self.players(snapshot))
        self.quality = self.frechet = gr.skip()
        return updates


# ---------------------------------------------------------------------------
# The tab


def is_pictures(dataset: str) -> bool:
    """Colour pictures of a free size (the emoji, uploads, Hub datasets): what a time budget and a
    resolution suit; the digits (8x8) and 2-D points train in a minute or two by steps, and sounds
    are spectrogram pictures of their own sizes (64 or 128 px: gan_space.data.sound_pictures)."""
    return dataset not in POINT_SETS and dataset != "digits" and dataset not in SOUND_SOURCES


def takes_time_budget(dataset: str) -> bool:
    """Data a run suits a time budget for: pictures, and sounds (their spectrograms train as long)."""
    return is_pictures(dataset) or dataset in SOUND_SOURCES


def preset_source(dataset: str) -> str:
    """What stands for the data choice in TrainConfig.for_dataset (an upload is not there yet)."""
    if dataset in BUILTIN_DATASETS:
        return dataset
    return names.BUILTIN_SOUND_SETS[0] if dataset == UPLOAD_SOUNDS else "uploaded-images"


def preset_values(dataset: str, hosting: Hosting | None = None):
    """The library's preset settings for this data, to fill the advanced fold, with the hardware's
    resolution for pictures on a Space (gan_space.hosting.environment.DEFAULTS; locally the preset's);
    the architecture and resolution choices are the registered network families' (asked here, after
    start-up, because the registry imports torch)."""
    from gan_space.data import dataset_kind
    from gan_space.models import family_names, image_resolutions
    from gan_space.training import TrainConfig

    preset = TrainConfig.for_dataset(preset_source(dataset)).to_dict()
    proposed = (hosting or Hosting()).defaults.picture_resolution
    if proposed and is_pictures(dataset):  # (sounds keep their spectrogram size: 64 or 128)
        preset["resolution"] = proposed
    choices = {"arch": family_names(dataset_kind(preset_source(dataset))),
               "resolution": image_resolutions()}
    return tuple(gr.update(choices=choices[name], value=preset[name]) if name in choices else preset[name]
                 for name in PRESET_FIELDS)


def minutes_value(dataset: str, hosting: Hosting | None = None):
    """The "Train for (minutes)" box for this data: on a Space, the hardware's time budget for pictures
    and sounds, and blank (the preset's steps) for the rest; locally left as the user has it."""
    defaults = (hosting or Hosting()).defaults
    if defaults.picture_minutes is None:
        return gr.skip()
    return defaults.picture_minutes if takes_time_budget(dataset) else None


def source_field_updates(dataset: str):
    """Show the upload box (for pictures or sounds) or the dataset-id box, and hide image settings for 2-D points."""
    images = dataset not in POINT_SETS
    label, file_types = UPLOAD_KINDS.get(dataset, UPLOAD_KINDS[UPLOAD])
    upload = gr.update(visible=True, label=label, file_types=file_types) if dataset in UPLOADS else gr.update(
        visible=False)
    return (upload, gr.update(visible=dataset == HUB_DATASET),
            *[gr.update(visible=images) for _ in IMAGE_ONLY_FIELDS])


def build_train_tab(context: AppContext, demo: gr.Blocks) -> TrainTab:
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            dataset = gr.Radio(list(SOURCES), value="digits", label="Data",
                               info="digits: 8x8 handwritten digits · ring8, grid25: 2-D mixtures of Gaussians · "
                                    "moons, spiral: 2-D shapes · spoken-digits: 'zero' to 'nine' said by eSpeak NG, "
                                    "trained as spectrograms (sounds)")
            # The server checks an upload against these types (an API client's too): both kinds; the
            # page narrows the picker to the chosen kind (source_field_updates).
            upload = gr.File(label=UPLOAD_KINDS[UPLOAD][0], file_count="multiple",
                             file_types=["image", "audio", ".zip"], visible=False, elem_id="train-upload")
            hf_dataset = gr.Textbox(label="Hugging Face dataset id", placeholder="owner/name", visible=False,
                                    info="image files or a .zip of images in a dataset repository (needs the network)")
            run_name = gr.Textbox(label="Run name", placeholder="blank: a new name like digits-3f9a1c2e",
                                  info="the folder in runs/; Resume continues the run named here")
            minutes = gr.Number(label="Train for (minutes)", minimum=0, elem_id="train-minutes",
                                info="blank: the preset's steps. With minutes, the schedules follow the clock "
                                     "and the run stops on time with a checkpoint (on Resume: the new total)")
            with gr.Row():
                train_button = gr.Button("Train", variant="primary")
                stop_button = gr.Button("Stop", variant="stop")
                resume_button = gr.Button("Resume")
            status = gr.Textbox(label="Status", interactive=False, lines=2, elem_id="train-status")
            with gr.Accordion("Resume from the Hugging Face Hub", open=False):
                gr.Markdown("Continue a run saved to the Hub (`push --resumable`, or this app's saves for a signed-in "
                            "visitor) into a new run here; Steps and minutes below are its new totals.")
                with gr.Row():
                    hub_repo = gr.Textbox(label="Repo id", placeholder="you/digits-3f9a1c2e", scale=3)
                    hub_token = gr.Textbox(label="Hugging Face token", type="password", placeholder="hf_...", scale=2,
                                           info="blank: your sign-in. Used for this run only, never stored")
                hub_resume_button = gr.Button("Resume from the Hub")
            with gr.Accordion("Advanced settings", open=False):
                gr.Markdown("Filled with the preset for the chosen data; change what you like.")
                with gr.Row():
                    steps = gr.Number(label="Steps", precision=0, info="generator updates in total")
                    batch_size = gr.Number(label="Batch size", precision=0)
                    seed = gr.Number(label="Seed", value=0, precision=0)
                with gr.Row():
                    # Choices come from the registry of network families once the page is up.
                    resolution = gr.Dropdown([], label="Resolution (px)", allow_custom_value=True)
                    channels = gr.Radio([("grayscale", 1), ("RGB", 3)], label="Colour")
                    arch = gr.Dropdown([], label="Architecture", allow_custom_value=True,
                                       info="network family (the library lists them: python -m gan_space families)")
                with gr.Row():
                    loss = gr.Dropdown(list(names.LOSSES), label="Loss")
                    lr_g = gr.Number(label="Learning rate G", step=1e-4)
                    lr_d = gr.Number(label="Learning rate D", step=1e-4)
                with gr.Row():
                    r1_gamma = gr.Number(label="R1 penalty", info="0 = off", step=0.1)
                    ema_decay = gr.Number(label="EMA decay", info="0 = off; else 0.5 to 0.9999", step=0.001)
                    augment = gr.Dropdown(list(names.AUGMENTATIONS), label="Augmentation")
                with gr.Row():
                    conditional = gr.Checkbox(label="Class-conditional (uses the data's labels)", value=False)
                    live_preview = gr.Checkbox(label="Live previews", value=True,
                                               info="redraw the sample grid about once a second")
                more_settings = gr.Textbox(label="More settings (JSON)", placeholder=SETTINGS_EXAMPLE, lines=2,
                                           elem_id="train-settings",
                                           info="any training setting by name (python -m gan_space train --help "
                                                "lists them); these win over the fields above. Resume may "
                                                "change the budget, optimisation and loss weights, not the data, "
                                                "networks or task")
        with gr.Column(scale=3, min_width=320):
            grid = gr.Image(label="Samples of fixed latents (2-D data: real in blue, generated in orange; sounds: "
                                  "spectrograms, high frequencies at the top)",
                            type="pil", format="png", interactive=False, elem_id="train-grid", height=480)
            players = train_players()  # a run on sounds: the first samples heard
            with gr.Row():
                loss_plot = gr.LinePlot(x="step", y="value", color="curve", title="Losses", height=220,
                                        elem_id="loss-plot")
                probability_plot = gr.LinePlot(x="step", y="value", color="curve", title="D(x) and D(G(z))",
                                               y_lim=[0, 1], height=220, elem_id="probability-plot")
            reading = gr.Markdown(elem_id="train-reading")
            with gr.Row():
                # Both hidden until the run's first measurement of its samples (see TrainProgress).
                quality_plot = gr.LinePlot(x="step", y="value", color="curve", title="Sample diversity and coverage",
                                           y_lim=[0, 1.2], height=220, elem_id="quality-plot", visible=False)
                frechet_plot = gr.LinePlot(x="step", y="value", color="curve",
                                           title="Fréchet distance to the real data (lower is better)", height=220,
                                           elem_id="frechet-plot", visible=False)

    preset_fields = [steps, batch_size, resolution, channels, arch, loss, lr_g, lr_d, r1_gamma, ema_decay, augment]
    dataset.change(source_field_updates, dataset, [upload, hf_dataset, resolution, channels, arch, augment],
                   queue=False, api_visibility="private")
    def presets(dataset):
        return preset_values(dataset, context.hosting)

    def minutes_for(dataset):
        return minutes_value(dataset, context.hosting)

    dataset.change(presets, dataset, preset_fields, api_visibility="private")
    demo.load(presets, dataset, preset_fields, api_visibility="private")
    if context.hosting.defaults.picture_minutes is not None:  # locally the box stays as the user leaves it
        dataset.change(minutes_for, dataset, minutes, queue=False, api_visibility="private")
        demo.load(minutes_for, dataset, minutes, queue=False, api_visibility="private")

    # New outputs go last: API clients read the status at index 3 and the run name at 4.
    progress_outputs = [grid, loss_plot, probability_plot, status, run_name, quality_plot, frechet_plot, reading,
                        *players]

    def new_job(trainer, run_name, live_preview_seconds):
        return TrainingJob(trainer, run_name, live_preview_seconds=live_preview_seconds,
                           sound_preview_seconds=context.sound_preview_seconds)

    runs = RunHandlers(context, (PREVIEW, "losses", "probabilities", STATUS, RUN_NAME, "quality", "frechet",
                                 "reading", *PLAYER_OUTPUTS), new_job, TrainProgress,
                       "the Generate tab works meanwhile")

    # Defaults of None make these parameters optional for API clients (blank = preset).
    def start_training(dataset="digits", upload=None, hf_dataset=None, run_name=None, steps=None, batch_size=None,
                       resolution=None, channels=None, arch=None, loss=None, lr_g=None, lr_d=None, r1_gamma=None,
                       ema_decay=None, augment=None, conditional=False, seed=None, live_preview=True,
                       minutes=None, settings=None, request: gr.Request = None,
                       oauth_token: gr.OAuthToken | None = None):
        """Train a new run and stream its progress: (sample grid, loss curves, D(x)/D(G(z)) curves, status,
        run name, diversity/coverage curves, Fréchet distance curve, reading in plain words, and for a run
        on sounds 4 WAV clips of the first fixed latents, remade as it trains; else empty). Blank
        settings take the preset for the data. `settings`: any other TrainConfig settings, a JSON object
        by field name (e.g. {"r2_gamma": 0.2}); they win over the parameters above."""

        def build(progress):
            chosen = {**training_settings(
                dataset, steps=steps, batch_size=batch_size, resolution=resolution, channels=channels, arch=arch,
                loss=loss, lr_g=lr_g, lr_d=lr_d, r1_gamma=r1_gamma, ema_decay=ema_decay, augment=augment,
                conditional=bool(conditional), seed=seed, minutes=minutes), **json_settings(settings)}
            return build_new_trainer(context, dataset, upload, hf_dataset, run_name, chosen, context.owner(request),
                                     progress)

        saver = hub_saver(context, context.hub_token(oauth_token.token if oauth_token else None, None))
        yield from runs.start(request, "Loading the data and building the networks…", build, live_preview,
                              saver=saver, **({"decoding": SOUND_DECODING[dataset]} if dataset in SOUND_DECODING
                                              else {}))

    def resume_training(run_name=None, steps=None, live_preview=True, minutes=None, settings=None,
                        request: gr.Request = None, oauth_token: gr.OAuthToken | None = None):
        """Continue the run named `run_name` from its last checkpoint, up to `steps` in total (blank: the
        run's own), or up to `minutes` of training in total for a run by the clock. `settings`: a JSON
        object of other settings to change (e.g. {"lr_d": 0.0005}; the run keeps its data, networks and
        task). Streams like /train."""

        def build(progress):
            return build_resumed_trainer(context, run_name, steps, context.owner(request), minutes, progress,
                                         json_settings(settings))

        saver = hub_saver(context, context.hub_token(oauth_token.token if oauth_token else None, None))
        yield from runs.resume(request, run_name, build, live_preview, saver=saver)

    def resume_from_hub(repo_id=None, run_name=None, steps=None, minutes=None, token=None, live_preview=True,
                        settings=None, request: gr.Request = None, oauth_token: gr.OAuthToken | None = None):
        """Download the run saved in the Hub repo `repo_id` (pushed resumable) into a new run named `run_name`
        (blank: a new name) and continue it, up to `steps` or `minutes` in total (blank: the run's own). The
        token: `token`, else the signed-in user's. Streams like /train; the run is then saved back to
        `repo_id` as it trains when the app saves runs to the Hub."""
        secret = context.hub_token(oauth_token.token if oauth_token else None, token)

        def build(progress):
            return build_trainer_from_hub(context, repo_id, run_name, steps, secret, context.owner(request), minutes,
                                          progress, json_settings(settings))

        yield from runs.start(request, f"Downloading the run {(repo_id or '').strip()} from the Hub…", build,
                              live_preview, new_run=False, saver=hub_saver(context, secret, (repo_id or "").strip()))

    def stop_training(request: gr.Request) -> str:
        """Stop this session's run after its current step; its checkpoint is kept for /resume. Returns what
        happened."""
        return runs.stop(request)

    train_event, resume_event = runs.wire(
        train_button, resume_button, stop_button, status,
        train=(start_training, [dataset, upload, hf_dataset, run_name, steps, batch_size, resolution, channels, arch,
                                loss, lr_g, lr_d, r1_gamma, ema_decay, augment, conditional, seed, live_preview,
                                minutes, more_settings], progress_outputs, "train"),
        resume=(resume_training, [run_name, steps, live_preview, minutes, more_settings], progress_outputs, "resume"))
    hub_event = runs.wire_button(
        hub_resume_button, [train_button, resume_button], status, resume_from_hub,
        [hub_repo, run_name, steps, minutes, hub_token, live_preview, more_settings], progress_outputs,
        "resume_from_hub")
    gr.api(stop_training, api_name="stop", concurrency_limit=None)
    demo.unload(runs.page_closed)
    return TrainTab(run_events=[train_event, resume_event, hub_event], status=status)
