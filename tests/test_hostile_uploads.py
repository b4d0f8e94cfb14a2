"""Hostile uploads (issue 7, part 1): every case of tests/hostile_corpus.py is decoded or
skipped and counted with a reason, through the loader and through the app; nothing is
written outside the run's own folder; bombs never reach the decoder, so memory stays bounded."""

import collections
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import hostile_corpus as corpus
from gan_space.data import MAX_IMAGE_PIXELS, DatasetError, decode_image, load_dataset, load_image_folder

# PIL warns about the damaged files it still reads; the tests check what it makes of them.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")
REPO = Path(__file__).resolve().parent.parent
CASES = corpus.file_cases()
IMAGE_NAMES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}


def image_named(cases) -> list:
    """The cases a browser lets through the upload box (it accepts image file names and .zip)."""
    return [case for case in cases if Path(case.name).suffix.lower() in IMAGE_NAMES]


def tree(root: Path, skip: Path | None = None) -> dict[str, bytes | str]:
    """Every path under root (but not under `skip`) with its bytes (files) or its kind: to see
    what a step wrote."""
    found = {}
    for path in root.rglob("*"):
        if skip is not None and path.is_relative_to(skip):
            continue
        key = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[key] = "link -> " + os.readlink(path)
        elif path.is_file():
            found[key] = path.read_bytes()
        else:
            found[key] = "dir"
    return found


def write_cases(folder: Path, cases) -> None:
    for case in cases:
        path = folder / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.data)


def outcomes(dataset, cases) -> dict[str, str]:
    """case name -> the reason it was skipped, or "" when it was loaded."""
    reasons = dict(entry.split(": ", 1) for entry in dataset.skipped)
    return {case.name: reasons.get(case.name, "") for case in cases}


def check_outcomes(found: dict[str, str], cases) -> collections.Counter:
    tally = collections.Counter()
    for case in cases:
        reason = found[case.name]
        if case.expect == "image":
            assert reason == "", f"{case.name} should load, was skipped: {reason}"
        elif case.expect == "skip":
            assert case.reason in reason, f"{case.name}: expected a skip for {case.reason!r}, got {reason!r}"
        tally[(case.category, "skipped" if reason else "loaded")] += 1
    return tally


def test_the_corpus_is_large_and_covers_every_category():
    categories = collections.Counter(case.category for case in CASES)
    assert len(CASES) >= 300
    assert set(categories) == {"truncated", "corrupt", "empty", "renamed", "bomb", "pixel format", "odd size"}
    assert all(count >= 6 for count in categories.values()), categories


def test_each_file_decodes_to_the_right_shape_or_is_refused_with_a_reason():
    refused = 0
    for case in CASES:
        if Path(case.name).suffix.lower() not in IMAGE_NAMES:
            continue  # never decoded: the loader refuses them by name (see the folder test)
        try:
            array = decode_image(case.data, resolution=8, channels=3)
        except ValueError as error:
            assert case.expect != "image", f"{case.name}: {error}"
            assert case.reason in str(error), f"{case.name}: {error}"
            refused += 1
            continue
        assert case.expect != "skip", f"{case.name} decoded but should be refused ({case.reason})"
        assert array.shape == (3, 8, 8) and array.dtype == np.uint8
    assert refused >= 200


@pytest.mark.parametrize("layout", ["folder", "zip"])
def test_the_whole_corpus_loads_with_every_bad_file_skipped_and_counted(tmp_path, layout):
    folder = tmp_path / "upload"
    write_cases(folder, CASES)
    source = folder
    if layout == "zip":
        source = tmp_path / "upload.zip"
        corpus.write_zip(source, {case.name: case.data for case in CASES})
    before = tree(tmp_path)
    dataset = load_dataset(str(source), resolution=8, channels=3)
    tally = check_outcomes(outcomes(dataset, CASES), CASES)
    assert len(dataset) + len(dataset.skipped) == len(CASES)  # every file accounted for, once
    assert dataset.samples.shape == (len(dataset), 3, 8, 8)
    assert tally[("pixel format", "loaded")] == sum(c.category == "pixel format" for c in CASES)
    assert tally[("bomb", "skipped")] == sum(c.category == "bomb" for c in CASES)
    assert tree(tmp_path) == before  # reading wrote nothing anywhere


