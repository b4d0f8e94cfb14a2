"""`python -m gan_space VERB ...`: the library's jobs from a terminal.

    train     train a GAN on a built-in set, a folder, a .zip or a Hugging Face dataset
    generate  sample a trained generator into a PNG grid or a .npy array (a sound generator: WAV files)
    train-vocoder  a GAN vocoder (spectrograms to waveforms) on a sound set, for a sound generator
    info      what a model is and how it was trained
    score     Fréchet distance and KID of a generator's samples against real pictures
    families  the network families and what they take
    apply     apply an image-to-image model (super-resolution, colourisation, ...) to pictures
    push      upload a generator to the Hugging Face Hub (token from HF_TOKEN); --resumable: the run too
    pull      download a generator from the Hub into a folder (safetensors only)
    export    N pictures per class from a class-conditional generator: a folder, a .zip, a Hub dataset
    classify-test  a small classifier trained on real, generated, few real and few real + generated pictures
    doctor    what the app sees: hardware, torch, CUDA, the Space's variables, sign-in scopes, storage

Errors print one line and exit non-zero; no traceback reaches the user.
"""

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from . import names
from .hub import HubError
from .tasks import task_names

EXIT_USAGE, EXIT_FAILED = 2, 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gan_space", description="Train, sample and share GANs.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    train = verbs.add_parser("train", help="train a GAN", description=(
        "Train a GAN. Settings you leave out come from the preset for the data: 2-D points, the 8x8 digits, "
        "or images from files."), epilog=(
        "Several GPUs: `accelerate launch --multi_gpu --num_processes 4 -m gan_space train ...` (or `torchrun "
        "--nproc_per_node 4 -m gan_space train ...`). Several machines: on each, `accelerate launch --multi_gpu "
        "--num_machines 2 --num_processes 8 --machine_rank R --main_process_ip IP --main_process_port 29500 -m "
        "gan_space train ...`. --batch-size is the global batch, split over the processes; rank 0 writes the run "
        "folder (put it on a shared disk to resume on several machines)."))
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its last checkpoint, with its own settings (a resume "
                            "may change the budget, the optimisation, the loss weights and the machinery; not the "
                            "data, the networks or the task)")
    train.add_argument("--resume-from", metavar="REPO_ID",
                       help="continue a run pushed with `push --resumable` from its Hub repo: it is downloaded into "
                            "--out (a new folder; default runs/<repo name>), then resumed like --resume (HF_TOKEN "
                            "for a private repo)")
    add_setting_flags(train)

    verbs.add_parser("families", help="list the network families and what they take")

    doctor = verbs.add_parser("doctor", help="print what the app sees (for debugging a Space)", description=(
        "Print what the app sees: hardware (CPU model, cores, memory), torch and CUDA/MPS, the Hugging Face "
        "Space's variables, the sign-in scopes the Space asks for, where runs are kept and the disk space there. "
        "A token or secret shows only as set or not set."))
    doctor.add_argument("--runs", help="the runs folder to report on (default: the one the app uses: GAN_SPACE_RUNS, "
                                       "else a mounted storage bucket's gan_space-runs/, else runs/)")

    generate = verbs.add_parser("generate", help="sample a generator", description=(
        "Sample a generator. A .png output is a grid; a .npy output holds the raw samples: points as float32 "
        "(N, 2) in data coordinates, images as uint8 (N, H, W, C). A sound generator (trained on sounds) also "
        "writes sound: --out FILE.wav for one clip, --out FOLDER for --num WAV files and their spectrograms.png."))
    generate.add_argument("--model", required=True, help="a run folder, a generator folder or a Hub repo id")
    generate.add_argument("--num", type=int, help="how many (default 16; 1 for a .wav file)")
    generate.add_argument("--out", required=True, help="output file: .png or .npy; for a sound generator also .wav "
                                                       "(one clip) or a folder (WAV files)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--truncation", type=float, default=1.0, help="1 = off; lower = less variety")
    generate.add_argument("--class", dest="class_label", type=int, help="class to sample (conditional models)")
    generate.add_argument("--device", default="cpu")
    generate.add_argument("--inverter", choices=names.SOUND_INVERTERS, default="auto",
                          help="a sound generator: how its spectrograms become sound (auto: its own vocoder, else the "
                               "shipped speech vocoder when it reads them, each only where its record says it beat "
                               "Griffin-Lim; else Griffin-Lim)")

    vocoder = verbs.add_parser("train-vocoder", help="train a GAN vocoder for a sound generator", description=(
        "Train a small GAN vocoder (MelGAN/HiFi-GAN style) that turns spectrogram pictures into waveforms, on the "
        "clips of a sound set; it writes OUT/vocoder.safetensors. With --out a sound generator's run or generator "
        "folder, the vocoder reads that generator's spectrograms and becomes its own: generate, the app and a Hub "
        "push use it. The last tenth of the clips is held out and the end says how the vocoder and Griffin-Lim "
        "bring them back."))
    vocoder.add_argument("--dataset", required=True, help="spoken-digits, or a folder or .zip of sound files")
    vocoder.add_argument("--out", required=True, help="a folder: a sound generator's run or generator folder, or a new one")
    vocoder.add_argument("--minutes", type=float, help="train this long (default 20 when --steps is not given)")
    vocoder.add_argument("--steps", type=int, help="train this many steps (with --minutes: whichever ends first)")
    vocoder.add_argument("--resolution", type=int, choices=(64, 128),
                         help="the spectrogram size when --out holds no sound generator (default 64)")
    vocoder.add_argument("--batch-size", type=int, default=16)
    vocoder.add_argument("--seed", type=int, default=0)
    vocoder.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then the CPU), cpu, cuda, mps")

    info = verbs.add_parser("info", help="describe a model or run")
    info.add_argument("--model", required=True, help="a run folder or a generator folder")

    score = verbs.add_parser("score", help="FD and KID of a generator's samples against real pictures", description=(
        "Score an image generator: the Fréchet distance (FD) and kernel inception distance (KID) of --num samples "
        "against real pictures, in an image network's features, next to what real held-out pictures get at the "
        "same count (FD is biased upwards by few samples: read it against that line). The default features come "
        "from a fixed random network and need no download; inception and dinov2 need their weights as safetensors "
        "(--weights, GAN_SPACE_INCEPTION_WEIGHTS / GAN_SPACE_DINOV2_WEIGHTS, or the Hugging Face cache)."))
    score.add_argument("--model", required=True, help="a run folder, a generator folder or a Hub repo id")
    score.add_argument("--dataset", help="the real pictures: a built-in, a folder, a .zip or a Hugging Face dataset "
                                         "id (default: the run's own pictures)")
    score.add_argument("--num", type=int, default=1000, help="samples to score (default 1000)")
    score.add_argument("--features", default="random", choices=("random", "inception", "dinov2"),
                       help="feature network (default: random, which needs no weights)")
    score.add_argument("--weights", help="inception/dinov2: the network's .safetensors file")
    score.add_argument("--download-weights", action="store_true",
                       help="dinov2: download the weights from the Hugging Face Hub when they are not here")
    score.add_argument("--max-reference", type=int, default=10_000,
                       help="real pictures the samples are compared with, at most (default 10000)")
    score.add_argument("--seed", type=int, default=0, help="latent seeds, the real set's split and KID's subsets")
    score.add_argument("--device", default="cpu")

    push = verbs.add_parser("push", help="upload a generator to the Hugging Face Hub", description=(
        "Upload a generator (config.json + safetensors), a sample grid and a model card to a Hub model repo, "
        "creating it if needed; with --resumable, the run's training state too. The token comes from the HF_TOKEN environment variable and needs write access."))
    push.add_argument("--model", required=True, help="a run folder, a checkpoint folder or a generator folder")
    push.add_argument("--repo", required=True, help="the Hub repo id, owner/name")
    push.add_argument("--private", action=argparse.BooleanOptionalAction, default=None,
                      help="make the repo private (a new one, or an existing one); --no-private: leave it public "
                           "(default: private for --resumable, else as the repo is)")
    push.add_argument("--resumable", action="store_true",
                      help="also push the run's training state (D, optimisers, EMA, random streams; safetensors and "
                           "JSON), so that `train --resume-from REPO` continues it anywhere; --model must be a run "
                           "folder")
    push.add_argument("--raw-weights", action="store_true",
                      help="push the trained weights instead of their moving average (EMA)")
    push.add_argument("--discriminator", action="store_true", help="push the discriminator too (for fine-tuning)")
    push.add_argument("--license", default="apache-2.0", help="license in the model card (default: apache-2.0)")
    push.add_argument("--message", help="commit message")

    apply = verbs.add_parser("apply", help="apply an image-to-image model to a picture or a folder", description=(
        f"Apply a model trained with --task ({', '.join(task_names(pairs=True))}) to one picture or to every "
        "picture in a folder. Large pictures are processed in overlapping tiles, blended without seams."))
    apply.add_argument("--model", required=True, help="a run folder, a generator folder or a Hub repo id")
    apply.add_argument("--input", required=True, help="a picture file, or a folder of pictures")
    apply.add_argument("--out", required=True,
                       help="output: a .png/.jpg file for one picture, else a folder (made if missing)")
    apply.add_argument("--tile", type=int, default=128, help="tile size in input pixels (default 128)")
    apply.add_argument("--overlap", type=int, default=32, help="pixels neighbouring tiles share (default 32)")
    apply.add_argument("--sketch", action="store_true",
                       help="edges models: make a sketch of each picture first (a photo in, not a drawing)")
    apply.add_argument("--compare", action="store_true",
                       help="also write NAME-compare.png: input (bicubic for super-resolution) | result")
    apply.add_argument("--rollout", type=int, metavar="N",
                       help="next-frame models: predict N frames, each from the last ones (its own predictions "
                            "fed back), written as NAME.gif; default: the next frame, as NAME.png")
    apply.add_argument("--direction", choices=names.DIRECTIONS, default="AtoB",
                       help="unpaired models that learnt both directions (cyclegan): BtoA turns B pictures into A's "
                            "style (default AtoB)")
    apply.add_argument("--device", default="cpu")

    export = verbs.add_parser("export", help="write N pictures per class of a class-conditional generator",
                              description=(
        "Write --per-class pictures of every class of a class-conditional generator as an image folder (one "
        "sub-folder per class, named as the run named its classes) or a .zip, with a card (README.md) saying how "
        "they were made; --repo also pushes them to a Hub dataset repo in the Hub's image-folder layout "
        "(train/<class>/; the token comes from HF_TOKEN). Picture i of every class comes from latent seed --seed + i."))
    export.add_argument("--model", required=True, help="a run folder, a generator folder or a Hub repo id")
    export.add_argument("--per-class", type=int, required=True, help="pictures of each class")
    export.add_argument("--out", help="a new (or empty) folder, or a .zip file with --zip (default with --repo: a "
                                      "temporary folder)")
    export.add_argument("--zip", action="store_true", help="write a .zip file instead of a folder")
    export.add_argument("--seed", type=int, default=0, help="the first latent seed (default 0)")
    export.add_argument("--truncation", type=float, default=1.0, help="1 = off; lower = less variety")
    export.add_argument("--repo", help="push the set to this Hub dataset repo (owner/name)")
    export.add_argument("--private", action=argparse.BooleanOptionalAction, default=None,
                        help="make the dataset repo private (default: as it is; public when new)")
    export.add_argument("--device", default="cpu")

    classify = verbs.add_parser("classify-test", help="is the generator's output useful training data?", description=(
        "Train a small classifier on (a) the real pictures, (b) generated pictures only (the classification "
        "accuracy score), (c) --few-per-class real pictures per class, (d) the same plus generated pictures, each "
        "tested on the same real held-out pictures, over --seeds seeds; prints the four accuracies with their "
        "spread, whatever they show."))
    classify.add_argument("--model", required=True, help="a class-conditional run folder, generator folder or Hub id")
    classify.add_argument("--real", help="the real labelled pictures (default: the set the run trained on)")
    classify.add_argument("--few-per-class", type=int, default=10, help="real pictures per class in (c) and (d)")
    classify.add_argument("--generated-per-class", type=int,
                          help="generated pictures per class (default: as many as real training pictures per class)")
    classify.add_argument("--seeds", type=int, default=3, help="repetitions for the spread (default 3)")
    classify.add_argument("--steps", type=int, default=300, help="classifier training steps (default 300)")
    classify.add_argument("--json", help="also write the numbers to this .json file")
    classify.add_argument("--device", default="cpu")

    pull = verbs.add_parser("pull", help="download a generator from the Hub", description=(
        "Download a gan_space generator from a Hub model repo into a folder: JSON, safetensors, the card and the "
        "sample grid only; a repo with pickled weights alone is refused. HF_TOKEN is used for private repos."))
    pull.add_argument("--repo", required=True, help="the Hub repo id, owner/name")
    pull.add_argument("--out", required=True, help="folder to download into")
    pull.add_argument("--revision", help="branch, tag or commit (default: main)")
    return parser


