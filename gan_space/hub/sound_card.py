"""What `gan_space.hub.push` uploads for a sound generator (one trained on sounds: its pictures
are log-mel spectrograms, SpecGAN, and its folder's sound.json says how to hear them): the
files of any generator, plus

    sound.json           the spectrogram transform, so a pulled generator makes sound too
                         (JSON, checked on loading: gan_space.data.sound_pictures.mel_settings_of_record)
    samples/sound-K.wav  the sounds of seeds 0 to NUM_CARD_SOUNDS - 1, played on the card
    sample_grid.png      the spectrograms of seeds 0 to NUM_CARD_SPECTROGRAMS - 1 (the card's picture)

and a card that plays the samples (HTML <audio> players, as Hub cards embed sound), gives the
sound score its data has (gan_space.metrics: the spoken-digit classifier, the Fréchet distance
of spectrograms) and says how to make sound from Python and from a terminal.

The samples are the first of what `python -m gan_space generate --model REPO --num 16` makes:
sample K comes from latent seed K, its picture turned into sound as generate makes it
(gan_space.models.vocoder.sound_inverter: a vocoder that measured better than Griffin-Lim,
else Griffin-Lim with the transform's settings; a batch of another size may differ in the last
bits of the pictures). A generator's own vocoder (vocoder.safetensors) is pushed with it.
"""

import json
from pathlib import Path

from .card import _quality_lines, _training_lines, _weights_row
from .record import record_parts
from .repos import SAMPLE_GRID_NAME, SUMMARY_NAME, _endpoint

SOUND_SAMPLES_FOLDER = "samples"
NUM_CARD_SOUNDS = 4  # players on the card: enough to hear what it makes, few enough to load quickly
NUM_CARD_SPECTROGRAMS = 16
# The Hub's audio pipeline types all take text or sound in (text-to-audio, text-to-speech,
# audio-to-audio, ...): none describes a generator that samples sound from noise, so the card
# says "other" and tags what it is, as unconditional audio diffusion models on the Hub do.
SOUND_PIPELINE_TAG = "other"
SOUND_TAGS = ("audio", "unconditional-audio-generation", "spectrogram", "specgan")


def sound_sample_names(count: int = NUM_CARD_SOUNDS) -> list[str]:
    """The repo paths of the card's sounds: samples/sound-0.wav, ... (sound K from seed K)."""
    return [f"{SOUND_SAMPLES_FOLDER}/sound-{seed}.wav" for seed in range(count)]


def stage_sound_files(generator, staging: Path) -> list[str]:
    """sound.json, the spectrogram grid (as sample_grid.png) and the card's WAV files into
    `staging`; returns the WAV files' repo paths."""
    from ..checkpoints import SOUND_NAME, sound_settings
    from ..models.vocoder import sound_inverter
    from ..sampling import generate, image_grid
    from ..sound.wav import write_wav

    settings = sound_settings(generator)  # (the record, checked)
    (staging / SOUND_NAME).write_text(json.dumps(generator.sound_record, indent=2) + "\n")
    pictures = generate(generator, NUM_CARD_SPECTROGRAMS, seed=0)  # sample K from seed K
    # Spectrograms are small (64 or 128 px): cells of at least 128 px, grey lines between them.
    image_grid(pictures, min_cell=128, padding=2).save(staging / SAMPLE_GRID_NAME)
    names = sound_sample_names()
    (staging / SOUND_SAMPLES_FOLDER).mkdir(exist_ok=True)
    invert = sound_inverter(settings, own_vocoder=getattr(generator, "vocoder_file", None))  # as generate makes sound
    for seed, name in enumerate(names):
        write_wav(staging / name, invert(pictures[seed:seed + 1])[0], settings.sample_rate)
    return names


