"""What `gan_space.hub.push` uploads for an image-to-image model (super-resolution,
colourisation, sketches, a user's pairs): the same files as for any generator
(config.json + safetensors at the root, summary.json, README.md, sample_grid.png), with
a before/after picture of held-out pictures as the sample grid and a card that gives
their PSNR, SSIM and Fréchet distance next to bicubic (or the input).

The held-out pictures are the ones the run kept apart (`held_out.safetensors` in its
folder); they are measured, shown in the picture, and not uploaded themselves. A model
pushed from a folder without them (a pulled model pushed again) keeps the scores and the
picture it came with.
"""

import json
import shutil
from pathlib import Path

from .card import _duration
from .record import RECORD_KEYS, record_parts
from .repos import SAMPLE_GRID_NAME, SUMMARY_NAME

def stage_translator(generator, folder: Path, checkpoint: Path | None, staging: Path, repo_id: str, record: dict, *,
                     license: str = "apache-2.0", include_discriminator: bool = False,
                     measure_quality: bool = True) -> str:
    """summary.json, sample_grid.png (before | after | original) and README.md into `staging`
    (the weights are there already). Returns the commit message's description."""
    from ..held_out import before_after_picture, held_out_scores
    from ..pairs import HELD_OUT_FILE, HeldOut

    task = generator.config.task
    held_out_file = checkpoint.parent.parent / HELD_OUT_FILE if checkpoint is not None else None
    has_picture = False
    if held_out_file is not None and held_out_file.is_file():
        held_out = HeldOut.load(held_out_file)
        if measure_quality:
            record["quality"] = held_out_scores(generator, held_out, task).to_dict()
        before_after_picture(generator, held_out, task).save(staging / SAMPLE_GRID_NAME)
        has_picture = True
    elif (folder / SAMPLE_GRID_NAME).is_file():  # pushed again from a pulled copy: what it came with
        shutil.copyfile(folder / SAMPLE_GRID_NAME, staging / SAMPLE_GRID_NAME)
        has_picture = True
    flat = {**record.get("summary", {}), **{key: record[key] for key in RECORD_KEYS if key in record}}
    (staging / SUMMARY_NAME).write_text(json.dumps(flat, indent=2) + "\n")
    (staging / "README.md").write_text(translator_model_card(repo_id, generator, record, has_picture=has_picture,
                                                             license=license,
                                                             include_discriminator=include_discriminator))
    steps = record.get("summary", {}).get("step")
    return f"{type(generator).__name__} ({task})" + (f" after {steps} steps" if steps else "")


