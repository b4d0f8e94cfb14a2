"""Run folders and checkpoints: the one module that reads and writes a run folder (its
settings, checkpoints, summary, held-out pairs and the pictures it trained on).

A run folder looks like this:

    runs/digits/
      train_config.json                 the settings the run was started with
      samples/step-0000500.png          preview grids
      checkpoints/latest                name of the newest complete checkpoint
      checkpoints/step-0006000/
        generator/                      the generator to sample from (EMA weights when EMA is on):
                                        config.json + diffusion_pytorch_model.safetensors
                                        (+ sound.json when its pictures are spectrograms of sounds)
        generator_raw/                  the trained (non-averaged) generator
        discriminator/
        training_state.safetensors      optimiser moments and random-number states
        state.json                      step, settings, summary; written last

Every checkpoint is written into a temporary folder and renamed into place, and
`latest` is replaced atomically, so a crash at any moment leaves the previous
checkpoint loadable. Only safetensors and JSON are ever read back: nothing is
unpickled.
"""

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .data import BUILTIN_IMAGE_SETS, CACHE_META, CACHE_VERSION, load_dataset, mel_settings_of_record
from .names import BUILTIN_SOUND_SETS
from .models import discriminator_classes, generator_classes
from .models.vocoder import VOCODER_FILE
from .pairs import HELD_OUT_FILE, HeldOut

KEEP_CHECKPOINTS = 2
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
# Beside config.json in a generator folder whose pictures are spectrograms: how to make them sound
# (gan_space.data.sound_pictures.sound_record), so the folder alone says it makes sounds.
SOUND_NAME = "sound.json"


class ModelLoadError(ValueError):
    """A path does not hold a loadable gan_space generator; the message says why."""


class CheckpointWriteError(OSError, ValueError):
    """A checkpoint could not be written (a full disk, say); the previous one is intact."""


