"""The app's sounds: players and WAV files for generators trained on sounds (SpecGAN: their
pictures are log-mel spectrograms, and gan_space.sound_pipeline turns them into clips by a GAN
vocoder when there is one for them, else by Griffin-Lim).

- The Train tab: players of a sound run's first fixed latents, heard as it trains. The job
  makes the clips (gan_space.ui.sound_previews); `TrainPlayers` turns its snapshots into the
  players' updates.
- The Generate tab: the samples' clips to play and download, the interpolation as one sound
  morph, the steered sample's sound. Each is its own API endpoint (/generate_sounds,
  /interpolate_sounds, /steer_sound), wired by `wire_generate_sounds`; the tab's buttons run
  them after their pictures, for sound generators only.

Picture generators and runs show none of it.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr
import numpy as np

from gan_space.hosting.zerogpu import on_gpu

from .common import AppContext, session_hash, user_error
from .models import GeneratorEntry, find_generator
from .sound_previews import PLAYERS

# The Train tab's outputs for its players (after the picture tab's own: see train_tab).
PLAYER_OUTPUTS = tuple(f"sound_{k + 1}" for k in range(PLAYERS))
INT16_SCALE = 32767
# Generate turns at most the first 16 samples into sound: Griffin-Lim costs about 60 ms a 64 px clip and
# 140 ms a 128 px one on this project's busy 2-core CPU, so all 64 of a grid would take some 9 s (a
# vocoder, a few ms a clip).
MAX_CLIPS = 16
FILE_LIST_HEIGHT = 180  # px: a list of 16 or 60 WAV files scrolls instead of running down the page


def clip_value(clip, sample_rate: int) -> tuple[int, np.ndarray]:
    """A float clip in [-1, 1] -> what gr.Audio plays: (rate, int16 samples). Given floats, Gradio
    would scale each clip to its own peak: a quiet early sample would sound as loud as speech."""
    samples = np.clip(np.nan_to_num(np.asarray(clip, dtype=np.float32)), -1.0, 1.0)
    return sample_rate, np.round(samples * INT16_SCALE).astype(np.int16)


def _player(label: str, elem_id: str, kind: str = "filepath", visible: bool = True) -> gr.Audio:
    return gr.Audio(label=label, type=kind, format="wav", interactive=False, visible=visible, elem_id=elem_id,
                    buttons=["download"])


# ---------------------------------------------------------------------------
# The Train tab


def train_players() -> list[gr.Audio]:
    """The Train tab's players (hidden until a run on sounds has clips), two to a row."""
    players = []
    for row in range(0, PLAYERS, 2):
        with gr.Row():
            players += [_player(f"Sample {k + 1} as sound (remade as it trains)", f"train-sound-{k + 1}",
                                "numpy", visible=False) for k in range(row, min(row + 2, PLAYERS))]
    return players


class TrainPlayers:
    """One run's snapshots -> the players' updates ({PLAYER_OUTPUTS name: update}): new clips when
    the job has made them, else gr.skip() (a player re-sent restarts what the user hears). A run
    on pictures hides the players once, at its start (a sound run earlier in the same page showed
    them); "hidden" keeps them in the page, so nothing drawn is taken away under its observers."""

    def __init__(self, job=None):
        self.sounds = bool(getattr(job, "makes_sounds", False))
        self.sent_version = 0
        self.started = False

    def __call__(self, snapshot) -> dict:
        if not self.started:
            self.started = True
            if not self.sounds:
                return {name: gr.update(visible="hidden") for name in PLAYER_OUTPUTS}
        updates = {name: gr.skip() for name in PLAYER_OUTPUTS}
        if self.sounds and snapshot.clips is not None and snapshot.clips_version != self.sent_version:
            self.sent_version = snapshot.clips_version
            rate, clips = snapshot.clips
            for name, clip in zip(PLAYER_OUTPUTS, clips):
                updates[name] = gr.update(value=clip_value(clip, rate), visible=True)
        return updates


# ---------------------------------------------------------------------------
# The Generate tab


def sound_settings_of(entry: GeneratorEntry, generator):
    """The generator's spectrogram transform (gan_space.sound.MelSettings), or ValueError: it makes pictures."""
    from gan_space.checkpoints import sound_settings

    settings = sound_settings(generator)
    if settings is None:
        raise ValueError(f"{entry.key} makes pictures, not sounds: pick a generator trained on sounds (train one on "
                         f"spoken-digits or your sound files in the Train tab)")
    return settings