def translator_model_card(repo_id: str, generator, record: dict, *, has_picture: bool,
                          license: str = "apache-2.0", include_discriminator: bool = False) -> str:
    """README.md for a pushed image-to-image generator: YAML metadata, what it does, the
    before/after picture, how to apply it, its held-out scores and how it was trained."""
    from huggingface_hub import ModelCardData

    from ..metrics import pair_metric
    from ..models import family_of
    from ..tasks import get_task

    config = generator.config
    task, scale = get_task(config.task), config.scale
    class_name = type(generator).__name__
    train_config, summary, quality, dataset, hub_dataset = record_parts(record)
    tags = ["gan", "gan_space", "pytorch", "image-to-image", task.hub_tag or "image-to-image",
            *family_of(generator).tags]
    metadata = ModelCardData(library_name="diffusers", license=license, tags=sorted(set(tags)),
                             pipeline_tag="image-to-image", datasets=[hub_dataset] if hub_dataset else None)
    def picture(channels: int) -> str:
        """What a picture of this many channels is: grey, colour, or several stacked (next-frame's
        last frames)."""
        if channels in (1, 3):
            return {1: "grey", 3: "colour"}[channels]
        frames, each = (channels // 3, "colour") if channels % 3 == 0 else (channels, "grey")
        return f"{frames} stacked {each}"

    what = task.words_for(config)
    num_parameters = sum(p.numel() for p in generator.parameters())
    name = repo_id.split("/")[1]
    lines = [f"# {name}", "",
             f"An image-to-image GAN generator for **{what}** ({class_name}, {num_parameters:,} parameters), trained "
             f"with gan_space" + (f" on **{dataset}**" if dataset else "") + f". It maps a {picture(config.in_channels)} "
             f"picture of any size to a {picture(config.channels)} picture "
             + (f"{scale} times larger" if scale > 1 else "of the same size") +
             ". The weights are safetensors: loading them runs no pickled code.", ""]
    baseline = quality.get("baseline", task.baseline_name)
    if has_picture:
        lines += [f"![held-out pictures: {baseline} | this model | original]({SAMPLE_GRID_NAME})", "",
                  f"*Held-out pictures (never trained on): {baseline} | this model | the original.*", ""]
    lines += ["## How to use it", "", "```python", "from PIL import Image", "from gan_space import hub",
              "from gan_space.translation import apply", "",
              f'model = hub.pull("{repo_id}")            # safetensors only',
              'result = apply(model, Image.open("picture.png"))   # any size: processed in blended tiles',
              'result.save("result.png")', "```", "", "From a terminal:", "", "```bash",
              f"python -m gan_space apply --model {repo_id} --input picture.png --out result.png --compare",
              "```", ""]
    lines += task.card_lines(config)  # how to feed this task's model
    lines += ["## Model", "", "| | |", "|---|---|", f"| architecture | {class_name} ({family_of(generator).name}) |",
              f"| task | {what} |", f"| input | {picture(config.in_channels)}, any size |",
              f"| output | {picture(config.channels)}, {scale}x the input's size |" if scale > 1 else
              f"| output | {picture(config.channels)}, the input's size |",
              f"| parameters | {num_parameters:,} |",
              f"| weights | {'exponential moving average of the trained weights' if record.get('weights') != 'raw' and train_config.get('ema_decay') else 'the trained weights'} |"]
    if include_discriminator:
        lines.append("| discriminator | included in `discriminator/`, for fine-tuning |")
    lines.append("")
    if quality:
        lines += ["## Quality", "",
                  f"Measured on {quality.get('num_pictures')} held-out pictures of the training data (kept apart, "
                  f"never trained on): PSNR and SSIM against the originals (RGB in [0, 1], higher is better) and the "
                  f"Fréchet distance between the outputs and the originals in random-network features (lower is "
                  f"better: it sees blur that PSNR rewards).", ""]
        metrics = [pair_metric(name) for name in task.metrics]

        def cell(metric, value):
            if value is None and metric.per_picture and not quality.get("aligned", True):
                return "n/a (no picture of B belongs to its input)"
            if value is None:
                return f"n/a (under {metric.min_pictures} pictures)"
            return metric.format.format(value)

        lines += ["| | " + " | ".join(metric.label for metric in metrics) + " |", "|---" * (len(metrics) + 1) + "|",
                  "| this model | " + " | ".join(cell(m, quality.get(m.name)) for m in metrics) + " |",
                  f"| {baseline} | " + " | ".join(cell(m, quality.get(f"baseline_{m.name}")) for m in metrics) + " |",
                  ""]
    if train_config or summary:
        lines += ["## Training", ""]
        if summary:
            seconds = summary.get("training_seconds")
            lines.append(f"- **data**: {summary.get('dataset', dataset)}")
            lines.append(f"- **steps**: {summary.get('step')} of {summary.get('total_steps')}"
                         + (f" in {_duration(seconds)}" if seconds is not None else ""))
        if train_config:
            keys = ("task", "scale", "blur", "noise", "jpeg", "arch", "width", "num_layers", "loss", "pixel_loss",
                    "pixel_weight", "adversarial_weight", "feature_weight", "perceptual_weight", "batch_size", "lr_g",
                    "lr_d", "ema_decay", "augment", "seed")
            lines.append("- **settings**: " + ", ".join(f"{k}={train_config[k]}" for k in keys if k in train_config))
            lines += ["", f"<details><summary>All settings ({SUMMARY_NAME})</summary>", "", "```json",
                      json.dumps(train_config, indent=2, sort_keys=True), "```", "", "</details>"]
        lines.append("")
    lines += ["## Limitations", "",
              "A small GAN trained from scratch" + (f" on {dataset}" if dataset else "") + ": it has learnt what those "
              "pictures look like and invents detail of that kind; on other kinds of pictures it may invent the wrong "
              "detail. A GAN's detail is plausible, not measured: do not use it where the true content matters.", "",
              "## Files", "", "- `config.json`, `diffusion_pytorch_model.safetensors`: the generator"]
    if has_picture:
        lines.append(f"- `{SAMPLE_GRID_NAME}`: the before/after picture above")
    lines.append(f"- `{SUMMARY_NAME}`: training summary, settings and held-out scores, as JSON")
    if include_discriminator:
        lines.append("- `discriminator/`: the discriminator, same format")
    lines.append("")
    return f"---\n{metadata.to_yaml()}\n---\n\n" + "\n".join(lines)