def write_json_atomic(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder of a run, or None."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return None
    pointer = root / "latest"
    if pointer.is_file():
        candidate = root / pointer.read_text().strip()
        if candidate.parent == root and (candidate / "state.json").is_file():
            return candidate
    # The pointer is missing or stale (a crash between rename and pointer update):
    # fall back to the highest complete step folder.
    complete = sorted(p for p in root.glob("step-*") if (p / "state.json").is_file())
    return complete[-1] if complete else None


def _discard(folder: Path) -> None:
    """Remove a checkpoint folder so that a crash halfway never leaves a half-deleted one that
    still looks complete: it is first renamed out of sight (atomic), then deleted."""
    hidden = folder.with_name(f".old-{folder.name}-{os.getpid()}")
    try:
        os.replace(folder, hidden)
    except FileNotFoundError:
        return
    shutil.rmtree(hidden, ignore_errors=True)


def _remove_leftovers(root: Path) -> None:
    """Temporary files and folders of a process killed while it saved (they are never read)."""
    for path in root.glob(".*"):
        if path.name.startswith((".tmp-", ".old-", ".latest.tmp-")):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def save_checkpoint(out_dir: str | Path, step: int, models: dict, tensors: dict, state: dict,
                    sound: dict | None = None) -> Path:
    """Write checkpoint `step-<step>` of the run in `out_dir`, atomically: each of `models`
    (name -> diffusers model) as a folder of config.json + safetensors, `tensors` (name ->
    tensor) as training_state.safetensors, and `state` (JSON; the step is added) as
    state.json, written last. `sound`: the sound record of a run on sounds, written as
    sound.json into each generator's folder. Returns the checkpoint folder."""
    out_dir = Path(out_dir)
    root = out_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(root)  # one process writes a run; anything half-written here is from a crash
    name = f"step-{step:07d}"
    tmp = root / f".tmp-{name}-{os.getpid()}"
    try:
        for folder, model in models.items():
            model.save_pretrained(tmp / folder)
            if sound and folder.startswith("generator"):
                (tmp / folder / SOUND_NAME).write_text(json.dumps(sound, indent=2))
        save_file({key: value.detach().cpu().contiguous() for key, value in tensors.items()},
                  tmp / "training_state.safetensors")
        with open(tmp / "state.json", "w") as handle:
            json.dump({"step": step, **state}, handle, indent=2)
        _fsync_tree(tmp)
        final = root / name
        if final.exists():  # the same step saved again (e.g. after a crash before `latest` was updated)
            _discard(final)
        os.replace(tmp, final)
        tmp_pointer = root / f".latest.tmp-{os.getpid()}"
        tmp_pointer.write_text(name)
        os.replace(tmp_pointer, root / "latest")
    except Exception as error:  # OSError from Python, SafetensorError from safetensors' own writer, ...
        shutil.rmtree(tmp, ignore_errors=True)
        previous = latest_checkpoint(out_dir)
        kept = f"the previous checkpoint ({previous.name}) is intact" if previous else "no earlier checkpoint exists"
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise CheckpointWriteError(f"could not write checkpoint {name} in {root} ({reason}); {kept}. Free "
                                   f"some disk space, then resume the run.") from error
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in sorted(p for p in root.glob("step-*") if p.name != name)[:-(KEEP_CHECKPOINTS - 1) or None]:
        _discard(old)
    return final


def read_checkpoint(out_dir: str | Path) -> tuple[Path, dict, dict]:
    """The newest checkpoint of a run: (its folder, state.json, training_state tensors)."""
    folder = latest_checkpoint(out_dir)
    if folder is None:
        raise ModelLoadError(f"{out_dir} holds no complete checkpoint")
    state = json.loads((folder / "state.json").read_text())
    return folder, state, load_file(folder / "training_state.safetensors")


def load_weights(model: torch.nn.Module, folder: Path) -> None:
    """Weights saved by `save_checkpoint` (a model folder's safetensors) into `model`, in place."""
    model.load_state_dict(load_file(Path(folder) / WEIGHTS_NAME))


def optimiser_state(prefix: str, optimiser: torch.optim.Optimizer) -> tuple[dict, dict]:
    """An optimiser's state as tensors (`prefix.index.key`) and JSON (groups and scalars)."""
    state = optimiser.state_dict()
    tensors, meta = {}, {"param_groups": state["param_groups"], "scalars": {}}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                meta["scalars"][f"{index}.{key}"] = value
    return tensors, meta


def load_optimiser_state(optimiser: torch.optim.Optimizer, prefix: str, tensors: dict, meta: dict) -> None:
    per_param: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, index, name = key.split(".", 2)
            per_param.setdefault(int(index), {})[name] = value
    for key, value in meta["scalars"].items():
        index, name = key.split(".", 1)
        per_param.setdefault(int(index), {})[name] = value
    groups = [dict(group) for group in meta["param_groups"]]
    for group in groups:
        group["betas"] = tuple(group["betas"])
    optimiser.load_state_dict({"state": per_param, "param_groups": groups})
    # Moments come back contiguous; a channels-last parameter needs them in its own layout: the
    # fused Adam kernel walks parameter and moments as flat buffers, and mismatched strides
    # would pair the wrong elements (a resumed DCGAN run then silently drifts).
    for group in optimiser.param_groups:
        for parameter in group["params"]:
            state = optimiser.state.get(parameter, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == parameter.shape and value.stride() != parameter.stride():
                    state[key] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)


def saved_train_config(out_dir: Path) -> dict:
    latest = latest_checkpoint(out_dir)
    if latest is not None:
        return json.loads((latest / "state.json").read_text())["train_config"]
    path = Path(out_dir) / "train_config.json"
    if path.is_file():
        return json.loads(path.read_text())
    raise ModelLoadError(f"{out_dir} is not a gan_space run folder (no checkpoints/ and no train_config.json)")


# ---------------------------------------------------------------------------
# Loading a generator for sampling


def generator_folder(path: str | Path) -> Path:
    """A run folder, a checkpoint folder or a generator folder -> the generator folder."""
    path = Path(path)
    if (path / "config.json").is_file():
        return path
    if (path / "generator" / "config.json").is_file():
        return path / "generator"
    latest = latest_checkpoint(path)
    if latest is not None:
        return latest / "generator"
    if not path.exists():
        raise ModelLoadError(f"no such folder: {path}")
    raise ModelLoadError(f"{path} holds no gan_space generator (no config.json and no checkpoints/)")


def read_generator_config(folder: Path) -> dict:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{folder}/config.json is not readable JSON ({error})") from None
    if config.get("_class_name") not in generator_classes():
        known = ", ".join(generator_classes())
        raise ModelLoadError(f"{folder} is not a gan_space generator: config.json names "
                             f"{config.get('_class_name')!r}, expected one of {known}")
    return config


def load_generator(path: str | Path, device: str | torch.device = "cpu"):
    """Load a generator (eval mode) from a run, checkpoint or generator folder.

    Only safetensors weights are read; a folder with pickled weights alone is refused.
    """
    folder = generator_folder(path)
    config = read_generator_config(folder)
    if not (folder / WEIGHTS_NAME).is_file():
        pickles = [p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt")]
        extra = f" (found only {', '.join(pickles)}: pickled weights are never loaded)" if pickles else ""
        raise ModelLoadError(f"{folder} has no {WEIGHTS_NAME}{extra}")
    model_class = generator_classes()[config["_class_name"]]
    mismatch = f"{folder}/{WEIGHTS_NAME} does not load into {config['_class_name']}: the file is damaged or " \
               "does not match config.json"
    try:
        generator = model_class.from_pretrained(folder, use_safetensors=True)
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        # E.g. a downloaded repo with a broken file: diffusers' own message is long and names internals.
        raise ModelLoadError(f"{mismatch} ({type(error).__name__}: {str(error).strip()[:200]})") from None
    # Weights missing from the file are left on the meta device (no data) rather than reported.
    missing = [name for name, tensor in generator.state_dict().items() if tensor.is_meta]
    if missing:
        more = ", ..." if len(missing) > 3 else ""
        raise ModelLoadError(f"{mismatch} (no weights for {', '.join(missing[:3])}{more})")
    generator.sound_record = read_sound_record(folder)  # None: it makes pictures
    generator.vocoder_file = own_vocoder_file(folder)
    return generator.to(device).eval()


def own_vocoder_file(generator_dir: Path) -> Path | None:
    """A sound generator's own vocoder (`train-vocoder --out`): beside its weights or, for a
    generator inside a run's checkpoint (RUN/checkpoints/step-N/generator), in the run folder."""
    places = [generator_dir]
    if (generator_dir.parent / "state.json").is_file():
        places.append(generator_dir.parent.parent.parent)
    return next((place / VOCODER_FILE for place in places if (place / VOCODER_FILE).is_file()), None)


def read_sound_record(folder: str | Path) -> dict | None:
    """The sound record (sound.json) of a generator folder; None when it has none (a picture
    generator). ModelLoadError for one that is not readable."""
    path = Path(folder) / SOUND_NAME
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        mel_settings_of_record(record)  # (checked here, so a damaged record fails on loading)
    except (OSError, ValueError, TypeError) as error:
        raise ModelLoadError(f"{path} is not a readable sound record ({str(error)[:200]})") from None
    return record


def sound_settings(model_or_folder):
    """The spectrogram transform (gan_space.sound.MelSettings) that turns a generator's pictures
    into sound: from a generator loaded by load_generator, or a run, checkpoint or generator
    folder. None for a generator of pictures."""
    if isinstance(model_or_folder, (str, os.PathLike)):
        record = read_sound_record(generator_folder(model_or_folder))
    else:
        record = getattr(model_or_folder, "sound_record", None)
    return mel_settings_of_record(record)


def load_discriminator(path: str | Path, device: str | torch.device = "cpu"):
    folder = Path(path)
    config = json.loads((folder / "config.json").read_text())
    model_class = discriminator_classes()[config["_class_name"]]
    return model_class.from_pretrained(folder, use_safetensors=True).to(device).eval()


def run_summary(path: str | Path) -> dict:
    """Summary saved with the checkpoint a generator folder belongs to ({} if none)."""
    folder = generator_folder(path)
    state = folder.parent / "state.json"
    if state.is_file():
        return json.loads(state.read_text()).get("summary", {})
    return {}


def generator_record(path: str | Path) -> tuple[dict, dict]:
    """(summary, settings) of the run a generator came from: its checkpoint's state.json, else the
    summary.json beside a shipped or pulled generator; ({}, {}) when neither is readable."""
    folder = generator_folder(path)
    for record_path, summary_of in ((folder.parent / "state.json", lambda record: record.get("summary") or {}),
                                    (folder / "summary.json", lambda record: record)):
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            return dict(summary_of(record)), dict(record.get("train_config") or {})
    return {}, {}


# ---------------------------------------------------------------------------
# What else a run keeps: its held-out pairs, the pictures it trained on


def run_held_out(run_dir: str | Path) -> HeldOut:
    """The held-out pairs an image-to-image run kept (`held_out.safetensors` in the run folder)."""
    path = Path(run_dir) / HELD_OUT_FILE
    if not path.is_file():
        raise ValueError(f"{run_dir} keeps no held-out pictures ({HELD_OUT_FILE}): it is not an image-to-image run, "
                         f"or it was made before they were kept")
    return HeldOut.load(path)



def run_pictures(run_dir: str | os.PathLike, resolution: int, channels: int) -> tuple[torch.Tensor, str] | None:
    """The pictures a run trained on, uint8 (N, C, H, W), and where they came from; None when
    they are not on this machine. Read, never written: the run's data cache when it holds
    pictures of this size (exactly what the run trained on, already decoded, memory-mapped),
    else a built-in set, else the train_config's dataset path when it exists here (decoded
    into memory). A Hugging Face dataset with no cache is not downloaded."""
    run_dir = Path(run_dir)
    try:
        config = saved_train_config(run_dir)
    except (ModelLoadError, OSError, ValueError, KeyError):
        return None
    dataset = str(config.get("dataset") or "")
    cache = run_dir / "data-cache"
    try:
        meta = json.loads((cache / CACHE_META).read_text())
        file = cache / Path(str(meta["file"])).name
        shape = (int(meta["count"]), channels, resolution, resolution)
        if (meta.get("version") == CACHE_VERSION and meta.get("shape") == list(shape[1:]) and shape[0] >= 1
                and file.stat().st_size == math.prod(shape)):
            # Copy-on-write, as gan_space.data maps it: torch gets a writable array, the file is never changed.
            pictures = torch.from_numpy(np.memmap(file, dtype=np.uint8, mode="c", shape=shape))
            return pictures, f"{dataset} (the run's data cache)"
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no cache, or one of another size: try the source
    local = Path(os.path.expanduser(dataset)) if dataset else None
    if dataset in BUILTIN_IMAGE_SETS + BUILTIN_SOUND_SETS or (local is not None and local.exists()):
        data = load_dataset(dataset, resolution, channels, max_images=int(config.get("max_images") or 50_000),
                            seed=int(config.get("seed") or 0))
        if data.kind == "images":
            return data.samples, dataset
    return None
