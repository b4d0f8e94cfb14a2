"""The app as a Hugging Face Space starts it: `python app.py` with the variables a Space
with `hf_oauth: true` sets, the OpenID provider played by a loopback server. The page
offers "Sign in with Hugging Face", and signing in sends the browser to the provider's
authorize endpoint with the Space's client id (authlib, from `gradio[oauth]`, must be
installed: without it the app does not start on a Space)."""

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

from app_fixtures import free_port

REPO = Path(__file__).resolve().parent.parent


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
        "OAUTH_SCOPES": "openid profile write-repos",
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

        login = httpx.get(f"{base}/login/huggingface", follow_redirects=False, timeout=10)
        assert login.status_code in (302, 307), login.text
        target = urlparse(login.headers["location"])
        assert f"{target.scheme}://{target.netloc}{target.path}" == \
            f"http://127.0.0.1:{provider.server_port}/oauth/authorize"
        query = parse_qs(target.query)
        assert query["client_id"] == ["client-1234"] and "write-repos" in query["scope"][0]
        assert urlparse(query["redirect_uri"][0]).path == "/login/callback"  # back to this Space
        assert "not-a-real-secret" not in login.headers["location"]
    finally:
        app.terminate()
        try:
            app.wait(30)
        except subprocess.TimeoutExpired:
            app.kill()
        provider.shutdown()
