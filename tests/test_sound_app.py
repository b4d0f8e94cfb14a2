"""Sounds in the app, through its API (gradio_client, on loopback): a run on uploaded sound files
streams spectrogram grids and WAV clips of its first fixed latents that change as it trains;
Generate, Interpolate and Steer give a sound generator's clips as WAV files (new endpoints:
/generate_sounds, /interpolate_sounds, /steer_sound); picture generators and the old endpoints
are as they were; uploads of the wrong kind are refused with the choice to make; on a Space the
hardware's picture size leaves sounds at their spectrogram size."""

import json

import numpy as np
import pytest
import soundfile
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from gan_space.hosting.environment import CPU_SPACE, DEFAULTS, GPU_SPACE, Hosting
from gan_space.sound import spectral_convergence
from gan_space.ui import train_tab
from gan_space.ui.sound_previews import PLAYERS, PreviewClips
from gan_space.ui.sounds import MAX_CLIPS, PLAYER_OUTPUTS, TrainPlayers

RATE = 16_000
RUN = "sound-api"
# A tiny run: 30 steps of the 64 px sound preset at width 8, a preview every 2 steps. The players' first
# clips (at step 2) stand until the last (at step 30): longer than the stream's half-second poll, so
# the stream carries both, however fast the machine trains.
STEPS = 30
TINY = {"width": 8, "sample_every": 2, "log_every": 2, "checkpoint_every": STEPS, "num_preview": 4}


def write_tone_clips(folder, count: int = 16) -> list:
    """`count` WAV files at 16 kHz: a voiced 0.4 s tone (a pitch and its harmonics under a smooth
    envelope) in silence, each at its own pitch: what the sound loader keeps (not silent, not clipped)."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(0.4 * RATE)) / RATE
    paths = []
    for index in range(count):
        pitch = 120.0 + 15.0 * index
        tone = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 6)) * np.hanning(len(t))
        clip = np.concatenate([np.zeros(RATE // 4), 0.5 * tone / np.abs(tone).max(), np.zeros(RATE // 4)])
        path = folder / f"tone-{index:02d}.wav"
        soundfile.write(path, clip.astype(np.float32), RATE, subtype="PCM_16")
        paths.append(path)
    return paths


def read_wav(path) -> np.ndarray:
    samples, rate = soundfile.read(path, dtype="float32")
    assert rate == RATE and samples.ndim == 1 and np.isfinite(samples).all()
    return samples


@pytest.fixture(scope="module")
def tone_files(tmp_path_factory):
    return write_tone_clips(tmp_path_factory.mktemp("tones"))


@pytest.fixture(scope="module")
def clips_each_preview(app_server):
    """Clips at every preview while this module runs (the app's default waits 10 s between two)."""
    context = app_server.demo.context
    before, context.sound_preview_seconds = context.sound_preview_seconds, 0.0
    yield
    context.sound_preview_seconds = before


@pytest.fixture(scope="module")
def sound_session(app_server, tone_files, clips_each_preview, tmp_path_factory):
    """(the client, the streamed outputs) of a 30-step run on the uploaded tones, trained through /train.
    The app keeps each session's runs to itself: the tests that sample the run use this client."""
    from gradio_client import Client

    client = Client(app_server.url, verbose=False, analytics_enabled=False,
                    download_files=str(tmp_path_factory.mktemp("sound-downloads")))
    try:
        job = client.submit(dataset=train_tab.UPLOAD_SOUNDS, upload=[handle_file(str(p)) for p in tone_files],
                            run_name=RUN, steps=STEPS, batch_size=4, augment="none", settings=json.dumps(TINY),
                            api_name="/train")
        streamed = list(job)
        yield client, job.outputs() or streamed
    finally:
        client.close()


@pytest.fixture(scope="module")
def sound_run(sound_session):
    return sound_session[1]


def streamed_file(value) -> str | None:
    """A streamed output's file: a path, or an update's value (an update without one: None)."""
    if isinstance(value, dict) and value.get("__type__") == "update":
        value = value.get("value")
    return value if isinstance(value, str) else None


def player_sets(outputs) -> list[list[str]]:
    """Each streamed set of the 4 players' WAV files (updates that leave them be are left out)."""
    sets = []
    for output in outputs:
        players = [streamed_file(value) for value in output[8:8 + PLAYERS]]
        if all(players):
            sets.append(players)
    return sets


def test_a_run_on_uploaded_sounds_streams_spectrograms_and_players_that_change_as_it_trains(sound_run, app_server):
    status = sound_run[-1][3]
    assert f"{RUN}: finished {STEPS} steps" in status, status
    grids = [output[0] for output in sound_run if isinstance(output[0], str)]
    assert grids and Image.open(grids[-1]).mode in ("L", "RGB")
    sets = player_sets(sound_run)
    # At least the first preview's clips and the end's, each of 4 one-second WAV files
    assert len(sets) >= 2, [output[8:] for output in sound_run]
    for files in (sets[0], sets[-1]):
        clips = [read_wav(path) for path in files]
        assert all(clip.shape == (RATE,) for clip in clips)
        assert len({clip.tobytes() for clip in clips}) == PLAYERS  # four latents, four sounds
    # The generator trained between the first clips and the last: the same latent sounds different
    assert not np.array_equal(read_wav(sets[0][0]), read_wav(sets[-1][0]))
    # The run's generator knows it makes sounds (its folder's sound.json)
    assert list((app_server.run_dir(RUN) / "checkpoints").glob("step-*/generator/sound.json"))


def test_the_api_names_stay_and_the_sound_endpoints_are_new(client_factory):
    endpoints = client_factory().view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/train", "/resume", "/generate", "/interpolate", "/steer", "/generate_sounds", "/interpolate_sounds",
            "/steer_sound"} <= set(endpoints)
    assert len(endpoints["/generate"]["returns"]) == 2 and len(endpoints["/interpolate"]["returns"]) == 1
    assert len(endpoints["/generate_sounds"]["returns"]) == PLAYERS + 1
    # /train's outputs: the eight it had, then the players
    assert len(endpoints["/train"]["returns"]) == 8 + PLAYERS


