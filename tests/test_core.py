"""The training core in parts: one update step for the trainer and the Lab, a registry of
network families (a new one is one module), reproducible runs (CLI, Python, the app), and
checkpoints on the clock."""

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import tiny_family

from gan_space.checkpoints import WEIGHTS_NAME, latest_checkpoint, load_generator
from gan_space.lab import LAB_SETTINGS, LabSession
from gan_space.losses import LOSSES
from gan_space.sampling import generate
from gan_space.training import ConfigError, TrainConfig, Trainer

REPO = Path(__file__).resolve().parent.parent


def weights(module) -> dict:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    different = [name for name in a if not torch.equal(a[name], b[name])]
    assert not different, f"differ: {different[:5]}"


# ---------------------------------------------------------------------------
# One update step


@pytest.mark.parametrize("loss", LOSSES)
def test_the_lab_and_the_trainer_make_the_same_update_for_every_loss(tmp_path, loss):
    settings = {**LAB_SETTINGS, "loss": loss}
    lab = LabSession.create("ring8", **settings)
    trainer = Trainer(TrainConfig.for_dataset("ring8", out_dir=str(tmp_path / "run"), device="cpu", **settings))
    networks = trainer.networks
    # Same family, same seed: the same networks to begin with.
    assert_same_weights(weights(lab.G), weights(networks.generator))
    assert_same_weights(weights(lab.D), weights(networks.discriminator))

    for _ in range(3):
        batch = lab.next_batch()
        # Same batch, and the same noise stream from here (WGAN-GP's interpolation points draw from it).
        trainer.randomness.noise.set_state(lab.randomness.noise.get_state())
        lab.step(batch=batch)
        trainer.train_step(batch)
    assert_same_weights(weights(lab.G), weights(networks.generator))
    assert_same_weights(weights(lab.D), weights(networks.discriminator))
    assert trainer.step == lab.step_count == 3


def test_the_lab_applies_the_gradient_penalty_of_wgan_gp():
    # The Lab once trained loss="wgan-gp" without its penalty: turning the penalty's weight off
    # must now change the update.
    with_penalty = LabSession.create("ring8", loss="wgan-gp")
    without = LabSession.create("ring8", loss="wgan-gp", gp_weight=0.0)
    batch = with_penalty.next_batch()
    without.randomness.noise.set_state(with_penalty.randomness.noise.get_state())
    with_penalty.step(batch=batch)
    without.step(batch=batch)
    assert not torch.equal(next(with_penalty.D.parameters()), next(without.D.parameters()))


# ---------------------------------------------------------------------------
# A new network family is one module


@pytest.fixture
def tiny():
    family = tiny_family.register()
    yield family
    tiny_family.unregister()


def test_a_new_family_trains_samples_saves_loads_pushes_and_steers(tiny, tmp_path, fake_hub, hub_repo_id, capsys):
    from gan_space import GANPipeline, cli, hub
    from gan_space.directions import compute_directions, steer
    from gan_space.models import family_names, family_of
    from gan_space.ui.models import AppPaths, list_generators

    assert "tiny" in family_names("images") and "tiny" not in family_names("points")
    with pytest.raises(ConfigError, match="resolution"):
        TrainConfig.for_dataset("digits", arch="tiny", resolution=32, out_dir=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="arch"):
        TrainConfig.for_dataset("ring8", arch="tiny", out_dir=str(tmp_path / "x"))

    # Trains (a conditional run: the family's labels path too) and samples.
    run = tmp_path / "runs" / "tiny-digits"
    config = TrainConfig.for_dataset("digits", arch="tiny", resolution=8, channels=1, width=8, latent_dim=8,
                                     batch_size=16, steps=12, conditional=True, log_every=4, sample_every=12,
                                     checkpoint_every=12, out_dir=str(run))
    events = list(Trainer(config).run())
    assert events[-1].status == "finished" and events[-1].preview is not None
    generator = load_generator(run)
    assert type(generator) is tiny_family.TinyGenerator and family_of(generator) is tiny
    samples = generate(generator, 8, seed=0, labels=3)
    assert samples.shape == (8, 1, 8, 8) and torch.isfinite(samples).all() and samples.std() > 0
    assert torch.equal(generate(GANPipeline.from_pretrained(str(run)).generator, 8, seed=0, labels=3), samples)

    # The app lists it; the CLI describes it and lists the family.
    entry = next(e for e in list_generators(AppPaths.create(checkpoints_dir=tmp_path / "none", runs_dir=run.parent))
                 if e.key == "runs/tiny-digits")
    assert not entry.is_points and "8 px images" in entry.describe()
    assert cli.main(["families"]) == 0 and "tiny: a test family" in capsys.readouterr().out

    # Pushed and pulled: the same tensors; the card names the family and what it makes.
    hub.push(run, hub_repo_id, token=fake_hub.token, measure_quality=False)
    pulled = hub.pull(hub_repo_id, token=fake_hub.token)
    assert type(pulled) is tiny_family.TinyGenerator
    assert_same_weights(weights(pulled), weights(generator))
    from huggingface_hub import hf_hub_download

    card = Path(hf_hub_download(hub_repo_id, "README.md", token=fake_hub.token)).read_text()
    assert "tiny-test-family" in card and "8x8 grayscale images" in card and "TinyGenerator" in card

    # Steered: latent directions from the family's first layer.
    directions = compute_directions(generator, num_components=3, num_samples=256)
    assert directions.directions.shape == (3, 8) and directions.layer == "stem"
    latents = torch.randn(2, 8)
    steered = steer(latents, directions, [3.0])
    assert torch.allclose(steered - latents, 3.0 * directions.directions[0].expand(2, 8))
    labels = torch.tensor([3, 3])
    assert not torch.allclose(generate(generator, latents=steered, labels=labels),
                              generate(generator, latents=latents, labels=labels))


