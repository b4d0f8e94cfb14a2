"""Runs that outlive the machine: `push --resumable` to the loopback Hub, `pull_run` / `train
--resume-from` from a fresh folder, and the resumed run equals an uninterrupted one bit for bit;
the refusals; the saver that pushes a run in the background while it trains; the app's
/resume_from_hub."""

import json
import threading
import uuid
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gan_space import hub
from gan_space.checkpoints import latest_checkpoint
from gan_space.cli import main
from gan_space.training import TrainConfig, Trainer

TINY = ["--batch-size", "16", "--width", "32", "--lr-decay-fraction", "0", "--log-every", "4",
        "--sample-every", "1000", "--checkpoint-every", "1000"]


def checkpoint_tensors(run_dir) -> dict:
    """Every tensor of a run's newest checkpoint: the three networks and the training state."""
    folder = latest_checkpoint(run_dir)
    return {str(path.relative_to(folder)): load_file(path) for path in sorted(folder.rglob("*.safetensors"))}


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and a
    for file in a:
        assert a[file].keys() == b[file].keys(), file
        for name in a[file]:
            assert torch.equal(a[file][name], b[file][name]), f"{file}: {name}"


def is_private(fake_hub, repo_id: str) -> bool:
    return fake_hub._repos[("model", repo_id)].private  # (the fake has no public accessor for it)