def test_pixel_formats_keep_their_look():
    def decoded(name):
        case = next(c for c in CASES if c.name == f"formats/{name}")
        return decode_image(case.data, resolution=8, channels=1)

    assert decoded("transparent.png").min() == 255  # transparent pixels sit on white
    assert decoded("16bit-white.png").min() == 255  # full-scale 16-bit is white, not clipped
    assert abs(int(decoded("16bit-mid.png")[0, 0, 0]) - round(30000 / 65535 * 255)) <= 1
    # A sideways phone photo (EXIF orientation 6) comes out upright.
    upright = corpus.encode(corpus.picture().transpose(Image.Transpose.ROTATE_270), "JPEG")
    assert np.abs(decoded("exif-rotated.jpg").astype(int) - decode_image(upright, 8, 1).astype(int)).mean() < 8


def test_a_bomb_is_refused_from_its_header_before_any_pixel_is_decoded(monkeypatch):
    from PIL import ImageFile

    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size))
    for case in (c for c in CASES if c.category == "bomb"):
        with pytest.raises(ValueError, match="too large"):
            decode_image(case.data, 8, 1)
    assert decoded == []
    width = int(MAX_IMAGE_PIXELS ** 0.5) + 1  # just over the limit
    with pytest.raises(ValueError, match=f"too large \\({width}x{width}"):
        decode_image(corpus._png_header_size(corpus.encode(corpus.picture("L", (8, 8)), "PNG"), width, width), 8, 1)


