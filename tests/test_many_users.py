"""Many users (issue 7, part 4), each a gradio_client session of the served app: two train
and five generate at once. Training queues on the device, generation answers meanwhile, and
no session sees, samples, resumes, overwrites or stops another session's run or data."""

import re
import zipfile

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status
from PIL import Image

from test_app_api import steps_seen, wait_until

UPLOAD = "upload images or a .zip"


def run_name_of(job) -> str:
    """The run name the app gave a run (its stream fills the Run name box)."""
    names = [output[4] for output in job.outputs() if isinstance(output[4], str) and output[4]]
    assert names, "no run name streamed yet"
    return names[-1]


def model_keys(client) -> set[str]:
    return {model["key"] for model in client.predict(api_name="/models")}


def test_two_train_five_generate_and_nobody_sees_another_users_runs(app_server, client_factory, tmp_path):
    alice, bob = client_factory(), client_factory()
    others = [client_factory() for _ in range(5)]

    # Alice trains on her own pictures; Bob's run waits for the device.
    archive = tmp_path / "alice-private.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for index in range(6):
            picture = Image.new("RGB", (16, 16), (40 * index, 200, 90))
            with handle.open(f"{index}.png", "w") as member:
                picture.save(member, format="PNG")
    alice_job = alice.submit(dataset=UPLOAD, upload=[handle_file(str(archive))], steps=100_000, batch_size=4,
                             resolution=8, api_name="/train")
    wait_until(lambda: steps_seen(alice_job), what="Alice's run to train")
    bob_job = bob.submit(dataset="ring8", steps=100_000, batch_size=64, api_name="/train")
    wait_until(lambda: bob_job.status().code == Status.IN_QUEUE, what="Bob's run to queue for the device")

    # Five users generate at once, all answered while Alice trains and Bob waits.
    generating = [client.submit(model="shipped/digits", seed=index, count=16, api_name="/generate")
                  for index, client in enumerate(others)]
    grids = [job.result(timeout=180)[0] for job in generating]
    pictures = [Image.open(grid).tobytes() for grid in grids]
    assert len(set(pictures)) == 5  # five seeds, five different grids, each to its own user
    assert not alice_job.done() and bob_job.status().code == Status.IN_QUEUE and not steps_seen(bob_job)

    # The names the app chose cannot be guessed (nor tell how many runs there are).
    alice_run = run_name_of(alice_job)
    assert re.fullmatch(r"upload-[0-9a-f]{8}", alice_run), alice_run

    # A stranger's Stop stops nothing of Alice's. Alice's Stop starts Bob's run.
    stranger = others[0]
    assert "Nothing is training in this session" in stranger.predict(api_name="/stop")
    alice.predict(api_name="/stop")
    wait_until(alice_job.done, what="Alice's run to stop")
    assert "stopped at step" in alice_job.outputs()[-1][3]
    wait_until(lambda: steps_seen(bob_job), what="Bob's run to start once the device is free")
    bob.predict(api_name="/stop")
    wait_until(bob_job.done, what="Bob's run to stop")
    bob_run = run_name_of(bob_job)
    assert re.fullmatch(r"ring8-[0-9a-f]{8}", bob_run) and bob_run != alice_run

    # Each sees, and samples, their own run only; nobody else can see, sample, resume or take it over.
    assert f"runs/{alice_run}" in model_keys(alice) and f"runs/{bob_run}" not in model_keys(alice)
    assert f"runs/{bob_run}" in model_keys(bob) and f"runs/{alice_run}" not in model_keys(bob)
    for client in others:  # (runs made outside the app, e.g. by other test modules, have no owner: everyone's)
        listed = [key for key in model_keys(client) if key.startswith("runs/")]
        assert not any((app_server.run_dir(key.split("/", 1)[1]) / ".owner").exists() for key in listed), listed
    image, _ = bob.predict(model=f"runs/{bob_run}", count=2, api_name="/generate")
    assert Image.open(image).size[0] > 0
    with pytest.raises(AppError) as refused:
        stranger.predict(model=f"runs/{alice_run}", count=4, api_name="/generate")
    assert f"no generator 'runs/{alice_run}'" in str(refused.value)
    offered = re.findall(r"runs/([\w.-]+)", str(refused.value).split("choose one of", 1)[1])
    assert not any((app_server.run_dir(run) / ".owner").exists() for run in offered), offered  # no one's own runs
    with pytest.raises(AppError, match=f"no run named '{alice_run}' with a checkpoint"):
        stranger.predict(run_name=alice_run, steps=10, api_name="/resume")
    with pytest.raises(AppError, match=f"no run named '{bob_run}'"):
        alice.predict(run_name=bob_run, steps=10, api_name="/resume")
    with pytest.raises(AppError, match="is taken: choose another run name"):
        stranger.predict(dataset="digits", run_name=alice_run, steps=2, api_name="/train")
    assert (app_server.run_dir(alice_run) / "data" / "images.zip").read_bytes() == archive.read_bytes()

    # Who owns a run is written as a hash: no session id lands on disk.
    for client, run in ((alice, alice_run), (bob, bob_run)):
        owner = (app_server.run_dir(run) / ".owner").read_text()
        assert re.fullmatch(r"[0-9a-f]{64}", owner) and client.session_hash not in owner