def _settings() -> list:
    """TrainConfig's fields: every one is a user setting (gan_space.training.setting)."""
    from .training import TrainConfig

    return dataclasses.fields(TrainConfig)


def _flag(setting_field) -> str:
    return setting_field.metadata["flag"] or "--" + setting_field.name.replace("_", "-")


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for every TrainConfig field, made from its description (help, type, choices):
    bools as --name / --no-name. Every flag defaults to None: what the user leaves out comes
    from the preset for the data (TrainConfig.for_dataset)."""
    from .training import setting_choices

    groups = {}
    for setting_field in _settings():
        group_name = setting_field.metadata["group"]
        if group_name is not None and group_name not in groups:
            groups[group_name] = parser.add_argument_group(group_name, _GROUP_DESCRIPTIONS.get(group_name))
        where = groups[group_name] if group_name is not None else parser
        # (argparse reads % in help as a format: "~+10%" must be "~+10%%")
        options = dict(dest=setting_field.name, default=None, help=setting_field.metadata["help"].replace("%", "%%"))
        if setting_field.type is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = setting_field.type
            choices = setting_choices(setting_field)
            if choices is not None:
                options["choices"] = choices
        where.add_argument(_flag(setting_field), **options)


_GROUP_DESCRIPTIONS = {"image-to-image": "picture -> picture instead of noise -> picture (the preset follows the task)"}


def _train(args) -> int:
    from tqdm import tqdm

    from .training import Trainer, TrainConfig

    settings = {f.name: getattr(args, f.name) for f in _settings() if getattr(args, f.name) is not None}
    with tqdm(unit="picture", desc="decoding pictures", dynamic_ncols=True, disable=None, leave=False) as decoding:
        def progress(done: int, total: int) -> None:
            decoding.total = total
            decoding.update(done - decoding.n)

        if args.resume_from:
            trainer = _resume_from_hub(args.resume_from, settings, args.resume, progress)
        elif args.resume:
            out_dir = settings.pop("out_dir", None)
            if not out_dir:
                raise ValueError("--resume needs --out: the run folder to continue")
            trainer = Trainer.resume(out_dir, progress=progress, **settings)
        else:
            dataset = settings.pop("dataset", "digits")
            config = TrainConfig.for_dataset(dataset, look_on_hub=True, **settings)  # (it is fetched next)
            trainer = Trainer(config, progress=progress)
    with _sigterm_stops(trainer):
        return _run_training(trainer)


def _resume_from_hub(repo_id: str, settings: dict, resume: bool, progress):
    """`train --resume-from REPO`: download the run into --out, then resume it."""
    from . import hub
    from .training import Trainer

    if resume:
        raise ValueError("give --resume (a run folder here) or --resume-from (a run on the Hub), not both")
    repo_id = hub.validate_repo_id(repo_id)
    out_dir = settings.pop("out_dir", None) or f"runs/{repo_id.split('/')[1]}"
    hub.pull_run(repo_id, out_dir, token=hub.resolve_token())
    print(f"pulled the run {repo_id} into {out_dir}")
    return Trainer.resume(out_dir, progress=progress, **settings)


@contextmanager
def _sigterm_stops(trainer):
    """SIGTERM (a scheduler, a container or `kill` stopping the job) asks the run to stop after
    its step, like Ctrl-C: it writes its final checkpoint and ends "stopped", and can be
    resumed. The previous handler is back afterwards. Signals reach the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: trainer.request_stop())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_training(trainer) -> int:
    from tqdm import tqdm

    config = trainer.config
    # Under `accelerate launch` / `torchrun` every process runs this; only rank 0 prints.
    show = print if trainer.is_main_process else (lambda *args, **kwargs: None)
    processes = (f", {trainer.dist.world_size} processes x {trainer.local_batch_size} samples a step"
                 if trainer.dist is not None else "")
    show(f"{trainer.data.summary()} -> {config.out_dir} on {trainer.device} ({trainer.precision}){processes}")
    for skipped in trainer.data.skipped[:10]:
        show(f"  skipped {skipped}")
    if len(trainer.data.skipped) > 10:
        show(f"  ... and {len(trainer.data.skipped) - 10} more skipped")
    event = None
    by_clock = bool(config.minutes)  # the bar counts training seconds of the budget, else steps
    with tqdm(total=round(config.minutes * 60) if by_clock else config.steps, initial=0 if by_clock else trainer.step,
              unit="s" if by_clock else "step", dynamic_ncols=True, disable=not trainer.is_main_process) as bar:
        try:
            for event in trainer.run():
                bar.update(min(bar.total, round(event.elapsed_seconds) if by_clock else event.step) - bar.n)
                bar.set_postfix_str(f"step {event.step} · D {event.losses.get('d', 0):.3f} G {event.losses.get('g', 0):.3f} "
                                    f"{event.images_per_second:,.0f} img/s")
        except KeyboardInterrupt:
            if trainer.dist is not None:  # the launcher stops every process; resume from the last checkpoint
                raise
            trainer.request_stop()
            for event in trainer.run():  # finishes the step, checkpoints and stops
                pass
    show(event.message if event else "nothing to do: the run is already at its last step")
    if trainer.held_out is not None and trainer.is_main_process and event is not None and event.status != "diverged":
        from .held_out import held_out_scores

        with trainer.networks.sampling_weights() as generator:
            show(held_out_scores(generator, trainer.held_out, config.task).line())
    return EXIT_FAILED if event is not None and event.status == "diverged" else 0


