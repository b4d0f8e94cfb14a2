"""pytest fixtures that point the real ``huggingface_hub`` / ``diffusers`` at the in-process :class:`FakeHub`.

``tests/conftest.py`` registers this module once (``pytest_plugins``), so every test module
just names the fixtures; importing them by name into a module would give that module its own
copy of the session fixture (its own server)::

    def test_push(fake_hub, hub_repo_id):
        from huggingface_hub import HfApi          # import inside the test (see below)
        HfApi(token=fake_hub.token).create_repo(hub_repo_id)

``fake_hub`` (session scope) starts the server once and, for the whole session, sets

* ``HF_ENDPOINT=http://127.0.0.1:PORT``, ``HF_HOME=<tmp>``, ``HF_HUB_CACHE=<tmp>/hub``,
  ``HF_ASSETS_CACHE=<tmp>/assets``, ``HF_XET_CACHE=<tmp>/xet``, ``HF_HUB_DISABLE_TELEMETRY=1``, ``HF_HUB_DISABLE_UPDATE_CHECK=1``,
  ``NO_PROXY``/``no_proxy`` += ``127.0.0.1,localhost``;
* unsets ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``, ``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``, ``HF_TOKEN_PATH``,
  ``HUGGINGFACE_HUB_CACHE``, ``HUGGINGFACE_CO_STAGING`` (so no real token/cache of the machine leaks in).

It yields the :class:`FakeHub`; ``fake_hub.token`` is a valid write token (user ``fake_hub.user``, "alice").
No token is stored on disk, so calls without ``token=`` are anonymous. Repos persist for the session: use
unique repo ids (the ``hub_repo_id`` fixture gives ``alice/test-<random>``).

What we found about import order (huggingface_hub 2.4.0, diffusers 0.42.1)
---------------------------------------------------------------------------
``huggingface_hub.constants`` reads the environment ONCE, at import: ``ENDPOINT``, ``HUGGINGFACE_CO_URL_TEMPLATE``
(resolve URLs), ``HF_URL_HOSTS`` (hosts whose redirects keep the auth header), ``HF_HOME``, ``HF_HUB_CACHE``,
``HF_ASSETS_CACHE``, ``HF_TOKEN_PATH``/``HF_STORED_TOKENS_PATH``, ``HF_HUB_OFFLINE``,
``HF_HUB_DISABLE_TELEMETRY``. Library code reads them as ``constants.X`` at call time, EXCEPT:

* ``huggingface_hub.hf_api.api`` - the module-level ``HfApi()`` behind the top-level functions
  (``huggingface_hub.create_repo``, ``upload_folder``, ``model_info``, ... which ``diffusers.push_to_hub``
  uses) - copied ``constants.ENDPOINT`` into ``api.endpoint`` when it was created;
* ``HfApi()`` instances created before the patch keep their old ``.endpoint`` (create new ones after);
* diffusers copied ``HF_HUB_OFFLINE`` / ``HF_HUB_DISABLE_TELEMETRY`` by name into
  ``diffusers.utils.hub_utils`` (and ``HF_HUB_OFFLINE`` into ``diffusers.loaders.lora_base`` and
  ``diffusers.models.attention_dispatch``); ``diffusers.utils.constants.HUGGINGFACE_CO_RESOLVE_ENDPOINT`` is
  only used in error messages. ``hf_hub_download``/``snapshot_download`` default ``cache_dir`` to
  ``constants.HF_HUB_CACHE`` at call time, and tokens come from ``HF_TOKEN`` (read at call time) or
  ``constants.HF_TOKEN_PATH``.

Note that ``import huggingface_hub`` is lazy: ``huggingface_hub.constants`` / ``huggingface_hub.hf_api`` are only
imported (and read the environment) on first attribute access, e.g. ``from huggingface_hub import HfApi``;
``import diffusers`` already pulls in ``huggingface_hub.hf_api``.

So importing huggingface_hub/diffusers *after* the fixture has run is simplest (import inside the tests), but
the fixture also works when they were imported earlier in the same pytest process: it then monkeypatches the
constants above, ``huggingface_hub.hf_api.api.endpoint`` and the diffusers copies (and undoes all of it at the
end of the session). The HTTP client (``get_session()``, an httpx2 client with ``trust_env``) is shared and
needs no change; a pooled keep-alive connection to a stopped FakeHub is simply dropped.

Other things worth knowing (see ``tests/hub_server.py`` for the emulated protocol):

* ``hf_xet`` is installed, so ``upload_folder`` goes through ``huggingface_hub._upload_pipeline``: preupload +
  commit, with the commit sent via ``http_backoff`` => 408/429/500/502/503/504 are retried 5 times
  (1+2+4+8+8 s of sleep). ``upload_file``/``create_commit`` don't retry the commit. For fast failure tests use
  ``fake_hub.fail_commits(n, status=501)`` (or a 4xx) with ``upload_folder``.
* ``upload_folder`` also creates the process-wide ``hf_xet.XetSession`` (no network: the fake always answers
  ``uploadMode: "regular"``). It reads ``HF_HOME``/``HF_XET_CACHE`` and the telemetry env vars
  (``HF_HUB_DISABLE_TELEMETRY``) once, when first created, i.e. at the first ``upload_folder`` of the process.
* ``create_repo(..., exist_ok=True)`` that gets a 401/403 falls back to ``repo_info``: with no token on an
  existing public repo it "succeeds"; the upload that follows is what fails with 401.
"""

