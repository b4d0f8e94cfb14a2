"""The Hub tab through its API (/push, /pull) with gradio_client, against the loopback FakeHub."""

import uuid

import pytest
from gradio_client.exceptions import AppError


SHIPPED = "shipped/digits"


def test_push_pull_generate_round_trip(fake_hub, app_server, client_factory):
    client = client_factory()
    repo_id = f"{fake_hub.user}/app-{uuid.uuid4().hex[:8]}"
    fake_hub.clear_requests()

    url = client.predict(SHIPPED, repo_id, False, fake_hub.token, api_name="/push")
    assert repo_id in url and "](" in url  # a Markdown link to the repo
    assert "config.json" in fake_hub.files(repo_id)

    status, model_list = client.predict(repo_id, "", fake_hub.token, api_name="/pull")
    key = "hub/" + repo_id.replace("/", "--")
    assert key in status
    assert (app_server.runs_dir / "hub" / repo_id.replace("/", "--") / "config.json").is_file()
    assert key in [m["key"] for m in client.predict(api_name="/models")]

    shipped_grid, _ = client.predict(SHIPPED, 3, 16, 1.0, None, api_name="/generate")
    pulled_grid, _ = client.predict(key, 3, 16, 1.0, None, api_name="/generate")
    with open(shipped_grid, "rb") as a, open(pulled_grid, "rb") as b:
        assert a.read() == b.read()  # the same weights, the same seed: the same picture

    for request in fake_hub.requests:
        assert fake_hub.token not in request.path


def test_push_without_token_says_so(fake_hub, client_factory):
    client = client_factory()
    with pytest.raises(AppError, match="token"):
        client.predict(SHIPPED, f"{fake_hub.user}/app-{uuid.uuid4().hex[:8]}", False, "", api_name="/push")


def test_bad_repo_id_and_missing_repo(fake_hub, client_factory):
    client = client_factory()
    with pytest.raises(AppError, match="repo id"):
        client.predict("not a repo id", "", "", api_name="/pull")
    missing = f"{fake_hub.user}/missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(AppError, match=missing):
        client.predict(missing, "", fake_hub.token, api_name="/pull")