# ---------------------------------------------------------------------------
# Reproducible runs


def generator_files(run: Path) -> dict:
    latest = latest_checkpoint(run)
    return {part: load_file(latest / part / WEIGHTS_NAME) for part in ("generator", "generator_raw", "discriminator")}


def assert_same_files(a: dict, b: dict):
    for part in a:
        assert_same_weights(a[part], b[part])


def test_the_same_settings_give_the_same_weights_from_the_cli_the_api_and_the_app(
        tmp_path, app_server, client_factory):
    from gan_space import cli

    steps, seed = 240, 5
    # The app, with live previews and sample measurements on, and another user generating meanwhile.
    client, other = client_factory(), client_factory()
    job = client.submit(dataset="digits", run_name="reproducible", steps=steps, seed=seed, live_preview=True,
                        api_name="/train")
    generated = []
    while not job.done():
        generated.append(other.predict(model="shipped/digits", seed=len(generated), count=16, api_name="/generate"))
    outputs = list(job)
    assert f"finished {steps} steps" in outputs[-1][3] and generated
    app_run = app_server.run_dir("reproducible")

    assert cli.main(["train", "--dataset", "digits", "--steps", str(steps), "--seed", str(seed),
                     "--out", str(tmp_path / "cli")]) == 0
    # The Python API, with a sampling thread drawing beside it.
    stop = threading.Event()
    shipped = load_generator(REPO / "checkpoints" / "digits")
    sampler = threading.Thread(target=lambda: [generate(shipped, 64, seed=i) for i in range(10_000) if not stop.is_set()])
    sampler.start()
    try:
        for _ in Trainer(TrainConfig.for_dataset("digits", steps=steps, seed=seed, out_dir=str(tmp_path / "api"),
                                                 sample_every=7)).run():
            pass
    finally:
        stop.set()
        sampler.join()

    app, from_cli, from_api = generator_files(app_run), generator_files(tmp_path / "cli"), generator_files(tmp_path / "api")
    assert_same_files(from_cli, from_api)
    assert_same_files(app, from_api)
    # A different seed is a different run (the comparison can fail).
    assert cli.main(["train", "--dataset", "digits", "--steps", "20", "--seed", str(seed + 1),
                     "--out", str(tmp_path / "other")]) == 0
    assert not torch.equal(generator_files(tmp_path / "other")["generator_raw"]["net.0.weight"],
                           from_cli["generator_raw"]["net.0.weight"])


def test_resume_is_bit_exact_for_an_images_run_with_ema_and_augmentation(tmp_path, tiny_image_folder):
    settings = dict(arch="dcgan", resolution=16, channels=3, width=8, latent_dim=16, batch_size=8, steps=16,
                    augment="diffaugment", conditional=True, log_every=2, sample_every=3, checkpoint_every=100)
    list(Trainer(TrainConfig.for_dataset(str(tiny_image_folder), out_dir=str(tmp_path / "straight"), **settings)).run())
    trainer = Trainer(TrainConfig.for_dataset(str(tiny_image_folder), out_dir=str(tmp_path / "split"), **settings))
    for event in trainer.run():
        if event.step == 6:
            trainer.request_stop()
    resumed = Trainer.resume(str(tmp_path / "split"))
    assert resumed.step == 7  # the stop takes effect after the step that follows it
    list(resumed.run())
    assert_same_files(generator_files(tmp_path / "straight"), generator_files(tmp_path / "split"))


# ---------------------------------------------------------------------------
# Checkpoints on the clock

