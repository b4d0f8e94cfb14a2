"""Exercise tests/hub_server.py (FakeHub) with the real huggingface_hub client and diffusers.

huggingface_hub / diffusers are imported inside the tests, i.e. after the ``fake_hub`` fixture has set
HF_ENDPOINT & co (see tests/hub_fixtures.py for why, and for what happens if they were imported earlier).
"""

from __future__ import annotations

import json
import os
import time

import pytest

from hub_fixtures import point_huggingface_hub_at
from hub_server import FakeHub, git_blob_sha1


def _safetensors_bytes() -> bytes:
    import numpy as np
    from safetensors.numpy import save

    return save({"weight": np.arange(12, dtype=np.float32).reshape(3, 4), "bias": np.ones(3, dtype=np.float32)})


@pytest.fixture
def model_folder(tmp_path):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: mit\ntags:\n- gan\n---\n# Tiny test model\n")
    (folder / "config.json").write_text(json.dumps({"width": 4, "name": "tiny"}))
    (folder / "model.safetensors").write_bytes(_safetensors_bytes())
    (folder / "sub" / "extra.bin").write_bytes(os.urandom(2048))
    return folder


def _local_files(folder) -> dict[str, bytes]:
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            full = os.path.join(root, name)
            out[os.path.relpath(full, folder).replace(os.sep, "/")] = open(full, "rb").read()
    return out


def test_upload_folder_then_download_roundtrip(fake_hub, hub_repo_id, model_folder, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    api = HfApi(token=fake_hub.token)
    url = api.create_repo(hub_repo_id, private=False)
    assert url.repo_id == hub_repo_id and url.startswith(fake_hub.endpoint)
    assert api.create_repo(hub_repo_id, exist_ok=True).repo_id == hub_repo_id  # 409 swallowed

    info = api.upload_folder(repo_id=hub_repo_id, folder_path=model_folder, commit_message="add model")
    assert len(info.oid) == 40 and info.repo_url.repo_id == hub_repo_id

    expected = _local_files(model_folder)
    assert fake_hub.files(hub_repo_id) == {**expected, ".gitattributes": fake_hub.files(hub_repo_id)[".gitattributes"]}

    snap = snapshot_download(hub_repo_id)
    assert os.path.basename(snap) == info.oid
    downloaded = {k: v for k, v in _local_files(snap).items() if k != ".gitattributes"}
    assert downloaded == expected

    local = snapshot_download(hub_repo_id, local_dir=tmp_path / "local", allow_patterns=["*.json", "*.safetensors"])
    assert sorted(p for p in _local_files(local) if not p.startswith(".cache")) == ["config.json", "model.safetensors"]

    path = hf_hub_download(hub_repo_id, "model.safetensors", cache_dir=tmp_path / "other_cache")
    assert open(path, "rb").read() == expected["model.safetensors"]
    assert open(hf_hub_download(hub_repo_id, "extra.bin", subfolder="sub"), "rb").read() == expected["sub/extra.bin"]

    model = api.model_info(hub_repo_id)
    assert model.id == hub_repo_id and model.sha == info.oid and model.private is False
    assert {s.rfilename for s in model.siblings} == set(expected) | {".gitattributes"}
    blobs = {s.rfilename: s for s in api.model_info(hub_repo_id, files_metadata=True).siblings}
    assert blobs["config.json"].size == len(expected["config.json"])
    assert blobs["config.json"].blob_id == git_blob_sha1(expected["config.json"])
    assert api.repo_info(hub_repo_id, revision=info.oid).sha == info.oid

    assert sorted(api.list_repo_files(hub_repo_id)) == sorted(set(expected) | {".gitattributes"})
    top = {(e.path, type(e).__name__) for e in api.list_repo_tree(hub_repo_id)}
    assert ("sub", "RepoFolder") in top and ("config.json", "RepoFile") in top and ("sub/extra.bin", "RepoFile") not in top
    sub = list(api.list_repo_tree(hub_repo_id, path_in_repo="sub"))
    assert [(e.path, e.size) for e in sub] == [("sub/extra.bin", 2048)]
    assert api.file_exists(hub_repo_id, "config.json") and not api.file_exists(hub_repo_id, "nope.json")
    assert api.repo_exists(hub_repo_id) and not api.repo_exists(f"{fake_hub.user}/does-not-exist")

    # The token travels only in the Authorization header, never in a URL.
    assert fake_hub.requests and all(fake_hub.token not in r.path for r in fake_hub.requests)
    assert any(r.headers.get("authorization") == f"Bearer {fake_hub.token}" for r in fake_hub.requests)


def test_history_unchanged_files_and_deletions(fake_hub, hub_repo_id, model_folder):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download

    api = HfApi(token=fake_hub.token)
    api.create_repo(hub_repo_id)
    first = api.upload_folder(repo_id=hub_repo_id, folder_path=model_folder).oid

    # Re-uploading identical files: preupload returns the remote oids, the client skips the commit.
    n_commits = len(fake_hub.commits(hub_repo_id))
    again = api.upload_folder(repo_id=hub_repo_id, folder_path=model_folder)
    assert again.oid == first and len(fake_hub.commits(hub_repo_id)) == n_commits

    second = api.upload_file(path_or_fileobj=b'{"width": 8}', path_in_repo="config.json", repo_id=hub_repo_id).oid
    assert second != first
    assert json.load(open(hf_hub_download(hub_repo_id, "config.json"))) == {"width": 8}
    assert json.load(open(hf_hub_download(hub_repo_id, "config.json", revision=first))) == {"width": 4, "name": "tiny"}
    assert api.model_info(hub_repo_id, revision=first).sha == first

    third = api.create_commit(
        hub_repo_id,
        operations=[
            CommitOperationDelete("model.safetensors"),
            CommitOperationDelete("sub/", is_folder=True),
            CommitOperationAdd("notes/a.txt", b"hello"),
        ],
        commit_message="reshuffle",
    ).oid
    assert sorted(api.list_repo_files(hub_repo_id)) == [".gitattributes", "README.md", "config.json", "notes/a.txt"]
    assert "model.safetensors" in api.list_repo_files(hub_repo_id, revision=first)
    assert [c.commit_id for c in api.list_repo_commits(hub_repo_id)][:3] == [third, second, first]

    from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError

    with pytest.raises(RemoteEntryNotFoundError):  # deleting a missing file/folder -> 404 EntryNotFound
        api.delete_file("not-there.txt", hub_repo_id)
    with pytest.raises(RemoteEntryNotFoundError):
        api.delete_folder("not-there", hub_repo_id)

    # parent_commit guards against concurrent writes (412 when stale).

    with pytest.raises(HfHubHTTPError) as excinfo:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=hub_repo_id, parent_commit=first)
    assert excinfo.value.response.status_code == 412

    pr = api.upload_file(path_or_fileobj=b"pr", path_in_repo="pr.txt", repo_id=hub_repo_id, create_pr=True)
    assert pr.pr_revision == "refs/pr/1"
    assert open(hf_hub_download(hub_repo_id, "pr.txt", revision=pr.pr_revision), "rb").read() == b"pr"
    assert not api.file_exists(hub_repo_id, "pr.txt")  # main untouched