def run_files(run_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------
# The round trip


def test_push_resumable_then_resume_from_a_fresh_folder_equals_an_uninterrupted_run(fake_hub, hub_repo_id, tmp_path,
                                                                                     capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    straight, first, resumed = tmp_path / "straight", tmp_path / "first", tmp_path / "elsewhere" / "resumed"
    assert main(["train", "--dataset", "digits", "--out", str(straight), "--steps", "12", *TINY]) == 0
    assert main(["train", "--dataset", "digits", "--out", str(first), "--steps", "8", *TINY]) == 0

    assert main(["push", "--model", str(first), "--repo", hub_repo_id, "--resumable"]) == 0
    out = capsys.readouterr().out
    assert f"--resume-from {hub_repo_id}" in out
    files = set(fake_hub.files(hub_repo_id))
    state_files = set(hub.resumable_repo_files(held_out=False))
    assert state_files <= files and "config.json" in files and "README.md" in files
    assert all(name.endswith((".json", ".safetensors", ".md", ".png", ".gitattributes")) for name in files)
    assert is_private(fake_hub, hub_repo_id)  # training state: private unless asked otherwise
    card = fake_hub.files(hub_repo_id)["README.md"].decode()
    assert "resumable" in card and f"--resume-from {hub_repo_id}" in card
    uploaded_config = json.loads(fake_hub.files(hub_repo_id)["run/train_config.json"])
    assert uploaded_config["out_dir"] == "first"  # the folder's name, not where it sat on this machine

    fake_hub.clear_requests()
    assert main(["train", "--resume-from", hub_repo_id, "--out", str(resumed), "--steps", "12", *TINY[:4]]) == 0
    assert f"pulled the run {hub_repo_id}" in capsys.readouterr().out
    downloaded = {r.path.split("/resolve/")[1].split("/", 1)[1] for r in fake_hub.requests if "/resolve/" in r.path}
    assert downloaded == state_files  # exactly the training state, nothing else
    assert not list(resumed.parent.glob(".pull-*"))  # no download folder left behind

    assert json.loads((latest_checkpoint(resumed) / "state.json").read_text())["step"] == 12
    assert_same_tensors(checkpoint_tensors(straight), checkpoint_tensors(resumed))
    # The comparison can fail: another seed differs.
    assert main(["train", "--dataset", "digits", "--out", str(tmp_path / "other"), "--steps", "12", "--seed", "1",
                 *TINY]) == 0
    other = checkpoint_tensors(tmp_path / "other")
    assert not torch.equal(other["generator/diffusion_pytorch_model.safetensors"]["net.0.weight"],
                           checkpoint_tensors(straight)["generator/diffusion_pytorch_model.safetensors"]["net.0.weight"])


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A tiny digits run with two checkpoints (steps 4 and 8)."""
    out = tmp_path_factory.mktemp("resumable") / "digits"
    config = TrainConfig.for_dataset("digits", out_dir=str(out), steps=8, batch_size=16, width=32, log_every=4,
                                     sample_every=1000, checkpoint_every=4)
    for _ in Trainer(config).run():
        pass
    return out


def test_an_image_to_image_run_travels_with_its_held_out_pictures(fake_hub, hub_repo_id, tmp_path, tiny_image_folder):
    settings = dict(task="colorize", resolution=16, width=8, batch_size=4, lr_decay_fraction=0.0, log_every=2,
                    sample_every=1000, checkpoint_every=1000, max_images=8)
    straight = Trainer(TrainConfig.for_dataset(str(tiny_image_folder), out_dir=str(tmp_path / "straight"), steps=6,
                                               **settings))
    list(straight.run())
    list(Trainer(TrainConfig.for_dataset(str(tiny_image_folder), out_dir=str(tmp_path / "first"), steps=4,
                                         **settings)).run())
    hub.push(tmp_path / "first", hub_repo_id, fake_hub.token, resumable=True, measure_quality=False)
    assert "run/held_out.safetensors" in fake_hub.files(hub_repo_id)

    fresh = hub.pull_run(hub_repo_id, tmp_path / "fresh", fake_hub.token)
    assert (fresh / "held_out.safetensors").read_bytes() == (tmp_path / "first" / "held_out.safetensors").read_bytes()
    resumed = Trainer.resume(str(fresh), steps=6)
    assert resumed.step == 4
    list(resumed.run())
    assert_same_tensors(checkpoint_tensors(tmp_path / "straight"), checkpoint_tensors(fresh))


def test_a_run_by_the_clock_keeps_its_minutes_across_the_hub(fake_hub, hub_repo_id, tmp_path, monkeypatch, capsys):
    minutes = 0.02  # 1.2 s of training
    first = Trainer(TrainConfig.for_dataset("ring8", minutes=minutes, out_dir=str(tmp_path / "first"), width=32,
                                            log_every=20))
    events = list(first.run())
    assert events[-1].status == "finished"
    saved = json.loads((latest_checkpoint(tmp_path / "first") / "state.json").read_text())
    assert saved["elapsed_seconds"] >= minutes * 60
    hub.push(tmp_path / "first", hub_repo_id, fake_hub.token, resumable=True, measure_quality=False)
    assert f"of its {minutes:g} minutes" in fake_hub.files(hub_repo_id)["README.md"].decode()

    # Nothing left of its minutes: the library resumes at its step with the time it used, and
    # does nothing more.
    pulled = hub.pull_run(hub_repo_id, tmp_path / "pulled", fake_hub.token)
    trainer = Trainer.resume(str(pulled))
    assert trainer.step == saved["step"] and trainer.elapsed_before == saved["elapsed_seconds"]
    assert list(trainer.run()) == []

    # The command line, with a new total: the budget accounting goes on from the time already used.
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    resumed = tmp_path / "resumed"
    assert main(["train", "--resume-from", hub_repo_id, "--out", str(resumed), "--minutes", str(2 * minutes)]) == 0
    state = json.loads((latest_checkpoint(resumed) / "state.json").read_text())
    assert state["step"] > saved["step"] and state["elapsed_seconds"] >= 2 * minutes * 60
    assert state["summary"]["finished"] is True and state["summary"]["minutes"] == 2 * minutes
    assert f"finished {2 * minutes:g} minutes" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# Refusals


def test_a_repo_without_training_state_or_with_a_pickle_is_refused_before_any_download(fake_hub, digits_run,
                                                                                          hub_repo_id, tmp_path):
    hub.push(digits_run, hub_repo_id, fake_hub.token, measure_quality=False)  # the generator only
    fake_hub.clear_requests()
    with pytest.raises(hub.NotResumableError, match="pushed without --resumable"):
        hub.pull_run(hub_repo_id, tmp_path / "a", fake_hub.token)

    resumable = f"{hub_repo_id}-resumable"
    hub.push(digits_run, resumable, fake_hub.token, resumable=True, measure_quality=False)
    fake_hub.add_files(resumable, {"run/checkpoint/optimizer.pt": b"\x80\x04not-a-real-pickle"})
    with pytest.raises(hub.NotResumableError, match=r"pickled files \(run/checkpoint/optimizer.pt\).*never loads"):
        hub.pull_run(resumable, tmp_path / "b", fake_hub.token)

    incomplete = f"{hub_repo_id}-incomplete"
    files = {name: data for name, data in fake_hub.files(resumable).items()
             if name != "run/checkpoint/training_state.safetensors" and not name.endswith(".pt")}
    fake_hub.add_files(incomplete, files)
    with pytest.raises(hub.NotResumableError, match="incomplete training state.*training_state.safetensors"):
        hub.pull_run(incomplete, tmp_path / "c", fake_hub.token)

    assert not [r.path for r in fake_hub.requests if "/resolve/" in r.path]  # not a byte downloaded
    assert not any((tmp_path / name).exists() for name in "abc")


def test_a_pushed_generator_folder_and_an_occupied_run_folder_are_refused(fake_hub, digits_run, hub_repo_id, tmp_path):
    from gan_space.checkpoints import ModelLoadError

    with pytest.raises(ModelLoadError, match="only a run folder"):
        hub.push(latest_checkpoint(digits_run) / "generator", hub_repo_id, fake_hub.token, resumable=True)
    assert not fake_hub.repo_exists(hub_repo_id)
    hub.push(digits_run, hub_repo_id, fake_hub.token, resumable=True, measure_quality=False)
    with pytest.raises(hub.NotResumableError, match="already holds a run"):
        hub.pull_run(hub_repo_id, digits_run, fake_hub.token)


def test_a_run_on_pictures_this_machine_lacks_is_refused(fake_hub, hub_repo_id, tmp_path, tiny_image_folder):
    import shutil

    pictures = tmp_path / "pictures"
    shutil.copytree(tiny_image_folder, pictures)
    config = TrainConfig.for_dataset(str(pictures), out_dir=str(tmp_path / "run"), arch="dcgan", resolution=16,
                                     width=8, latent_dim=16, batch_size=8, steps=2, log_every=1, sample_every=1000)
    list(Trainer(config).run())
    hub.push(tmp_path / "run", hub_repo_id, fake_hub.token, resumable=True, measure_quality=False)
    shutil.rmtree(pictures)
    with pytest.raises(hub.NotResumableError, match="pictures from a folder or file \\(pictures\\)"):
        hub.pull_run(hub_repo_id, tmp_path / "elsewhere", fake_hub.token)
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("args, message", [
    (["train", "--resume-from", "not a repo", "--out", "{tmp}/x"], "is not a Hugging Face repo id"),
    (["train", "--resume-from", "alice/no-such-run", "--out", "{tmp}/x"], "no model repository alice/no-such-run"),
    (["train", "--resume-from", "alice/x", "--resume", "--out", "{tmp}/x"], "not both"),
    (["push", "--model", "{tmp}/missing", "--repo", "alice/x", "--resumable"], "no such folder"),
])
def test_cli_errors_are_one_line(fake_hub, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    capsys.readouterr()
    assert main([a.format(tmp=tmp_path) for a in args]) != 0
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert message in captured.err and fake_hub.token not in captured.err + captured.out


def test_a_resumable_push_can_be_public_and_a_later_plain_push_removes_the_state(fake_hub, digits_run, hub_repo_id,
                                                                                   monkeypatch):
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    assert main(["push", "--model", str(digits_run), "--repo", hub_repo_id, "--resumable", "--no-private"]) == 0
    assert not is_private(fake_hub, hub_repo_id) and "run/checkpoint/state.json" in fake_hub.files(hub_repo_id)
    assert main(["push", "--model", str(digits_run), "--repo", hub_repo_id]) == 0
    assert not [name for name in fake_hub.files(hub_repo_id) if name.startswith("run/")]


# ---------------------------------------------------------------------------
# The saver


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class GatedPush:
    """A push that records what it uploads and waits for the test to let it finish."""

    def __init__(self, fail_first: bool = False):
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)
        self.steps, self.running, self.most_at_once = [], 0, 0
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def __call__(self, run_folder, repo_id, token):
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.started.release()
        try:
            assert self.gate.wait(60)
            step = json.loads((latest_checkpoint(run_folder) / "state.json").read_text())["step"]
            self.steps.append(step)
            if self.fail_first and len(self.steps) == 1:
                raise hub.HubAuthError("cannot push to alice/x: the token may not write to it (403 forbidden).")
            return "url"
        finally:
            with self.lock:
                self.running -= 1


def test_the_saver_pushes_due_checkpoints_one_at_a_time_and_always_the_last(digits_run):
    clock, push = FakeClock(), GatedPush()
    saver = hub.RunSaver("alice/run", "token", every_seconds=300, clock=clock, push=push)
    step4, step8 = sorted((digits_run / "checkpoints").glob("step-*"))
    assert not saver.checkpoint_written(step4)  # not due: the run just began
    clock.now = 301
    assert saver.checkpoint_written(step4)
    assert push.started.acquire(timeout=60)  # uploading step 4 (held at the gate)
    assert saver.busy and "saving step 4" in saver.note()
    clock.now = 400
    assert not saver.checkpoint_written(step8)  # 99 s after the last: not due
    clock.now = 700
    assert saver.checkpoint_written(step8)  # due: it waits for the upload in flight...
    assert saver.checkpoint_written(step8, final=True)  # ...and the end replaces it (the end is always saved)
    push.gate.set()
    assert saver.wait(60)
    assert push.steps == [4, 8] and push.most_at_once == 1
    assert saver.saved_step == 8 and saver.error is None and "saved step 8 to alice/run" in saver.note()


def test_a_failed_save_is_reported_and_the_next_one_tries_again(digits_run):
    clock, push = FakeClock(), GatedPush(fail_first=True)
    push.gate.set()
    saver = hub.RunSaver("alice/run", "token", every_seconds=0, clock=clock, push=push)
    checkpoint = latest_checkpoint(digits_run)
    assert saver.checkpoint_written(checkpoint) and saver.wait(60)
    assert saver.saved_step is None and "403" in saver.error and "failed" in saver.note()
    assert saver.checkpoint_written(checkpoint, final=True) and saver.wait(60)
    assert saver.saved_step == 8 and saver.error is None and push.steps == [8, 8]


def test_a_checkpoint_that_cannot_be_copied_is_reported_not_raised(tmp_path):
    saver = hub.RunSaver("alice/run", "token", every_seconds=0, push=GatedPush())
    assert not saver.checkpoint_written(tmp_path / "nothing-here", final=True)
    assert "only a run folder" in saver.error and not saver.busy


def test_where_runs_are_kept_and_how_often_they_are_saved(tmp_path):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    assert hub.default_runs_dir(tmp_path, {}) == tmp_path / "runs"
    assert hub.default_runs_dir(tmp_path, {"GAN_SPACE_BUCKET": str(bucket)}) == bucket / "gan_space-runs"
    assert hub.default_runs_dir(tmp_path, {"GAN_SPACE_BUCKET": str(bucket), "GAN_SPACE_RUNS": "/x"}) == Path("/x")
    assert hub.default_runs_dir(tmp_path, {"GAN_SPACE_BUCKET": str(tmp_path / "not-mounted")}) == tmp_path / "runs"
    assert hub.hub_save_minutes({}) is None  # locally: off
    assert hub.hub_save_minutes({"SPACE_ID": "a/b"}) == hub.DEFAULT_SAVE_MINUTES
    assert hub.hub_save_minutes({"SPACE_ID": "a/b", "GAN_SPACE_HUB_SAVE_MINUTES": "off"}) is None
    assert hub.hub_save_minutes({"GAN_SPACE_HUB_SAVE_MINUTES": "2.5"}) == 2.5
    with pytest.raises(ValueError, match="GAN_SPACE_HUB_SAVE_MINUTES"):
        hub.hub_save_minutes({"GAN_SPACE_HUB_SAVE_MINUTES": "soon"})


# ---------------------------------------------------------------------------
# The app


def test_the_app_resumes_a_run_from_the_hub_and_saves_it_back(fake_hub, digits_run, app_server, client_factory,
                                                             monkeypatch):
    from gradio_client.exceptions import AppError

    repo_id = f"{fake_hub.user}/app-run-{uuid.uuid4().hex[:8]}"
    hub.push(digits_run, repo_id, fake_hub.token, resumable=True, measure_quality=False)
    # Saving on every checkpoint (the app saves every few minutes on a Space; off here by default).
    monkeypatch.setattr(app_server.demo.context, "hub_save_minutes", 0.0)
    client = client_factory()
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["parameter_name"] for p in endpoints["/resume_from_hub"]["parameters"]] == [
        "repo_id", "run_name", "steps", "minutes", "token", "live_preview", "settings"]
    assert "oauth_token" not in [p["parameter_name"] for p in endpoints["/train"]["parameters"]]
    name = f"from-hub-{uuid.uuid4().hex[:6]}"
    outputs = list(client.submit(repo_id=repo_id, run_name=name, steps=12, token=fake_hub.token,
                                 api_name="/resume_from_hub"))
    status = outputs[-1][3]
    assert "finished 12 steps" in status and f"saved step 12 to {repo_id}" in status, status
    run_dir = app_server.run_dir(name)
    assert json.loads((latest_checkpoint(run_dir) / "state.json").read_text())["step"] == 12
    saved = json.loads(fake_hub.files(repo_id)["run/checkpoint/state.json"])
    assert saved["step"] == 12  # saved back to the repo it came from

    with pytest.raises(AppError, match="pushed without --resumable"):
        plain = f"{fake_hub.user}/plain-{uuid.uuid4().hex[:8]}"
        hub.push(digits_run, plain, fake_hub.token, measure_quality=False)
        client.predict(repo_id=plain, token=fake_hub.token, api_name="/resume_from_hub")
    with pytest.raises(AppError, match="repo id"):
        client.predict(repo_id="not a repo", api_name="/resume_from_hub")