def test_memory_stays_bounded_on_bombs_and_zip_bombs(tmp_path):
    """In a fresh process: its peak resident memory grows by less than one decoded bomb would need."""
    result = subprocess.run([sys.executable, str(REPO / "tests" / "hostile_corpus.py"), "--memory", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    grown = report["peak_after_mib"] - report["peak_before_mib"]
    # The smallest bomb (6400x6400 RGB) alone would take ~160 MiB decoded; the 128 MiB zip member
    # and the 48 MiB member that claims 1000 bytes are never unpacked whole.
    assert grown < 120, report
    results = report["results"]
    for loader in ("", "paired:"):  # the same bombs as a picture set and as the user's pairs
        for name in ("bombs", "bombs.zip"):
            found = results[loader + name]
            assert found["loaded"] == 1 and len(found["skipped"]) == len(corpus.bomb_cases()), found
            assert all("too large" in reason for reason in found["skipped"])
        assert results[loader + "honest-bomb.zip"]["loaded"] == 1
        assert results[loader + "honest-bomb.zip"]["skipped"] == ["bomb.png: file too large (128 MiB unpacked)"]
        assert results[loader + "liar.zip"]["loaded"] == 1
        # zipfile stops at the declared size and its CRC check then fails; either way: 1000 bytes read.
        [liar] = results[loader + "liar.zip"]["skipped"]
        assert liar.startswith("liar.png: ") and ("larger than declared" in liar or "Bad CRC-32" in liar), liar
        assert "unpacks to 3.5 GiB, over the limit" in results[loader + "huge-total.zip"]["error"]


# ---------------------------------------------------------------------------
# Archives


def _png(colour=(200, 30, 30)) -> bytes:
    return corpus.encode(Image.new("RGB", (12, 12), colour), "PNG")


def test_zip_slip_names_are_read_in_memory_and_nothing_is_written(tmp_path):
    names = ["../evil.png", "../../../../tmp/evil.png", "/etc/evil.png", "C:\\Windows\\evil.png",
             "a/../../evil.png", "..\\..\\evil.png", "./././evil.png", "ok.png"]
    archive = tmp_path / "slip.zip"
    corpus.write_zip(archive, {name: _png() for name in names})
    before = tree(tmp_path)
    dataset = load_dataset(str(archive), resolution=8, channels=3)
    assert len(dataset) == len(names) and dataset.skipped == []
    assert tree(tmp_path) == before
    assert not Path("/tmp/evil.png").exists() and not Path("/etc/evil.png").exists()
    assert not (tmp_path.parent / "evil.png").exists() and not (REPO / "evil.png").exists()


ARCHIVE_CASES = {
    # name: (how the member is made or damaged, the reason it is skipped)
    "encrypted.png": (dict(encrypted=True), "encrypted"),
    "unknown-method.png": (dict(method=98), "unreadable archive member"),
    "bad-deflate.png": (dict(flip_data=True), "unreadable archive member"),
    "declared-huge.png": (dict(size=100 << 20), "file too large (100 MiB unpacked)"),
    # zipfile reads no further than the declared size; the checksum then gives the lie away.
    "larger-than-declared.png": (dict(size=40), "Bad CRC-32"),
}


def test_damaged_and_lying_members_cost_only_themselves(tmp_path):
    archive = tmp_path / "damaged.zip"
    members = {name: _png() * 3 for name in ARCHIVE_CASES}
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as handle:
        handle.writestr("deeper.png", _png())
    members |= {"good-1.png": _png(), "good-2.png": _png((0, 0, 200)), "inner.zip": inner.getvalue(),
                "nested-zip.png": inner.getvalue(), "notes.txt": b"hello"}
    corpus.write_zip(archive, members)
    for name, (damage, _) in ARCHIVE_CASES.items():
        corpus.patch_member(archive, name, **damage)
    corpus.add_symlink_member(archive, "passwd-link.png", "/etc/passwd")
    corpus.add_symlink_member(archive, "escape-link.png", "../../../../etc/shadow")

    dataset = load_dataset(str(archive), resolution=8, channels=3)
    assert len(dataset) == 2
    reasons = dict(entry.split(": ", 1) for entry in dataset.skipped)
    for name, (_, reason) in ARCHIVE_CASES.items():
        assert reason in reasons[name], (name, reasons[name])
    # A symlink member is only its target's name as bytes: never followed, never an image.
    assert "not a readable image" in reasons["passwd-link.png"] and "not a readable image" in reasons[
        "escape-link.png"]
    assert "not an image file extension" in reasons["inner.zip"] and "not a readable image" in reasons[
        "nested-zip.png"]
    assert len(reasons) == len(ARCHIVE_CASES) + 5


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[: len(data) // 2], "not a readable .zip"),  # cut before its directory
    (lambda data: b"PK\x05\x06" + bytes(18), "holds no usable image"),  # an empty archive
    (lambda data: b"PK\x03\x04" + b"\xff" * 200, "not a readable .zip"),
])
def test_broken_archives_are_one_clear_error(tmp_path, damage, message):
    archive = tmp_path / "broken.zip"
    corpus.write_zip(archive, {f"{i}.png": _png() for i in range(4)})
    archive.write_bytes(damage(archive.read_bytes()))
    with pytest.raises(DatasetError, match=message):
        load_dataset(str(archive), resolution=8)


@pytest.mark.parametrize("layout", ["folder", "zip"])
def test_thousands_of_tiny_files_are_bounded_by_max_images(tmp_path, layout):
    tiny = corpus.encode(Image.new("L", (2, 2), 128), "PNG")
    members = {f"many/{i:05d}.png": tiny for i in range(3000)}
    if layout == "zip":
        source = tmp_path / "many.zip"
        corpus.write_zip(source, members)
    else:
        source = tmp_path / "folder"
        write_cases(source, [corpus.Case(name, data, "image") for name, data in members.items()])
    dataset = load_dataset(str(source), resolution=8, channels=1, max_images=500)
    assert len(dataset) == 500 and len(dataset.skipped) == 2500
    assert all(entry.endswith("over the limit of 500 images") for entry in dataset.skipped)


def test_symlinks_in_a_folder_are_skipped_and_counted(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(_png((0, 255, 0)))  # a real image, but not the user's
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "a.png").write_bytes(_png((255, 0, 0)))
    (folder / "b.png").write_bytes(_png((255, 0, 0)))
    links = {"passwd.png": "/etc/passwd", "outside.png": str(outside / "secret.png"), "dangling.png": "/nope.png",
             "loop-a.png": str(folder / "loop-b.png"), "loop-b.png": str(folder / "loop-a.png"),
             "relative.png": "../outside/secret.png"}
    for name, target in links.items():
        (folder / name).symlink_to(target)
    (folder / "outside-dir").symlink_to(outside, target_is_directory=True)
    os.mkfifo(folder / "pipe.png")  # reading a pipe would block forever

    dataset = load_image_folder(folder, resolution=8, channels=3)
    assert len(dataset) == 2
    assert (dataset.samples[:, 1] < 50).all()  # no green: nothing outside the folder was read
    reasons = dict(entry.split(": ", 1) for entry in dataset.skipped)
    assert {name for name, reason in reasons.items() if reason == "a symbolic link (not followed)"} == set(links)
    assert "outside-dir" in reasons and not any(name.startswith("outside-dir/") for name in reasons)

    # A Hugging Face snapshot: links into the repo's own blob folder are read, others are not.
    blobs = tmp_path / "repo" / "blobs"
    snapshot = tmp_path / "repo" / "snapshots" / "abc"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (blobs / "1").write_bytes(_png())
    (snapshot / "in-repo.png").symlink_to(blobs / "1")
    (snapshot / "escape.png").symlink_to(outside / "secret.png")
    dataset = load_image_folder(snapshot, resolution=8, channels=3, links_within=tmp_path / "repo")
    assert len(dataset) == 1 and dataset.skipped == ["escape.png: a symbolic link (not followed)"]


def test_a_huge_file_in_a_folder_is_skipped_unread(tmp_path, monkeypatch):
    import gan_space.data.decode

    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "ok.png").write_bytes(_png())
    (folder / "huge.png").write_bytes(_png() + bytes(3000))
    monkeypatch.setattr(gan_space.data.decode, "MAX_FILE_BYTES", 2000)
    dataset = load_image_folder(folder, resolution=8, channels=3)
    assert len(dataset) == 1 and dataset.skipped == ["huge.png: file too large (0 MiB)"]


