import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gan_space.cli import main


def run_cli(*args):
    """The real command in a fresh process: exit code, stdout, stderr."""
    process = subprocess.run([sys.executable, "-m", "gan_space", *args], capture_output=True, text=True,
                             timeout=300)
    return process.returncode, process.stdout, process.stderr


def test_train_generate_info_round_trip(tmp_path):
    run = tmp_path / "run"
    code, out, err = run_cli("train", "--dataset", "ring8", "--out", str(run), "--steps", "30", "--batch-size", "64")
    assert code == 0, err
    assert "finished 30 steps" in out
    code, out, err = run_cli("generate", "--model", str(run), "--num", "100", "--out", str(tmp_path / "s.npy"))
    assert code == 0, err
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (100, 2) and samples.dtype == np.float32
    assert np.abs(samples).max() < 20  # data coordinates of a ring of radius 1, not garbage
    code, out, err = run_cli("info", "--model", str(run))
    assert code == 0 and "MLPGenerator" in out and "30/30 steps" in out


def test_image_outputs(tmp_path):
    run = tmp_path / "digits"
    assert main(["train", "--dataset", "digits", "--out", str(run), "--steps", "10", "--width", "32"]) == 0
    assert main(["generate", "--model", str(run), "--num", "6", "--out", str(tmp_path / "g.npy"), "--seed", "3"]) == 0
    raw = np.load(tmp_path / "g.npy")
    assert raw.shape == (6, 8, 8, 1) and raw.dtype == np.uint8
    assert main(["generate", "--model", str(run), "--num", "6", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size == (3 * 64, 2 * 64)
    # Resume extends the run and keeps counting steps.
    assert main(["train", "--out", str(run), "--resume", "--steps", "15"]) == 0


@pytest.mark.parametrize("args, message", [
    (["train", "--dataset", "nowhere/at/all", "--out", "{tmp}/x"], "no dataset named"),
    (["train", "--dataset", "digits", "--steps", "0", "--out", "{tmp}/x"], "steps=0 is out of range"),
    (["train", "--resume", "--out", "{tmp}/missing"], "not a gan_space run folder"),
    (["generate", "--model", "{tmp}/missing", "--out", "{tmp}/a.png"], "no such folder"),
    (["generate", "--model", "{tmp}", "--out", "{tmp}/a.gif"], "must end in .png"),
    (["info", "--model", "{tmp}"], "holds no gan_space generator"),
])
def test_errors_are_one_clear_line(tmp_path, args, message):
    code, out, err = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_pickled_weights_are_refused(tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text('{"_class_name": "DCGANGenerator"}')
    (folder / "diffusion_pytorch_model.bin").write_bytes(b"not to be unpickled")
    code, out, err = run_cli("generate", "--model", str(folder), "--out", str(tmp_path / "a.png"))
    assert code != 0 and "pickled weights are never loaded" in err