def test_writes_require_a_valid_token(fake_hub, hub_repo_id):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    HfApi(token=fake_hub.token).create_repo(hub_repo_id)
    fake_hub.clear_requests()

    anonymous = HfApi()  # no HF_TOKEN, no stored token in the isolated HF_HOME
    with pytest.raises(HfHubHTTPError) as excinfo:
        anonymous.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=hub_repo_id)
    assert excinfo.value.response.status_code == 401
    assert all("authorization" not in r.headers for r in fake_hub.requests)

    with pytest.raises(HfHubHTTPError) as excinfo:
        anonymous.create_repo(f"{fake_hub.user}/never-created")
    assert excinfo.value.response.status_code == 401

    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi(token="hf_wrong").upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=hub_repo_id)
    assert excinfo.value.response.status_code == 401

    with pytest.raises(HfHubHTTPError) as excinfo:  # another user's namespace
        HfApi(token=fake_hub.token).create_repo("someone-else/repo")
    assert excinfo.value.response.status_code == 403

    assert list(fake_hub.files(hub_repo_id)) == [".gitattributes"]
    assert HfApi(token=fake_hub.token).whoami()["name"] == fake_hub.user
    with pytest.raises(HfHubHTTPError):
        HfApi(token="hf_wrong").whoami()


def test_private_repo_is_invisible_without_token(fake_hub, hub_repo_id, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    api = HfApi(token=fake_hub.token)
    api.create_repo(hub_repo_id, private=True)
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="secret.txt", repo_id=hub_repo_id)

    assert api.model_info(hub_repo_id).private is True
    assert open(hf_hub_download(hub_repo_id, "secret.txt", token=fake_hub.token), "rb").read() == b"secret"

    with pytest.raises(RepositoryNotFoundError) as excinfo:
        HfApi().model_info(hub_repo_id)
    assert excinfo.value.response.status_code == 401
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(hub_repo_id, "secret.txt", cache_dir=tmp_path / "c1")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(hub_repo_id, "secret.txt", cache_dir=tmp_path / "c2", token="hf_wrong")
    assert not HfApi().file_exists(hub_repo_id, "secret.txt")


