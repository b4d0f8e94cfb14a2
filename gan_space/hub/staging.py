"""Everything a push uploads, written into a local folder with no network: the generator's
files, summary.json, the sample grid and the model card (for a sound generator: sound.json, its
spectrograms and sounds, gan_space.hub.sound_card)."""

import json
import shutil
from pathlib import Path

from .card import _num_grid_samples, _quality_metrics, model_card
from .record import RECORD_KEYS, _training_record
from .repos import SAMPLE_GRID_NAME, SUMMARY_NAME
from .sound_card import sound_model_card, stage_sound_files
from .translator_card import stage_translator


def stage_repo_files(model_dir: str | Path, staging: str | Path, repo_id: str, *, ema: bool = True,
                     include_discriminator: bool = False, license: str = "apache-2.0",
                     measure_quality: bool = True, endpoint: str | None = None) -> str:
    """Write everything `push` uploads into the folder `staging` (no network); returns a short
    description of the generator for the commit message. Useful to preview a push. `endpoint`:
    the Hub the card's sound players load their files from (a sound generator's)."""
    from ..checkpoints import WEIGHTS_NAME, ModelLoadError, generator_folder, load_generator
    from ..models.vocoder import VOCODER_FILE

    staging = Path(staging)
    folder = generator_folder(model_dir)
    checkpoint = folder.parent if (folder.parent / "state.json").is_file() else None
    if not ema:
        if checkpoint is None or not (checkpoint / "generator_raw" / WEIGHTS_NAME).is_file():
            raise ModelLoadError(f"{model_dir} keeps no raw (non-averaged) generator: only a training checkpoint "
                                 "does. Push the generator as it is (ema=True).")
        folder = checkpoint / "generator_raw"
    generator = load_generator(folder)  # validates the config and the safetensors before anything is copied
    for name in ("config.json", WEIGHTS_NAME):
        shutil.copyfile(folder / name, staging / name)  # byte for byte: the pulled tensors are identical
    if getattr(generator, "vocoder_file", None) is not None:  # a sound generator's own vocoder travels with it
        shutil.copyfile(generator.vocoder_file, staging / VOCODER_FILE)
    if include_discriminator:
        source = checkpoint / "discriminator" if checkpoint is not None else folder / "discriminator"
        if not (source / WEIGHTS_NAME).is_file() or not (source / "config.json").is_file():
            raise ModelLoadError(f"{model_dir} has no discriminator to push (only training checkpoints keep one).")
        (staging / "discriminator").mkdir()
        for name in ("config.json", WEIGHTS_NAME):
            shutil.copyfile(source / name, staging / "discriminator" / name)

    record = _training_record(folder, checkpoint, weights="raw" if not ema else "ema")
    if getattr(generator, "is_translator", False):  # image-to-image: before/after pictures and held-out scores
        return stage_translator(generator, folder, checkpoint, staging, repo_id, record, license=license,
                                include_discriminator=include_discriminator, measure_quality=measure_quality)
    makes_sounds = getattr(generator, "sound_record", None) is not None
    if measure_quality and record.get("train_config"):
        dataset = record["train_config"].get("dataset")
        if makes_sounds and checkpoint is not None:
            # The sound metrics apply by the data itself (a folder of sounds): its path as the run
            # knew it, not the name the card shows.
            dataset = json.loads((checkpoint / "state.json").read_text()).get("train_config", {}).get("dataset", dataset)
        measured = _quality_metrics(generator, dataset,
                                    run_dir=checkpoint.parent.parent if checkpoint is not None else None)
        if measured or "quality" not in record:  # (a generator pushed again away from its data keeps its scores)
            record["quality"] = measured
    flat = {**record.get("summary", {}), **{key: record[key] for key in RECORD_KEYS if key in record}}
    (staging / SUMMARY_NAME).write_text(json.dumps(flat, indent=2) + "\n")

    from ..sampling import generate, preview_image

    steps = record.get("summary", {}).get("step")
    if makes_sounds:
        samples = stage_sound_files(generator, staging)
        (staging / "README.md").write_text(sound_model_card(repo_id, generator, record, samples, license=license,
                                                            include_discriminator=include_discriminator,
                                                            endpoint=endpoint))
        return f"{type(generator).__name__} (sounds)" + (f" after {steps} steps" if steps else "")
    preview_image(generate(generator, _num_grid_samples(generator), seed=0)).save(staging / SAMPLE_GRID_NAME)
    card = model_card(repo_id, generator, record, license=license,
                      include_discriminator=include_discriminator)
    (staging / "README.md").write_text(card)
    return f"{type(generator).__name__}" + (f" after {steps} steps" if steps else "")


