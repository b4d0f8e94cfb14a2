"""gan_space.hub and GANPipeline against the loopback Hub (tests/hub_server.py) with the real
huggingface_hub client: push then pull round trips, the model card, tokens, and one clear
error per failure."""

import json
import logging
import socket
import threading
import uuid
from pathlib import Path

import pytest
import torch
import yaml

from gan_space import hub
from gan_space.hub import pushing
from gan_space.checkpoints import WEIGHTS_NAME, load_generator
from gan_space.sampling import generate

PICKLE_BYTES = b"\x80\x04\x95not-a-real-pickle"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A real (tiny) training run on the built-in digits: run folder with a checkpoint."""
    from gan_space.training import TrainConfig, Trainer

    out_dir = tmp_path_factory.mktemp("runs") / "digits"
    config = TrainConfig.for_dataset("digits", out_dir=str(out_dir), steps=4, batch_size=16, width=32,
                                     num_preview=16, log_every=2, sample_every=4, checkpoint_every=4)
    for _ in Trainer(config).run():
        pass
    return out_dir


@pytest.fixture(scope="module")
def pushed(fake_hub, trained_run):
    """The trained run pushed once (with its discriminator and quality metrics), to a repo of its
    own: the loopback Hub is shared by the session, and test_hub_safety uses this fixture too."""
    repo_id = f"{fake_hub.user}/digits-gan-{uuid.uuid4().hex[:8]}"
    url = hub.push(trained_run, repo_id, token=fake_hub.token, include_discriminator=True)
    return repo_id, url


def _state_dict(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def _resolve_paths(fake_hub):
    return [r.path for r in fake_hub.requests if "/resolve/" in r.path]


def _seed_generator_repo(fake_hub, repo_id, weights_name, weights, config=None, private=False):
    from gan_space.models import DCGANGenerator

    config = config or {**DCGANGenerator(resolution=8, channels=1, width=8, latent_dim=4).config,
                        "_class_name": "DCGANGenerator"}
    fake_hub.add_files(repo_id, {"config.json": json.dumps(dict(config)).encode(), weights_name: weights},
                       private=private)


# ---------------------------------------------------------------------------
# Push, pull, round trips


def test_push_then_pull_gives_identical_tensors_and_samples(fake_hub, pushed, trained_run, tmp_path):
    repo_id, url = pushed
    assert url.rstrip("/").endswith(repo_id)
    files = fake_hub.files(repo_id)
    assert {"config.json", WEIGHTS_NAME, "README.md", "sample_grid.png", "summary.json",
            "discriminator/config.json", f"discriminator/{WEIGHTS_NAME}"} <= set(files)

    original = load_generator(trained_run)
    pulled = hub.pull(repo_id)
    assert type(pulled) is type(original) and not pulled.training
    original_state, pulled_state = _state_dict(original), _state_dict(pulled)
    assert original_state.keys() == pulled_state.keys()
    for name in original_state:
        assert torch.equal(original_state[name], pulled_state[name]), name
    assert torch.equal(generate(original, 8, seed=5), generate(pulled, 8, seed=5))

    # The pulled folder has what was pushed, minus nothing that matters, plus no pickle.
    folder = hub.download(repo_id, local_dir=tmp_path / "pulled")
    weights = (folder / WEIGHTS_NAME).read_bytes()
    assert weights == files[WEIGHTS_NAME]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["step"] == 4 and summary["train_config"]["steps"] == 4 and summary["weights"] == "ema"
    assert (folder / "discriminator" / WEIGHTS_NAME).read_bytes() == files[f"discriminator/{WEIGHTS_NAME}"]


def test_pushing_raw_weights_and_dropping_the_discriminator(fake_hub, trained_run, hub_repo_id):
    hub.push(trained_run, hub_repo_id, token=fake_hub.token, include_discriminator=True, measure_quality=False)
    assert f"discriminator/{WEIGHTS_NAME}" in fake_hub.files(hub_repo_id)
    hub.push(trained_run, hub_repo_id, token=fake_hub.token, ema=False, measure_quality=False)

    files = fake_hub.files(hub_repo_id)
    checkpoint = next((trained_run / "checkpoints").glob("step-*"))
    assert files[WEIGHTS_NAME] == (checkpoint / "generator_raw" / WEIGHTS_NAME).read_bytes()
    assert files[WEIGHTS_NAME] != (checkpoint / "generator" / WEIGHTS_NAME).read_bytes()  # EMA differs
    assert not any(path.startswith("discriminator/") for path in files)  # a stale D would not match
    assert "not averaged" in files["README.md"].decode()
    assert len(fake_hub.commits(hub_repo_id)) == 3  # initial + two pushes


def test_a_pulled_or_shipped_generator_pushes_again_with_its_summary(fake_hub, pushed, hub_repo_id,
                                                                     tmp_path):
    repo_id, _ = pushed
    folder = hub.download(repo_id, local_dir=tmp_path / "pulled")
    summary = json.loads((folder / "summary.json").read_text())
    summary["command"] = "python -m gan_space train --out /home/someone/runs/x"  # as shipped generators have
    (folder / "summary.json").write_text(json.dumps(summary))

    hub.push(folder, hub_repo_id, token=fake_hub.token)
    files = fake_hub.files(hub_repo_id)
    assert files[WEIGHTS_NAME] == fake_hub.files(repo_id)[WEIGHTS_NAME]
    again = json.loads(files["summary.json"])
    assert again["step"] == 4 and again["train_config"] == summary["train_config"] and "command" not in again
    assert "4 of 4" in files["README.md"].decode() and "/home/someone" not in files["README.md"].decode()


def test_private_push_needs_the_token_to_pull(fake_hub, trained_run, hub_repo_id):
    hub.push(trained_run, hub_repo_id, token=fake_hub.token, private=True, measure_quality=False)
    with pytest.raises(hub.HubRepoNotFoundError, match="private: sign in or give a token"):
        hub.pull(hub_repo_id)
    assert hub.pull(hub_repo_id, token=fake_hub.token) is not None


def test_push_can_make_an_existing_public_repo_private(fake_hub, trained_run, hub_repo_id):
    hub.push(trained_run, hub_repo_id, token=fake_hub.token, measure_quality=False)
    hub.pull(hub_repo_id)  # public: anonymous pull works
    hub.push(trained_run, hub_repo_id, token=fake_hub.token, private=True, measure_quality=False)
    with pytest.raises(hub.HubRepoNotFoundError):
        hub.pull(hub_repo_id)


def test_pull_an_older_revision(fake_hub, trained_run, hub_repo_id):
    hub.push(trained_run, hub_repo_id, token=fake_hub.token, measure_quality=False)
    first_commit = fake_hub.commits(hub_repo_id)[0]
    hub.push(trained_run, hub_repo_id, token=fake_hub.token, ema=False, measure_quality=False)

    older, newer = hub.pull(hub_repo_id, revision=first_commit), hub.pull(hub_repo_id)
    assert not torch.equal(generate(older, 4, seed=0), generate(newer, 4, seed=0))
    assert torch.equal(generate(older, 4, seed=0), generate(load_generator(trained_run), 4, seed=0))


def test_gan_pipeline_from_a_hub_repo_id(pushed, tmp_path):
    from diffusers import ImagePipelineOutput

    from gan_space import GANPipeline, MLPGenerator

    repo_id, _ = pushed
    pipe = GANPipeline.from_pretrained(repo_id)
    output = pipe(batch_size=4, seed=0)
    assert isinstance(output, ImagePipelineOutput)
    assert len(output.images) == 4 and output.images[0].size == (8, 8) and output.images[0].mode == "L"

    # The same samples gan_space.generate gives for the same seed.
    expected = (generate(hub.pull(repo_id), 4, seed=0) / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    assert (pipe(batch_size=4, seed=0, output_type="np").images == expected).all()
    rng_a, rng_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(pipe(batch_size=2, generator=rng_a, output_type="pt").images,
                       pipe(batch_size=2, generator=rng_b, output_type="pt").images)

    # The generator alone loads with diffusers' own from_pretrained, and a saved pipeline comes back.
    assert isinstance(MLPGenerator.from_pretrained(repo_id, use_safetensors=True), MLPGenerator)
    pipe.save_pretrained(tmp_path / "saved")
    again = GANPipeline.from_pretrained(tmp_path / "saved")
    assert (again(batch_size=4, seed=0, output_type="np").images == expected).all()
    with pytest.raises(ValueError, match="safetensors only"):
        GANPipeline.from_pretrained(repo_id, use_safetensors=False)


def test_repo_in_the_pipeline_layout_pulls_too(fake_hub, pushed, hub_repo_id, tmp_path):
    """GANPipeline.save_pretrained writes model_index.json + generator/: pull and the pipeline read it."""
    from gan_space import GANPipeline

    repo_id, _ = pushed
    GANPipeline.from_pretrained(repo_id).save_pretrained(tmp_path / "saved")
    fake_hub.add_files(hub_repo_id, {p.relative_to(tmp_path / "saved").as_posix(): p.read_bytes()
                                     for p in (tmp_path / "saved").rglob("*") if p.is_file()})
    assert "generator/config.json" in fake_hub.files(hub_repo_id)
    samples = generate(hub.pull(hub_repo_id), 4, seed=0)
    assert torch.equal(samples, generate(hub.pull(repo_id), 4, seed=0))
    assert GANPipeline.from_pretrained(hub_repo_id)(batch_size=2, seed=0).images[0].size == (8, 8)


# ---------------------------------------------------------------------------
# The model card


def test_model_card_front_matter_and_content(fake_hub, pushed):
    from huggingface_hub import ModelCard

    repo_id, _ = pushed
    text = fake_hub.files(repo_id)["README.md"].decode()
    assert text.startswith("---\n")
    front_matter, body = text[4:].split("\n---\n", 1)
    metadata = yaml.safe_load(front_matter)
    assert metadata["library_name"] == "diffusers"
    assert {"gan", "unconditional-image-generation"} <= set(metadata["tags"])
    assert metadata["pipeline_tag"] == "unconditional-image-generation"
    assert metadata["license"] == "apache-2.0"
    assert "datasets" not in metadata  # the built-in digits are no Hub dataset
    assert ModelCard(text).data.to_dict()["library_name"] == "diffusers"  # huggingface_hub reads it too

    assert f'GANPipeline.from_pretrained("{repo_id}")' in body
    assert f"python -m gan_space generate --model {repo_id}" in body
    assert "![" in body and "(sample_grid.png)" in body
    assert "4 of 4" in body  # steps
    assert "r1_gamma=1.0" in body  # settings
    assert "Fréchet distance" in body and "classes covered" in body  # quality metrics
    assert "discriminator/" in body
    record = json.loads(fake_hub.files(repo_id)["summary.json"])
    assert 0 <= record["quality"]["classes_covered"] <= 10
    assert "out_dir" not in record["train_config"]  # no local paths in public files

    from PIL import Image
    import io

    grid = Image.open(io.BytesIO(fake_hub.files(repo_id)["sample_grid.png"]))
    assert grid.size == (8 * 64, 8 * 64)  # 64 samples of 8x8, each enlarged to 64 px


def test_card_names_hub_datasets_and_hides_local_paths(tmp_path):
    from gan_space.models import DCGANGenerator

    generator = DCGANGenerator(resolution=16, channels=3, width=8, latent_dim=8, num_classes=2)
    record = {"train_config": {"dataset": "someone/faces", "steps": 10}, "summary": {"step": 10, "total_steps": 10}}
    metadata = yaml.safe_load(hub.model_card("alice/faces", generator, record).split("---\n")[1])
    assert metadata["datasets"] == ["someone/faces"]
    assert "class-conditional" in metadata["tags"] and "dcgan" in metadata["tags"]

    local = tmp_path / "secret-user" / "photos"
    local.mkdir(parents=True)
    assert hub.hub_dataset_id(str(local)) is None
    assert hub.public_dataset_name(str(local)) == "photos"
    assert hub.public_dataset_name("someone/faces") == "someone/faces"


# ---------------------------------------------------------------------------
# Tokens


def test_token_is_in_no_uploaded_file_no_log_line_and_no_url(fake_hub, trained_run, hub_repo_id, tmp_path,
                                                             caplog):
    import os

    from huggingface_hub import constants

    caplog.set_level(logging.DEBUG)
    for name in ("huggingface_hub", "gan_space", "diffusers", "httpx2", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    token = fake_hub.token
    fake_hub.clear_requests()
    hub.push(trained_run, hub_repo_id, token=token, private=True, measure_quality=False)
    folder = hub.download(hub_repo_id, token=token, local_dir=tmp_path / "pulled")

    # The token was really used, per call, as a bearer header (so the checks below can fail).
    commits = [r for r in fake_hub.requests if "/commit/" in r.path]
    assert commits and all(r.headers.get("authorization") == f"Bearer {token}" for r in commits)

    assert caplog.records  # debug logging was on
    assert token not in caplog.text
    assert all(token not in r.path for r in fake_hub.requests)
    for path, data in fake_hub.files(hub_repo_id).items():
        assert token.encode() not in data, path
    # Nothing on disk either: the pulled folder, the Hugging Face home (cache, hf_xet's logs).
    written = [p for p in [*tmp_path.rglob("*"), *Path(constants.HF_HOME).rglob("*")] if p.is_file()]
    # hf_xet writes logs there in some runs and not in others: only the pulled files are required.
    assert any(p.is_relative_to(folder) for p in written)
    for path in written:
        assert token.encode() not in path.read_bytes(), path
    assert not os.path.exists(constants.HF_TOKEN_PATH)  # nothing like login() happened


def test_resolve_token_order(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    assert hub.resolve_token("hf_signed_in", "hf_typed") == "hf_signed_in"
    assert hub.resolve_token(None, "hf_typed") == "hf_env"
    monkeypatch.delenv("HF_TOKEN")
    assert hub.resolve_token(None, " hf_typed ") == "hf_typed"
    assert hub.resolve_token(None, "  ") is None


# ---------------------------------------------------------------------------
# One clear error per failure


def test_missing_repo_and_missing_revision(fake_hub, pushed):
    with pytest.raises(hub.HubRepoNotFoundError, match="no model repository alice/does-not-exist"):
        hub.pull("alice/does-not-exist")
    with pytest.raises(hub.HubRepoNotFoundError, match="token you gave cannot read it"):
        hub.pull("alice/does-not-exist", token=fake_hub.token)
    repo_id, _ = pushed
    with pytest.raises(hub.HubRevisionNotFoundError, match="no revision 'v9'"):
        hub.pull(repo_id, revision="v9")


def test_pickle_only_repo_is_refused_before_any_download(fake_hub, hub_repo_id):
    _seed_generator_repo(fake_hub, hub_repo_id, "diffusion_pytorch_model.bin", PICKLE_BYTES)
    fake_hub.clear_requests()
    with pytest.raises(hub.PickleOnlyError, match="pickled weights only .*diffusion_pytorch_model.bin"):
        hub.pull(hub_repo_id)
    assert _resolve_paths(fake_hub) == []  # not even config.json was fetched


def test_pickles_beside_safetensors_are_never_downloaded(fake_hub, pushed, tmp_path):
    repo_id, _ = pushed
    fake_hub.add_files(repo_id, {"diffusion_pytorch_model.bin": PICKLE_BYTES, "extra/model.pkl": PICKLE_BYTES,
                                 "optimizer.pt": PICKLE_BYTES})
    fake_hub.clear_requests()
    folder = hub.download(repo_id, local_dir=tmp_path / "pulled")
    assert not [p for p in folder.rglob("*") if p.suffix in (".bin", ".pkl", ".pt")]
    assert not [p for p in _resolve_paths(fake_hub) if p.endswith((".bin", ".pkl", ".pt"))]
    assert any(p.endswith(WEIGHTS_NAME) for p in _resolve_paths(fake_hub))


def test_repo_that_is_not_a_generator(fake_hub, hub_repo_id):
    fake_hub.add_file(hub_repo_id, "README.md", b"# just a card\n")
    with pytest.raises(hub.NotAGeneratorError, match="has no config.json"):
        hub.pull(hub_repo_id)

    unet_repo = hub_repo_id + "-unet"
    _seed_generator_repo(fake_hub, unet_repo, WEIGHTS_NAME, b"{}", config={"_class_name": "UNet2DModel"})
    with pytest.raises(hub.NotAGeneratorError, match="names 'UNet2DModel'"):
        hub.pull(unet_repo)


def test_invalid_repo_ids_fail_before_any_request(fake_hub, trained_run):
    fake_hub.clear_requests()
    for bad in ("no-slash", "a/b/c", "../etc", "", "alice/with space", "alice/x--..y"):
        with pytest.raises(hub.InvalidRepoIdError, match="not a Hugging Face repo id"):
            hub.pull(bad)
        with pytest.raises(hub.InvalidRepoIdError):
            hub.push(trained_run, bad, token=fake_hub.token, measure_quality=False)
    assert fake_hub.requests == []


def test_push_token_errors_never_echo_the_token(fake_hub, trained_run, hub_repo_id):
    with pytest.raises(hub.HubAuthError, match="needs a Hugging Face token"):
        hub.push(trained_run, hub_repo_id, token=None, measure_quality=False)

    bad_token = "hf_definitely_not_valid_123"
    with pytest.raises(hub.HubAuthError, match="401") as rejected:
        hub.push(trained_run, hub_repo_id, token=bad_token, measure_quality=False)
    assert bad_token not in str(rejected.value) and "Check the token" in str(rejected.value)

    with pytest.raises(hub.HubAuthError, match="403.*write access for 'bob'") as forbidden:
        hub.push(trained_run, "bob/not-yours", token=fake_hub.token, measure_quality=False)
    assert fake_hub.token not in str(forbidden.value)
    assert not fake_hub.repo_exists(hub_repo_id) and not fake_hub.repo_exists("bob/not-yours")


def test_failed_commit_is_a_clear_error(fake_hub, trained_run, hub_repo_id):
    fake_hub.fail_commits(1, status=501)
    with pytest.raises(hub.HubError, match="answered 501"):
        hub.push(trained_run, hub_repo_id, token=fake_hub.token, measure_quality=False)


def _closed_port_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


class _HangUpServer:
    """Accepts connections and closes them without an answer, counting them: a request that
    huggingface_hub retried would show up as several connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.connections = 0
        self.endpoint = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.recv(65536)
            conn.close()