def _load_model(model: str, device: str):
    from .hub import load_model, resolve_token  # a Hub repo id is pulled first (the only time generate goes online)

    return load_model(model, device, token=resolve_token())


def _generate(args) -> int:
    import numpy as np

    from .sampling import generate, preview_image, to_uint8

    out = Path(args.out)
    suffix = out.suffix.lower()
    if args.num is None:
        args.num = 1 if suffix == ".wav" else 16
    if not 1 <= args.num <= 100_000:
        raise ValueError(f"--num must be from 1 to 100,000, got {args.num}")
    if suffix not in ("", ".png", ".npy", ".wav"):  # (said before the model is loaded)
        raise ValueError(f"--out must end in .png (a grid), .npy (raw samples) or .wav (one clip of a sound "
                         f"generator), or name a folder (a sound generator's WAV files); got {out.name}")
    generator = _load_model(args.model, args.device)
    if getattr(generator, "is_translator", False):
        raise ValueError(f"{args.model} is an image-to-image model ({generator.config.task}): it needs pictures, not "
                         f"noise. Use `python -m gan_space apply --model {args.model} --input PICTURE --out RESULT.png`")
    if getattr(generator, "sound_record", None) and suffix not in (".png", ".npy"):
        return _generate_sounds(args, generator, out)
    if suffix not in (".png", ".npy"):
        sounds = " (.wav files are for generators trained on sounds)" if suffix == ".wav" else ""
        raise ValueError(f"--out must end in .png (a grid) or .npy (raw samples), got {out.name}{sounds}")
    samples = generate(generator, args.num, seed=args.seed, truncation=args.truncation, labels=args.class_label)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        np.save(out, samples.numpy().astype(np.float32) if samples.dim() == 2 else to_uint8(samples))
    else:
        preview_image(samples).save(out)
    print(f"wrote {args.num} samples to {out}")
    return 0


