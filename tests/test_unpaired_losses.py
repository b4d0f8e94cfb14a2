"""The losses of unpaired translation (gan_space.objectives.unpaired) against hand
computations on tiny tensors, and the history buffer's behaviour and its saved state."""

import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from gan_space.objectives.unpaired import HistoryBuffer, cycle_loss, identity_loss, patch_nce_loss


def test_cycle_and_identity_losses_are_mean_absolute_differences():
    original = torch.tensor([[[[0.0, 1.0], [-1.0, 0.5]]]])
    back = torch.tensor([[[[0.5, 1.0], [0.0, -0.5]]]])
    # |0.5 - 0| + |1 - 1| + |0 - -1| + |-0.5 - 0.5| = 0.5 + 0 + 1 + 1 = 2.5, over 4 pixels
    assert cycle_loss(original, back).item() == pytest.approx(2.5 / 4)
    assert identity_loss(original, back).item() == pytest.approx(2.5 / 4)
    assert cycle_loss(original, original).item() == 0.0
    # Over a batch of two pictures and three channels: every pixel off by 0.2.
    pictures = torch.zeros(2, 3, 4, 4)
    assert identity_loss(pictures, pictures + 0.2).item() == pytest.approx(0.2)


def _cross_entropy(logits: list[float], right: int) -> float:
    """-log softmax(logits)[right], by hand."""
    return -math.log(math.exp(logits[right]) / sum(math.exp(v) for v in logits))


def test_patch_nce_with_two_patches_by_hand():
    query = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # one picture, two patches, two features
    key = torch.tensor([[[1.0, 0.0], [0.6, 0.8]]])
    temperature = 0.5
    # Patch 0: logits q0.k0 = 1, q0.k1 = 0.6 -> [2.0, 1.2]; the right answer is key 0.
    # Patch 1: q1.k0 = 0, q1.k1 = 0.8 -> [0.0, 1.6]; the right answer is key 1.
    expected = (_cross_entropy([2.0, 1.2], 0) + _cross_entropy([0.0, 1.6], 1)) / 2
    assert patch_nce_loss(query, key, temperature).item() == pytest.approx(expected, rel=1e-6)


def test_patch_nce_with_three_patches_takes_negatives_from_the_same_picture_only():
    temperature = 0.07
    unit = torch.nn.functional.normalize
    first = unit(torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]), dim=-1)
    first_keys = unit(torch.tensor([[[0.9, 0.1, 0.0], [0.2, 0.9, 0.1], [0.5, 0.0, 0.5]]]), dim=-1)
    logits = (first[0] @ first_keys[0].T / temperature).tolist()
    expected_first = sum(_cross_entropy(row, i) for i, row in enumerate(logits)) / 3
    assert patch_nce_loss(first, first_keys, temperature).item() == pytest.approx(expected_first, rel=1e-5)
    # A second picture in the batch: the loss is the mean of both pictures' own losses, so the
    # second picture's patches are no negatives for the first's.
    second, second_keys = unit(torch.randn(1, 3, 3), dim=-1), unit(torch.randn(1, 3, 3), dim=-1)
    both = patch_nce_loss(torch.cat([first, second]), torch.cat([first_keys, second_keys]), temperature)
    alone = patch_nce_loss(second, second_keys, temperature)
    assert both.item() == pytest.approx((expected_first + alone.item()) / 2, rel=1e-5)