def sound_model_card(repo_id: str, generator, record: dict, samples: list[str], *, license: str = "apache-2.0",
                     include_discriminator: bool = False, endpoint: str | None = None) -> str:
    """README.md for a pushed sound generator: YAML metadata, players of its samples, its
    spectrograms, how to make sound with it, its sound score and how it was trained."""
    from huggingface_hub import ModelCardData

    from ..checkpoints import sound_settings
    from ..models import family_of
    from ..models.vocoder import VOCODER_FILE, sound_inverter

    settings = sound_settings(generator)
    config = generator.config
    class_name = type(generator).__name__
    train_config, summary, quality, dataset, hub_dataset = record_parts(record)
    tags = ["gan", "gan_space", "pytorch", *family_of(generator).tags, *SOUND_TAGS]
    if config.get("num_classes"):
        tags.append("class-conditional")
    metadata = ModelCardData(library_name="diffusers", license=license, tags=tags, pipeline_tag=SOUND_PIPELINE_TAG,
                             datasets=[hub_dataset] if hub_dataset else None)

    name = repo_id.split("/")[1]
    seconds = settings.samples / settings.sample_rate
    num_parameters = sum(p.numel() for p in generator.parameters())
    invert = sound_inverter(settings, own_vocoder=getattr(generator, "vocoder_file", None))  # as the samples were made
    by = "Griffin-Lim" if invert.vocoder is None else f"a GAN vocoder ({invert.label})"
    what = (f"{seconds:g} s of mono sound at {settings.sample_rate:,} Hz, made as a {settings.n_mels}x"
            f"{settings.frames} log-mel spectrogram and turned into sound by {by}")
    # Players load their files from the repo itself (the Hub serves a card's HTML as it is, so the
    # address is absolute).
    base = f"{_endpoint(endpoint)}/{repo_id}/resolve/main"
    lines = [f"# {name}", "",
             f"A GAN that makes sounds ({class_name}, {num_parameters:,} parameters)"
             + (f" trained on **{dataset}**" if dataset else "") + " with gan_space. It maps "
             f"{config['latent_dim']}-dimensional Gaussian latents "
             + ("and class labels " if config.get("num_classes") else "") + f"to {what} (SpecGAN). The weights "
             "are safetensors: loading them runs no pickled code.", "", "## Listen", ""]
    for seed, sample in enumerate(samples):
        lines += [f"Seed {seed}:", "", f'<audio controls preload="none" src="{base}/{sample}"></audio>', ""]
    count = NUM_CARD_SPECTROGRAMS
    lines += [f"![spectrograms of {count} samples, seeds 0-{count - 1}]({SAMPLE_GRID_NAME})", "",
              f"*Spectrograms of {count} samples, seeds 0 to {count - 1} (time left to right, high frequencies at "
              f"the top); the sounds above are the first {len(samples)}.*", ""]

    folder = name
    lines += ["## How to use it", "", "```python", "from gan_space import hub",
              "from gan_space.sound_pipeline import generate_sounds, write_sounds", "",
              f'generator = hub.pull("{repo_id}")   # safetensors and JSON only',
              "clips, sample_rate = generate_sounds(generator, num=16, seed=0)   # float clips in [-1, 1]",
              'write_sounds(clips, sample_rate, "sounds/")   # sounds/sound-000.wav, ...', "```", "",
              "From a terminal (WAV files; sample K comes from seed K, as on this card):", "", "```bash",
              f"python -m gan_space generate --model {repo_id} --num 16 --out sounds/",
              f"python -m gan_space generate --model {repo_id} --seed 3 --out one.wav",
              f"python -m gan_space pull --repo {repo_id} --out {folder}", "```", ""]

    lines += ["## Model", "", "| | |", "|---|---|", f"| architecture | {class_name} |",
              f"| output | {what} |", f"| latent size | {config['latent_dim']} |",
              f"| classes | {config.get('num_classes') or 'none (unconditional)'} |",
              f"| parameters | {num_parameters:,} |",
              f"| spectrogram | {settings.n_mels} mel bands up to {settings.fmax:g} Hz, hop {settings.hop_length} "
              f"samples, {settings.db_floor:g} to {settings.db_ceiling:g} dB |",
              (f"| to sound | Griffin-Lim, {settings.griffin_lim_iterations} iterations |" if invert.vocoder is None
               else f"| to sound | GAN vocoder: {invert.label}, {sum(p.numel() for p in invert.vocoder.parameters()):,} "
                    "parameters |"),
              _weights_row(record, train_config)]
    if include_discriminator:
        lines.append("| discriminator | included in `discriminator/`, for fine-tuning |")
    lines.append("")

    lines += _training_lines(train_config, summary, dataset)
    if quality:
        lines += ["## Sound score", ""] + _quality_lines(quality) + [""]

    lines += ["## Limitations", "",
              "A small GAN trained from scratch" + (f" on {dataset}" if dataset else "") + ": it imitates those "
              "sounds and nothing more" + (", and Griffin-Lim's phases add a metallic edge" if invert.vocoder is None
                                             else ", and a small vocoder adds a faint buzz") + ". GANs can drop modes (kinds of "
              "sound they never make); listen to the samples before relying on it.", "",
              "## Files", "", "- `config.json`, `diffusion_pytorch_model.safetensors`: the generator",
              "- `sound.json`: how its spectrograms become sound (sample rate, clip length, mel settings)",
              f"- `{SOUND_SAMPLES_FOLDER}/`: the sounds above, WAV",
              f"- `{SAMPLE_GRID_NAME}`: the spectrograms above",
              f"- `{SUMMARY_NAME}`: training summary, settings and sound score, as JSON"]
    if getattr(generator, "vocoder_file", None) is not None:
        lines.append(f"- `{VOCODER_FILE}`: its own vocoder (spectrograms to waveforms), safetensors")
    if include_discriminator:
        lines.append("- `discriminator/`: the discriminator, same format")
    lines.append("")
    return f"---\n{metadata.to_yaml()}\n---\n\n" + "\n".join(lines)