def _generate_sounds(args, generator, out: Path) -> int:
    """A sound generator's clips: one .wav file, or a folder of them with their spectrograms."""
    from .sound.wav import write_wav
    from .sound_pipeline import SPECTROGRAM_GRID_NAME, generate_sounds_and_pictures, generator_inverter, write_sounds

    made_by = f"sound by {generator_inverter(generator, args.inverter).label}"  # (a vocoder is loaded once, cached)
    if out.suffix.lower() == ".wav":
        if args.num != 1:
            raise ValueError(f"a .wav file holds one clip: for --num {args.num} give a folder as --out")
        clips, rate, _ = generate_sounds_and_pictures(generator, 1, seed=args.seed, truncation=args.truncation,
                                                      labels=args.class_label, inverter=args.inverter)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_wav(out, clips[0], rate)
        print(f"wrote a {len(clips[0]) / rate:g} s clip at {rate} Hz to {out} ({made_by})")
        return 0
    if out.suffix:
        raise ValueError(f"--out for a sound generator is a .wav file (one clip), a folder (WAV files), or a .png "
                         f"or .npy file of its spectrograms; got {out.name}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    clips, rate, pictures = generate_sounds_and_pictures(generator, args.num, seed=args.seed,
                                                         truncation=args.truncation, labels=args.class_label,
                                                         inverter=args.inverter)
    written = write_sounds(clips, rate, out, pictures=pictures)
    print(f"wrote {len(written)} clips of {clips.shape[1] / rate:g} s at {rate} Hz to {out}/ "
          f"({written[0].name} ...; {made_by}) and their spectrograms to {out / SPECTROGRAM_GRID_NAME}")
    return 0


