"""Names and paths (issue 7, part 6): every run name, file name, model key, dataset id and
session id a user types is checked before it becomes a path, and nothing escapes runs/,
checkpoints/, the session folders or the upload folder."""

from pathlib import Path

import pytest
from gradio_client.exceptions import AppError

from gan_space.data import DatasetError, load_dataset
from gan_space.ui import train_tab
from gan_space.ui.models import AppPaths, check_run_name, find_generator

HOSTILE_NAMES = [
    "", " ", ".", "..", "...", "../x", "../../etc/passwd", "/etc/passwd", "/", "a/b", "a/../b", "a\\b", "..\\x",
    "~", "~root", "~/x", "x\x00y", "x\ny", "x\ry", "x\ty", " x", "x ", ".hidden", "-rf", "_x", "hub", "HUB", "Hub",
    "a" * 65, "%2e%2e", "..%2f..%2fetc", "runs/../x", "x;rm -rf ~", "$(id)", "`id`", "x|y", "x>y", "x<y", "*", "?",
    "x*", "ü", "ｘ", "x\u202ey", "x\u200by", "con:", "x:y", "x\"y", "x'y", "x&y", "x#y", "{x}", "[x]",
]
GOOD_NAMES = ["digits-1", "a", "A.b_c-d", "x" * 64, "run.2024-01-01", "0"]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_run_names_are_refused(tmp_path, name):
    paths = AppPaths.create(tmp_path / "checkpoints", tmp_path / "runs", tmp_path / "sessions")
    with pytest.raises(ValueError, match="is not allowed|is reserved"):
        check_run_name(name)
    with pytest.raises(ValueError):
        paths.run_dir(name)


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_allowed_run_names_stay_inside_runs(tmp_path, name):
    paths = AppPaths.create(tmp_path / "checkpoints", tmp_path / "runs", tmp_path / "sessions")
    folder = paths.run_dir(name)
    assert folder.parent == paths.runs_dir and folder.resolve().parent == paths.runs_dir.resolve()


def test_uploaded_file_names_cannot_leave_the_runs_data_folder(tmp_path):
    source = tmp_path / "from-the-browser"
    source.mkdir()
    names = ["..png", "...png", ".hidden.png", "-rf.png", "a b.png", "ü.png", "x;rm.png", "$(id).png", "`id`.png",
             "x" * 250 + ".png", "con.png", "..\\..\\win.png", "semi;colon.png", "new\nline.png"]
    files = []
    for index, name in enumerate(names):
        path = source / str(index) / name
        path.parent.mkdir()
        path.write_bytes(b"picture")
        files.append(str(path))
    # Gradio hands over paths; a hostile client may also name parent folders or absolute paths.
    files += ["/etc/../" + files[0], files[1].replace("from-the-browser", "from-the-browser/../from-the-browser")]
    data_dir = tmp_path / "runs" / "r" / "data"
    assert train_tab.copy_uploads(files, data_dir) == str(data_dir)
    copied = sorted(data_dir.iterdir())
    assert len(copied) == len(files)
    for path in copied:
        assert path.parent == data_dir and not path.name.startswith(".") and "/" not in path.name
        assert set(path.name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["from-the-browser", "runs"]
    for name in ["", ".", "..", "/", "../../etc/passwd", "C:\\x\\y.png", "\x00"]:
        safe = train_tab._safe_file_name(name)
        assert safe and not safe.startswith(".") and "/" not in safe and "\\" not in safe


@pytest.mark.parametrize("key", ["runs/../../etc", "runs/..", "shipped/../../gan_space", "shipped/../checkpoints",
                                 "/etc/passwd", "../checkpoints/digits", "runs/", "hub/..", "hub/../runs/x", "shipped",
                                 "shipped/digits/../digits", "shipped/digits\x00", "file:///etc/passwd", "", None])
def test_model_keys_only_name_what_the_list_holds(tmp_path, key):
    from test_ui_parts import REPO

    paths = AppPaths.create(REPO / "checkpoints", tmp_path / "runs", tmp_path / "sessions")
    assert find_generator(paths, "shipped/digits").key == "shipped/digits"
    with pytest.raises(ValueError, match="no generator"):
        find_generator(paths, key)


@pytest.mark.parametrize("session", ["../../etc", "/", "..", "a/b", "x\x00", "", "a" * 500, "..\\..\\x"])
def test_session_folders_stay_inside_the_sessions_folder(tmp_path, session):
    paths = AppPaths.create(tmp_path / "checkpoints", tmp_path / "runs", tmp_path / "sessions")
    folder = paths.session_dir(session)
    assert folder.parent == paths.sessions_dir and folder.name not in ("", ".", "..")
    paths.remove_session_dir(session)
    assert paths.sessions_dir.is_dir() and not folder.exists()


@pytest.mark.parametrize("dataset_id", ["../../etc/passwd", "/etc/passwd", "~/x", "alice", "alice/x/y", "alice/../x",
                                        "alicé/x", "alice/x y", "a" * 97 + "/x", "./alice/x", ".", "", "   "])
def test_hub_dataset_ids_are_checked_before_anything_is_read(dataset_id):
    with pytest.raises(ValueError):
        train_tab.hub_dataset_id(dataset_id)


def test_the_library_refuses_what_is_neither_a_dataset_nor_a_path(tmp_path):
    for source in ("~nobody-here/x", "alicé/x", "alice/x y", "a/b/c", "no such thing!"):
        with pytest.raises(DatasetError, match="no dataset named"):
            load_dataset(source)


APP_CASES = [
    ("/train", dict(dataset="digits", run_name="../../escape"), "is not allowed"),
    ("/train", dict(dataset="digits", run_name="/tmp/escape"), "is not allowed"),
    ("/train", dict(dataset="digits", run_name="a/b"), "is not allowed"),
    ("/train", dict(dataset="digits", run_name=".hidden"), "is not allowed"),
    ("/train", dict(dataset="/etc"), "is not in the list of choices"),  # Gradio checks a Radio's choices
    ("/train", dict(dataset="../checkpoints/digits"), "is not in the list of choices"),
    ("/train", dict(dataset="Hugging Face dataset", hf_dataset="../../etc/passwd"), "is not a Hugging Face dataset"),
    ("/train", dict(dataset="Hugging Face dataset", hf_dataset="/etc/passwd"), "is not a Hugging Face dataset"),
    ("/resume", dict(run_name="../../etc"), "is not allowed"),
    ("/resume", dict(run_name="hub"), "is reserved"),
    ("/generate", dict(model="runs/../../etc"), "no generator"),
    ("/generate", dict(model="shipped/../../gan_space"), "no generator"),
    ("/generate", dict(model="/etc/passwd"), "no generator"),
    ("/interpolate", dict(model="hub/../../x"), "no generator"),
]


def test_hostile_names_through_the_app(app_server, client_factory):
    client = client_factory()
    around = app_server.runs_dir.parent
    before = sorted(p.name for p in around.iterdir())
    runs_before = sorted(p.name for p in app_server.runs_dir.iterdir())
    for endpoint, arguments, message in APP_CASES:
        with pytest.raises(AppError) as refused:
            client.predict(**arguments, api_name=endpoint)
        assert message in str(refused.value), (endpoint, arguments, str(refused.value))
        assert "Traceback" not in str(refused.value)
    assert sorted(p.name for p in around.iterdir()) == before
    assert sorted(p.name for p in app_server.runs_dir.iterdir()) == runs_before
    assert not Path("/tmp/escape").exists()
