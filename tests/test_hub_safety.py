"""The Hub (issue 7, part 5), against the loopback Hub with the real client: a repo holding a
malicious pickle is refused before a byte of it is deserialised (or even downloaded); a push
that fails halfway leaves the local generator intact and says so; the token is in no log,
file, URL or error message; repo ids and file names are checked before use."""

import json
import logging
import os
import pickle
import time
import traceback
import types
from pathlib import Path

import pytest

from gan_space import hub
from gan_space.checkpoints import WEIGHTS_NAME, ModelLoadError, load_generator
from folders import folder_digest
from test_hub import pushed, trained_run  # noqa: F401  (fixtures)

PICKLE_NAMES = ("diffusion_pytorch_model.bin", "pytorch_model.bin", "model.ckpt", "optimizer.pt", "weights.pth",
                "extra.pkl", "data.pickle")


class _Exploit:
    """Unpickling this runs code: it writes the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('pwned')",)


@pytest.fixture
def exploit(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(marker))
    pickle.loads(payload)  # it really runs code when unpickled...
    assert marker.read_text() == "pwned"
    marker.unlink()  # ...so from here on the marker must never appear
    yield payload, marker
    assert not marker.exists(), "a pickle was unpickled"


def generator_files() -> dict[str, bytes]:
    from safetensors.torch import save

    from gan_space.models import DCGANGenerator

    generator = DCGANGenerator(resolution=8, channels=1, width=8, latent_dim=4)
    config = {**generator.config, "_class_name": "DCGANGenerator"}
    return {"config.json": json.dumps(dict(config)).encode(), WEIGHTS_NAME: save(generator.state_dict())}


def resolved(fake_hub) -> list[str]:
    return [r.path for r in fake_hub.requests if "/resolve/" in r.path]


def test_a_repo_with_a_malicious_pickle_is_never_unpickled(fake_hub, hub_repo_id, exploit, tmp_path,
                                                            capsys):
    from gan_space import GANPipeline, cli

    payload, _ = exploit
    config = generator_files()["config.json"]
    repos = {
        "only": {"config.json": config, "diffusion_pytorch_model.bin": payload},
        "pipeline": {"generator/config.json": config, "generator/diffusion_pytorch_model.bin": payload},
        "disguised": {"config.json": config, WEIGHTS_NAME: payload},  # a pickle under the safetensors name
        "beside": {**generator_files(), **{name: payload for name in PICKLE_NAMES},
                   "generator/diffusion_pytorch_model.bin": payload, "discriminator/pytorch_model.bin": payload},
    }
    for suffix, files in repos.items():
        fake_hub.add_files(f"{hub_repo_id}-{suffix}", files)

    for loader in (lambda repo: hub.pull(repo), lambda repo: GANPipeline.from_pretrained(repo, token=False)):
        for suffix in ("only", "pipeline"):
            fake_hub.clear_requests()
            with pytest.raises(hub.PickleOnlyError, match="never loads pickles"):
                loader(f"{hub_repo_id}-{suffix}")
            assert resolved(fake_hub) == []  # refused from the file list: not a byte downloaded
        with pytest.raises((hub.NotAGeneratorError, ModelLoadError), match="damaged or does not match config.json"):
            loader(f"{hub_repo_id}-disguised")
        fake_hub.clear_requests()
        loaded = loader(f"{hub_repo_id}-beside")  # the safetensors weights, and only them
        assert loaded is not None
        assert not [path for path in resolved(fake_hub) if path.endswith((".bin", ".ckpt", ".pt", ".pth", ".pkl",
                                                                          ".pickle"))]
    assert cli.main(["generate", "--model", f"{hub_repo_id}-only", "--out", str(tmp_path / "x.png")]) == 1
    assert "never loads pickles" in capsys.readouterr().err and not (tmp_path / "x.png").exists()

    # The same pickles in local folders: refused, never opened.
    for suffix in ("only", "disguised"):
        folder = tmp_path / suffix
        folder.mkdir()
        for name, data in repos[suffix].items():
            (folder / name).write_bytes(data)
        with pytest.raises(ModelLoadError):
            load_generator(folder)


def test_a_run_folder_with_pickles_in_place_of_its_state_does_not_resume(trained_run, exploit, tmp_path):
    import shutil

    from gan_space.training import Trainer

    payload, _ = exploit
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    latest = run / "checkpoints" / (run / "checkpoints" / "latest").read_text()
    (latest / "training_state.safetensors").write_bytes(payload)
    with pytest.raises(Exception, match="(?i)header|safetensor|deserializ"):
        Trainer.resume(str(run))


# ---------------------------------------------------------------------------
# A push that fails halfway


@pytest.fixture
def no_retry_sleep(monkeypatch):
    """huggingface_hub retries a dropped connection 5 times with 1-8 s sleeps: skip the sleeping."""
    import huggingface_hub.utils._http as http

    fast_time = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("_")})
    fast_time.sleep = lambda seconds: None
    monkeypatch.setattr(http, "time", fast_time)


@pytest.mark.parametrize("failure, error", [
    (dict(status=501), "answered 501"),  # a server error
    (dict(status=0, n=10), "could not reach"),  # the connection drops on every try
    (dict(status=0, n=10, path_contains="/preupload/"), "could not reach"),  # ... before the commit
])
def test_a_push_that_fails_halfway_leaves_everything_as_it_was_and_says_so(
        fake_hub, trained_run, hub_repo_id, tmp_path, caplog, no_retry_sleep, failure, error):
    from huggingface_hub import constants

    token = fake_hub.token
    hub.push(trained_run, hub_repo_id, token=token, measure_quality=False)
    remote_before, local_before = fake_hub.files(hub_repo_id), folder_digest(trained_run)
    commits_before = fake_hub.commits(hub_repo_id)

    caplog.set_level(logging.DEBUG)
    fake_hub.clear_requests()
    fake_hub.fail_next(failure.get("n", 1), method="POST", path_contains=failure.get("path_contains", "/commit/"),
                       status=failure["status"])
    with pytest.raises(hub.HubError) as failed:
        hub.push(trained_run, hub_repo_id, token=token, commit_message="second push", measure_quality=False,
                 license="mit")  # a new card: something to commit
    message = str(failed.value)
    assert error in message and f"the generator in {trained_run} is unchanged" in message
    assert folder_digest(trained_run) == local_before  # the local run, byte for byte
    assert fake_hub.files(hub_repo_id) == remote_before and fake_hub.commits(hub_repo_id) == commits_before
    assert load_generator(trained_run) is not None

    # The token is in no error (traceback included), log line, URL or file.
    shown = "".join(traceback.format_exception(failed.value))
    assert token not in shown and token not in caplog.text
    assert all(token not in r.path for r in fake_hub.requests)
    for path in [*Path(constants.HF_HOME).rglob("*"), *tmp_path.rglob("*"), *trained_run.rglob("*")]:
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    # ... and the next push goes through.
    hub.push(trained_run, hub_repo_id, token=token, commit_message="third push", measure_quality=False,
             license="mit")
    assert len(fake_hub.commits(hub_repo_id)) == len(commits_before) + 1


def test_a_pull_that_fails_halfway_leaves_no_half_generator(fake_hub, pushed, tmp_path, no_retry_sleep):
    repo_id, _ = pushed
    fake_hub.fail_next(100, method="GET", path_contains=WEIGHTS_NAME, status=0)  # the weights never arrive
    try:
        with pytest.raises(hub.HubUnreachableError, match="could not reach"):
            hub.download(repo_id, local_dir=tmp_path / "pulled")
    finally:
        fake_hub.clear_failures()
    assert not list((tmp_path / "pulled").rglob(WEIGHTS_NAME))  # no half-written weights pass for a generator
    with pytest.raises(ModelLoadError):
        load_generator(tmp_path / "pulled")
    folder = hub.download(repo_id, local_dir=tmp_path / "pulled")  # trying again completes it
    assert (folder / WEIGHTS_NAME).read_bytes() == fake_hub.files(repo_id)[WEIGHTS_NAME]
    assert load_generator(folder) is not None


# ---------------------------------------------------------------------------
# Repo ids and file names

HOSTILE_REPO_IDS = [
    "", " ", "no-slash", "a/b/c", "../etc", "alice/..", "alice/../bob", "../../etc/passwd", "/abs/path", "alice/",
    "/alice", "alice//x", "alice/x/", "alice\\x", "alice/x\\..\\y", "alice/x y", "alice/x\ty", "alice/x\x00y",
    "alice/x?rev=1", "alice/x#frag", "alice/%2e%2e", "alice/x;rm -rf", "alice/$(whoami)", "alice/`id`",
    "https://huggingface.co/alice/x", "alice/x--..y", "alice/-x", "alice/x.", "-alice/x", ".alice/x", "alicé/x",
    "alice/ｘ", "ａlice/x", "alice/" + "x" * 97, "a" * 97 + "/x", "alice/x\ny", "alice/.git", "alice/x.git/..",
    "~alice/x", "alice/*", "alice/[x]", "alice/x|y",
]


@pytest.mark.parametrize("repo_id", HOSTILE_REPO_IDS, ids=range(len(HOSTILE_REPO_IDS)))
def test_hostile_repo_ids_are_refused_before_any_request(fake_hub, trained_run, repo_id):
    from gan_space import GANPipeline

    fake_hub.clear_requests()
    for call in (lambda: hub.pull(repo_id), lambda: hub.download(repo_id, local_files_only=True),
                 lambda: hub.push(trained_run, repo_id, token=fake_hub.token, measure_quality=False)):
        with pytest.raises(hub.InvalidRepoIdError, match="is not a Hugging Face repo id"):
            call()
    with pytest.raises((hub.HubError, ModelLoadError)):  # ("" names the current folder: no generator there)
        GANPipeline.from_pretrained(repo_id, token=False)
    assert fake_hub.requests == []


def test_only_the_expected_file_names_are_ever_fetched(fake_hub, hub_repo_id, tmp_path):
    odd_names = ["config.json.bin", "sub/config.json", "generator/config.json.pkl", WEIGHTS_NAME + ".pkl",
                 "x/" + WEIGHTS_NAME, "README.md.exe", ".hidden/config.json", "discriminator/evil.bin",
                 "discriminator/sub/" + WEIGHTS_NAME]
    fake_hub.add_files(hub_repo_id, {**generator_files(), **{name: b"not for you" for name in odd_names}})
    fake_hub.clear_requests()
    folder = hub.download(hub_repo_id, local_dir=tmp_path / "pulled")
    fetched = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                     if p.is_file() and ".cache" not in p.parts)
    assert fetched == ["config.json", WEIGHTS_NAME]
    assert not any(name in path for path in resolved(fake_hub) for name in odd_names)
    assert os.path.commonpath([folder.resolve(), (tmp_path / "pulled").resolve()]) == str(
        (tmp_path / "pulled").resolve())
