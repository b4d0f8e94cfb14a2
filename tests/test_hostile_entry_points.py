"""The hostile corpus (tests/hostile_corpus.py) fed to every way a picture enters the project:
the decoder itself, the folder and .zip loaders, the user's pairs (A/ and B/ as a folder
and as a .zip, and side-by-side pictures) and `apply` on files. Each refuses or skips every
bad file with a clear reason (never a traceback from PIL), loads every good one, and
refuses a bomb from its header, before any pixel is decoded."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import hostile_corpus as corpus
from gan_space.data import decode_image, load_dataset, load_paired
from gan_space.data.decode import is_image_name

# PIL warns about the damaged files it still reads; the tests check what it makes of them.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")
CASES = corpus.file_cases()
IMAGE_NAMED = [case for case in CASES if is_image_name(case.name)]
SIDE_BY_SIDE = "not two pictures side by side"


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def partner() -> bytes:
    return corpus.encode(corpus.picture(size=(20, 20)), "PNG")


# ---------------------------------------------------------------------------
# Each entry point: the cases in -> {case name: the reason it was refused, or "" when it loaded}


def via_decoder(tmp_path, cases) -> dict[str, str]:
    found = {}
    for case in cases:
        try:
            array = decode_image(case.data, resolution=8, channels=3)
            assert array.shape == (3, 8, 8) and array.dtype == np.uint8
            found[case.name] = ""
        except ValueError as error:
            found[case.name] = str(error)
    return found


def _reasons(skipped: list[str]) -> dict[str, str]:
    return dict(entry.split(": ", 1) for entry in skipped)


def via_loader(layout):
    def load(tmp_path, cases) -> dict[str, str]:
        if layout == "folder":
            source = tmp_path / "upload"
            for case in cases:
                write(source / case.name, case.data)
        else:
            source = tmp_path / "upload.zip"
            corpus.write_zip(source, {case.name: case.data for case in cases})
        dataset = load_dataset(str(source), resolution=8, channels=3)
        assert len(dataset) + len(dataset.skipped) == len(cases)  # every file accounted for, once
        reasons = _reasons(dataset.skipped)
        return {case.name: reasons.get(case.name, "") for case in cases}

    return load


def via_pairs(layout):
    """Each case is the input (A/) of a pair whose target (B/) is a good picture. Each case sits
    in a folder of its own, so no two inputs share a name (the key that pairs them)."""

    def load(tmp_path, cases) -> dict[str, str]:
        members = {}
        for index, case in enumerate(cases):
            name = Path(case.name).name
            members[f"A/{index:04d}/{name}"] = case.data
            members[f"B/{index:04d}/{Path(name).stem or name}.png"] = partner()
        if layout == "folder":
            source = tmp_path / "pairs"
            for name, data in members.items():
                write(source / name, data)
        else:
            source = tmp_path / "pairs.zip"
            corpus.write_zip(source, members)
        dataset = load_paired(source, resolution=8, channels=3)
        assert dataset.samples.shape[1:] == (6, 8, 8)
        found = {}
        for index, case in enumerate(cases):
            prefix = f"A/{index:04d}/"
            about = [entry for entry in dataset.skipped if entry.startswith(prefix)]
            assert len(about) <= 1, about
            found[case.name] = about[0].split(": ", 1)[1] if about else ""
        assert len(dataset) == sum(reason == "" for reason in found.values())  # each good input made a pair
        return found

    return load


def via_side_by_side(tmp_path, cases) -> dict[str, str]:
    """Each case as a picture that should hold the input and the target side by side."""
    source = tmp_path / "pairs"
    for index, case in enumerate(cases):
        write(source / f"{index:04d}" / Path(case.name).name, case.data)
    write(source / "good" / "pair.png", corpus.encode(corpus.picture(size=(40, 20)), "PNG"))  # one usable pair
    dataset = load_paired(source, resolution=8, channels=1)
    reasons = _reasons(dataset.skipped)
    assert "good/pair.png" not in reasons and len(dataset) + len(dataset.skipped) == len(cases) + 1
    return {case.name: reasons.get(f"{index:04d}/{Path(case.name).name}", "") for index, case in enumerate(cases)}


def via_apply(tmp_path, cases) -> dict[str, str]:
    """`apply_pictures` on a folder of the cases (it lists image names only)."""
    from gan_space.models import UNetGenerator
    from gan_space.translation import apply_pictures

    model = UNetGenerator(in_channels=1, channels=3, scale=1, width=4, depth=2, residual=True, task="colorize").eval()
    source = tmp_path / "pictures"
    names = {}
    for index, case in enumerate(cases):
        name = f"{index:04d}-{Path(case.name).name}"
        write(source / name, case.data)
        names[case.name] = name
    written, skipped = apply_pictures(model, source, tmp_path / "out")
    reasons = _reasons(skipped)
    assert len(written) + len(skipped) == len(cases)
    for path in written:
        assert Image.open(path).mode == "RGB"
    return {case.name: reasons.get(names[case.name], "") for case in cases}


ENTRY_POINTS = {
    # name: (how the cases enter, the cases it takes, what a good picture may still be refused for)
    "decoder": (via_decoder, IMAGE_NAMED, ()),
    "folder": (via_loader("folder"), CASES, ()),
    "zip": (via_loader("zip"), CASES, ()),
    "pairs-folder": (via_pairs("folder"), CASES, ()),
    "pairs-zip": (via_pairs("zip"), CASES, ()),
    "pairs-side-by-side": (via_side_by_side, CASES, (SIDE_BY_SIDE,)),
    "apply": (via_apply, IMAGE_NAMED, ()),  # (a folder's other names are not listed: never read)
}


@pytest.mark.parametrize("entry_point", list(ENTRY_POINTS))
def test_every_entry_point_refuses_each_bad_file_with_its_reason_and_loads_the_good_ones(tmp_path, entry_point):
    enter, cases, good_may_say = ENTRY_POINTS[entry_point]
    found = enter(tmp_path, cases)
    assert set(found) == {case.name for case in cases}
    refused = 0
    for case in cases:
        reason = found[case.name]
        if case.expect == "image":
            assert reason == "" or any(allowed in reason for allowed in good_may_say), \
                f"{entry_point}: {case.name} should load, was refused: {reason}"
        elif case.expect == "skip":
            assert case.reason in reason, f"{entry_point}: {case.name}: expected {case.reason!r}, got {reason!r}"
            refused += 1
        assert "Traceback" not in reason and "\n" not in reason
    assert refused >= 150


@pytest.mark.parametrize("entry_point", list(ENTRY_POINTS))
def test_every_entry_point_refuses_bombs_before_any_pixel_is_decoded(tmp_path, monkeypatch, entry_point):
    from PIL import ImageFile

    decoded = []
    original = ImageFile.ImageFile.load

    def load(self):  # small good pictures (a pair's partner, the one fine file) may be decoded
        if self.width * self.height > 10_000:
            decoded.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    bombs = [case for case in CASES if case.category == "bomb"]
    fine = corpus.Case("fine/fine.png", partner(), "image")
    enter, _, _ = ENTRY_POINTS[entry_point]
    found = enter(tmp_path, bombs + [fine])
    assert all("too large" in found[case.name] for case in bombs), found
    assert found[fine.name] == "" or SIDE_BY_SIDE in found[fine.name]
    assert decoded == []


def test_apply_on_one_hostile_file_says_why_and_writes_nothing(tmp_path):
    from gan_space.models import RRDBGenerator
    from gan_space.translation import apply_pictures

    model = RRDBGenerator(in_channels=3, channels=3, scale=2, width=4, blocks=1, growth=4).eval()
    for case in [c for c in IMAGE_NAMED if c.expect == "skip"][::25]:
        path = tmp_path / "in" / Path(case.name).name
        write(path, case.data)
        with pytest.raises(ValueError, match=f"no picture could be processed \\({path.name}: .*{case.reason}"):
            apply_pictures(model, path, tmp_path / "out.png")
        assert not (tmp_path / "out.png").exists()
    pipe = tmp_path / "in" / "pipe.png"
    os.mkfifo(pipe)  # reading a pipe would block forever
    with pytest.raises(ValueError, match="no such picture or folder"):
        apply_pictures(model, pipe, tmp_path / "out.png")
    good = tmp_path / "in" / "good.png"
    write(good, partner())
    written, skipped = apply_pictures(model, good, tmp_path / "out.png")
    assert written == [str(tmp_path / "out.png")] and skipped == []
    assert Image.open(written[0]).size == (40, 40)
    assert torch.is_tensor(torch.as_tensor(np.asarray(Image.open(written[0]))))