def _train_vocoder(args) -> int:
    from .checkpoints import ModelLoadError, sound_settings
    from .data.sound_pictures import mel_settings_for
    from .vocoder_training import VocoderTraining, train_vocoder

    out = Path(os.path.expanduser(args.out))
    try:
        settings = sound_settings(out) if out.is_dir() else None  # a sound generator's folder: its transform
    except ModelLoadError:
        settings = None  # a folder without a generator
    if settings is not None and args.resolution and args.resolution != settings.n_mels:
        raise ValueError(f"{out} holds a generator of {settings.n_mels} px spectrograms: its vocoder must read those, "
                         f"not --resolution {args.resolution} (leave --resolution out)")
    settings = settings or mel_settings_for(args.resolution or 64)
    minutes = args.minutes if args.minutes is not None or args.steps is not None else 20.0
    train_vocoder(args.dataset, out, VocoderTraining(steps=args.steps, minutes=minutes, batch_size=args.batch_size,
                                                     seed=args.seed, device=args.device, settings=settings))
    return 0


def _info(args) -> int:
    from .checkpoints import generator_folder, read_generator_config, run_summary, saved_train_config

    folder = generator_folder(args.model)
    config = {k: v for k, v in read_generator_config(folder).items() if not k.startswith("_diffusers")}
    print(f"generator: {config.pop('_class_name')} in {folder}")
    print("  " + ", ".join(f"{k}={v}" for k, v in config.items() if k != "data_offset"))
    summary = run_summary(folder)
    if summary:
        print(f"trained: {summary['step']}/{summary['total_steps']} steps in {summary['training_seconds']}s on "
              f"{summary['device']} ({summary['precision']}); data: {summary['dataset']}")
    try:
        settings = saved_train_config(folder.parent.parent)
        print("settings: " + json.dumps(settings, sort_keys=True))
    except ValueError:
        pass
    return 0


