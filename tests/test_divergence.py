"""Divergence (issue 7, part 3): a run whose losses go NaN or infinite stops at that very step
(on the CPU the losses are checked every step), says what to change, and keeps its last good
checkpoint, in the library, the command line and the app."""

import math

import pytest
import torch
from PIL import Image

from gan_space.objectives import gan as objective
from gan_space.checkpoints import latest_checkpoint, load_generator
from gan_space.sampling import generate
from gan_space.training import TrainConfig, Trainer


def tiny_config(out_dir, dataset="digits", **overrides):
    values = dict(out_dir=str(out_dir), steps=40, width=16, latent_dim=8, batch_size=16, num_preview=4, log_every=5,
                  sample_every=8, checkpoint_every=4)
    return TrainConfig.for_dataset(dataset, **{**values, **overrides})


def poison_data(trainer):
    draw = trainer.source.next_batch

    def corrupt_batch(batch_size):  # e.g. a corrupt picture or point
        real, labels = draw(batch_size)
        return real.fill_(float("inf")), labels

    trainer.source.next_batch = corrupt_batch


def poison_generator(trainer):
    with torch.no_grad():
        for parameter in trainer.networks.generator.parameters():
            parameter.fill_(float("nan"))


def poison_discriminator(trainer):
    with torch.no_grad():
        next(trainer.networks.discriminator.parameters()).mul_(1e38).mul_(1e38)  # overflows to inf


@pytest.mark.parametrize("poison", [poison_data, poison_generator, poison_discriminator])
@pytest.mark.parametrize("dataset", ["digits", "grid25"])
def test_a_run_that_goes_nan_stops_at_that_step_and_keeps_its_last_good_checkpoint(tmp_path, monkeypatch, dataset,
                                                                                     poison):
    losses = []  # every step's D and G loss, as the loop computed them
    for name in ("discriminator_loss", "generator_loss"):
        original = getattr(objective, name)

        def recording(*args, _original=original, _name=name):
            value = _original(*args)
            losses.append((_name, bool(torch.isfinite(value).all())))
            return value

        monkeypatch.setattr(objective, name, recording)

    trainer = Trainer(tiny_config(tmp_path / "run", dataset))
    events = []
    for event in trainer.run():
        events.append(event)
        if event.step == 8:  # right after the step-8 checkpoint (and preview)
            poison(trainer)
    last = events[-1]
    first_bad_step = 1 + [ok for _, ok in losses].index(False) // 2  # one D and one G loss per step
    assert first_bad_step == 9
    assert last.status == "diverged" and last.step == first_bad_step  # within the step, not at the next event
    assert f"training diverged at step {first_bad_step}" in last.message
    assert "the last good checkpoint (step-0000008) is kept" in last.message
    assert "lower the learning rates" in last.message and "switch the loss to 'hinge'" in last.message
    assert last.checkpoint is None and last.preview is None
    assert latest_checkpoint(tmp_path / "run").name == "step-0000008"
    assert not (tmp_path / "run" / "samples" / "step-0000010.png").exists()
    samples = generate(load_generator(tmp_path / "run"), 16)
    assert torch.isfinite(samples).all()
    # The last good checkpoint resumes (with, say, a lower learning rate).
    assert Trainer.resume(str(tmp_path / "run"), lr_d=5e-4).step == 8


def test_the_command_line_reports_divergence_and_fails(tmp_path, monkeypatch, capsys):
    from gan_space import cli

    original = objective.generator_loss
    monkeypatch.setattr(objective, "generator_loss", lambda *args: original(*args) * math.inf)
    code = cli.main(["train", "--dataset", "ring8", "--out", str(tmp_path / "run"), "--steps", "50",
                     "--batch-size", "16", "--width", "16"])
    out = capsys.readouterr().out
    assert code == 1
    assert "training diverged at step 1" in out and "no checkpoint had been written yet" in out
    assert "learning rate" in out and latest_checkpoint(tmp_path / "run") is None


def test_the_app_says_what_to_change_and_keeps_the_good_checkpoint(app_server, client_factory, monkeypatch):
    poisoned = []
    original = objective.discriminator_loss
    monkeypatch.setattr(objective, "discriminator_loss",
                        lambda *args: original(*args) * (math.nan if poisoned else 1.0))
    client = client_factory()
    outputs = list(client.submit(dataset="digits", run_name="goes-nan", steps=10, batch_size=16, api_name="/train"))
    assert "finished 10 steps" in outputs[-1][3]
    poisoned.append(True)  # from now on every D loss is NaN, as if the learning rate were far too high
    outputs = list(client.submit(run_name="goes-nan", steps=200, api_name="/resume"))
    status = outputs[-1][3]
    assert "training diverged at step 11" in status, status
    assert "the last good checkpoint (step-0000010) is kept" in status and "learning rate" in status
    assert latest_checkpoint(app_server.run_dir("goes-nan")).name == "step-0000010"
    poisoned.clear()
    image, _ = client.predict(model="runs/goes-nan", count=4, api_name="/generate")
    assert Image.open(image).getextrema() != ((0, 0),) * len(Image.open(image).getbands())  # a picture, not NaN
