"""Unpaired translation (task "unpaired"): two domains as rows, held-out pictures kept out of
training on both sides, the alignment used for measuring only, and the run end to end."""

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
