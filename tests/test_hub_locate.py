""""A local folder or a Hub id", decided in one place (gan_space.hub.locate), and every entry
point that takes a model's name (the CLI, GANPipeline.from_pretrained, load_translator) going
through it: against the loopback Hub, so a name sent to the Hub by mistake shows up as a request."""

import os
from pathlib import Path

import pytest
import torch


from gan_space import hub
from gan_space.checkpoints import ModelLoadError, load_generator
from gan_space.hub import HUB, LOCAL, load_model, model_location

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints" / "digits"  # a generator folder


def _same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_a_local_folder_is_local_and_loads(tmp_path, monkeypatch):
    assert model_location(str(SHIPPED)) == (LOCAL, SHIPPED)
    assert model_location(SHIPPED) == (LOCAL, SHIPPED)
    assert model_location(f"  {SHIPPED}  ") == (LOCAL, SHIPPED)  # pasted with spaces
    assert _same_weights(load_model(str(SHIPPED)), load_generator(SHIPPED))

    # An existing folder named like owner/name is local: what is on this machine wins.
    (tmp_path / "alice" / "digits-gan").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert model_location("alice/digits-gan") == (LOCAL, Path("alice/digits-gan"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert model_location("~/alice/digits-gan") == (LOCAL, tmp_path / "alice" / "digits-gan")


MISSING_PATHS = ["./no-such-run", "../no-such-run", "/no/such/run", "~/no-such-run", "no-such-run",
                 "runs/no-such-run", "runs\\no-such-run", "~nobody-here/x"]


@pytest.mark.parametrize("name", MISSING_PATHS)
def test_a_missing_path_is_local_and_says_so_without_asking_the_hub(fake_hub, tmp_path, monkeypatch, name):
    (tmp_path / "runs").mkdir()  # `runs/no-such-run` is a typo in a folder that exists, not a Hub id
    monkeypatch.chdir(tmp_path)
    fake_hub.clear_requests()
    kind, where = model_location(name)
    assert kind == LOCAL and where == Path(os.path.expanduser(name))
    with pytest.raises(ModelLoadError, match="no such folder"):
        load_model(name, token=fake_hub.token)
    assert fake_hub.requests == []  # the name never left the machine


def test_a_hub_id_is_pulled(fake_hub, hub_repo_id, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no folder named like the owner here
    hub.push(SHIPPED, hub_repo_id, token=fake_hub.token, private=True, measure_quality=False)
    assert model_location(hub_repo_id) == (HUB, hub_repo_id)
    assert model_location(f" {hub_repo_id}\n") == (HUB, hub_repo_id)
    fake_hub.clear_requests()
    pulled = load_model(hub_repo_id, token=fake_hub.token)
    assert _same_weights(pulled, load_generator(SHIPPED)) and not pulled.training
    assert any(f"/{hub_repo_id}/" in request.path for request in fake_hub.requests)
    with pytest.raises(hub.HubRepoNotFoundError, match="private"):  # private: the token is what load_model sends
        load_model(hub_repo_id)


@pytest.mark.parametrize("name", ["a/b/c", "alice/", "alice/x y", "https://huggingface.co/alice/x", "alice/..",
                                  "alice/x?rev=1"])
def test_a_name_that_is_neither_fails_clearly_before_any_request(fake_hub, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    fake_hub.clear_requests()
    with pytest.raises(hub.InvalidRepoIdError) as refused:
        model_location(name)
    message = str(refused.value)
    assert f"there is no folder {name!r} on this machine" in message
    assert "is not a Hugging Face repo id" in message and "owner/name" in message
    with pytest.raises(hub.InvalidRepoIdError):
        load_model(name, token=fake_hub.token)
    for blank in ("", "   "):
        with pytest.raises(hub.InvalidRepoIdError, match="no model named: give a run or generator folder"):
            model_location(blank)
    assert fake_hub.requests == []


def test_every_entry_point_uses_the_same_rule(fake_hub, hub_repo_id, tmp_path, monkeypatch, capsys):
    """The CLI, GANPipeline.from_pretrained and load_translator all read `runs/typo` as a
    missing folder (before, each guessed on its own and two of them asked the Hub for it),
    and all pull an owner/name id."""
    from gan_space import GANPipeline
    from gan_space.cli import main
    from gan_space.hub import load_translator

    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    fake_hub.clear_requests()
    assert main(["generate", "--model", "runs/typo", "--num", "4", "--out", str(tmp_path / "x.png")]) != 0
    assert "no such folder: runs/typo" in capsys.readouterr().err
    with pytest.raises(ModelLoadError, match="no such folder"):
        GANPipeline.from_pretrained("runs/typo", token=False)
    with pytest.raises(ModelLoadError, match="no such folder"):
        load_translator("runs/typo")
    assert fake_hub.requests == []

    hub.push(SHIPPED, hub_repo_id, token=fake_hub.token, measure_quality=False)
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    assert main(["generate", "--model", hub_repo_id, "--num", "4", "--out", str(tmp_path / "hub.png")]) == 0
    assert _same_weights(GANPipeline.from_pretrained(hub_repo_id, token=False).generator, load_generator(SHIPPED))
    with pytest.raises(ValueError, match="samples from noise: apply needs an image-to-image model"):
        load_translator(hub_repo_id)  # pulled, then refused for what it is
