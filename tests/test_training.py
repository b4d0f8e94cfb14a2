import json
import os

import pytest
import torch

from gan_space.checkpoints import latest_checkpoint, load_generator
from gan_space.sampling import generate
from gan_space.training import ConfigError, RunFolderError, TrainConfig, Trainer


def tiny_config(tmp_path, dataset="digits", **overrides):
    values = dict(out_dir=str(tmp_path / "run"), steps=20, log_every=5, sample_every=10, checkpoint_every=10,
                  width=32, batch_size=32)
    values.update(overrides)
    return TrainConfig.for_dataset(dataset, **values)


@pytest.mark.parametrize("field, value, allowed", [
    ("steps", 0, "1 to 10,000,000"), ("batch_size", 1, "2 to 8192"), ("lr_g", 0.0, "above 0"),
    ("loss", "kl", "non-saturating"), ("resolution", 48, "one of"), ("pack", 5, "1 (off) to 4"),
    ("ema_decay", 1.0, "0 (off)"), ("channels", 2, "1 (grayscale) or 3"), ("precision", "int8", "'fp32'"),
])
def test_bad_settings_name_the_field_and_the_allowed_range(field, value, allowed):
    overrides = {field: value}
    if field == "resolution":
        overrides["arch"] = "dcgan"
    with pytest.raises(ConfigError) as error:
        TrainConfig.for_dataset("digits", **overrides)
    assert field in str(error.value) and allowed in str(error.value)


def test_batch_must_divide_into_packs():
    with pytest.raises(ConfigError, match="multiple of pack=3"):
        TrainConfig.for_dataset("grid25", pack=3, batch_size=100)


def test_presets_follow_the_data():
    assert TrainConfig.for_dataset("grid25").arch == "mlp"
    assert TrainConfig.for_dataset("digits").resolution == 8
    assert TrainConfig.for_dataset("some/folder").arch == "resnet"
    assert TrainConfig.for_dataset("grid25", batch_size=64).batch_size == 64
    with pytest.raises(ConfigError, match="unknown setting"):
        TrainConfig.for_dataset("digits", learning_rate=1)


def test_events_report_progress_previews_and_checkpoints(tmp_path):
    events = list(Trainer(tiny_config(tmp_path)).run())
    assert [e.step for e in events] == [5, 10, 15, 20]
    assert events[-1].status == "finished" and all(e.status == "running" for e in events[:-1])
    assert any("r1" in event.losses for event in events)  # lazy R1: logged in the windows where it ran
    for event in events:
        assert set(event.losses) >= {"d", "g"} and all(map(lambda v: v == v, event.losses.values()))
        assert 0 <= event.d_real <= 1 and 0 <= event.d_fake <= 1
        assert event.images_per_second > 0 and event.device == "cpu"
    assert events[1].preview is not None and events[0].preview is None
    assert events[1].checkpoint.endswith("step-0000010") and events[-1].checkpoint.endswith("step-0000020")
    assert (tmp_path / "run" / "samples" / "step-0000020.png").is_file()
    assert "step 5/20" in events[0].status_line()


def test_checkpoint_folder_is_self_describing(tmp_path):
    list(Trainer(tiny_config(tmp_path)).run())
    latest = latest_checkpoint(tmp_path / "run")
    assert latest.name == "step-0000020"
    names = sorted(p.name for p in latest.iterdir())
    assert names == ["discriminator", "generator", "generator_raw", "state.json", "training_state.safetensors"]
    assert not list((tmp_path / "run" / "checkpoints").glob(".tmp-*"))
    from gan_space.models import MLPGenerator

    direct = MLPGenerator.from_pretrained(latest / "generator")  # a plain diffusers load works
    assert torch.equal(generate(direct, 4, seed=1), generate(load_generator(tmp_path / "run"), 4, seed=1))


def test_seeded_runs_are_reproducible(tmp_path):
    a = list(Trainer(tiny_config(tmp_path / "a")).run())[-1]
    b = list(Trainer(tiny_config(tmp_path / "b")).run())[-1]
    assert a.losses == b.losses
    ga, gb = load_generator(tmp_path / "a" / "run"), load_generator(tmp_path / "b" / "run")
    assert torch.equal(generate(ga, 8), generate(gb, 8))


def test_resume_continues_exactly_where_a_stop_left_off(tmp_path):
    straight = list(Trainer(tiny_config(tmp_path / "straight")).run())[-1]

    trainer = Trainer(tiny_config(tmp_path / "split"))
    events = []
    for event in trainer.run():
        events.append(event)
        if event.step == 10:
            trainer.request_stop()
    assert events[-1].status == "stopped" and events[-1].step == 11 and events[-1].checkpoint
    assert "resume" in events[-1].message

    resumed = Trainer.resume(str(tmp_path / "split" / "run"))
    assert resumed.step == 11
    rest = list(resumed.run())
    assert rest[0].step == 15 and rest[-1].step == 20 and rest[-1].status == "finished"
    g_straight = load_generator(tmp_path / "straight" / "run")
    g_split = load_generator(tmp_path / "split" / "run")
    assert torch.equal(generate(g_straight, 8), generate(g_split, 8))
    assert rest[-1].losses == straight.losses