def test_unreachable_hub_fails_at_once_with_a_clear_message(trained_run, tmp_path, monkeypatch):
    endpoint = _closed_port_endpoint()
    with pytest.raises(hub.HubUnreachableError, match="could not reach the Hugging Face Hub at " + endpoint):
        hub.pull("alice/anything", endpoint=endpoint)

    def no_staging(*args, **kwargs):
        raise AssertionError("push prepared its files (sample grid, metrics) before finding the Hub unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(pushing, "stage_repo_files", no_staging)
        with pytest.raises(hub.HubUnreachableError, match="Check the network connection"):
            hub.push(trained_run, "alice/anything", token="hf_test_token", endpoint=endpoint)

    server = _HangUpServer()
    try:
        with pytest.raises(hub.HubUnreachableError):
            hub.pull("alice/anything", endpoint=server.endpoint)
        with pytest.raises(hub.HubUnreachableError):
            hub.push(trained_run, "alice/anything", token="hf_test_token", endpoint=server.endpoint,
                     measure_quality=False)
        assert server.connections == 2  # one attempt each: no retries with back-off sleeps
    finally:
        server.sock.close()

    # Everything that needs no Hub keeps working.
    assert generate(load_generator(trained_run), 2, seed=0).shape == (2, 1, 8, 8)


def test_offline_mode_and_the_copy_pulled_earlier(fake_hub, pushed, monkeypatch):
    from huggingface_hub import constants

    repo_id, _ = pushed
    hub.pull(repo_id)  # now in the cache
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(hub.HubUnreachableError, match="HF_HUB_OFFLINE is set") as offline:
        hub.pull(repo_id)
    assert "A copy pulled earlier is in" in str(offline.value)
    folder = hub.download(repo_id, local_files_only=True)
    assert load_generator(folder) is not None
    with pytest.raises(hub.HubError, match="has not been pulled on this machine"):
        hub.download("alice/never-pulled", local_files_only=True)
    assert repo_id in {item["repo_id"] for item in hub.pulled_generators()}


def test_weights_that_do_not_fit_the_config(fake_hub, hub_repo_id):
    from safetensors.torch import save

    _seed_generator_repo(fake_hub, hub_repo_id, WEIGHTS_NAME, b"garbage" * 10)
    with pytest.raises(hub.NotAGeneratorError, match="damaged or does not match config.json"):
        hub.pull(hub_repo_id)
    _seed_generator_repo(fake_hub, hub_repo_id + "-x", WEIGHTS_NAME, save({"unrelated": torch.zeros(2)}))
    with pytest.raises(hub.NotAGeneratorError, match="no weights for"):
        hub.pull(hub_repo_id + "-x")
