"""`python -m gan_space push / pull / generate --model owner/name` against the loopback Hub."""

import pytest
import torch
from PIL import Image

from gan_space.checkpoints import WEIGHTS_NAME, load_generator
from gan_space.cli import main
from gan_space.sampling import generate


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-runs") / "digits"
    assert main(["train", "--dataset", "digits", "--out", str(out), "--steps", "4", "--batch-size", "16",
                 "--width", "32"]) == 0
    return out


def test_push_pull_generate_from_the_command_line(fake_hub, run_folder, hub_repo_id, tmp_path, capsys,
                                                  monkeypatch):
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    capsys.readouterr()
    assert main(["push", "--model", str(run_folder), "--repo", hub_repo_id, "--private", "--discriminator"]) == 0
    out = capsys.readouterr().out
    assert f"/{hub_repo_id}" in out
    assert "README.md" in fake_hub.files(hub_repo_id) and "discriminator/config.json" in fake_hub.files(hub_repo_id)

    pulled = tmp_path / "pulled"
    assert main(["pull", "--repo", hub_repo_id, "--out", str(pulled)]) == 0
    assert "MLPGenerator" in capsys.readouterr().out
    assert (pulled / WEIGHTS_NAME).is_file() and (pulled / "README.md").is_file()
    original, copy = load_generator(run_folder), load_generator(pulled)
    for (name, a), (_, b) in zip(original.state_dict().items(), copy.state_dict().items()):
        assert torch.equal(a, b), name

    # generate --model owner/name pulls first, then samples exactly what the local run samples.
    assert main(["generate", "--model", hub_repo_id, "--num", "4", "--seed", "7",
                 "--out", str(tmp_path / "hub.png")]) == 0
    assert main(["generate", "--model", str(run_folder), "--num", "4", "--seed", "7",
                 "--out", str(tmp_path / "local.png")]) == 0
    assert list(Image.open(tmp_path / "hub.png").getdata()) == list(Image.open(tmp_path / "local.png").getdata())
    assert torch.equal(generate(original, 4, seed=7), generate(copy, 4, seed=7))

    assert main(["info", "--model", str(pulled)]) == 0
    captured = capsys.readouterr()
    assert fake_hub.token not in captured.out + captured.err


@pytest.mark.parametrize("args, message", [
    (["pull", "--repo", "alice/no-such-repo", "--out", "{tmp}/x"], "no model repository alice/no-such-repo"),
    (["pull", "--repo", "not a repo", "--out", "{tmp}/x"], "is not a Hugging Face repo id"),
    (["push", "--model", "{run}", "--repo", "bob/theirs"], "403"),
    (["push", "--model", "{tmp}/missing", "--repo", "alice/x"], "no such folder"),
])
def test_hub_errors_are_one_line_without_the_token(fake_hub, run_folder, tmp_path, capsys, monkeypatch,
                                                   args, message):
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    capsys.readouterr()
    args = [a.format(tmp=tmp_path, run=run_folder) for a in args]
    assert main(args) != 0
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert message in captured.err and "Traceback" not in captured.err
    assert fake_hub.token not in captured.err + captured.out


def test_push_without_hf_token_says_how_to_get_one(fake_hub, run_folder, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    capsys.readouterr()
    assert main(["push", "--model", str(run_folder), "--repo", "alice/whatever"]) == 1
    assert "needs a Hugging Face token" in capsys.readouterr().err
    assert not fake_hub.repo_exists("alice/whatever")