# ---------------------------------------------------------------------------
# A resumable push: the run's training state beside the generator

# Where a resumable repo keeps the run (every name fixed, so a later save overwrites the earlier
# one and `pull_run` downloads an exact list): safetensors and JSON only, never a pickle.
RUN_FOLDER = "run"
CHECKPOINT_FOLDER = f"{RUN_FOLDER}/checkpoint"
RUN_CONFIG_NAME = "train_config.json"
CHECKPOINT_MODELS = ("generator", "generator_raw", "discriminator")
CHECKPOINT_FILES = ("state.json", "training_state.safetensors")


def resumable_repo_files(held_out: bool) -> list[str]:
    """The repo paths of a run's training state, as a resumable push writes them."""
    from ..checkpoints import WEIGHTS_NAME
    from ..pairs import HELD_OUT_FILE

    names = [f"{RUN_FOLDER}/{RUN_CONFIG_NAME}"]
    names += [f"{CHECKPOINT_FOLDER}/{name}" for name in CHECKPOINT_FILES]
    names += [f"{CHECKPOINT_FOLDER}/{model}/{name}" for model in CHECKPOINT_MODELS
              for name in ("config.json", WEIGHTS_NAME)]
    if held_out:
        names.append(f"{RUN_FOLDER}/{HELD_OUT_FILE}")
    return names


def sound_record_files() -> list[str]:
    """The repo paths of a resumable sound run's generators' sound.json (present only for a run
    on sounds)."""
    from ..checkpoints import SOUND_NAME

    return [f"{CHECKPOINT_FOLDER}/{model}/{SOUND_NAME}" for model in CHECKPOINT_MODELS if model.startswith("generator")]


def snapshot_run(model_dir: str | Path, into: str | Path) -> Path:
    """A copy of what resuming a run needs, made as a run folder in `into` (which must not
    exist): the newest checkpoint of the run folder `model_dir` (or the checkpoint folder it
    names), its train_config.json and, for an image-to-image run, its held-out pictures. The
    copy is what a push stages from, so a run that keeps training (and replaces its old
    checkpoints) never changes files under a push. The run's data cache is linked, not copied
    (the card's quality is measured against it; it is only read)."""
    from ..checkpoints import WEIGHTS_NAME, ModelLoadError, latest_checkpoint, write_json_atomic
    from ..pairs import HELD_OUT_FILE

    model_dir, into = Path(model_dir), Path(into)
    if (model_dir / "state.json").is_file() and model_dir.parent.name == "checkpoints":
        checkpoint, run_dir = model_dir, model_dir.parent.parent
    else:
        checkpoint, run_dir = latest_checkpoint(model_dir), model_dir
    if checkpoint is None:
        what = "no such folder" if not model_dir.exists() else "it holds no training checkpoint"
        raise ModelLoadError(f"{model_dir} cannot be pushed resumable ({what}): only a run folder (runs/NAME) keeps "
                             "the training state a resume needs. Push the generator alone without --resumable.")
    missing = [f"{model}/{name}" for model in CHECKPOINT_MODELS for name in ("config.json", WEIGHTS_NAME)
               if not (checkpoint / model / name).is_file()]
    missing += [name for name in CHECKPOINT_FILES if not (checkpoint / name).is_file()]
    if missing:
        raise ModelLoadError(f"{checkpoint} is incomplete (no {', '.join(missing)}): it cannot be resumed")
    state = json.loads((checkpoint / "state.json").read_text())
    target = into / "checkpoints" / checkpoint.name
    shutil.copytree(checkpoint, target)  # config.json, safetensors and state.json: byte for byte
    (into / "checkpoints" / "latest").write_text(checkpoint.name)
    config = state.get("train_config") or json.loads((run_dir / RUN_CONFIG_NAME).read_text())
    write_json_atomic(into / RUN_CONFIG_NAME, config)
    if (run_dir / HELD_OUT_FILE).is_file():
        shutil.copyfile(run_dir / HELD_OUT_FILE, into / HELD_OUT_FILE)
    if (run_dir / "data-cache").is_dir():
        (into / "data-cache").symlink_to((run_dir / "data-cache").resolve(), target_is_directory=True)
    return into