def _score(args) -> int:
    from .checkpoints import generator_folder
    from .data import load_dataset
    from .generator_output import generator_output
    from .checkpoints import run_pictures
    from .scores import generator_score

    if not 2 <= args.num <= 100_000:
        raise ValueError(f"--num must be from 2 to 100,000, got {args.num}")
    if args.max_reference < 2:
        raise ValueError(f"--max-reference must be at least 2, got {args.max_reference}")
    generator = _load_model(args.model, args.device)
    if getattr(generator, "is_translator", False):
        raise ValueError(f"{args.model} is an image-to-image model ({generator.config.task}): its scores are PSNR, SSIM "
                         f"and the Fréchet distance on its held-out pictures, printed at the end of training and "
                         f"in its Hub card (gan_space.held_out.held_out_scores)")
    output = generator_output(generator.config)
    if output.kind != "images":
        raise ValueError(f"{args.model} makes {output.describe()}: score is for image generators (2-D mixtures have "
                         "their own measures in gan_space.metrics)")
    sound = getattr(generator, "sound_record", None)
    if args.dataset:
        data = load_dataset(args.dataset, output.resolution, output.channels)
        if data.kind != "images":
            raise ValueError(f"{args.dataset} holds points, not pictures: give the pictures the generator imitates")
        pictures, source = data.samples, args.dataset
    else:
        found, local = None, Path(os.path.expanduser(args.model))
        if local.exists():
            folder = generator_folder(local)
            if (folder.parent / "state.json").is_file():  # a checkpoint's generator: runs/NAME/checkpoints/step-N/
                found = run_pictures(folder.parent.parent.parent, output.resolution, output.channels)
        if found is None:
            raise ValueError(f"the pictures {args.model} trained on are not on this machine (no run folder with its "
                             "data cache or dataset): give them with --dataset")
        pictures, source = found
    score = generator_score(generator, pictures, num=args.num, features=args.features, seed=args.seed,
                            max_reference=args.max_reference, weights=args.weights, download=args.download_weights)
    print(f"{score['num_samples']} samples of {args.model} against {score['num_real']} real pictures of {source}")
    print(f"  samples:                FD {score['frechet_distance']:.3f}   KID {score['kid']:.5f} "
          f"(± {score['kid_std']:.5f})")
    print(f"  real held-out pictures: FD {score['real_frechet_distance']:.3f}   KID {score['real_kid']:.5f}   "
          f"({score['num_held_out']} pictures, none of them in the reference)")
    print(f"  features: {score['network']}")
    if sound:
        _score_sounds(generator, args, pictures)
    return 0


