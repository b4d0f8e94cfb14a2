"""The app as a Hugging Face Space starts it: `python app.py` with the variables a Space
with `hf_oauth: true` sets, the OpenID provider played by a loopback server. The page
offers "Sign in with Hugging Face", and signing in sends the browser to the provider's
authorize endpoint with the Space's client id (authlib, from `gradio[oauth]`, must be
installed: without it the app does not start on a Space), asking for exactly the scopes
of the README's front matter, one of which lets the visitor's token create and write repos.
A push refused for want of that right (401/403 from the loopback Hub) says which scope or
token type is missing."""

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import yaml

from app_fixtures import free_port
from gan_space import hub
from gan_space.hub.errors import REPO_WRITE_SCOPES
from test_hub import trained_run  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parent.parent
ALWAYS_GRANTED = ("openid", "profile")  # a Space's sign-in always asks for these (hub-docs: spaces-oauth)


def front_matter() -> dict:
    """The README's YAML front matter: the Space's configuration."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "README.md has no front matter"
    return yaml.safe_load(text.split("---\n", 2)[1])


def space_oauth_scopes() -> str:
    """OAUTH_SCOPES as a Space builds it from the front matter: openid, profile and hf_oauth_scopes."""
    return " ".join([*ALWAYS_GRANTED, *front_matter().get("hf_oauth_scopes", [])])


def test_the_front_matter_asks_for_the_least_scope_that_creates_and_writes_repos():
    config = front_matter()
    assert config["hf_oauth"] is True
    # contribute-repos: create repos and write those this app created, nothing else (write-repos and
    # manage-repos would reach every repo of the visitor's).
    assert config["hf_oauth_scopes"] == ["contribute-repos"]
    assert set(config["hf_oauth_scopes"]) & set(REPO_WRITE_SCOPES)


class OpenIDProvider(BaseHTTPRequestHandler):
    """Just the discovery document: the login step reads it to find where to send the user."""

    def do_GET(self):
        base = f"http://127.0.0.1:{self.server.server_port}"
        if self.path != "/.well-known/openid-configuration":
            self.send_error(404)
            return
        body = json.dumps({
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "userinfo_endpoint": f"{base}/oauth/userinfo",
            "jwks_uri": f"{base}/oauth/jwks",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_app_starts_as_a_space_with_sign_in(tmp_path):
    provider = ThreadingHTTPServer(("127.0.0.1", 0), OpenIDProvider)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
        "GAN_SPACE_RUNS": str(tmp_path / "runs"), "HF_HOME": str(tmp_path / "hf-home"),
        "SYSTEM": "spaces", "SPACE_ID": "someone/gan_space", "SPACE_HOST": f"127.0.0.1:{port}",
        "OAUTH_CLIENT_ID": "client-1234", "OAUTH_CLIENT_SECRET": "not-a-real-secret",
        "OAUTH_SCOPES": space_oauth_scopes(), "CPU_CORES": "2", "MEMORY": "16Gi",
        "OPENID_PROVIDER_URL": f"http://127.0.0.1:{provider.server_port}",
    }
    env.pop("HF_TOKEN", None)
    app = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert app.poll() is None, f"the app exited:\n{app.stdout.read()}"
            try:
                if httpx.get(f"{base}/config", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the app did not start within 120 s"
            time.sleep(0.5)

        config = httpx.get(f"{base}/config", timeout=10).json()
        buttons = [c for c in config["components"] if c.get("type") == "button"]
        assert any("Sign in" in str(c.get("props", {}).get("value")) for c in buttons), \
            "no Sign-in button on the Space"
        # The page says where it runs, and a visitor of the shared Space how to get their own copy.
        note = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "hosting-note")
        assert "Running on a CPU Space (someone/gan_space, 2 vCPU, 16Gi)" in note["props"]["value"]
        assert "https://huggingface.co/spaces/someone/gan_space?duplicate=true" in note["props"]["value"]

        login = httpx.get(f"{base}/login/huggingface", follow_redirects=False, timeout=10)
        assert login.status_code in (302, 307), login.text
        target = urlparse(login.headers["location"])
        assert f"{target.scheme}://{target.netloc}{target.path}" == \
            f"http://127.0.0.1:{provider.server_port}/oauth/authorize"
        query = parse_qs(target.query)
        assert query["client_id"] == ["client-1234"]
        # Exactly what the front matter asks for: no scope more (least privilege), none less (the push).
        assert sorted(query["scope"][0].split()) == sorted([*ALWAYS_GRANTED, *front_matter()["hf_oauth_scopes"]])
        assert urlparse(query["redirect_uri"][0]).path == "/login/callback"  # back to this Space
        assert "not-a-real-secret" not in login.headers["location"]
    finally:
        app.terminate()
        try:
            app.wait(30)
        except subprocess.TimeoutExpired:
            app.kill()
        provider.shutdown()


@pytest.fixture
def refused_create(fake_hub):
    """The loopback Hub answers the next repo creation 403, as the Hub does for a token without the right."""
    fake_hub.fail_next(1, method="POST", path_contains="/api/repos/create", status=403)
    yield
    fake_hub.clear_failures()


def test_a_push_with_a_sign_in_that_cannot_write_names_the_missing_scope(fake_hub, trained_run, hub_repo_id,
                                                                        refused_create, monkeypatch):
    monkeypatch.setenv("OAUTH_CLIENT_ID", "client-1234")
    monkeypatch.setenv("OAUTH_SCOPES", "openid profile")  # hf_oauth: true without hf_oauth_scopes
    with pytest.raises(hub.HubAuthError) as refused:
        hub.push(trained_run, hub_repo_id, token=fake_hub.token, measure_quality=False)
    message = str(refused.value)
    assert "403" in message and "cannot create or write repos" in message
    assert "only for 'openid profile'" in message and "hf_oauth_scopes: [contribute-repos]" in message
    assert "of type 'Write'" in message and fake_hub.token not in message
    assert not fake_hub.repo_exists(hub_repo_id)


def test_a_push_refused_despite_the_scope_says_what_contribute_repos_allows(fake_hub, trained_run, hub_repo_id,
                                                                           refused_create, monkeypatch):
    monkeypatch.setenv("OAUTH_CLIENT_ID", "client-1234")
    monkeypatch.setenv("OAUTH_SCOPES", space_oauth_scopes())
    with pytest.raises(hub.HubAuthError) as refused:
        hub.push(trained_run, hub_repo_id, token=fake_hub.token, measure_quality=False)
    message = str(refused.value)
    assert "403" in message and "only repos this Space created: pick a new repo name" in message
    assert "only for" not in message and fake_hub.token not in message


def test_a_push_off_a_space_with_a_read_token_asks_for_a_write_token(fake_hub, trained_run, hub_repo_id,
                                                                     refused_create, monkeypatch):
    monkeypatch.delenv("OAUTH_CLIENT_ID", raising=False)
    monkeypatch.delenv("OAUTH_SCOPES", raising=False)
    with pytest.raises(hub.HubAuthError, match=r"403.*of type 'Write'") as refused:
        hub.push(trained_run, hub_repo_id, token=fake_hub.token, measure_quality=False)
    assert fake_hub.token not in str(refused.value)
