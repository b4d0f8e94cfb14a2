"""The model card of a generator that samples from noise (README.md of a pushed repo), and the
quality it reports: measured on fresh samples (`_quality_metrics`) and written as a table
(`_quality_lines`)."""

import json
from pathlib import Path

from ..generator_output import generator_output
from .record import record_parts
from .repos import SAMPLE_GRID_NAME, SUMMARY_NAME

NUM_GRID_IMAGES, NUM_GRID_POINTS = 64, 2500  # a grid of images; a scatter plot of points


def _quality_metrics(generator, dataset: str | None, run_dir: Path | None = None) -> dict:
    """Quality measured on fresh samples, by the first metric the registry (gan_space.metrics)
    has for the generator's data that a card can show: the digits judge, a mixture's modes, or
    the picture score against the run's own pictures (or a built-in set's) when they are on this
    machine. Empty otherwise. `metric` names what measured it."""
    from ..checkpoints import run_pictures
    from ..data import BUILTIN_IMAGE_SETS, load_dataset
    from ..metrics import sample_metrics

    kind = "images" if _makes_images(generator) else "points"
    for metric in sample_metrics(dataset, kind):
        if metric.card_measure is None:
            continue
        pictures = None
        if metric.card_pictures:
            output = generator_output(generator.config)
            if run_dir is not None:
                found = run_pictures(run_dir, output.resolution, output.channels)
            elif dataset in BUILTIN_IMAGE_SETS:  # a built-in set is everywhere, run folder or not
                found = (load_dataset(dataset, output.resolution, output.channels).samples, dataset)
            else:
                found = None
            if found is None:
                continue  # the pictures it trained on are not on this machine
            pictures = found[0]
        return {"metric": metric.name, **metric.card_measure(generator, dataset, pictures)}
    return {}


def model_card(repo_id: str, generator, record: dict, *, license: str = "apache-2.0",
               include_discriminator: bool = False) -> str:
    """README.md for a pushed generator: YAML metadata, then what it is, samples, how to load
    it, how it was trained and how good it is."""
    from huggingface_hub import ModelCardData

    config = {k: v for k, v in generator.config.items() if not k.startswith("_")}
    class_name = type(generator).__name__
    train_config, summary, quality, dataset, hub_dataset = record_parts(record)
    makes_images = _makes_images(generator)

    from ..models import family_of

    tags = ["gan", "gan_space", "pytorch", *family_of(generator).tags]
    tags += ["unconditional-image-generation"] if makes_images else ["2d-points", "toy-data"]
    if config.get("num_classes"):
        tags.append("class-conditional")
    metadata = ModelCardData(
        library_name="diffusers", license=license, tags=tags,
        pipeline_tag="unconditional-image-generation" if makes_images else "other",
        datasets=[hub_dataset] if hub_dataset else None)

    output = _output_description(generator)
    num_parameters = sum(p.numel() for p in generator.parameters())
    trained_on = f" trained on **{dataset}**" if dataset else ""
    lines = [f"# {repo_id.split('/')[1]}", "",
             f"A GAN generator ({class_name}, {num_parameters:,} parameters){trained_on} with "
             f"gan_space. It maps {config['latent_dim']}-dimensional Gaussian latents "
             f"{'and class labels ' if config.get('num_classes') else ''}to {output}. The weights are "
             f"safetensors: loading them runs no pickled code.", ""]
    num_grid = _num_grid_samples(generator)
    lines += [f"![{num_grid} samples, seeds 0-{num_grid - 1}]({SAMPLE_GRID_NAME})", "",
              f"*{num_grid:,} samples, seeds 0 to {num_grid - 1}"
              + (" (the classes in turn)" if config.get("num_classes") else "") + ".*", ""]

    lines += ["## How to use it", ""]
    if makes_images:
        lines += ["With diffusers and gan_space installed, one call loads it as a pipeline that returns "
                  "`ImagePipelineOutput` images:", "",
                  "```python", "from gan_space import GANPipeline", "",
                  f'pipe = GANPipeline.from_pretrained("{repo_id}")',
                  "images = pipe(batch_size=16, seed=0).images   # PIL images; sample k comes from seed 0+k",
                  'images[0].save("sample.png")', "```", ""]
    lines += ["With gan_space:", "", "```python", "from gan_space import generate, image_grid, hub", "",
              f'generator = hub.pull("{repo_id}")   # downloads safetensors only',
              "samples = generate(generator, num=64, seed=0, truncation=1.0)"
              + ("   # images in [-1, 1], (N, C, H, W)" if makes_images else "   # points, (N, 2)"),
              "```", "",
              "From a terminal:", "", "```bash",
              f"python -m gan_space generate --model {repo_id} --num 64 --out samples."
              + ("png" if makes_images else "npy"),
              f"python -m gan_space pull --repo {repo_id} --out {repo_id.split('/')[1]}", "```", "",
              f"The generator alone, as a diffusers model: `{class_name}.from_pretrained(\"{repo_id}\")` "
              f"(`from gan_space import {class_name}`).", ""]

    lines += ["## Model", "", "| | |", "|---|---|", f"| architecture | {class_name} |",
              f"| output | {output} |", f"| latent size | {config['latent_dim']} |",
              f"| classes | {config.get('num_classes') or 'none (unconditional)'} |",
              f"| parameters | {num_parameters:,} |"]
    lines.append(_weights_row(record, train_config))
    if include_discriminator:
        lines.append("| discriminator | included in `discriminator/`, for fine-tuning |")
    lines.append("")

    lines += _training_lines(train_config, summary, dataset)

    if quality:
        lines += ["## Quality", ""]
        lines += _quality_lines(quality)
        lines.append("")

    lines += ["## Limitations", "",
              "A small GAN trained from scratch" + (f" on {dataset}" if dataset else "") + ": it imitates that "
              "data" + (" at its resolution" if makes_images else "") + " and nothing more. GANs can drop modes "
              "(parts of the data they never generate); look at the samples before relying on it.", "",
              "## Files", "", "- `config.json`, `diffusion_pytorch_model.safetensors`: the generator",
              f"- `{SAMPLE_GRID_NAME}`: the samples above",
              f"- `{SUMMARY_NAME}`: training summary, settings and quality metrics, as JSON"]
    if include_discriminator:
        lines.append("- `discriminator/`: the discriminator, same format")
    lines.append("")
    return f"---\n{metadata.to_yaml()}\n---\n\n" + "\n".join(lines)