# ---------------------------------------------------------------------------
# Through the app


def _new_paths(before: dict, after: dict) -> set[str]:
    return {path for path in after if path not in before or after[path] != before[path]}


def test_the_app_trains_on_a_hostile_upload_and_writes_only_into_the_run(app_server, client_factory, tmp_path):
    uploads = tmp_path / "uploads"
    picked = image_named(c for c in CASES if c.expect == "skip")[::8] + [c for c in CASES
                                                                          if c.category == "pixel format"][:8]
    for index, case in enumerate(picked):  # flat names, as a browser sends files
        path = uploads / f"{index:03d}-{Path(case.name).name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.data)
    root = app_server.runs_dir.parent  # runs/ and everything beside it, but for this test's client side
    before = tree(root, skip=tmp_path)
    client = client_factory()
    outputs = list(client.submit(dataset="upload images or a .zip",
                                 upload=[handle_file(str(p)) for p in sorted(uploads.iterdir())],
                                 run_name="hostile-files", steps=2, batch_size=4, resolution=8, api_name="/train"))
    assert "finished 2 steps" in outputs[-1][3]
    changed = _new_paths(before, tree(root, skip=tmp_path))
    assert changed and all(path.startswith(f"{app_server.runs_dir.name}/hostile-files") for path in changed), \
        sorted(p for p in changed if "hostile-files" not in p)[:5]
    assert len(list((app_server.run_dir("hostile-files") / "data").iterdir())) == len(picked)
    from gan_space.checkpoints import run_summary

    summary = run_summary(app_server.run_dir("hostile-files"))
    assert "8 images" in summary["dataset"] and f"skipped {len(picked) - 8} unusable" in summary["dataset"]


