"""Everything a push uploads, written into a local folder with no network: the generator's
files, summary.json, the sample grid and the model card."""

import json
import shutil
from pathlib import Path

from .card import _num_grid_samples, _quality_metrics, model_card
from .record import RECORD_KEYS, _training_record
from .repos import SAMPLE_GRID_NAME, SUMMARY_NAME
from .translator_card import stage_translator


def stage_repo_files(model_dir: str | Path, staging: str | Path, repo_id: str, *, ema: bool = True,
                     include_discriminator: bool = False, license: str = "apache-2.0",
                     measure_quality: bool = True) -> str:
    """Write everything `push` uploads into the folder `staging` (no network); returns a short
    description of the generator for the commit message. Useful to preview a push."""
    from ..checkpoints import WEIGHTS_NAME, ModelLoadError, generator_folder, load_generator

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
    if measure_quality and record.get("train_config"):
        measured = _quality_metrics(generator, record["train_config"].get("dataset"),
                                    run_dir=checkpoint.parent.parent if checkpoint is not None else None)
        if measured or "quality" not in record:  # (a generator pushed again away from its data keeps its scores)
            record["quality"] = measured
    flat = {**record.get("summary", {}), **{key: record[key] for key in RECORD_KEYS if key in record}}
    (staging / SUMMARY_NAME).write_text(json.dumps(flat, indent=2) + "\n")

    from ..sampling import generate, preview_image

    preview_image(generate(generator, _num_grid_samples(generator), seed=0)).save(staging / SAMPLE_GRID_NAME)
    card = model_card(repo_id, generator, record, license=license,
                      include_discriminator=include_discriminator)
    (staging / "README.md").write_text(card)
    steps = record.get("summary", {}).get("step")
    return f"{type(generator).__name__}" + (f" after {steps} steps" if steps else "")