def test_generate_interpolate_and_steer_give_a_sound_generators_clips(sound_session):
    client = sound_session[0]
    models = {model["key"]: model for model in client.predict(api_name="/models")}
    assert f"runs/{RUN}" in models
    model = f"runs/{RUN}"
    # The pictures: the spectrogram grid (cells of 128 px and more: 3 columns of 6) and its PNG
    grid, download = client.predict(model=model, seed=3, count=6, api_name="/generate")
    assert Image.open(download).format == "PNG" and Image.open(grid).size[0] >= 3 * 128
    *players, files = client.predict(model=model, seed=3, count=6, api_name="/generate_sounds")
    assert len(files) == 6 and all(str(path).endswith(".wav") for path in files)
    clips = [read_wav(path) for path in files]
    assert all(clip.shape == (RATE,) for clip in clips)
    # The players are the first 4 of the files
    assert [read_wav(path).tobytes() for path in players] == [clip.tobytes() for clip in clips[:PLAYERS]]
    # Sample i is seed + i's, whatever the count: seed 4's first clip is seed 3's second
    _, _, _, _, later = client.predict(model=model, seed=4, count=1, api_name="/generate_sounds")
    assert spectral_convergence(clips[1], read_wav(later[0])) < 0.05
    assert spectral_convergence(clips[0], read_wav(later[0])) > 0.2
    # A big grid is heard through its first MAX_CLIPS samples (Griffin-Lim's cost stays bounded)
    *_, many = client.predict(model=model, seed=3, count=MAX_CLIPS + 4, api_name="/generate_sounds")
    # (the same sample: a batch of 20 and one of 6 may differ in the pictures' last bits, as above)
    assert len(many) == MAX_CLIPS and spectral_convergence(clips[1], read_wav(many[1])) < 0.05

    morph, steps = client.predict(model=model, seed_a=3, seed_b=4, frames=5, api_name="/interpolate_sounds")
    whole = read_wav(morph)
    assert whole.shape == (5 * RATE,) and len(steps) == 5
    step_clips = [read_wav(path) for path in steps]
    assert np.allclose(np.concatenate(step_clips), whole, atol=1 / 16_000)  # the morph is its frames in turn
    # Its ends are the seeds' own sounds
    assert spectral_convergence(clips[0], step_clips[0]) < 0.05
    assert spectral_convergence(read_wav(later[0]), step_clips[-1]) < 0.05

    # Steering: no move is the seed's first sample; a move along the first direction changes it
    still = read_wav(client.predict(model=model, seed=3, api_name="/steer_sound"))
    assert spectral_convergence(clips[0], still) < 0.05
    moved = read_wav(client.predict(model=model, seed=3, amount_1=3.0, api_name="/steer_sound"))
    assert moved.shape == (RATE,) and spectral_convergence(still, moved) > 0.05


