"""Shared test set-up: offline, no telemetry, an isolated Hugging Face home so no real
token is ever read or sent."""

import os
import tempfile

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="gan_space-hf-home-")
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HUGGING_FACE_HUB_TOKEN", None)

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def tiny_image_folder(tmp_path):
    """A folder of small real PNGs in two class sub-folders, plus a corrupt file and a text file."""
    from PIL import Image

    root = tmp_path / "images"
    for label, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        (root / label).mkdir(parents=True)
        for i in range(6):
            image = Image.new("RGB", (40, 30), colour)
            image.putpixel((i, i), (255, 255, 255))
            image.save(root / label / f"{i}.png")
    (root / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (root / "blue" / "notes.txt").write_text("not an image")
    return root
