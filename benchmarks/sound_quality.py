"""SpecGAN + Griffin-Lim against SpecGAN + the shipped speech vocoder, on the built-in spoken
digits, and the sound score against training minutes.

1. Bringing real clips back (no generator): each clip of the speakers the vocoder never heard
   (the last tenth of the set) -> its 64 px spectrogram -> Griffin-Lim or the vocoder -> compared with the clip itself: spectral
   convergence and log-spectral distance (a 512-point STFT, finer than the picture), the
   distance of the result's own picture to the one it was made from, seconds of computing per
   second of sound, and wideband PESQ (ITU-T P.862.2, 1 to 4.6: the objective speech quality
   vocoder papers report beside listening tests; `pip install pesq`, a benchmark-only package).
   Griffin-Lim from the finer 128 px picture is the last line: what the transform alone gains.
2. Generated sounds: sound generators trained with the defaults for each of --minutes (and any
   --generator M=FOLDER given, e.g. the shipped 15-minute one), 1,000 samples each (seeds
   0-999), made into sound both ways. The SOUND is scored, not the picture: each clip is analysed
   again, at the 64 px transform (the spoken-digit classifier: digits covered, Inception-style
   score; Fréchet distance in the random network's features) and at the finer 128 px transform
   (Fréchet distance against real clips' 128 px pictures: detail the 64 px picture never held,
   which only the way of making sound decides). The samples' pictures themselves are the
   first line: what a perfect inversion would keep.

    python benchmarks/sound_quality.py [--minutes 2 5] [--generator 15=checkpoints/spoken-digits]
                                       [--vocoder gan_space/builtin/spoken-digits-vocoder-64.safetensors]
                                       [--out benchmarks/results/sound_quality]

Run it alone on the machine (training minutes are wall-clock). Writes <out>/results.json, a
Markdown table on stdout, <out>/spectrograms-<run>.png (rows: the sample's picture, the 128 px
analysis of its Griffin-Lim sound, of its vocoder sound) and a few WAV files of each to listen to.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gan_space.checkpoints import load_generator, sound_settings  # noqa: E402
from gan_space.data.sound_pictures import clips_to_pictures, load_sound_clips  # noqa: E402
from gan_space.metrics.sounds import spoken_digit_scores  # noqa: E402
from gan_space.models.vocoder import SHIPPED_VOCODER, SoundInverter, load_vocoder  # noqa: E402
from gan_space.sampling import generate, image_grid  # noqa: E402
from gan_space.scores import ImageReference  # noqa: E402
from gan_space.sound.inversion import compare_inversions  # noqa: E402
from gan_space.sound.spectrogram import FAST_64, SPEECH_128, mel_picture  # noqa: E402
from gan_space.sound.wav import write_wav  # noqa: E402
from gan_space.hosting.environment import cpu_model  # noqa: E402
from gan_space.training import TrainConfig, Trainer  # noqa: E402
from gan_space.vocoder_training import held_out_split  # noqa: E402

DATASET = "spoken-digits"
SAMPLES = 1000
RESYNTHESIS_CLIPS = 300
LISTEN = 4  # WAV files of each way, per generator


def train(minutes: float, out: Path) -> Path:
    config = TrainConfig.for_dataset(DATASET, minutes=minutes, out_dir=str(out))
    trainer = Trainer(config)
    for event in trainer.run():
        if event.status != "running":
            print(f"  {minutes:g} min: {event.message}", flush=True)
    return out


def mean_pesq(references: np.ndarray, made: np.ndarray) -> float | None:
    """Mean wideband PESQ of `made` against `references` (16 kHz); None without the pesq package.
    Clips in which PESQ finds no speech are left out (it says so rather than score them)."""
    try:
        from pesq import PesqError, pesq
    except ImportError:
        return None
    scores = [pesq(16_000, reference.astype(np.float64), clip.astype(np.float64), "wb",
                   on_error=PesqError.RETURN_VALUES) for reference, clip in zip(references, made)]
    scores = [score for score in scores if score > 0]
    return round(float(np.mean(scores)), 3) if scores else None


def score_sound(clips: np.ndarray, references: dict) -> dict:
    """The clips analysed again: classifier and FD at 64 px, FD at 128 px."""
    pictures_64 = clips_to_pictures(clips, FAST_64)
    judged = spoken_digit_scores(pictures_64)
    return {"classes_covered": judged["classes_covered"], "inception_score": round(judged["inception_score"], 3),
            "fd_64": round(references[64].score(pictures_64)["frechet_distance"], 3),
            "fd_128": round(references[128].score(clips_to_pictures(clips, SPEECH_128))["frechet_distance"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="*", default=[2.0, 5.0])
    parser.add_argument("--generator", action="append", default=[],
                        help="MINUTES=FOLDER: an already trained generator to score too")
    parser.add_argument("--vocoder", default=str(SHIPPED_VOCODER))
    parser.add_argument("--out", default="benchmarks/results/sound_quality")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    vocoder, vocoder_settings = load_vocoder(args.vocoder)
    assert vocoder_settings.n_mels == FAST_64.n_mels and vocoder_settings.hop_length == FAST_64.hop_length
    inverters = {"griffin-lim": SoundInverter(FAST_64), "vocoder": SoundInverter(FAST_64, "speech vocoder", vocoder)}
    results = {"machine": f"{cpu_model()}, {torch.get_num_threads()} threads", "vocoder": args.vocoder,
               "vocoder_record": vocoder.record}

    # 1. Real held-out clips brought back.
    data = load_sound_clips(DATASET, FAST_64)
    clips = data.samples.numpy().astype(np.float32) / data.scale
    held_out = clips[held_out_split(len(clips)):][:RESYNTHESIS_CLIPS]
    ways = {f"{name} (64 px)": (FAST_64, invert) for name, invert in inverters.items()}
    ways["griffin-lim (128 px)"] = (SPEECH_128, SoundInverter(SPEECH_128))
    results["resynthesis"] = {}
    for name, (settings, invert) in ways.items():
        measured = compare_inversions(held_out, settings, {name: invert})[name]
        made = invert(mel_picture(held_out, settings))
        results["resynthesis"][name] = {**measured, "pesq": mean_pesq(held_out, made)}
    print("resynthesis:", json.dumps(results["resynthesis"], indent=1), flush=True)

    # References: every clip's pictures at both transforms (ImageReference holds some out as the real line).
    references = {64: ImageReference.of(clips_to_pictures(clips, FAST_64), SAMPLES, max_reference=2000),
                  128: ImageReference.of(clips_to_pictures(clips, SPEECH_128), SAMPLES, max_reference=2000)}
    results["real"] = {"fd_64": round(references[64].real_frechet_distance, 3),
                       "fd_128": round(references[128].real_frechet_distance, 3),
                       **{key: value for key, value in score_sound(held_out, references).items()
                          if key in ("classes_covered", "inception_score")}}

    # 2. Generators: trained here for each of --minutes, or given.
    runs = [(minutes, None) for minutes in args.minutes]
    runs += [(float(spec.split("=", 1)[0]), Path(spec.split("=", 1)[1])) for spec in args.generator]
    results["generators"] = []
    for minutes, folder in sorted(runs, key=lambda run: run[0]):
        if folder is None:
            folder = out / "runs" / f"specgan-{minutes:g}min"
            if not folder.exists():
                started = time.time()
                train(minutes, folder)
                print(f"trained {minutes:g} min in {time.time() - started:.0f} s wall", flush=True)
        generator = load_generator(folder)
        assert sound_settings(generator) is not None
        pictures = generate(generator, SAMPLES, seed=0)
        pictures_uint8 = ((pictures.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        judged = spoken_digit_scores(pictures)
        row = {"minutes": minutes, "generator": str(folder),
               "pictures": {"classes_covered": judged["classes_covered"],
                            "inception_score": round(judged["inception_score"], 3),
                            "fd_64": round(references[64].score(pictures_uint8)["frechet_distance"], 3)}}
        made = {}
        for name, invert in inverters.items():
            started = time.perf_counter()
            made[name] = invert(pictures)
            row[name] = {**score_sound(made[name], references),
                         "seconds_per_second": round((time.perf_counter() - started) / SAMPLES, 5)}
        results["generators"].append(row)
        print(json.dumps(row), flush=True)
        stem = f"{minutes:g}min"
        rows = [pictures[:8].float().cpu()] + [torch.from_numpy(clips_to_pictures(made[name][:8], SPEECH_128).numpy())
                                               .float() / 127.5 - 1 for name in inverters]
        rows[0] = torch.nn.functional.interpolate(rows[0], size=rows[1].shape[-2:], mode="nearest")
        image_grid(torch.cat(rows), columns=8, min_cell=128, padding=2).save(out / f"spectrograms-{stem}.png")
        for name in inverters:
            for index in range(LISTEN):
                write_wav(out / f"{stem}-{name}-seed{index}.wav", made[name][index], FAST_64.sample_rate)

    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


def table(results: dict) -> str:
    lines = ["| real held-out clips brought back by | spectral convergence | log-spectral distance | picture distance "
             "| PESQ (wideband) | s per s of sound |", "|---|---|---|---|---|---|"]
    for name, measured in results["resynthesis"].items():
        pesq = f"{measured['pesq']:.2f}" if measured.get("pesq") else "-"
        lines.append(f"| {name} | {measured['spectral_convergence']:.3f} | "
                     f"{measured['log_spectral_distance_db']:.2f} dB | {measured['picture_distance_db']:.2f} dB | "
                     f"{pesq} | {measured['seconds_per_second']:.4f} |")
    lines += ["", "| minutes | made into sound by | digits covered | Inception-style score | FD 64 px | FD 128 px |",
              "|---|---|---|---|---|---|"]
    real = results["real"]
    lines.append(f"| real clips | - | {real['classes_covered']} | {real['inception_score']:.2f} | "
                 f"{real['fd_64']:.2f} | {real['fd_128']:.2f} |")
    for row in results["generators"]:
        picture = row["pictures"]
        lines.append(f"| {row['minutes']:g} | (its pictures, not sound) | {picture['classes_covered']} | "
                     f"{picture['inception_score']:.2f} | {picture['fd_64']:.2f} | - |")
        for name in ("griffin-lim", "vocoder"):
            measured = row[name]
            lines.append(f"| {row['minutes']:g} | {name} | {measured['classes_covered']} | "
                         f"{measured['inception_score']:.2f} | {measured['fd_64']:.2f} | {measured['fd_128']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