def test_patch_nce_prefers_the_patch_at_the_same_place_and_pulls_only_the_queries():
    keys = torch.nn.functional.normalize(torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    matching = patch_nce_loss(keys, keys)
    shuffled = patch_nce_loss(keys[:, [1, 2, 3, 0]], keys)
    assert matching < math.log(4) < shuffled  # log(4): the loss of a query equally like every key
    query = keys.clone().requires_grad_(True)
    key = keys.clone().requires_grad_(True)
    patch_nce_loss(query, key).backward()
    assert query.grad is not None and query.grad.abs().sum() > 0
    assert key.grad is None  # the input's features are constants
    with pytest.raises(ValueError, match="pictures, patches, features"):
        patch_nce_loss(torch.zeros(2, 4), torch.zeros(2, 4))


def _pictures(values) -> torch.Tensor:
    """One 1x2x2 picture per value, filled with it (so each picture is known by its value)."""
    return torch.tensor(values, dtype=torch.float32).reshape(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()


def _values(pictures: torch.Tensor) -> list[float]:
    return pictures[:, 0, 0, 0].tolist()


def test_the_history_buffer_fills_then_swaps_about_half_and_loses_no_picture():
    buffer = HistoryBuffer(size=4)
    stream = torch.Generator().manual_seed(3)
    first = buffer.query(_pictures([1, 2, 3]), stream)
    assert _values(first) == [1, 2, 3] and len(buffer) == 3  # filling: shown as they are, all stored
    second = buffer.query(_pictures([4, 5, 6]), stream)
    assert _values(second)[0] == 4 and len(buffer) == 4  # the last free place takes 4
    # Every picture seen is either shown now or still stored, exactly once.
    assert sorted(_values(second)[1:] + _values(buffer.images)) == [1, 2, 3, 4, 5, 6]
    seen, shown_old = 7, 0
    for _ in range(200):
        batch = _pictures([seen, seen + 1])
        before = set(_values(buffer.images))
        shown = buffer.query(batch, stream)
        shown_old += sum(value in before for value in _values(shown))
        after = _values(buffer.images)
        assert len(after) == 4 and sorted(_values(shown) + after) == sorted(before | {seen, seen + 1})
        seen += 2
    assert 0.4 < shown_old / 400 < 0.6  # each fake swapped by a fair coin


def test_the_history_buffer_takes_batches_larger_than_itself_and_size_zero_passes_through():
    buffer = HistoryBuffer(size=3)
    stream = torch.Generator().manual_seed(0)
    shown = buffer.query(_pictures(list(range(8))), stream)  # one buffer's worth at a time: 3, 3, then 2
    assert shown.shape == (8, 1, 2, 2) and len(buffer) == 3
    assert _values(shown)[:3] == [0, 1, 2]  # the filling chunk: shown and stored
    # After it, every picture is either shown or still stored, exactly once.
    assert sorted(_values(shown)[3:] + _values(buffer.images)) == list(range(8))
    none = HistoryBuffer(size=0)
    pictures = _pictures([1, 2])
    assert none.query(pictures, stream) is pictures and len(none) == 0
    with pytest.raises(ValueError, match="whole number"):
        HistoryBuffer(size=-1)


def test_the_history_buffers_state_round_trips_through_safetensors(tmp_path):
    stream = torch.Generator().manual_seed(1)
    buffer = HistoryBuffer(size=5)
    assert buffer.state("history.b") == {}  # nothing while empty
    for start in range(0, 12, 3):
        buffer.query(_pictures([start, start + 1, start + 2]), stream)
    save_file(buffer.state("history.b"), tmp_path / "state.safetensors")
    restored = HistoryBuffer(size=5)
    restored.load_state(load_file(tmp_path / "state.safetensors"), "history.b", "cpu")
    assert torch.equal(restored.images, buffer.images)
    # From the same stream position both go on identically.
    stream_copy = torch.Generator().manual_seed(0)
    stream_copy.set_state(stream.get_state())
    for value in (100, 200, 300):
        a = buffer.query(_pictures([value, value + 1]), stream)
        b = restored.query(_pictures([value, value + 1]), stream_copy)
        assert torch.equal(a, b)
    assert torch.equal(restored.images, buffer.images)
    too_small = HistoryBuffer(size=2)
    with pytest.raises(ValueError, match="history_size=2"):
        too_small.load_state(buffer.state("history.b"), "history.b", "cpu")