def test_resume_can_extend_a_finished_run(tmp_path):
    list(Trainer(tiny_config(tmp_path)).run())
    trainer = Trainer.resume(str(tmp_path / "run"), steps=30)
    assert [e.step for e in trainer.run()][-1] == 30


def test_run_folders_are_never_overwritten(tmp_path):
    list(Trainer(tiny_config(tmp_path)).run())
    with pytest.raises(RunFolderError, match="already holds a training run"):
        Trainer(tiny_config(tmp_path))
    with pytest.raises(RunFolderError, match="nothing to resume"):
        Trainer(tiny_config(tmp_path / "fresh"), resume=True)


def test_divergence_stops_with_a_clear_message_and_keeps_the_good_checkpoint(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, steps=40))
    events = []
    for event in trainer.run():
        events.append(event)
        if event.step == 10:  # poison the discriminator right after the step-10 checkpoint
            with torch.no_grad():
                for p in trainer.networks.discriminator.parameters():
                    p.fill_(float("nan"))
    last = events[-1]
    # On the CPU the losses are checked every step: the run stops at the first bad one (11), not at
    # the next event (15). On a GPU the check waits for the event, to spare a device sync per step.
    assert last.status == "diverged" and last.step == 11
    assert "NaN or infinite" in last.message and "learning rate" in last.message and "step-0000010" in last.message
    assert latest_checkpoint(tmp_path / "run").name == "step-0000010"
    samples = generate(load_generator(tmp_path / "run"), 4)
    assert torch.isfinite(samples).all()


def test_a_crash_mid_checkpoint_leaves_the_previous_one_loadable(tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(tmp_path))
    run = trainer.run()
    for event in run:
        if event.step == 10:
            break
    import safetensors.torch

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("gan_space.checkpoints.save_file", disk_full)
    with pytest.raises(OSError, match="No space"):
        for event in run:
            pass
    assert latest_checkpoint(tmp_path / "run").name == "step-0000010"
    assert not list((tmp_path / "run" / "checkpoints").glob(".tmp-*"))
    assert torch.isfinite(generate(load_generator(tmp_path / "run"), 2)).all()
    del safetensors


def test_stale_latest_pointer_falls_back_to_the_newest_complete_checkpoint(tmp_path):
    list(Trainer(tiny_config(tmp_path)).run())
    root = tmp_path / "run" / "checkpoints"
    (root / "latest").write_text("step-9999999")
    assert latest_checkpoint(tmp_path / "run").name == "step-0000020"
    os.remove(root / "step-0000020" / "state.json")  # as if the crash came before the rename completed
    assert latest_checkpoint(tmp_path / "run").name == "step-0000010"


@pytest.mark.parametrize("dataset, overrides", [
    ("grid25", dict(loss="hinge", pack=2)),
    ("ring8", dict(loss="wgan-gp", r1_gamma=0.0)),
    ("digits", dict(loss="least-squares", spectral_norm=True, conditional=True)),
    ("digits", dict(arch="dcgan", resolution=16, augment="diffaugment", width=8, precision="bf16")),
    ("digits", dict(arch="dcgan", resolution=32, width=8, conditional=True, pack=2, ema_decay=0.0)),
])
def test_every_loss_and_regulariser_trains(tmp_path, dataset, overrides):
    events = list(Trainer(tiny_config(tmp_path, dataset, steps=10, **overrides)).run())
    assert events[-1].status == "finished"
    generator = load_generator(tmp_path / "run")
    samples = generate(generator, 4, labels=3 if overrides.get("conditional") else None)
    assert torch.isfinite(samples).all()


def test_conditional_needs_labels(tmp_path):
    with pytest.raises(ConfigError, match="needs labelled data"):
        Trainer(tiny_config(tmp_path, "grid25", conditional=True))


def test_bf16_discriminator_matches_fp32():
    from gan_space.devices import autocast_context
    from gan_space.models import DCGANDiscriminator

    torch.manual_seed(0)
    discriminator = DCGANDiscriminator(resolution=32, channels=3, width=16).to(memory_format=torch.channels_last)
    images = torch.randn(16, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    exact = discriminator(images)
    with autocast_context(torch.device("cpu"), "bf16"):
        fast = discriminator(images).float()
    assert torch.allclose(exact, fast, atol=0.05 * exact.abs().max().item() + 1e-3)


def test_train_config_is_saved_as_json(tmp_path):
    list(Trainer(tiny_config(tmp_path)).run())
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["dataset"] == "digits" and saved["steps"] == 20
