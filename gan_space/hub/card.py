"""The model card of a generator that samples from noise (README.md of a pushed repo), and the
quality it reports: measured on fresh samples (`_quality_metrics`) and written as a table
(`_quality_lines`)."""

import json
import math
from pathlib import Path

from ..generator_output import generator_output
from .record import hub_dataset_id
from .repos import SAMPLE_GRID_NAME, SUMMARY_NAME

NUM_GRID_IMAGES, NUM_GRID_POINTS = 64, 2500  # a grid of images; a scatter plot of points


def _quality_metrics(generator, dataset: str | None, run_dir: Path | None = None) -> dict:
    """Quality measured on fresh samples: for the built-in data sets, and for other pictures
    whose run's data is on this machine (FD and KID in random-network features against the
    run's own pictures; gan_space.scores). Empty otherwise."""
    from ..data import BUILTIN_IMAGE_SETS, MIXTURE_SETS, load_dataset
    from ..sampling import generate

    if dataset == "digits":
        from ..metrics import digits_metrics

        measured = digits_metrics(generate(generator, 1000, seed=1_000_000))
        keys = ("num_samples", "frechet_distance", "real_frechet_distance", "classes_covered", "min_class_fraction",
                "median_nn_distance", "real_median_nn_distance")
    elif dataset in MIXTURE_SETS:  # moons and spiral have no modes to count
        from ..metrics import mode_metrics

        measured = mode_metrics(generate(generator, 2500, seed=1_000_000), dataset)
        measured["num_samples"] = 2500
        keys = ("num_samples", "modes", "total_modes", "high_quality", "reverse_kl")
    elif _makes_images(generator) and (run_dir is not None or dataset in BUILTIN_IMAGE_SETS):
        from ..scores import generator_score, run_pictures

        output = generator_output(generator.config)
        if run_dir is not None:
            found = run_pictures(run_dir, output.resolution, output.channels)
        else:  # a built-in set is everywhere, run folder or not
            found = (load_dataset(dataset, output.resolution, output.channels).samples, dataset)
        if found is None:
            return {}
        measured = generator_score(generator, found[0], num=1000, seed=1_000_000)
        keys = ("num_samples", "features", "network", "frechet_distance", "kid", "kid_std", "num_real",
                "num_held_out", "real_frechet_distance", "real_kid")
    else:
        return {}
    return {key: measured[key] for key in keys if key in measured}


# ---------------------------------------------------------------------------
# The model card


def model_card(repo_id: str, generator, record: dict, *, license: str = "apache-2.0",
               include_discriminator: bool = False) -> str:
    """README.md for a pushed generator: YAML metadata, then what it is, samples, how to load
    it, how it was trained and how good it is."""
    from huggingface_hub import ModelCardData

    config = {k: v for k, v in generator.config.items() if not k.startswith("_")}
    class_name = type(generator).__name__
    train_config = record.get("train_config") or {}
    summary = record.get("summary") or {}
    quality = record.get("quality") or {}
    makes_images = _makes_images(generator)
    dataset = train_config.get("dataset")
    hub_dataset = hub_dataset_id(dataset) if dataset else None

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
    weights = record.get("weights", "ema")
    ema_decay = train_config.get("ema_decay")
    if weights == "raw":
        lines.append("| weights | the trained weights (not averaged) |")
    elif ema_decay:
        lines.append(f"| weights | exponential moving average of the trained weights (decay {ema_decay}) |")
    else:
        lines.append("| weights | the trained weights |")
    if include_discriminator:
        lines.append("| discriminator | included in `discriminator/`, for fine-tuning |")
    lines.append("")

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
    lines = []
    n = quality.get("num_samples")
    if quality.get("features"):  # pictures other than digits: gan_space.scores
        lines += [f"Measured on {n} fresh samples against {quality.get('num_real')} of the pictures it was trained "
                  f"on, next to what {quality.get('num_held_out')} real held-out pictures score against the same "
                  f"ones, in the features of {quality.get('network')}. Lower is better for both; the Fréchet "
                  "distance is biased upwards by few samples, so read it against the real pictures' value. These "
                  "numbers compare models scored the same way (`python -m gan_space score`), not published FIDs:",
                  "", "| metric | generated | real held-out pictures |", "|---|---|---|",
                  f"| Fréchet distance ({quality['features']} features) | {quality['frechet_distance']:.3f} | "
                  f"{quality.get('real_frechet_distance', math.nan):.3f} |",
                  f"| KID ({quality['features']} features) | {quality['kid']:.5f} ± {quality.get('kid_std', math.nan):.5f} "
                  f"| {quality.get('real_kid', math.nan):.5f} |"]
    elif "frechet_distance" in quality:
        lines += [f"Measured on {n} fresh samples with a small classifier trained on real digits, next to what "
                  f"{n} real held-out digits score. A lower Fréchet distance is better; a nearest-neighbour distance "
                  "far below the real one would mean copying:", "",
                  "| metric | generated | real digits |", "|---|---|---|",
                  f"| Fréchet distance (classifier features) | {quality['frechet_distance']:.2f} | "
                  f"{quality.get('real_frechet_distance', math.nan):.2f} |"]
        if "classes_covered" in quality:
            lines.append(f"| classes covered (>= 2% of samples) | {quality['classes_covered']} of 10 | 10 of 10 |")
        if "min_class_fraction" in quality:
            lines.append(f"| rarest class | {quality['min_class_fraction']:.1%} | ~10% |")
        if "median_nn_distance" in quality:
            lines.append(f"| median distance to nearest training digit | {quality['median_nn_distance']:.2f} | "
                         f"{quality.get('real_median_nn_distance', math.nan):.2f} |")
    elif "modes" in quality:
        lines += [f"Measured on {n} fresh samples (PacGAN's protocol: a sample is high quality within 3 standard "
                  "deviations of a mode):", "", "| metric | value |", "|---|---|",
                  f"| modes captured | {quality['modes']} of {quality.get('total_modes')} |",
                  f"| high-quality samples | {quality.get('high_quality', math.nan):.1%} |",
                  f"| reverse KL to uniform over modes | {quality.get('reverse_kl', math.nan):.3f} |"]
    return lines