def test_a_zip_slip_upload_writes_nothing_outside_the_run(app_server, client_factory, tmp_path):
    archive = tmp_path / "slip.zip"
    corpus.write_zip(archive, {"../../../escape.png": _png(), "/tmp/abs-escape.png": _png(),
                               "..\\..\\win-escape.png": _png(), "fine/ok.png": _png((0, 0, 200))})
    corpus.add_symlink_member(archive, "link.png", "/etc/passwd")
    root = app_server.runs_dir.parent
    before = tree(root, skip=tmp_path)
    client = client_factory()
    outputs = list(client.submit(dataset="upload images or a .zip", upload=[handle_file(str(archive))],
                                 run_name="zip-slip", steps=2, batch_size=4, resolution=8, api_name="/train"))
    assert "finished 2 steps" in outputs[-1][3]
    changed = _new_paths(before, tree(root, skip=tmp_path))
    assert all(path.startswith(f"{app_server.runs_dir.name}/zip-slip") for path in changed), sorted(changed)[:5]
    assert not any("escape" in path for path in changed)
    assert not Path("/tmp/abs-escape.png").exists()


def test_an_upload_with_nothing_usable_is_refused_and_the_app_keeps_serving(app_server, client_factory, tmp_path):
    files = []
    for case in image_named(c for c in CASES if c.category in ("bomb", "empty", "renamed"))[::3]:
        path = tmp_path / f"{len(files):03d}-{Path(case.name).name}"
        path.write_bytes(case.data)
        files.append(path)
    client = client_factory()
    with pytest.raises(AppError, match="holds no usable image") as refused:
        client.predict(dataset="upload images or a .zip", upload=[handle_file(str(p)) for p in files],
                       run_name="nothing-usable", api_name="/train")
    assert f"{len(files)} file(s) skipped" in str(refused.value) and "Traceback" not in str(refused.value)
    assert not app_server.run_dir("nothing-usable").exists()
    image, _ = client.predict(model="shipped/digits", count=4, api_name="/generate")
    assert Image.open(image).size[0] > 0

    # Names the upload box does not take are refused by Gradio before our code runs.
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ" + bytes(100))
    with pytest.raises(AppError, match="Invalid file type"):
        client.predict(dataset="upload images or a .zip", upload=[handle_file(str(program))], run_name="exe",
                       api_name="/train")
    assert not app_server.run_dir("exe").exists()


def call_train_raw(url: str, upload: list) -> str:
    """/train through Gradio's plain HTTP API, so the client uploads nothing itself and the
    server gets the file references exactly as written (as a hostile client would send them)."""
    import httpx

    data = ["upload images or a .zip", upload, None, "server-path", 2, 4, 8, None, None, None, None, None, None,
            None, None, False, 0, False, None, None]  # ... conditional, seed, live_preview, minutes, settings
    with httpx.Client(base_url=url, timeout=120) as http:
        event = http.post("gradio_api/call/train", json={"data": data}).json()["event_id"]
        return http.get(f"gradio_api/call/train/{event}").text


def test_an_upload_cannot_name_a_file_on_the_server(app_server, capfd):
    """An API client can send any path as an "uploaded" file: Gradio passes on only files that
    were uploaded (whose folders are named by the hash of their content: to name one, you must
    already have it)."""
    elsewhere = app_server.runs_dir.parent / "someone-elses.png"  # a real image on the server's disk
    elsewhere.write_bytes(_png())
    for path in ("/etc/passwd", str(elsewhere), "../../../../etc/passwd", str(app_server.runs_dir)):
        capfd.readouterr()
        answer = call_train_raw(app_server.url, [{"path": path, "meta": {"_type": "gradio.FileData"}}])
        assert "event: error" in answer and "finished" not in answer, answer[-500:]
        assert "root:" not in answer  # no byte of the file comes back
        assert "it was not uploaded by a user" in capfd.readouterr().err  # refused by Gradio, before our code
        assert not app_server.run_dir("server-path").exists()