def output_folder(context: AppContext, request, stem: str):
    # Unique per call, so earlier players and download links keep their own files.
    folder = context.paths.session_dir(session_hash(request)) / f"{stem}-{time.time_ns()}"
    folder.mkdir(parents=True)
    return folder


@dataclass
class GenerateSounds:
    """The Generate tab's sound outputs: shown only while a sound generator is chosen."""

    samples_fold: gr.Column
    players: list  # the first PLAYERS samples
    wav_files: gr.File  # every sample's WAV
    morph_fold: gr.Column
    morph: gr.Audio  # the interpolation's clips one after another
    morph_files: gr.File  # each step's WAV
    steer_fold: gr.Column
    steered: gr.Audio  # the first steered sample (gan_space.ui.steer)


def sound_fold(label: str, elem_id: str) -> tuple[gr.Column, gr.Audio]:
    """One player in a fold shown only for sound generators."""
    with gr.Column(visible=False, elem_id=f"{elem_id}-fold") as fold:
        player = _player(label, elem_id)
    return fold, player


def sample_sound_outputs() -> tuple[gr.Column, list, gr.File]:
    """Players of the first samples and the WAV files of all, under the grid."""
    with gr.Column(visible=False, elem_id="generate-sounds") as fold:
        players = []
        for row in range(0, PLAYERS, 2):
            with gr.Row():
                players += [_player(f"Sample {k + 1}", f"generate-sound-{k + 1}") for k in range(row, row + 2)]
        wav_files = gr.File(label=f"The first {MAX_CLIPS} samples as WAV files (sample i is seed + i's; made into "
                                  "sound by a vocoder where one reads its spectrograms and measured better than "
                                  "Griffin-Lim, else by Griffin-Lim)",
                            file_count="multiple", interactive=False, elem_id="generate-wavs", height=FILE_LIST_HEIGHT)
    return fold, players, wav_files


def morph_sound_outputs() -> tuple[gr.Column, gr.Audio, gr.File]:
    """The interpolation as sound, under its animation."""
    with gr.Column(visible=False, elem_id="morph-sounds") as fold:
        morph = _player("The morph as sound: each frame's clip in turn", "morph-sound")
        files = gr.File(label="Each frame as a WAV file", file_count="multiple", interactive=False,
                        elem_id="morph-wavs", height=FILE_LIST_HEIGHT)
    return fold, morph, files


