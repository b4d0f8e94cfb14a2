import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan_space.data import DatasetError, decode_image, load_dataset, mixture_modes


def test_digits_builtin():
    data = load_dataset("digits", resolution=32, channels=3)
    assert data.samples.shape == (1797, 3, 32, 32) and data.samples.dtype == torch.uint8
    assert data.num_classes == 10 and data.labels.shape == (1797,)
    normalised = data.normalised()
    assert normalised.min() == -1 and normalised.max() == 1


@pytest.mark.parametrize("name, modes, std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_mixtures_match_the_pacgan_definition(name, modes, std):
    centres, spread = mixture_modes(name)
    assert len(centres) == modes and spread == std
    data = load_dataset(name)
    distances = torch.cdist(data.samples, centres).min(1).values
    assert (distances < 5 * std).float().mean() > 0.999
    assert data.normalised().std(0).mean() == pytest.approx(1.0, abs=0.01)
    if name == "ring8":
        assert torch.allclose(centres.norm(dim=1), torch.ones(8))
    else:
        assert set(centres.flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_image_folder_uses_subfolders_as_classes_and_reports_skipped(tiny_image_folder):
    data = load_dataset(str(tiny_image_folder), resolution=16, channels=3)
    assert data.samples.shape == (12, 3, 16, 16)
    assert data.class_names == ["blue", "red"] and data.labels.tolist().count(1) == 6
    reasons = "\n".join(data.skipped)
    assert len(data.skipped) == 2 and "broken.png" in reasons and "notes.txt" in reasons
    red = data.samples[data.labels == 1].float().mean(dim=(0, 2, 3))
    assert red[0] > 150 and red[2] < 80  # colours survive decoding


def _png(mode, size=(20, 10), **kwargs):
    buffer = io.BytesIO()
    image = Image.new(mode, size, **kwargs)
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("mode, value", [("L", 128), ("RGB", (10, 200, 30)), ("RGBA", (0, 0, 0, 0)), ("P", 3),
                                         ("I;16", 65535), ("1", 1)])
def test_decode_handles_every_pixel_format(mode, value):
    array = decode_image(_png(mode, color=value), resolution=8, channels=3)
    assert array.shape == (3, 8, 8) and array.dtype == np.uint8
    if mode == "I;16":
        assert array.min() == 255  # full-scale 16-bit is white, not clipped garbage
    if mode == "RGBA":
        assert array.min() == 255  # transparent pixels sit on white


def test_decode_centre_crops_to_a_square():
    image = Image.new("L", (30, 10), 0)
    for x in range(10, 20):
        for y in range(10):
            image.putpixel((x, y), 255)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert decode_image(buffer.getvalue(), 10, 1).min() == 255  # only the white centre survives


@pytest.mark.parametrize("payload, reason", [(b"", "empty"), (b"hello", "not a readable image"),
                                             (_png("RGB")[:40], "not a readable image")])
def test_decode_rejects_bad_files(payload, reason):
    with pytest.raises(ValueError, match=reason):
        decode_image(payload, 8, 1)


def test_zip_is_read_without_extracting(tmp_path):
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("a.png", _png("RGB", color=(255, 0, 0)))
        handle.writestr("../escape.png", _png("RGB", color=(0, 255, 0)))
        handle.writestr("/abs.png", _png("RGB", color=(0, 0, 255)))
        handle.writestr("bad.jpg", b"not a jpeg")
    data = load_dataset(str(archive), resolution=8, channels=3)
    assert len(data) == 3 and len(data.skipped) == 1
    assert not (tmp_path.parent / "escape.png").exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "images.zip"]


def test_sources_without_usable_images_are_clear_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("hi")
    with pytest.raises(DatasetError, match="no usable image"):
        load_dataset(str(empty))
    not_zip = tmp_path / "file.bin"
    not_zip.write_bytes(b"1234")
    with pytest.raises(DatasetError, match="not a .zip"):
        load_dataset(str(not_zip))
    broken_zip = tmp_path / "broken.zip"
    broken_zip.write_bytes(b"PK\x03\x04" + b"\0" * 30)
    with pytest.raises(DatasetError):
        load_dataset(str(broken_zip))
    with pytest.raises(DatasetError, match="not a built-in"):
        load_dataset("no such thing!")
    with pytest.raises(DatasetError, match="no dataset given"):
        load_dataset("  ")


def test_hugging_face_dataset_offline_is_a_clear_error(monkeypatch):
    import huggingface_hub.constants

    # A closed loopback port stands in for a machine without network.
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    with pytest.raises(DatasetError, match="could not reach the Hugging Face Hub|no dataset"):
        load_dataset("someone/some-dataset", resolution=8)