def test_private_runs_in_a_shared_app_and_every_run_for_one_user(tmp_path):
    """Served to a network (a Space), a session lists only its own runs and those made outside the
    app (no owner file); served on loopback for one person (`python app.py`), every run."""
    from gan_space.ui.common import AppContext
    from gan_space.ui.models import AppPaths, find_generator, list_generators, owner_id
    from test_ui_parts import REPO, _fake_run

    paths = AppPaths.create(tmp_path / "checkpoints", tmp_path / "runs", tmp_path / "sessions")
    for name in ("alices", "bobs", "from-the-cli"):
        _fake_run(paths.runs_dir / name, [10], "step-0000010", REPO / "checkpoints" / "digits")
    (paths.runs_dir / "alices" / ".owner").write_text(owner_id("alice-session"))
    (paths.runs_dir / "bobs" / ".owner").write_text(owner_id("bob-session"))

    def runs(owner):
        return [entry.key for entry in list_generators(paths, owner) if entry.source == "trained"]

    assert runs(owner_id("alice-session")) == ["runs/alices", "runs/from-the-cli"]
    assert runs(owner_id("bob-session")) == ["runs/bobs", "runs/from-the-cli"]
    assert runs(None) == ["runs/alices", "runs/bobs", "runs/from-the-cli"]
    with pytest.raises(ValueError, match="no generator 'runs/alices'") as refused:
        find_generator(paths, "runs/alices", owner_id("bob-session"))
    assert "alices" not in str(refused.value).split("choose one of")[1]
    assert AppContext(paths=paths, private_runs=False).owner(None) is None
    assert AppContext(paths=paths).owner(None) == owner_id("anonymous")


def test_visitors_of_a_shared_app_never_get_the_servers_token(fake_hub, app_server, client_factory, monkeypatch,
                                                               tmp_path):
    """A Space owner's HF_TOKEN (set for their own use) must not let visitors read the owner's
    private datasets and models, nor push in their name; a visitor's own token works for them
    alone and is kept nowhere."""
    import io
    import uuid

    from test_hub_safety import generator_files

    picture = io.BytesIO()
    Image.new("L", (8, 8), 200).save(picture, format="PNG")
    secret_data = f"{fake_hub.user}/private-images-{uuid.uuid4().hex[:6]}"
    secret_model = f"{fake_hub.user}/private-gan-{uuid.uuid4().hex[:6]}"
    fake_hub.add_files(secret_data, {f"{i}.png": picture.getvalue() for i in range(4)}, private=True,
                       repo_type="dataset")
    fake_hub.add_files(secret_model, generator_files(), private=True)
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)  # the server's own token
    visitor, other = client_factory(), client_factory()
    fake_hub.clear_requests()

    with pytest.raises(AppError, match=f"no dataset '{secret_data}'.*or it is private"):
        visitor.predict(dataset="Hugging Face dataset", hf_dataset=secret_data, steps=2, api_name="/train")
    with pytest.raises(AppError, match=f"no model repository {secret_model}"):
        visitor.predict(secret_model, "", "", api_name="/pull")
    with pytest.raises(AppError, match="pushing needs a Hugging Face token"):
        visitor.predict("shipped/digits", f"{fake_hub.user}/vandalised", False, "", api_name="/push")
    assert fake_hub.requests and not any("authorization" in r.headers for r in fake_hub.requests)
    assert not fake_hub.repo_exists(f"{fake_hub.user}/vandalised")

    # With their own token a visitor pulls the private model: for their session only.
    status, _ = visitor.predict(secret_model, "", fake_hub.token, api_name="/pull")
    key = "hub/" + secret_model.replace("/", "--")
    assert key in status and key in model_keys(visitor) and key not in model_keys(other)
    with pytest.raises(AppError, match="no generator"):
        other.predict(model=key, count=2, api_name="/generate")
    token_bytes = fake_hub.token.encode()
    for path in app_server.runs_dir.parent.rglob("*"):
        if path.is_file() and not path.is_relative_to(tmp_path):
            assert token_bytes not in path.read_bytes(), path