def _weights_row(record: dict, train_config: dict) -> str:
    """The model table's row saying which weights these are."""
    ema_decay = train_config.get("ema_decay")
    if record.get("weights", "ema") == "raw":
        return "| weights | the trained weights (not averaged) |"
    if ema_decay:
        return f"| weights | exponential moving average of the trained weights (decay {ema_decay}) |"
    return "| weights | the trained weights |"


def _training_lines(train_config: dict, summary: dict, dataset: str | None) -> list[str]:
    """The card's "Training" section: the data, the steps and time, the last losses, the settings."""
    lines = []
    if train_config or summary:
        lines += ["## Training", ""]
        if summary:
            lines.append(f"- **data**: {summary.get('dataset', dataset)}")
            if summary.get("class_names"):
                lines.append(f"- **classes**: {', '.join(map(str, summary['class_names']))}")
            seconds = summary.get("training_seconds")
            lines.append(f"- **steps**: {summary.get('step')} of {summary.get('total_steps')}"
                         + (f" in {_duration(seconds)}" if seconds is not None else "")
                         + (f" ({summary.get('precision')})" if summary.get("precision") else ""))
            losses = summary.get("last_losses") or {}
            if losses:
                names = {"d": "D", "g": "G", "r1": "R1", "gp": "GP"}
                lines.append("- **last losses**: " + ", ".join(f"{names.get(k, k)} {v:.3f}" for k, v in losses.items()
                                                               if isinstance(v, (int, float))))
        if train_config:
            keys = ("arch", "loss", "batch_size", "lr_g", "lr_d", "beta1", "beta2", "r1_gamma", "ema_decay",
                    "augment", "spectral_norm", "pack", "seed")
            shown = [f"{k}={train_config[k]}" for k in keys if k in train_config]
            lines.append("- **settings**: " + ", ".join(shown))
            lines += ["", f"<details><summary>All settings ({SUMMARY_NAME})</summary>", "", "```json",
                      json.dumps(train_config, indent=2, sort_keys=True), "```", "", "</details>"]
        lines.append("")
    return lines


def _num_grid_samples(generator) -> int:
    return NUM_GRID_IMAGES if _makes_images(generator) else NUM_GRID_POINTS


def _makes_images(generator) -> bool:
    return generator_output(generator.config).kind == "images"


def _output_description(generator) -> str:
    return generator_output(generator.config).describe()


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _quality_lines(quality: dict) -> list[str]:
    """The quality table of a card, as the metric that measured it writes it."""
    from ..metrics import metric_for_card

    metric = metric_for_card(quality)
    return metric.card_lines(quality) if metric is not None and metric.card_lines is not None else []
