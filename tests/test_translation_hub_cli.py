"""Image-to-image models from the command line (`train --task`, `apply`) and through the Hub
(push and pull round trip exact, the card's before/after picture and held-out scores)."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from gan_space import cli


@pytest.fixture(scope="module")
def picture_folder(tmp_path_factory):
    """32 small pictures of emoji (a real picture set, in files)."""
    from gan_space.data import load_emoji

    folder = tmp_path_factory.mktemp("pictures")
    for i, picture in enumerate(load_emoji(32, 3).samples[:32:1]):
        Image.fromarray(picture.permute(1, 2, 0).numpy()).save(folder / f"emoji-{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def sr_run(picture_folder, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "sr"
    code = cli.main(["train", "--task", "super-resolution", "--scale", "4", "--dataset", str(picture_folder),
                     "--out", str(run), "--steps", "4", "--batch-size", "4", "--resolution", "32", "--width", "8",
                     "--num-layers", "1", "--precision", "fp32"])
    assert code == 0
    return run


def test_cli_trains_super_resolution_and_prints_held_out_scores(sr_run, capsys):
    import json

    settings = json.loads((sr_run / "train_config.json").read_text())
    assert (settings["task"], settings["scale"], settings["arch"]) == ("super-resolution", 4, "rrdb")
    assert (sr_run / "held_out.safetensors").is_file()


def test_cli_train_output_names_the_scores(picture_folder, tmp_path, capsys):
    code = cli.main(["train", "--task", "colorize", "--dataset", str(picture_folder), "--out", str(tmp_path / "c"),
                     "--steps", "2", "--batch-size", "4", "--resolution", "32", "--width", "8", "--precision", "fp32"])
    out = capsys.readouterr().out
    assert code == 0 and "held-out (3 pictures): PSNR" in out and "input: PSNR" in out


def test_cli_apply_to_a_picture_and_a_folder(sr_run, picture_folder, tmp_path, capsys):
    picture = tmp_path / "new.png"
    Image.new("RGB", (50, 30), (30, 200, 90)).save(picture)
    assert cli.main(["apply", "--model", str(sr_run), "--input", str(picture), "--out", str(tmp_path / "big.png"),
                     "--compare"]) == 0
    assert Image.open(tmp_path / "big.png").size == (200, 120)
    assert Image.open(tmp_path / "big-compare.png").size == (408, 120)  # bicubic | result

    folder = tmp_path / "several"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (20 + i, 16), (i * 50, 0, 0)).save(folder / f"{i}.jpg")
    (folder / "broken.png").write_bytes(b"not a picture")
    assert cli.main(["apply", "--model", str(sr_run), "--input", str(folder), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png", "2.png"]
    assert "skipped broken.png: not a readable image" in out


def test_cli_apply_errors_are_one_line(sr_run, tmp_path, capsys):
    digits_run = Path(__file__).resolve().parent.parent / "checkpoints" / "digits"
    picture = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(picture)
    assert cli.main(["apply", "--model", str(digits_run), "--input", str(picture), "--out", str(tmp_path / "o.png")]) \
        == cli.EXIT_USAGE
    assert "samples from noise: apply needs an image-to-image model" in capsys.readouterr().err
    assert cli.main(["apply", "--model", str(sr_run), "--input", str(tmp_path / "missing.png"),
                     "--out", str(tmp_path / "o.png")]) == cli.EXIT_USAGE
    assert "no such picture or folder" in capsys.readouterr().err
    assert cli.main(["train", "--task", "colorize", "--channels", "1", "--dataset", "emoji",
                     "--out", str(tmp_path / "x")]) == cli.EXIT_USAGE
    assert "colourisation makes colour pictures" in capsys.readouterr().err


def test_hub_round_trip_is_exact_and_the_card_shows_before_after_and_scores(sr_run, fake_hub, hub_repo_id, tmp_path):
    from huggingface_hub import hf_hub_download

    from gan_space import hub
    from gan_space.checkpoints import load_generator
    from gan_space.translation import apply_tiled

    url = hub.push(sr_run, hub_repo_id, token=fake_hub.token)
    assert url.rstrip("/").endswith(hub_repo_id)
    files = set(fake_hub.files(hub_repo_id))
    assert {"config.json", "diffusion_pytorch_model.safetensors", "README.md", "sample_grid.png",
            "summary.json"} <= files
    assert "held_out.safetensors" not in files  # the pictures are measured and shown, not uploaded

    pulled = hub.pull(hub_repo_id, token=fake_hub.token)  # one call: the model, ready to apply
    original = load_generator(sr_run)
    assert type(pulled) is type(original)
    for name, tensor in original.state_dict().items():
        assert torch.equal(tensor, pulled.state_dict()[name]), name
    picture = torch.rand(1, 3, 20, 24) * 2 - 1
    assert torch.equal(apply_tiled(original, picture), apply_tiled(pulled, picture))

    card = Path(hf_hub_download(hub_repo_id, "README.md", token=fake_hub.token)).read_text()
    assert "super-resolution x4" in card and "| this model |" in card and "| bicubic |" in card
    assert "pipeline_tag: image-to-image" in card and "apply(model" in card
    grid = Image.open(hf_hub_download(hub_repo_id, "sample_grid.png", token=fake_hub.token))
    assert grid.size[0] > 3 * 128  # three columns of at least 128 px: bicubic | model | original
    # From the command line too, into a folder, then applied from there.
    assert cli.main(["pull", "--repo", hub_repo_id, "--out", str(tmp_path / "pulled")]) in (0,)
    assert cli.main(["apply", "--model", str(tmp_path / "pulled"), "--input", str(_picture(tmp_path)),
                     "--out", str(tmp_path / "r.png")]) == 0


def _picture(folder: Path) -> Path:
    path = folder / "in.png"
    Image.new("RGB", (12, 12), (10, 20, 30)).save(path)
    return path


def test_generate_points_an_image_to_image_model_to_apply(sr_run, tmp_path, capsys):
    assert cli.main(["generate", "--model", str(sr_run), "--out", str(tmp_path / "s.png")]) == cli.EXIT_USAGE
    assert "python -m gan_space apply --model" in capsys.readouterr().err
    assert cli.main(["score", "--model", str(sr_run), "--num", "8"]) == cli.EXIT_USAGE
    assert "its scores are PSNR, SSIM and the Fréchet distance on its held-out pictures" in capsys.readouterr().err


def test_two_processes_train_a_pair_task_from_the_cli(picture_folder, tmp_path):
    """`torchrun --nproc_per_node 2 -m gan_space train --task ...`: two CPU processes (gloo), each with its
    shard of the pictures; rank 0 writes the run, and the model applies."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")])))
    run = tmp_path / "two"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             "-m", "gan_space", "train", "--task", "super-resolution", "--scale", "2", "--dataset",
                             str(picture_folder), "--out", str(run), "--steps", "4", "--batch-size", "4",
                             "--resolution", "32", "--width", "8", "--num-layers", "1", "--precision", "fp32"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 processes x 2 samples a step" in result.stdout and "held-out (3 pictures)" in result.stdout
    assert (run / "held_out.safetensors").is_file()
    assert cli.main(["apply", "--model", str(run), "--input", str(_picture(tmp_path)), "--out",
                     str(tmp_path / "r.png")]) == 0
    assert Image.open(tmp_path / "r.png").size == (24, 24)
