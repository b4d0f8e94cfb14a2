"""Fixtures for the app tests: the real app served on a free loopback port, a
gradio_client factory, and Debian's Chromium driven by Playwright.

tests/conftest.py registers this module once (`pytest_plugins`): a test names the fixtures it
needs and every module shares the one app, started once per test run. (Importing a fixture by
name into a module would give that module its own copy of the session fixture: its own app.)
Between modules no training is left running in the app (`app_left_idle`), so one module's
runs never queue another's.
"""

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class AppServer:
    url: str
    demo: object
    runs_dir: Path

    def run_dir(self, name: str) -> Path:
        return self.runs_dir / name


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The app over the repository's shipped checkpoints/ and a fresh runs/ folder."""
    assert os.environ.get("GRADIO_ANALYTICS_ENABLED") == "False"  # set by conftest.py: no calls home
    from gan_space.ui import build_demo, warm_up

    runs_dir = tmp_path_factory.mktemp("runs")
    demo = build_demo(checkpoints_dir=REPO / "checkpoints", runs_dir=runs_dir,
                      sessions_dir=tmp_path_factory.mktemp("sessions"),
                      live_preview_seconds=0.3)  # tests train for seconds: preview more often
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=True)
    warm_up(demo).join(timeout=120)
    global _started_app
    _started_app = demo
    try:
        yield AppServer(url=f"http://127.0.0.1:{port}/", demo=demo, runs_dir=runs_dir)
    finally:
        stop_trainings(demo)
        demo.close()
        _started_app = None


_started_app = None  # the app of `app_server`, once a test has started it


def stop_trainings(demo) -> None:
    """Stop every training still running in the app (each checkpoints, then ends)."""
    for job in demo.context.sessions.running_jobs():
        job.request_stop()
        job.wait(30)


@pytest.fixture(scope="module", autouse=True)
def app_left_idle():
    """After each module, no training runs on in the shared app: the app allows one at a time,
    and a run a module left going would queue the next module's."""
    yield
    if _started_app is not None:
        stop_trainings(_started_app)


@pytest.fixture
def client_factory(app_server, tmp_path):
    """New gradio_client sessions on the app (each Client is its own user session)."""
    from gradio_client import Client

    clients = []

    def make():
        client = Client(app_server.url, verbose=False, analytics_enabled=False,
                        download_files=str(tmp_path / f"downloads-{len(clients)}"))
        clients.append(client)
        return client

    yield make
    # Closed side by side: each close waits up to a second for the client's heartbeat thread
    # (blocked on its event stream), which one at a time was a second per user at teardown.
    closing = [threading.Thread(target=client.close) for client in clients]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join()


@pytest.fixture(scope="session")
def browser(shared_chromium):
    """Headless Debian Chromium: conftest.py's `shared_chromium` (two sync Playwright instances
    cannot run in one process)."""
    return shared_chromium


@pytest.fixture
def page_factory(browser):
    """New browser pages, each in its own context (its own Gradio session, like another
    user), that only talk to loopback."""
    contexts = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def make():
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            ("http://127.0.0.1", "data:", "blob:")) else route.abort())
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(page_factory):
    return page_factory()
