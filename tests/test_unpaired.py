"""Unpaired translation (task "unpaired"): two domains as rows, held-out pictures kept out of
training on both sides, the alignment used for measuring only, and the run end to end."""

from pathlib import Path

import pytest
import torch

from gan_space.data import Dataset, DatasetError
from gan_space.pairs import held_out_rows, split_held_out, unpaired_rows


def _domain(name: str, count: int, offset: int = 0) -> Dataset:
    """Pictures whose every pixel is their own number (offset + i), so a row says which pictures it holds."""
    values = torch.arange(offset, offset + count, dtype=torch.uint8)
    return Dataset(name=name, kind="images", samples=values.reshape(-1, 1, 1, 1).expand(-1, 3, 4, 4).contiguous())


def _sides(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    return dataset.samples[:, 0, 0, 0].long(), dataset.samples[:, 3, 0, 0].long()


def test_held_out_pictures_of_both_domains_are_never_trained_on():
    rows = unpaired_rows(_domain("a", 150), _domain("b", 100, offset=150), seed=3)  # (pixel values < 256)
    assert len(rows) == 150 and not rows.aligned and rows.data_shape == [6, 4, 4]
    train, held = split_held_out(rows)
    train_a, train_b = _sides(train)
    held_a, held_b = held[:, 0, 0, 0].long(), held[:, 3, 0, 0].long()
    assert len(held) == len(held_out_rows(150)) == 15
    assert not set(held_a.tolist()) & set(train_a.tolist())
    assert not set(held_b.tolist()) & set(train_b.tolist())
    # every training picture of each side is used, the smaller side about equally often
    assert set(train_a.tolist()) == set(range(150)) - set(held_a.tolist())
    assert set(train_b.tolist()) == set(range(150, 250)) - set(held_b.tolist())
    counts = torch.bincount(train_b - 150)
    used = counts[counts > 0]
    assert used.max() - used.min() <= 1


def test_training_rows_pair_pictures_at_random_even_when_an_alignment_is_known():
    a, b = _domain("a", 200), _domain("b", 200, offset=50)
    alignment = (torch.arange(200), torch.arange(200))  # picture i of A is picture i of B
    rows = unpaired_rows(a, b, alignment=alignment, seed=0)
    assert rows.aligned
    train, held = split_held_out(rows)
    held_a, held_b = held[:, 0, 0, 0].long(), held[:, 3, 0, 0].long()
    assert torch.equal(held_b - 50, held_a)  # measured against true counterparts
    train_a, train_b = _sides(train)
    assert (train_b - 50 == train_a).float().mean() < 0.05  # trained on no alignment: a chance match now and then
    assert not set(held_b.tolist()) & set(train_b.tolist())


def test_an_alignment_narrows_both_sets_to_what_they_share():
    a, b = _domain("a", 50), _domain("b", 40, offset=100)
    alignment = (torch.arange(10, 40), torch.arange(0, 30))
    rows = unpaired_rows(a, b, alignment=alignment, seed=0)
    a_side, b_side = _sides(rows)
    assert len(rows) == 30 and set(a_side.tolist()) == set(range(10, 40))
    assert set(b_side.tolist()) == set(range(100, 130))


def test_a_small_domain_repeats_its_few_held_out_pictures():
    rows = unpaired_rows(_domain("a", 200), _domain("b", 15, offset=220), seed=1)
    train, held = split_held_out(rows)
    held_b, train_b = held[:, 3, 0, 0].long(), train.samples[:, 3, 0, 0].long()
    assert len(held) == 20 and len(set(held_b.tolist())) == 1
    assert set(train_b.tolist()) == set(range(220, 235)) - set(held_b.tolist())


@pytest.mark.parametrize("sizes, side", [((0, 10), "A"), ((10, 1), "B")])
def test_an_empty_or_single_picture_domain_is_refused_saying_which(sizes, side):
    with pytest.raises(DatasetError, match=f"domain {side} .*needs at least 2 in each domain"):
        unpaired_rows(_domain("a", sizes[0]), _domain("b", sizes[1]))


def test_domains_of_different_shapes_are_refused():
    grey = Dataset(name="g", kind="images", samples=torch.zeros(5, 1, 4, 4, dtype=torch.uint8))
    with pytest.raises(DatasetError, match="differ in shape"):
        unpaired_rows(_domain("a", 5), grey)


# ---------------------------------------------------------------------------
# End to end: two folders, the CLI, apply in both directions, the Hub


@pytest.fixture(scope="module")
def domains(tmp_path_factory):
    """Domain A: Noto emoji; domain B: other emoji in the flat style (24 files each, in folders)."""
    from PIL import Image

    from gan_space.data import load_emoji

    root = tmp_path_factory.mktemp("domains")
    for name, style, start in (("a", "emoji", 0), ("b", "emoji-flat", 500)):
        folder = root / name
        folder.mkdir()
        for i, picture in enumerate(load_emoji(16, 3, style=style).samples[start:start + 24]):
            Image.fromarray(picture.permute(1, 2, 0).numpy()).save(folder / f"{name}-{i:02d}.png")
    return root


def _train(domains, out, arch, *extra):
    from gan_space import cli

    return cli.main(["train", "--task", "unpaired", "--dataset", str(domains / "a"), "--dataset-b", str(domains / "b"),
                     "--arch", arch, "--resolution", "16", "--width", "8", "--batch-size", "4", "--steps", "6",
                     "--precision", "fp32", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def cyclegan_run(domains, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "cyclegan"
    assert _train(domains, run, "cyclegan") == 0
    return run


def test_cli_trains_cut_by_default_on_two_folders_and_scores_it_as_a_distribution(domains, tmp_path, capsys):
    import json

    from gan_space.pairs import HELD_OUT_FILE, HeldOut

    from gan_space import cli

    run = tmp_path / "cut"
    code = cli.main(["train", "--task", "unpaired", "--dataset", str(domains / "a"), "--dataset-b",
                     str(domains / "b"), "--resolution", "16", "--width", "8", "--batch-size", "4", "--steps", "4",
                     "--precision", "fp32", "--out", str(run)])
    out = capsys.readouterr().out
    assert code == 0
    settings = json.loads((run / "train_config.json").read_text())
    assert (settings["task"], settings["arch"], settings["dataset_b"]) == ("unpaired", "cut", str(domains / "b"))
    assert not HeldOut.load(run / HELD_OUT_FILE).aligned
    # Folders hold no alignment: only the distribution is compared (no PSNR to unrelated B pictures).
    assert "held-out (2 pictures)" in out and "PSNR" not in out


def test_cyclegan_applies_both_ways_in_tiles_and_cut_refuses_b_to_a(cyclegan_run, domains, tmp_path, capsys):
    from PIL import Image

    from gan_space import cli
    from gan_space.hub import load_translator
    from gan_space.translation import apply_tiled, in_direction

    big = tmp_path / "big.png"
    Image.new("RGB", (53, 37), (200, 40, 90)).save(big)
    for direction in ("AtoB", "BtoA"):
        target = tmp_path / f"{direction}.png"
        assert cli.main(["apply", "--model", str(cyclegan_run), "--input", str(big), "--out", str(target),
                         "--direction", direction, "--tile", "16", "--overlap", "4"]) == 0
        assert Image.open(target).size == (53, 37)
    model = load_translator(cyclegan_run)
    picture = torch.rand(1, 3, 40, 24) * 2 - 1
    forward, backward = apply_tiled(model, picture, tile=16), apply_tiled(in_direction(model, "BtoA"), picture, tile=16)
    assert forward.shape == backward.shape == picture.shape and not torch.equal(forward, backward)

    cut = tmp_path / "cut"
    assert _train(domains, cut, "cut", "--steps", "2") == 0
    capsys.readouterr()
    code = cli.main(["apply", "--model", str(cut), "--input", str(big), "--out", str(tmp_path / "x.png"),
                     "--direction", "BtoA"])
    assert code != 0 and "cyclegan" in capsys.readouterr().err


def test_an_empty_domain_or_a_missing_one_is_a_clear_error(domains, tmp_path, capsys):
    from gan_space import cli

    empty = tmp_path / "empty"
    empty.mkdir()
    code = cli.main(["train", "--task", "unpaired", "--dataset", str(domains / "a"), "--dataset-b", str(empty),
                     "--resolution", "16", "--steps", "1", "--out", str(tmp_path / "r")])
    assert code != 0 and "empty" in capsys.readouterr().err
    code = cli.main(["train", "--task", "unpaired", "--dataset", str(domains / "a"), "--resolution", "16",
                     "--steps", "1", "--out", str(tmp_path / "r2")])
    err = capsys.readouterr().err
    assert code != 0 and "dataset_b" in err and "domain B" in err
    code = cli.main(["train", "--dataset", "digits", "--dataset-b", "emoji", "--steps", "1", "--out", str(tmp_path / "r3")])
    assert code != 0 and "task='unpaired'" in capsys.readouterr().err


def test_the_built_in_styles_train_with_aligned_held_out_pictures(tmp_path):
    from gan_space.held_out import held_out_scores
    from gan_space.training import TrainConfig, Trainer

    config = TrainConfig.for_dataset("emoji", task="unpaired", dataset_b="emoji-flat", resolution=16, width=8,
                                     batch_size=4, steps=2, precision="fp32", out_dir=str(tmp_path / "styles"))
    trainer = Trainer(config)
    list(trainer.run())
    assert trainer.held_out.aligned and len(trainer.held_out) == 64
    scores = held_out_scores(trainer.sampling_generator(), trainer.held_out, "unpaired")
    assert scores.psnr is not None and scores.frechet_distance is not None and scores.baseline == "untranslated"


def test_hub_round_trip_of_a_cyclegan_model_keeps_both_directions(cyclegan_run, fake_hub, hub_repo_id):
    from huggingface_hub import hf_hub_download

    from gan_space import hub
    from gan_space.checkpoints import load_generator
    from gan_space.translation import apply_tiled, in_direction

    hub.push(cyclegan_run, hub_repo_id, token=fake_hub.token)
    pulled, original = hub.pull(hub_repo_id, token=fake_hub.token), load_generator(cyclegan_run)
    assert type(pulled) is type(original)
    picture = torch.rand(1, 3, 20, 28) * 2 - 1
    for direction in ("AtoB", "BtoA"):
        assert torch.equal(apply_tiled(in_direction(original, direction), picture),
                           apply_tiled(in_direction(pulled, direction), picture))
    card = Path(hf_hub_download(hub_repo_id, "README.md", token=fake_hub.token)).read_text()
    assert "unpaired translation" in card and "--direction BtoA" in card and "| untranslated |" in card
    assert "n/a (no picture of B belongs to its input)" in card