def _score_sounds(generator, args, pictures) -> None:
    """A sound generator: what the registry's sound metrics add (the spoken digits' classifier)."""
    from .metrics.sounds import spoken_digit_judge, spoken_digit_scores
    from .sampling import generate

    dataset = args.dataset or _run_dataset(args.model)
    print(f"  (of spectrograms: {args.model} makes sounds)")
    if dataset != "spoken-digits":
        return
    samples = spoken_digit_scores(generate(generator, args.num, seed=args.seed))
    real = spoken_digit_scores(pictures[:args.num])
    print(f"  spoken-digit classifier ({spoken_digit_judge().held_out_accuracy:.1%} right on held-out speakers):")
    print(f"    samples: {samples['classes_covered']}/10 digits covered, Inception-style score "
          f"{samples['inception_score']:.2f}")
    print(f"    real clips: {real['classes_covered']}/10 digits covered, Inception-style score "
          f"{real['inception_score']:.2f}")


def _run_dataset(model: str) -> str | None:
    """The dataset a local run or generator folder trained on (None when not known here)."""
    from .checkpoints import generator_record

    try:
        return generator_record(Path(os.path.expanduser(model)))[1].get("dataset")
    except (ValueError, OSError):
        return None


def _push(args) -> int:
    from . import hub

    url = hub.push(args.model, args.repo, token=hub.resolve_token(), private=args.private,
                   commit_message=args.message, ema=not args.raw_weights, include_discriminator=args.discriminator,
                   license=args.license, resumable=args.resumable)
    print(f"pushed {args.model} to {url}")
    if args.resumable:
        print(f"with its training state: continue it anywhere with `python -m gan_space train --resume-from "
              f"{args.repo} --out RUN`")
    return 0


def _pull(args) -> int:
    from . import hub
    from .checkpoints import load_generator

    folder = hub.download(args.repo, revision=args.revision, token=hub.resolve_token(), local_dir=args.out)
    generator = load_generator(folder)
    if getattr(generator, "is_translator", False):
        print(f"pulled {args.repo} into {folder}: {type(generator).__name__} ({generator.config.task}); apply it with "
              f"`python -m gan_space apply --model {folder} --input PICTURE --out RESULT.png`")
        return 0
    print(f"pulled {args.repo} into {folder}: {type(generator).__name__}; sample it with "
          f"`python -m gan_space generate --model {folder} --out samples.png`")
    return 0