from __future__ import annotations

import os
import sys
import uuid

import pytest

from hub_server import FakeHub  # tests/ is on sys.path (pytest.ini)

__all__ = ["fake_hub", "hub_repo_id", "point_huggingface_hub_at"]

_UNSET = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
          "HUGGINGFACE_HUB_CACHE", "HUGGINGFACE_ASSETS_CACHE", "HUGGINGFACE_CO_STAGING", "HF_HUB_DISABLE_IMPLICIT_TOKEN")


def point_huggingface_hub_at(mp: pytest.MonkeyPatch, endpoint: str, hf_home: str) -> None:
    """Set the env vars and, for already-imported huggingface_hub/diffusers modules, patch their copies."""
    if "huggingface_hub" in sys.modules:
        # huggingface_hub loads its submodules lazily: bind constants/hf_api to the *current* environment now, so
        # that they get patched below and restored exactly by ``mp.undo()`` (instead of being imported later,
        # while patched, and keeping the patched endpoint forever).
        import huggingface_hub.constants  # noqa: F401
        import huggingface_hub.hf_api  # noqa: F401

    hub_cache = os.path.join(hf_home, "hub")
    assets_cache = os.path.join(hf_home, "assets")
    xet_cache = os.path.join(hf_home, "xet")
    mp.setenv("HF_ENDPOINT", endpoint)
    mp.setenv("HF_HOME", hf_home)
    mp.setenv("HF_HUB_CACHE", hub_cache)
    mp.setenv("HF_ASSETS_CACHE", assets_cache)
    mp.setenv("HF_XET_CACHE", xet_cache)  # hf_xet (used by upload_folder) writes logs there
    mp.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    mp.setenv("HF_HUB_DISABLE_UPDATE_CHECK", "1")
    for name in _UNSET:
        mp.delenv(name, raising=False)
    for name in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(name, "")
        mp.setenv(name, ",".join(filter(None, [current, "127.0.0.1", "localhost"])))

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        from urllib.parse import urlsplit

        token_path = os.path.join(hf_home, "token")
        for attr, value in {
            "ENDPOINT": endpoint,
            "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
            "HF_URL_HOSTS": frozenset(constants.HF_URL_HOSTS | {urlsplit(endpoint).hostname}),
            "HF_HOME": hf_home,
            "HF_HUB_CACHE": hub_cache,
            "HUGGINGFACE_HUB_CACHE": hub_cache,
            "HF_ASSETS_CACHE": assets_cache,
            "HUGGINGFACE_ASSETS_CACHE": assets_cache,
            "HF_XET_CACHE": xet_cache,
            "HF_TOKEN_PATH": token_path,
            "HF_STORED_TOKENS_PATH": os.path.join(hf_home, "stored_tokens"),
            "HF_HUB_OFFLINE": False,
            "HF_HUB_DISABLE_TELEMETRY": True,
            "HF_HUB_DISABLE_UPDATE_CHECK": True,
            "HF_HUB_DISABLE_IMPLICIT_TOKEN": False,
        }.items():
            if hasattr(constants, attr):
                mp.setattr(constants, attr, value)
    hf_api = sys.modules.get("huggingface_hub.hf_api")
    if hf_api is not None and getattr(hf_api, "api", None) is not None:
        mp.setattr(hf_api.api, "endpoint", endpoint)
    for module_name, attrs in {
        "diffusers.utils.hub_utils": {"HF_HUB_OFFLINE": False, "HF_HUB_DISABLE_TELEMETRY": True},
        "diffusers.loaders.lora_base": {"HF_HUB_OFFLINE": False},
        "diffusers.models.attention_dispatch": {"HF_HUB_OFFLINE": False},
    }.items():
        module = sys.modules.get(module_name)
        for attr, value in attrs.items():
            if module is not None and hasattr(module, attr):
                mp.setattr(module, attr, value)


@pytest.fixture(scope="session")
def fake_hub(tmp_path_factory):
    """A running :class:`FakeHub` with huggingface_hub pointed at it for the whole session."""
    hub = FakeHub()
    endpoint = hub.start()
    hf_home = str(tmp_path_factory.mktemp("hf_home"))
    mp = pytest.MonkeyPatch()
    try:
        point_huggingface_hub_at(mp, endpoint, hf_home)
        yield hub
    finally:
        mp.undo()
        hub.stop()


@pytest.fixture
def hub_repo_id(fake_hub) -> str:
    """A fresh, unused repo id in the namespace of ``fake_hub.user``."""
    return f"{fake_hub.user}/test-{uuid.uuid4().hex[:10]}"