def test_a_picture_generator_has_no_sounds_and_its_endpoints_are_unchanged(client_factory):
    client = client_factory()
    with pytest.raises(AppError, match="makes pictures, not sounds"):
        client.predict(model="shipped/digits", seed=0, count=4, api_name="/generate_sounds")
    with pytest.raises(AppError, match="makes pictures, not sounds"):
        client.predict(model="shipped/digits", seed_a=0, seed_b=1, frames=4, api_name="/interpolate_sounds")
    image, download = client.predict(model="shipped/digits", seed=0, count=4, api_name="/generate")
    assert Image.open(download).format == "PNG"


def test_an_upload_of_the_other_kind_is_refused_with_the_choice_to_make(client_factory, tone_files, tmp_path,
                                                                       app_server):
    client = client_factory()
    picture = tmp_path / "picture.png"
    Image.new("RGB", (16, 16), "red").save(picture)
    with pytest.raises(AppError, match="not sound files"):
        client.predict(dataset=train_tab.UPLOAD_SOUNDS, upload=[handle_file(str(picture))], run_name="wrong-kind",
                       steps=2, api_name="/train")
    with pytest.raises(AppError, match="the uploaded files are sounds"):
        client.predict(dataset=train_tab.UPLOAD, upload=[handle_file(str(p)) for p in tone_files[:4]],
                       run_name="wrong-kind", steps=2, api_name="/train")
    assert not app_server.run_dir("wrong-kind").exists()  # nothing is left of a run that never started


def test_on_a_space_sounds_keep_their_spectrogram_size_and_get_the_time_budget():
    index = train_tab.PRESET_FIELDS.index("resolution")
    for kind in (CPU_SPACE, GPU_SPACE):
        hosting = Hosting(kind=kind)
        for sounds in ("spoken-digits", train_tab.UPLOAD_SOUNDS):
            preset = train_tab.preset_values(sounds, hosting)
            assert preset[index]["value"] == 64  # the sound preset's, not the hardware's picture size
            assert preset[train_tab.PRESET_FIELDS.index("channels")] == 1
            assert train_tab.minutes_value(sounds, hosting) == DEFAULTS[kind].picture_minutes
    assert train_tab.preset_values("emoji", Hosting(kind=CPU_SPACE))[index]["value"] == 32  # pictures as before


def test_the_clips_are_remade_at_most_every_so_often_and_always_at_the_end():
    import torch

    from gan_space.data.sound_pictures import sound_record
    from gan_space.sound import FAST_64

    clips = PreviewClips(sound_record(FAST_64), every_seconds=1e6)
    assert clips.due(0.0)
    made = clips.make(torch.zeros(6, 1, 64, 64).uniform_(-1, 1))
    assert made.shape == (PLAYERS, FAST_64.samples) and made.dtype == np.float32
    assert not clips.due(1e5) and clips.due(1e5, final=True)
    assert clips.sets_made == 1 and clips.seconds_spent > 0
    with pytest.raises(ValueError, match="trains on pictures"):
        PreviewClips(None)


def test_a_picture_run_hides_the_players_once_and_a_sound_run_sends_each_set_once():
    from types import SimpleNamespace

    from gan_space.ui.jobs import JobSnapshot

    pictures = TrainPlayers(SimpleNamespace(makes_sounds=False))
    first, later = pictures(JobSnapshot("run")), pictures(JobSnapshot("run"))
    assert all(first[name]["visible"] == "hidden" for name in PLAYER_OUTPUTS)
    assert all(later[name] == {"__type__": "update"} for name in PLAYER_OUTPUTS)  # gr.skip()

    sounds = TrainPlayers(SimpleNamespace(makes_sounds=True))
    clips = (RATE, np.full((PLAYERS, RATE), 0.5, np.float32))
    assert all(update == {"__type__": "update"} for update in sounds(JobSnapshot("run")).values())
    sent = sounds(JobSnapshot("run", clips=clips, clips_version=1))
    rate, samples = sent[PLAYER_OUTPUTS[0]]["value"]
    assert rate == RATE and samples.dtype == np.int16 and samples.max() == round(0.5 * 32767)  # not rescaled
    again = sounds(JobSnapshot("run", clips=clips, clips_version=1))  # the same set: not sent again
    assert all(update == {"__type__": "update"} for update in again.values())