def stage_run_state(snapshot: Path, staging: Path) -> dict:
    """Copy a run snapshot's training state into `staging` under run/ (resumable_repo_files);
    returns the checkpoint's state.json. The train_config's out_dir names the folder only: where
    the run sat on this machine is no business of the repo (a resume names its own folder)."""
    from ..checkpoints import WEIGHTS_NAME, latest_checkpoint
    from ..pairs import HELD_OUT_FILE

    checkpoint = latest_checkpoint(snapshot)
    state = json.loads((checkpoint / "state.json").read_text())
    config = dict(state.get("train_config") or {})
    if "out_dir" in config:
        config["out_dir"] = Path(str(config["out_dir"])).name or "run"
        state["train_config"] = config
    target = staging / CHECKPOINT_FOLDER
    for model in CHECKPOINT_MODELS:
        (target / model).mkdir(parents=True)
        for name in ("config.json", WEIGHTS_NAME):
            shutil.copyfile(checkpoint / model / name, target / model / name)
    for name in sound_record_files():  # a run on sounds: its generators know they make sounds
        source = checkpoint / Path(name).relative_to(CHECKPOINT_FOLDER)
        if source.is_file():
            shutil.copyfile(source, staging / name)
    shutil.copyfile(checkpoint / "training_state.safetensors", target / "training_state.safetensors")
    (target / "state.json").write_text(json.dumps(state, indent=2) + "\n")
    (staging / RUN_FOLDER / RUN_CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    if (snapshot / HELD_OUT_FILE).is_file():
        shutil.copyfile(snapshot / HELD_OUT_FILE, staging / RUN_FOLDER / HELD_OUT_FILE)
    return state


def resumable_card_section(repo_id: str, step: int, minutes: float, elapsed_seconds: float) -> str:
    """The model card's part that says the repo can be resumed, and how."""
    name = repo_id.split("/")[1]
    budget = (f" ({elapsed_seconds / 60:.1f} of its {minutes:g} minutes)" if minutes else "")
    return "\n".join([
        "", "## Resume training", "",
        f"This repo is **resumable**: `{RUN_FOLDER}/` holds the run's full training state at step {step}{budget}: "
        "the discriminator, the trained and the averaged (EMA) generator, the optimisers' moments and the random "
        "streams, as safetensors and JSON (no pickle). A resumed run continues exactly where this one stopped.", "",
        "```bash",
        f"python -m gan_space train --resume-from {repo_id} --out runs/{name}            # to its own end",
        f"python -m gan_space train --resume-from {repo_id} --out runs/{name} --steps N  # or further (--minutes N: "
        "by the clock, in total)",
        "```", "",
        "```python", "from gan_space import hub", "from gan_space.training import Trainer", "",
        f'hub.pull_run("{repo_id}", "runs/{name}", token)', f'for event in Trainer.resume("runs/{name}").run():',
        "    print(event.status_line())", "```", "",
        "In the gan_space app: Train tab, **Resume from the Hub**. The data is not in the repo: a built-in set or a "
        "Hugging Face dataset is fetched again; a run on your own pictures needs them at the same path.", ""])