def wire_generate_sounds(context: AppContext, demo: gr.Blocks, sounds: GenerateSounds, model, sample_inputs: list,
                         interpolation_inputs: list, generate_event, interpolate_event, check_samples: Callable,
                         check_interpolation: Callable) -> None:
    """The sound endpoints and their place after Generate and Interpolate.

    sample_inputs: [model, seed, count, truncation, class label]; interpolation_inputs: [model,
    seed a, seed b, frames, truncation, class label]. check_samples(entry, seed, count,
    truncation, class label) -> (seed, count, truncation, label) and check_interpolation(entry,
    seed a, seed b, frames, truncation, class label) -> (seed a, seed b, frames, truncation,
    label): the tab's own checks, so the sounds are the pictures' samples."""

    def generate_sounds(model, seed, count, truncation, class_label, request: gr.Request):
        """Clips of the sound generator `model` (a key from /models) by seed, as /generate samples its
        spectrograms: the first 4 to play, and the first min(`count`, 16) as WAV files (sample i is
        seed + i's)."""
        from gan_space.sampling import generate
        from gan_space.sound_pipeline import generator_inverter, write_sounds

        try:
            entry = find_generator(context.paths, model, context.owner(request))
            seed, count, truncation, label = check_samples(entry, seed, count, truncation, class_label)
            generator = context.generators.get(entry)
            settings = sound_settings_of(entry, generator)
            pictures = on_gpu(generate)(generator, min(count, MAX_CLIPS), seed=seed, truncation=truncation,
                                        labels=label)
            clips = generator_inverter(generator)(pictures)  # (here, on the CPU)
        except Exception as error:
            raise user_error(error) from None
        name = entry.key.split("/")[-1]
        paths = [str(path) for path in write_sounds(clips, settings.sample_rate,
                                                      output_folder(context, request, f"{name}-seed{seed}"),
                                                      prefix=f"{name}-seed{seed}")]
        return (*(paths[k] if k < len(paths) else None for k in range(PLAYERS)), paths)

    def interpolate_sounds(model, seed_a, seed_b, frames, truncation, class_label, request: gr.Request):
        """The sound morph from `seed_a`'s clip to `seed_b`'s (sound generators): the `frames` clips along
        the latent path (as /interpolate draws their spectrograms) one after another as one WAV, and each
        frame's WAV."""
        from gan_space.sampling import interpolate
        from gan_space.sound.wav import write_wav
        from gan_space.sound_pipeline import generator_inverter, write_sounds

        try:
            entry = find_generator(context.paths, model, context.owner(request))
            seed_a, seed_b, frames, truncation, label = check_interpolation(entry, seed_a, seed_b, frames,
                                                                            truncation, class_label)
            generator = context.generators.get(entry)
            settings = sound_settings_of(entry, generator)
            pictures = on_gpu(interpolate)(generator, seed_a, seed_b, frames=frames, truncation=truncation,
                                           label=label)
            clips = generator_inverter(generator)(pictures)
        except Exception as error:
            raise user_error(error) from None
        stem = f"{entry.key.split('/')[-1]}-{seed_a}-to-{seed_b}"
        folder = output_folder(context, request, stem)
        steps = [str(path) for path in write_sounds(clips, settings.sample_rate, folder, prefix="frame")]
        whole = folder / f"{stem}.wav"
        write_wav(whole, np.concatenate(list(clips)), settings.sample_rate)
        return str(whole), steps

    def makes_sounds(model, request) -> bool:
        try:
            return find_generator(context.paths, model, context.owner(request)).is_sound
        except ValueError:  # the pictures' handler said why
            return False

    # As the buttons run them, after the pictures: a picture generator leaves the (hidden) sound
    # outputs as they are, with no error.
    def sounds_after_samples(model, seed, count, truncation, class_label, request: gr.Request):
        if not makes_sounds(model, request):
            return (gr.skip(),) * (PLAYERS + 1)
        return generate_sounds(model, seed, count, truncation, class_label, request)

    def sounds_after_interpolation(model, seed_a, seed_b, frames, truncation, class_label, request: gr.Request):
        if not makes_sounds(model, request):
            return gr.skip(), gr.skip()
        return interpolate_sounds(model, seed_a, seed_b, frames, truncation, class_label, request)

    sampling = dict(concurrency_limit=2, concurrency_id="sampling")
    sample_outputs = [*sounds.players, sounds.wav_files]
    morph_outputs = [sounds.morph, sounds.morph_files]
    # The buttons: after their pictures (`.success`: not when the pictures failed, which said why).
    generate_event.success(sounds_after_samples, sample_inputs, sample_outputs, api_visibility="private",
                           **sampling)
    interpolate_event.success(sounds_after_interpolation, interpolation_inputs, morph_outputs,
                              api_visibility="private", **sampling)
    # The API endpoints, which a picture generator answers with an error that says why. (Their
    # buttons are never shown: an endpoint needs an event.)
    api_generate = gr.Button(visible=False)
    api_generate.click(generate_sounds, sample_inputs, sample_outputs, api_name="generate_sounds", **sampling)
    api_interpolate = gr.Button(visible=False)
    api_interpolate.click(interpolate_sounds, interpolation_inputs, morph_outputs, api_name="interpolate_sounds",
                          **sampling)

    def show_for(key: str | None, request: gr.Request):
        """The sound outputs are shown while a sound generator is chosen, and emptied on a change
        (another model's clips would read as this one's)."""
        try:
            sound = find_generator(context.paths, key, context.owner(request)).is_sound
        except ValueError:
            sound = False
        fold = gr.update(visible=sound)  # (a column draws "hidden" as shown)
        return fold, fold, fold, *([None] * (len(sample_outputs) + len(morph_outputs) + 1))

    shown = [sounds.samples_fold, sounds.morph_fold, sounds.steer_fold, *sample_outputs, *morph_outputs,
             sounds.steered]
    model.change(show_for, model, shown, queue=False, api_visibility="private")
    demo.load(show_for, model, shown, queue=False, api_visibility="private")


__all__ = ["MAX_CLIPS", "PLAYER_OUTPUTS", "GenerateSounds", "TrainPlayers", "clip_value", "morph_sound_outputs",
           "output_folder", "sample_sound_outputs", "sound_fold", "sound_settings_of", "train_players",
           "wire_generate_sounds"]
