"""In-process fake of the Hugging Face Hub HTTP API, for tests. Standard library only.

The real ``huggingface_hub`` client (2.4) and ``diffusers`` talk to it over loopback HTTP when
``HF_ENDPOINT`` points at it (see ``tests/hub_fixtures.py`` for the pytest fixture that wires this up).

Usage::

    hub = FakeHub(tokens={"hf_test_token": "alice"})
    endpoint = hub.start()            # "http://127.0.0.1:PORT"
    hub.add_file("bob/legacy", "model.pkl", b"...")   # seed a repo without going through HTTP
    hub.fail_commits(1)               # the next POST .../commit/... answers 500
    ...
    hub.requests                      # [(method, path_with_query, {lower-cased header: value}), ...]
    hub.stop()

What is emulated (models, datasets and spaces; repo ids are ``owner/name``):

* ``POST /api/repos/create`` (409 when it exists), ``DELETE /api/repos/delete``,
  ``PUT /api/{type}s/{repo}/settings`` (``private``).
* ``GET /api/whoami-v2``, ``POST /api/validate-yaml`` (always valid).
* ``POST /api/{type}s/{repo}/preupload/{rev}`` -> every file is ``uploadMode: "regular"`` (inline base64 in
  the commit; LFS/Xet never used), with ``oid`` = git blob sha1 of the file already at that path so that the
  client skips unchanged files.
* ``POST /api/{type}s/{repo}/commit/{rev}`` (ndjson: ``header``, ``file``, ``deletedFile``, ``deletedFolder``;
  ``parentCommit`` checked -> 412; ``?create_pr=1`` opens ``refs/pr/N``).
* ``GET /api/{type}s/{repo}`` and ``.../revision/{rev}`` (repo info with ``sha`` and ``siblings``),
  ``GET .../tree/{rev}[/{path}]`` (``recursive``), ``POST .../paths-info/{rev}``, ``GET .../refs``,
  ``GET .../commits/{rev}``, ``POST|DELETE .../branch/{name}``, ``POST .../discussions`` (pull requests) and
  ``GET .../discussions/{num}``.
* ``HEAD|GET /[datasets/|spaces/]{repo}/resolve/{rev}/{path}`` with ``X-Repo-Commit`` + ``ETag`` (git blob
  sha1), ``Content-Length``, ``Range`` support; never ``X-Xet-Hash``.

Every commit creates a new immutable snapshot; any past commit sha (or a unique prefix of >= 7 hex digits) is
accepted as a revision. New repos get an initial commit holding ``.gitattributes`` like on the Hub
(``FakeHub(gitattributes=False)`` to start with an empty initial commit instead).

Auth, modelled on the Hub:

* ``Authorization: Bearer <token>`` with a token from ``tokens`` identifies a user. Writes require it
  (missing -> 401 ``Invalid username or password.``; unknown token -> 401
  ``Invalid credentials in Authorization header``), and the repo namespace must be that user (else 403).
* Reads: a private repo (or a missing one) read without a valid token -> 401 ``X-Error-Code: RepoNotFound``;
  with a valid token of another user -> 404 ``RepoNotFound``. A public repo read with an *unknown* token ->
  401 ``Invalid credentials in Authorization header`` (the Hub rejects bad tokens even on public repos).
* Errors carry ``X-Error-Code`` (``RepoNotFound`` | ``RevisionNotFound`` | ``EntryNotFound``) and
  ``X-Error-Message`` headers plus a JSON ``{"error": ...}`` body, which is what ``hf_raise_for_status`` maps
  to ``RepositoryNotFoundError`` / ``RevisionNotFoundError`` / ``RemoteEntryNotFoundError``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import itertools
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["FakeHub", "RequestRecord", "git_blob_sha1"]

_TYPE_FROM_PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_GITATTRIBUTES = (
    b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
    b"*.ckpt filter=lfs diff=lfs merge=lfs -text\n"
    b"*.h5 filter=lfs diff=lfs merge=lfs -text\n"
    b"*.onnx filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pkl filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pt filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pth filter=lfs diff=lfs merge=lfs -text\n"
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
)
_INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
_NO_CREDENTIALS = "Invalid username or password."


def git_blob_sha1(data: bytes) -> str:
    """Git object id of a blob: what the Hub uses as ``oid``/``ETag`` for regular (non-LFS) files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class RequestRecord(NamedTuple):
    """One logged request. ``path`` includes the query string; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]


class _HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


@dataclass
class _Commit:
    oid: str
    parents: list[str]
    files: dict[str, bytes]
    title: str
    message: str
    author: str
    date: str


@dataclass
class _Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    refs: dict[str, str] = field(default_factory=dict)  # "main", "refs/pr/1", ... -> commit oid
    commits: dict[str, _Commit] = field(default_factory=dict)
    discussions: list[dict] = field(default_factory=list)

    @property
    def owner(self) -> str:
        return self.repo_id.split("/")[0]


def _validate_repo_path(path: str) -> str:
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        raise _HubError(400, f"Invalid path in repo: {path!r}")
    return path


def _bool_param(values: list[str] | None) -> bool:
    return bool(values) and values[-1].lower() in ("1", "true", "yes")


class FakeHub:
    """A tiny, thread-safe, in-memory Hugging Face Hub served over loopback HTTP."""

    def __init__(self, tokens: dict[str, str] | None = None, *, gitattributes: bool = True):
        self.tokens: dict[str, str] = dict(tokens if tokens is not None else {"hf_test_token": "alice"})
        self.gitattributes = gitattributes
        self.requests: list[RequestRecord] = []
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._lock = threading.RLock()
        self._counter = itertools.count()
        self._failures: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self.endpoint: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        """Start serving on 127.0.0.1 (ephemeral port) in a daemon thread; return the endpoint URL."""
        if self._server is not None:
            return self.endpoint  # type: ignore[return-value]
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.block_on_close = False  # keep-alive connections of the client's pool must not block stop()
        self._server = server
        self.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, name="fake-hf-hub", daemon=True)
        self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:  # idle keep-alive connections of the client's pool
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "FakeHub":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers
    @property
    def token(self) -> str:
        """The first configured token (handy default for tests)."""
        return next(iter(self.tokens))

    @property
    def user(self) -> str:
        """The user of :attr:`token`."""
        return self.tokens[self.token]

    def fail_next(self, n: int = 1, *, method: str | None = None, path_contains: str = "", status: int = 500) -> None:
        """Answer the next ``n`` requests matching ``method`` / ``path_contains`` with ``status`` (no state change).
        ``status=0`` drops the connection instead, without an answer (a network failure)."""
        with self._lock:
            self._failures.append(
                {"remaining": n, "method": method.upper() if method else None, "path": path_contains, "status": status}
            )

    def clear_failures(self) -> None:
        """Forget the failures `fail_next` queued and not yet used."""
        with self._lock:
            self._failures.clear()

    def fail_commits(self, n: int = 1, status: int = 500) -> None:
        """Make the next ``n`` commit calls (``POST .../commit/...``) fail with ``status``.

        Note: ``upload_folder`` with ``hf_xet`` installed sends its commit through ``http_backoff``, which retries
        408/429/500/502/503/504 up to 5 times (sleeping 1, 2, 4, 8, 8 s). ``upload_file``/``create_commit`` do not
        retry. Use e.g. ``status=501`` or a 4xx for an immediate failure of ``upload_folder``.
        """
        self.fail_next(n, method="POST", path_contains="/commit/", status=status)

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def create_repo(self, repo_id: str, *, private: bool = False, repo_type: str = "model") -> None:
        """Create a repo directly (no HTTP, no auth). No-op if it exists."""
        with self._lock:
            if (repo_type, repo_id) not in self._repos:
                self._create_repo(repo_type, repo_id, private)

    def add_file(
        self,
        repo_id: str,
        path: str,
        data: bytes,
        private: bool = False,
        *,
        repo_type: str = "model",
        revision: str = "main",
        commit_message: str | None = None,
    ) -> str:
        """Seed a file directly (creating the repo if needed, with ``private``). Returns the new commit sha."""
        return self.add_files(
            repo_id, {path: data}, private=private, repo_type=repo_type, revision=revision,
            commit_message=commit_message or f"Upload {path}",
        )

    def add_files(
        self,
        repo_id: str,
        files: dict[str, bytes],
        private: bool = False,
        *,
        repo_type: str = "model",
        revision: str = "main",
        commit_message: str = "Upload files",
    ) -> str:
        with self._lock:
            repo = self._repos.get((repo_type, repo_id)) or self._create_repo(repo_type, repo_id, private)
            if revision not in repo.refs:
                raise KeyError(f"{revision!r} is not a branch of {repo_id}")
            head = repo.commits[repo.refs[revision]]
            new_files = dict(head.files)
            for path, data in files.items():
                new_files[_validate_repo_path(path)] = bytes(data)
            commit = self._new_commit(repo, [head.oid], new_files, commit_message, "", repo.owner)
            repo.refs[revision] = commit.oid
            return commit.oid

    def files(self, repo_id: str, revision: str = "main", *, repo_type: str = "model") -> dict[str, bytes]:
        """Server-side content of a repo at ``revision`` (branch or commit sha)."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return dict(self._resolve(repo, revision).files)

    def commits(self, repo_id: str, revision: str = "main", *, repo_type: str = "model") -> list[str]:
        """Commit shas reachable from ``revision``, newest first."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return [c.oid for c in self._history(repo, self._resolve(repo, revision))]

    def repo_exists(self, repo_id: str, *, repo_type: str = "model") -> bool:
        with self._lock:
            return (repo_type, repo_id) in self._repos

    # ------------------------------------------------------------------ state internals (hold self._lock)
    def _create_repo(self, repo_type: str, repo_id: str, private: bool) -> _Repo:
        if repo_id.count("/") != 1 or not all(repo_id.split("/")):
            raise _HubError(400, f"Invalid repo id {repo_id!r}: expected 'owner/name'")
        repo = _Repo(repo_type=repo_type, repo_id=repo_id, private=private, created_at=_now())
        files = {".gitattributes": _GITATTRIBUTES} if self.gitattributes else {}
        commit = self._new_commit(repo, [], files, "initial commit", "", repo.owner)
        repo.refs["main"] = commit.oid
        self._repos[(repo_type, repo_id)] = repo
        return repo

    def _new_commit(self, repo: _Repo, parents: list[str], files: dict[str, bytes], title: str, message: str,
                    author: str) -> _Commit:
        h = hashlib.sha1()
        h.update(f"{repo.repo_type}/{repo.repo_id}\n{parents}\n{title}\n{next(self._counter)}\n".encode())
        for path in sorted(files):
            h.update(f"{path}\0{git_blob_sha1(files[path])}\n".encode())
        commit = _Commit(oid=h.hexdigest(), parents=parents, files=files, title=title, message=message,
                         author=author, date=_now())
        repo.commits[commit.oid] = commit
        return commit

    def _resolve(self, repo: _Repo, revision: str) -> _Commit:
        rev = revision
        if rev.startswith("refs/heads/"):
            rev = rev[len("refs/heads/"):]
        if rev in repo.refs:
            return repo.commits[repo.refs[rev]]
        if re.fullmatch(r"[0-9a-f]{7,40}", rev):
            matches = [oid for oid in repo.commits if oid.startswith(rev)]
            if len(matches) == 1:
                return repo.commits[matches[0]]
        raise _HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def _history(self, repo: _Repo, commit: _Commit) -> list[_Commit]:
        out = []
        current: _Commit | None = commit
        while current is not None:
            out.append(current)
            current = repo.commits[current.parents[0]] if current.parents else None
        return out

    def _take_failure(self, method: str, path: str) -> int | None:
        with self._lock:
            for rule in self._failures:
                if rule["remaining"] > 0 and (rule["method"] in (None, method)) and rule["path"] in path:
                    rule["remaining"] -= 1
                    return rule["status"]
            self._failures = [r for r in self._failures if r["remaining"] > 0]
        return None


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub  # set on the per-server subclass
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr logging
        pass

    def setup(self) -> None:
        super().setup()
        with self.hub._lock:
            self.hub._connections.add(self.connection)

    def finish(self) -> None:
        with self.hub._lock:
            self.hub._connections.discard(self.connection)
        super().finish()

    # ------------------------------------------------------------------ plumbing
    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        all_headers = {"Content-Type": content_type, **(headers or {})}
        all_headers["Content-Length"] = str(len(body))
        for key, value in all_headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _handle(self, method: str) -> None:
        body = self._read_body()
        self.body = body
        hub = self.hub
        with hub._lock:
            hub.requests.append(RequestRecord(method, self.path, {k.lower(): v for k, v in self.headers.items()}))
        split = urlsplit(self.path)
        self.query = parse_qs(split.query, keep_blank_values=True)
        segments = split.path.split("/")[1:]  # still percent-encoded
        try:
            status = hub._take_failure(method, split.path)
            if status == 0:  # a dropped connection: the client gets no answer at all
                self.close_connection = True
                return
            if status is not None:
                raise _HubError(status, f"Injected failure (FakeHub) for {method} {split.path}")
            self._route(method, segments)
        except _HubError as err:
            headers = dict(err.headers)
            headers["X-Error-Message"] = err.message
            if err.code:
                headers["X-Error-Code"] = err.code
            self._json(err.status, {"error": err.message}, headers)
        except Exception as err:  # pragma: no cover - bug in the fake: make it visible
            self._json(500, {"error": f"FakeHub internal error: {err!r}"})

    # ------------------------------------------------------------------ auth
    def _auth(self) -> tuple[str | None, bool]:
        """(user or None, whether an Authorization header was sent)."""
        header = self.headers.get("Authorization")
        if not header:
            return None, False
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None, True
        return self.hub.tokens.get(token.strip()), True

    def _repo_for_read(self, repo_type: str, repo_id: str) -> _Repo:
        user, sent = self._auth()
        repo = self.hub._repos.get((repo_type, repo_id))
        visible = repo is not None and (not repo.private or (user is not None and user == repo.owner))
        if not visible:
            status = 404 if user is not None else 401
            raise _HubError(status, "Repository not found", "RepoNotFound")
        if sent and user is None:
            raise _HubError(401, _INVALID_CREDENTIALS)
        return repo  # type: ignore[return-value]

    def _require_user(self) -> str:
        user, sent = self._auth()
        if user is None:
            raise _HubError(401, _INVALID_CREDENTIALS if sent else _NO_CREDENTIALS)
        return user

    def _repo_for_write(self, repo_type: str, repo_id: str) -> _Repo:
        user = self._require_user()
        repo = self.hub._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and repo.owner != user):
            raise _HubError(404, "Repository not found", "RepoNotFound")
        if repo.owner != user:
            raise _HubError(403, f"You don't have the rights to write to {repo_id} (FakeHub user: {user})")
        return repo

    # ------------------------------------------------------------------ routing
    def _route(self, method: str, seg: list[str]) -> None:
        hub = self.hub
        if seg[:1] == ["api"]:
            rest = seg[1:]
            if rest == ["whoami-v2"] and method == "GET":
                return self._whoami()
            if rest == ["validate-yaml"] and method == "POST":
                return self._json(200, {"errors": [], "warnings": []})
            if rest[:1] == ["telemetry"]:
                return self._json(200, {})
            if rest == ["repos", "create"] and method == "POST":
                return self._create_repo()
            if rest == ["repos", "delete"] and method == "DELETE":
                return self._delete_repo()
            if len(rest) >= 3 and rest[0] in _TYPE_FROM_PLURAL:
                repo_type = _TYPE_FROM_PLURAL[rest[0]]
                repo_id = f"{unquote(rest[1])}/{unquote(rest[2])}"
                with hub._lock:
                    return self._repo_api(method, repo_type, repo_id, rest[3:])
            raise _HubError(404, f"FakeHub: no route for {method} {self.path}")

        # /[datasets|spaces/]owner/name/resolve/rev/path...
        repo_type = "model"
        if seg[:1] in (["datasets"], ["spaces"]):
            repo_type = _TYPE_FROM_PLURAL[seg[0]]
            seg = seg[1:]
        if len(seg) >= 5 and seg[2] == "resolve" and method in ("GET", "HEAD"):
            repo_id = f"{unquote(seg[0])}/{unquote(seg[1])}"
            return self._resolve_file(repo_type, repo_id, unquote(seg[3]), unquote("/".join(seg[4:])))
        raise _HubError(404, f"FakeHub: no route for {method} {self.path}")

    def _repo_api(self, method: str, repo_type: str, repo_id: str, rest: list[str]) -> None:
        if not rest and method == "GET":
            return self._repo_info(repo_type, repo_id, None)
        head = rest[0] if rest else ""
        if head == "revision" and len(rest) >= 2 and method == "GET":
            return self._repo_info(repo_type, repo_id, unquote("/".join(rest[1:])))
        if head == "tree" and len(rest) >= 2 and method == "GET":
            return self._tree(repo_type, repo_id, unquote(rest[1]), unquote("/".join(rest[2:])))
        if head == "paths-info" and len(rest) >= 2 and method == "POST":
            return self._paths_info(repo_type, repo_id, unquote("/".join(rest[1:])))
        if head == "preupload" and len(rest) >= 2 and method == "POST":
            return self._preupload(repo_type, repo_id, unquote("/".join(rest[1:])))
        if head == "commit" and len(rest) >= 2 and method == "POST":
            return self._commit(repo_type, repo_id, unquote("/".join(rest[1:])))
        if head == "refs" and len(rest) == 1 and method == "GET":
            return self._refs(repo_type, repo_id)
        if head == "commits" and len(rest) >= 2 and method == "GET":
            return self._list_commits(repo_type, repo_id, unquote("/".join(rest[1:])))
        if head == "branch" and len(rest) >= 2 and method in ("POST", "DELETE"):
            return self._branch(method, repo_type, repo_id, unquote("/".join(rest[1:])))
        if head == "settings" and len(rest) == 1 and method == "PUT":
            return self._settings(repo_type, repo_id)
        if head == "discussions" and len(rest) == 1 and method == "POST":
            return self._create_discussion(repo_type, repo_id)
        if head == "discussions" and len(rest) == 2 and method == "GET":
            return self._get_discussion(repo_type, repo_id, int(rest[1]))
        raise _HubError(404, f"FakeHub: no route for {method} {self.path}")

    # ------------------------------------------------------------------ endpoints
    def _body_json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            raise _HubError(400, "Invalid JSON body")

    def _repo_url(self, repo: _Repo) -> str:
        return f"{self.hub.endpoint}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}"

    def _whoami(self) -> None:
        user = self._require_user()
        self._json(200, {
            "type": "user", "id": hashlib.sha1(user.encode()).hexdigest()[:24], "name": user, "fullname": user,
            "email": f"{user}@example.com", "emailVerified": True, "isPro": False, "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "fake", "role": "write"}},
        })

    def _create_repo(self) -> None:
        user = self._require_user()
        payload = self._body_json()
        name = payload.get("name")
        namespace = payload.get("organization") or user
        repo_type = payload.get("type") or "model"
        if repo_type not in _URL_PREFIX:
            raise _HubError(400, f"Invalid repo type {repo_type!r}")
        if not name or "/" in name:
            raise _HubError(400, f"Invalid repo name {name!r}")
        if namespace != user:
            raise _HubError(403, f"You don't have the rights to create a {repo_type} under the namespace "
                                 f"{namespace!r} (FakeHub user: {user})")
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        repo_id = f"{namespace}/{name}"
        with self.hub._lock:
            existing = self.hub._repos.get((repo_type, repo_id))
            if existing is not None:
                return self._json(409, {"error": f"You already created this {repo_type} repo",
                                        "url": self._repo_url(existing)},
                                  {"X-Error-Message": f"You already created this {repo_type} repo"})
            repo = self.hub._create_repo(repo_type, repo_id, private)
        self._json(200, {"url": self._repo_url(repo), "name": repo_id, "id": repo_id})

    def _delete_repo(self) -> None:
        user = self._require_user()
        payload = self._body_json()
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or user}/{payload.get('name')}"
        with self.hub._lock:
            self._repo_for_write(repo_type, repo_id)
            del self.hub._repos[(repo_type, repo_id)]
        self._json(200, {})

    def _settings(self, repo_type: str, repo_id: str) -> None:
        repo = self._repo_for_write(repo_type, repo_id)
        payload = self._body_json()
        if "private" in payload:
            repo.private = bool(payload["private"])
        if "visibility" in payload:
            repo.private = payload["visibility"] == "private"
        self._json(200, {})

    def _repo_info(self, repo_type: str, repo_id: str, revision: str | None) -> None:
        repo = self._repo_for_read(repo_type, repo_id)
        commit = self.hub._resolve(repo, revision or "main")
        blobs = _bool_param(self.query.get("blobs"))
        siblings = []
        for path in sorted(commit.files):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=len(commit.files[path]), blobId=git_blob_sha1(commit.files[path]))
            siblings.append(sibling)
        info = {
            "_id": hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()[:24],
            "id": repo_id, "author": repo.owner, "sha": commit.oid, "lastModified": commit.date,
            "createdAt": repo.created_at, "private": repo.private, "gated": False, "disabled": False,
            "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
            "usedStorage": sum(len(d) for d in commit.files.values()),
        }
        if repo_type == "model":
            info.update(modelId=repo_id, spaces=[])
        self._json(200, info)

    @staticmethod
    def _dirs(files: dict[str, bytes]) -> set[str]:
        dirs = set()
        for path in files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        return dirs

    @staticmethod
    def _entry(files: dict[str, bytes], path: str) -> dict:
        if path in files:
            return {"type": "file", "oid": git_blob_sha1(files[path]), "size": len(files[path]), "path": path}
        prefix = path + "/"
        h = hashlib.sha1(b"tree\0")
        for p in sorted(files):
            if p.startswith(prefix):
                h.update(f"{p}\0{git_blob_sha1(files[p])}\n".encode())
        return {"type": "directory", "oid": h.hexdigest(), "size": 0, "path": path}

    def _tree(self, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        repo = self._repo_for_read(repo_type, repo_id)
        files = self.hub._resolve(repo, revision).files
        path = path.strip("/")
        dirs = self._dirs(files)
        if path and path not in dirs:
            raise _HubError(404, f"Entry not found: {path}", "EntryNotFound")
        recursive = _bool_param(self.query.get("recursive"))
        prefix = path + "/" if path else ""
        listed: set[str] = set()
        for p in list(files) + list(dirs):
            if not p.startswith(prefix) or p == path:
                continue
            rel = p[len(prefix):]
            if recursive or "/" not in rel:
                listed.add(p)
        entries = [self._entry(files, p) for p in sorted(listed)]
        entries.sort(key=lambda e: (e["type"] != "directory", e["path"]))
        self._json(200, entries)

    def _paths_info(self, repo_type: str, repo_id: str, revision: str) -> None:
        repo = self._repo_for_read(repo_type, repo_id)
        files = self.hub._resolve(repo, revision).files
        ctype = self.headers.get("Content-Type") or ""
        if "json" in ctype:
            paths = self._body_json().get("paths", [])
        else:
            form = parse_qs(self.body.decode(), keep_blank_values=True)
            paths = form.get("paths", [])
        dirs = self._dirs(files)
        entries = [self._entry(files, p.strip("/")) for p in paths if p.strip("/") in files or p.strip("/") in dirs]
        self._json(200, entries)

    def _preupload(self, repo_type: str, repo_id: str, revision: str) -> None:
        repo = self._repo_for_write(repo_type, repo_id)
        files = self.hub._resolve(repo, revision).files
        out = []
        for item in self._body_json().get("files", []):
            path = item.get("path")
            existing = files.get(path)
            out.append({
                "path": path, "uploadMode": "regular", "shouldIgnore": False,
                "oid": git_blob_sha1(existing) if existing is not None else None,
            })
        self._json(200, {"files": out, "commitOid": self.hub._resolve(repo, revision).oid})

    def _commit(self, repo_type: str, repo_id: str, revision: str) -> None:
        hub = self.hub
        repo = self._repo_for_write(repo_type, repo_id)
        user = self._require_user()
        branch = revision[len("refs/heads/"):] if revision.startswith("refs/heads/") else revision
        if branch not in repo.refs:
            hub._resolve(repo, branch)  # raises RevisionNotFound for unknown revisions
            raise _HubError(400, f"Cannot commit to {revision!r}: not a branch")
        try:
            lines = [json.loads(line) for line in self.body.decode().splitlines() if line.strip()]
        except ValueError:
            raise _HubError(400, "Invalid ndjson commit payload")
        if not lines or lines[0].get("key") != "header":
            raise _HubError(400, "Commit payload must start with a 'header' line")
        header = lines[0].get("value") or {}
        base = repo.commits[repo.refs[branch]]
        parent_commit = header.get("parentCommit")
        if parent_commit and not base.oid.startswith(parent_commit):
            raise _HubError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(base.files)
        for item in lines[1:]:
            key, value = item.get("key"), item.get("value") or {}
            path = value.get("path", "")
            if key == "file":
                _validate_repo_path(path)
                content = value.get("content", "")
                if value.get("encoding") == "base64":
                    files[path] = base64.b64decode(content)
                else:
                    files[path] = content.encode()
            elif key == "deletedFile":
                if path not in files:
                    raise _HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                del files[path]
            elif key == "deletedFolder":
                prefix = path.strip("/") + "/"
                doomed = [p for p in files if p.startswith(prefix)]
                if not doomed:
                    raise _HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                for p in doomed:
                    del files[p]
            elif key == "lfsFile":
                raise _HubError(400, "FakeHub does not store LFS objects (it always answers uploadMode=regular)")
            else:
                raise _HubError(400, f"Unknown commit operation {key!r}")
        summary = header.get("summary") or "Commit"
        pr_url = None
        if _bool_param(self.query.get("create_pr")):
            num = len(repo.discussions) + 1
            target = f"refs/pr/{num}"
            repo.discussions.append(self._new_discussion(num, summary, header.get("description", ""), user,
                                                         True, branch))
            pr_url = f"{self._repo_url(repo)}/discussions/{num}"
        else:
            target = branch
        commit = hub._new_commit(repo, [base.oid], files, summary, header.get("description", ""), user)
        repo.refs[target] = commit.oid
        self._json(200, {"success": True, "commitOid": commit.oid, "commitMessage": summary,
                         "commitUrl": f"{self._repo_url(repo)}/commit/{commit.oid}", "pullRequestUrl": pr_url})

    def _refs(self, repo_type: str, repo_id: str) -> None:
        repo = self._repo_for_read(repo_type, repo_id)
        branches = [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": oid}
                    for n, oid in repo.refs.items() if not n.startswith("refs/")]
        prs = [{"name": n, "ref": n, "targetCommit": oid} for n, oid in repo.refs.items() if n.startswith("refs/pr/")]
        out: dict[str, Any] = {"branches": branches, "converts": [], "tags": []}
        if _bool_param(self.query.get("include_prs")):
            out["pullRequests"] = prs
        self._json(200, out)

    def _list_commits(self, repo_type: str, repo_id: str, revision: str) -> None:
        repo = self._repo_for_read(repo_type, repo_id)
        history = self.hub._history(repo, self.hub._resolve(repo, revision))
        self._json(200, [{"id": c.oid, "title": c.title, "message": c.message, "date": c.date,
                          "authors": [{"user": c.author, "avatar": None}]} for c in history])

    def _branch(self, method: str, repo_type: str, repo_id: str, branch: str) -> None:
        repo = self._repo_for_write(repo_type, repo_id)
        if method == "DELETE":
            if branch not in repo.refs or branch == "main":
                raise _HubError(404 if branch not in repo.refs else 403, f"Cannot delete branch {branch!r}")
            del repo.refs[branch]
            return self._json(200, {})
        if branch in repo.refs:
            raise _HubError(409, f"Reference {branch} already exists")
        start = (self._body_json() or {}).get("startingPoint") or "main"
        repo.refs[branch] = self.hub._resolve(repo, start).oid
        self._json(200, {})

    def _new_discussion(self, num: int, title: str, description: str, user: str, is_pr: bool, base: str) -> dict:
        return {"num": num, "title": title, "description": description, "author": user, "isPullRequest": is_pr,
                "createdAt": _now(), "status": "open", "base": base}

    def _create_discussion(self, repo_type: str, repo_id: str) -> None:
        repo = self._repo_for_read(repo_type, repo_id)
        user = self._require_user()
        payload = self._body_json()
        num = len(repo.discussions) + 1
        is_pr = bool(payload.get("pullRequest"))
        repo.discussions.append(self._new_discussion(num, payload.get("title", ""), payload.get("description", ""),
                                                     user, is_pr, "main"))
        if is_pr:
            repo.refs[f"refs/pr/{num}"] = repo.refs["main"]
        self._json(200, {"num": num, "url": {"web": f"{self._repo_url(repo)}/discussions/{num}"}})

    def _get_discussion(self, repo_type: str, repo_id: str, num: int) -> None:
        repo = self._repo_for_read(repo_type, repo_id)
        if not 1 <= num <= len(repo.discussions):
            raise _HubError(404, f"Discussion {num} not found")
        d = repo.discussions[num - 1]
        self._json(200, {
            "num": num, "title": d["title"], "status": d["status"], "isPullRequest": d["isPullRequest"],
            "createdAt": d["createdAt"], "author": {"name": d["author"]},
            "repo": {"name": repo.repo_id, "type": repo.repo_type},
            "events": [], "filesWithConflicts": [],
            "changes": {"base": f"refs/heads/{d['base']}"}, "diff": "",
        })

    def _resolve_file(self, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        with self.hub._lock:
            repo = self._repo_for_read(repo_type, repo_id)
            commit = self.hub._resolve(repo, revision)
            data = commit.files.get(path)
        if data is None:
            raise _HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        headers = {
            "X-Repo-Commit": commit.oid,
            "ETag": f'"{git_blob_sha1(data)}"',
            "Accept-Ranges": "bytes",
            "Content-Disposition": f'inline; filename="{path.rsplit("/", 1)[-1]}"',
        }
        status = 200
        range_header = self.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip()) if range_header else None
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = int(match.group(2)) if match.group(2) else len(data) - 1
            else:  # suffix range: last N bytes
                start, end = max(len(data) - int(match.group(2)), 0), len(data) - 1
            end = min(end, len(data) - 1)
            if start >= len(data) and len(data) > 0:
                raise _HubError(416, "Requested range not satisfiable", headers={"Content-Range": f"bytes */{len(data)}"})
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data = data[start:end + 1]
            status = 206
        self._send(status, data, headers, content_type="application/octet-stream")