def test_missing_repo_revision_and_file(fake_hub, hub_repo_id, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    api = HfApi(token=fake_hub.token)
    api.create_repo(hub_repo_id)
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=hub_repo_id)

    with pytest.raises(RepositoryNotFoundError):
        api.model_info(f"{fake_hub.user}/no-such-repo")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(f"{fake_hub.user}/no-such-repo", "config.json", cache_dir=tmp_path)

    with pytest.raises(RevisionNotFoundError):
        api.model_info(hub_repo_id, revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(hub_repo_id, revision="0" * 40)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(hub_repo_id, "config.json", revision="no-such-branch", cache_dir=tmp_path)
    with pytest.raises(RevisionNotFoundError):
        list(api.list_repo_tree(hub_repo_id, revision="no-such-branch"))

    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(hub_repo_id, "missing.safetensors", cache_dir=tmp_path)
    with pytest.raises(RemoteEntryNotFoundError):
        list(api.list_repo_tree(hub_repo_id, path_in_repo="no-such-folder"))


def test_seeded_repo_and_injected_failures(fake_hub, hub_repo_id, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    sha = fake_hub.add_file(hub_repo_id, "model.pkl", b"\x80\x04legacy-pickle")
    assert open(hf_hub_download(hub_repo_id, "model.pkl", revision=sha), "rb").read() == b"\x80\x04legacy-pickle"
    assert HfApi().list_repo_files(hub_repo_id) == [".gitattributes", "model.pkl"]

    api = HfApi(token=fake_hub.token)
    fake_hub.fail_commits(1)
    with pytest.raises(HfHubHTTPError) as excinfo:  # upload_file does not retry the commit
        api.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=hub_repo_id)
    assert excinfo.value.response.status_code == 500
    assert fake_hub.commits(hub_repo_id)[0] == sha  # nothing committed

    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "b.txt").write_bytes(b"b")
    fake_hub.fail_commits(1, status=501)  # not in http_backoff's retry list -> immediate failure
    start = time.monotonic()
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.upload_folder(repo_id=hub_repo_id, folder_path=folder)
    assert excinfo.value.response.status_code == 501 and time.monotonic() - start < 5
    assert api.upload_folder(repo_id=hub_repo_id, folder_path=folder).oid != sha  # next one goes through
    assert fake_hub.files(hub_repo_id)["b.txt"] == b"b"


def test_fixture_patches_an_already_imported_huggingface_hub(fake_hub, tmp_path):
    import huggingface_hub
    from huggingface_hub import constants

    assert constants.ENDPOINT == fake_hub.endpoint  # imported after the fixture: env var was enough
    other = FakeHub(tokens={"hf_other": "bob"})
    other.start()
    try:
        other.add_file("bob/only-on-other", "f.txt", b"other hub")
        with pytest.MonkeyPatch.context() as mp:
            point_huggingface_hub_at(mp, other.endpoint, str(tmp_path / "home"))
            # module-level helpers use the `huggingface_hub.hf_api.api` singleton created at import
            assert huggingface_hub.model_info("bob/only-on-other").id == "bob/only-on-other"
            path = huggingface_hub.hf_hub_download("bob/only-on-other", "f.txt")
            assert path.startswith(str(tmp_path / "home" / "hub"))
            assert open(path, "rb").read() == b"other hub"
            assert huggingface_hub.HfApi().endpoint == other.endpoint
        assert constants.ENDPOINT == fake_hub.endpoint
        assert huggingface_hub.hf_api.api.endpoint == fake_hub.endpoint
    finally:
        other.stop()


def test_diffusers_push_to_hub_and_from_pretrained(fake_hub, hub_repo_id):
    import torch
    from diffusers import ConfigMixin, ModelMixin
    from diffusers.configuration_utils import register_to_config

    class TinyNet(ModelMixin, ConfigMixin):
        config_name = "config.json"

        @register_to_config
        def __init__(self, width: int = 4):
            super().__init__()
            self.proj = torch.nn.Linear(width, width)

    torch.manual_seed(0)
    model = TinyNet(width=6)
    model.push_to_hub(hub_repo_id, token=fake_hub.token, private=True)

    files = fake_hub.files(hub_repo_id)
    assert {"config.json", "diffusion_pytorch_model.safetensors", "README.md"} <= set(files)
    assert json.loads(files["config.json"])["width"] == 6

    loaded = TinyNet.from_pretrained(hub_repo_id, token=fake_hub.token)
    assert loaded.config.width == 6
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name])
    # diffusers probes for a sharded checkpoint first; the fake answers 404 EntryNotFound
    assert any(r.path.endswith(".safetensors.index.json") for r in fake_hub.requests)