def _apply(args) -> int:
    from .hub import load_translator
    from .translation import apply_pictures

    from .hub import resolve_token

    from .tasks import get_task

    from .translation import in_direction

    model = in_direction(load_translator(args.model, args.device, token=resolve_token()), args.direction)
    if get_task(model.config.task).takes_sequences:  # the last frames of each clip -> the next (--rollout: several)
        from .translation import apply_sequences

        written, skipped = apply_sequences(model, args.input, args.out, count=args.rollout or 1, tile=args.tile,
                                           overlap=args.overlap)
    elif args.rollout is not None:
        raise ValueError(f"--rollout is for next-frame models; {args.model} is a {model.config.task} model")
    else:
        written, skipped = apply_pictures(model, args.input, args.out, tile=args.tile, overlap=args.overlap,
                                          make_sketch=args.sketch, compare=args.compare)
    for line in skipped[:10]:
        print(f"  skipped {line}")
    print(f"wrote {len(written)} picture(s): {written[0] if len(written) == 1 else Path(written[0]).parent}")
    return 0


def _export(args) -> int:
    import tempfile

    from .export import export_pictures, load_conditional, push_dataset
    from .hub import resolve_token, validate_repo_id

    if not args.out and not args.repo:
        raise ValueError("say where the pictures go: --out FOLDER (or FILE.zip with --zip), and/or --repo OWNER/NAME")
    if args.repo:
        validate_repo_id(args.repo)  # a malformed id fails before anything is generated
        if args.zip:
            raise ValueError("--repo pushes the image-folder layout: leave out --zip (or push the folder separately)")
    token = resolve_token()
    source = load_conditional(args.model, args.device, token=token)
    with tempfile.TemporaryDirectory(prefix="gan_space-export-") as work:
        out = args.out or Path(work) / "export"
        result = export_pictures(source, args.per_class, out, as_zip=args.zip, seed=args.seed,
                                 truncation=args.truncation)
        if args.out:
            print(f"wrote {result.total} pictures ({args.per_class} of each of {len(result.counts)} classes, seeds "
                  f"{result.seeds[0]}-{result.seeds[1]}) to {result.path}")
        if args.repo:
            url = push_dataset(result.path, args.repo, token, private=args.private)
            print(f"pushed {result.total} pictures to the dataset {url}; train on it with "
                  f"`python -m gan_space train --dataset {args.repo} ...`")
    return 0


def _classify_test(args) -> int:
    from .classification import classifier_test
    from .export import load_conditional
    from .hub import resolve_token

    token = resolve_token()
    source = load_conditional(args.model, args.device, token=token)

    def progress(done: int, total: int) -> None:
        print(f"  trained {done}/{total} classifiers", file=sys.stderr)

    result = classifier_test(source, args.real, few_per_class=args.few_per_class,
                             generated_per_class=args.generated_per_class, seeds=args.seeds, steps=args.steps,
                             token=token, progress=progress)
    for line in result.lines():
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(result.as_dict(), indent=2))
        print(f"wrote the numbers to {args.json}")
    return 0


def _families(args) -> int:
    from .models import FAMILIES, family_names

    for name in family_names():
        family = FAMILIES[name]
        sizes = (", ".join(map(str, family.resolutions)) if family.resolutions is not None
                 else f"{family.min_resolution}-{family.max_resolution}")
        print(f"{name}: {family.description}\n  data: {', '.join(family.data_kinds)}; image sizes: {sizes} px; "
              f"settings: {', '.join(family.settings) or 'none'}")
    return 0


def _doctor(args) -> int:
    from .hosting.environment import doctor_report
    from .hub import default_runs_dir

    print("gan_space doctor: what the app sees")
    for line in doctor_report(args.runs or default_runs_dir(".")):
        print(f"  {line}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"train": _train, "generate": _generate, "info": _info, "push": _push, "pull": _pull, "apply": _apply,
                "families": _families, "score": _score, "doctor": _doctor, "export": _export,
                "classify-test": _classify_test, "train-vocoder": _train_vocoder}
    try:
        return handlers[args.verb](args)
    except HubError as error:  # the message says what went wrong and what to do; it never holds a token
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, OSError) as error:  # our errors are ValueErrors with a clear message
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # never a traceback: one line with what went wrong
        print(f"error: unexpected {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