CLOCK_WORKER = r"""
import json, sys, time
from gan_space.training import TrainConfig, Trainer
config = TrainConfig.for_dataset(sys.argv[1], out_dir=sys.argv[2], arch="dcgan", resolution=16, channels=3, width=8,
                                 latent_dim=16, batch_size=8, steps=10_000_000, log_every=1, sample_every=10**9,
                                 checkpoint_every=10**9, checkpoint_minutes=float(sys.argv[3]))
resume = sys.argv[4] == "resume"
trainer = Trainer.resume(sys.argv[2]) if resume else Trainer(config)
print(json.dumps({"start": trainer.step}), flush=True)
for event in trainer.run():
    print(json.dumps({"step": event.step, "elapsed": event.elapsed_seconds, "checkpoint": event.checkpoint}),
          flush=True)
"""


def test_a_run_killed_at_a_random_moment_loses_at_most_the_checkpoint_interval(tmp_path, tiny_image_folder):
    minutes = 0.05  # 3 s here; 2 minutes by default
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CLOCK_WORKER, str(tiny_image_folder), str(run), str(minutes), "new"],
                             stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    kill_after = random.Random().uniform(3.5 * minutes * 60, 5 * minutes * 60)  # of training
    last, clock_checkpoints = None, 0
    try:
        for line in child.stdout:
            record = json.loads(line)
            if "step" in record:
                last = record
                clock_checkpoints += record["checkpoint"] is not None
                if record["elapsed"] >= kill_after:
                    break
    finally:
        child.kill()  # SIGKILL: no chance to save anything
        child.wait()
    assert last is not None and clock_checkpoints >= 3  # only the clock writes checkpoints in this run
    saved = json.loads((latest_checkpoint(run) / "state.json").read_text())
    lost_seconds = last["elapsed"] - saved["elapsed_seconds"]
    assert 0 <= lost_seconds <= minutes * 60 + 1.0, (last, saved["step"], saved["elapsed_seconds"])

    # Resume picks up exactly there.
    child = subprocess.Popen([sys.executable, "-c", CLOCK_WORKER, str(tiny_image_folder), str(run), str(minutes),
                              "resume"], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        start = json.loads(child.stdout.readline())["start"]
        first = json.loads(child.stdout.readline())
    finally:
        child.kill()
        child.wait()
    assert start == saved["step"] and first["step"] == start + 1
    assert first["elapsed"] >= saved["elapsed_seconds"]


def test_checkpoint_minutes_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint_minutes"):
        TrainConfig.for_dataset("digits", checkpoint_minutes=-1, out_dir=str(tmp_path))


# ---------------------------------------------------------------------------
# Training by the clock


def test_a_time_budget_is_honoured_and_resumes(tmp_path):
    minutes = 0.1  # 6 s
    trainer = Trainer(TrainConfig.for_dataset("ring8", minutes=minutes, out_dir=str(tmp_path / "run"), log_every=1))
    assert trainer.config.steps == 10_000_000  # only a cap: the clock ends the run
    rates = []
    for event in trainer.run():
        rates.append(trainer.networks.opt_g.param_groups[0]["lr"])
    assert event.status == "finished" and event.checkpoint is not None
    assert abs(event.elapsed_seconds - 60 * minutes) <= 0.1 * 60 * minutes
    assert "0.1 minutes" in event.message and event.time_budget_seconds == 6
    # The learning-rate decay followed the clock: full rate at first, (nearly) 0 at the end.
    assert rates[0] == trainer.config.lr_g and rates[-1] < 0.1 * trainer.config.lr_g
    # The run is complete by its minutes, and the model list says so (not "step N/10000000").
    from gan_space.ui.models import AppPaths, list_generators

    summary = json.loads((Path(event.checkpoint) / "state.json").read_text())["summary"]
    assert summary["finished"] is True and summary["minutes"] == minutes
    paths = AppPaths.create(checkpoints_dir=tmp_path / "none", runs_dir=tmp_path, sessions_dir=tmp_path / "sessions")
    (entry,) = list_generators(paths)
    assert entry.label == "run (trained here)" and f"of {minutes:g} minutes" in entry.describe()

    resumed = Trainer.resume(str(tmp_path / "run"), minutes=2 * minutes)
    assert resumed.step == event.step
    events = list(resumed.run())
    assert events[0].step > event.step and "left of 0.2 min" in events[0].status_line()
    assert events[-1].status == "finished" and abs(events[-1].elapsed_seconds - 120 * minutes) <= 12 * minutes


def test_a_run_by_the_clock_stopped_early_says_how_far_through_its_minutes(tmp_path):
    trainer = Trainer(TrainConfig.for_dataset("ring8", minutes=5, out_dir=str(tmp_path / "run"), log_every=20))
    for event in trainer.run():
        trainer.request_stop()
    assert event.status == "stopped" and re.search(r"stopped at 0\.\d of 5 minutes \(step \d+\)", event.message)
    summary = json.loads((Path(event.checkpoint) / "state.json").read_text())["summary"]
    assert summary["finished"] is False


def test_minutes_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="minutes"):
        TrainConfig.for_dataset("digits", minutes=-1, out_dir=str(tmp_path))
