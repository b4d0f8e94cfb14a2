"""The built-in pair of emoji styles for unpaired translation: "emoji" (Noto) and "emoji-flat"
(Fluent Emoji Flat), their code points and the alignment by code point (for measuring only)."""

import collections
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_space.data import (BUILTIN, BUILTIN_DATASETS, BUILTIN_IMAGE_SETS, EMOJI_SPRITES, EMOJI_STYLES, DatasetError,
                            aligned_rows, builtin_codes, dataset_kind, dataset_location, load_dataset, load_emoji)

COUNTS = {"emoji": 3781, "emoji-flat": 3139}
CATEGORIES = ["Activities", "Animals & Nature", "Flags", "Food & Drink", "Objects", "People & Body",
              "Smileys & Emotion", "Symbols", "Travel & Places"]
TONES = ("1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF")  # light ... dark


@pytest.fixture(scope="module")
def sets_32():
    return {name: load_dataset(name, 32, 3) for name in EMOJI_STYLES}


def test_the_flat_style_is_a_built_in_everywhere_a_built_in_name_is():
    from gan_space import names
    from gan_space.training import TrainConfig

    assert names.EMOJI_STYLES == ("emoji", "emoji-flat") == EMOJI_STYLES == tuple(EMOJI_SPRITES)
    for table in (names.BUILTIN_IMAGE_SETS, names.BUILTIN_DATASETS, BUILTIN_IMAGE_SETS, BUILTIN_DATASETS):
        assert "emoji-flat" in table
    assert dataset_location("emoji-flat") == BUILTIN and dataset_kind("emoji-flat") == "images"
    assert TrainConfig.for_dataset("emoji-flat").arch == TrainConfig.for_dataset("emoji").arch == "resnet"


@pytest.mark.parametrize("resolution", [64, 32])
@pytest.mark.parametrize("name", EMOJI_STYLES)
def test_both_styles_load_with_their_categories(name, resolution):
    data = load_dataset(name, resolution, 3)
    assert data.name == name and data.kind == "images"
    assert data.samples.shape == (COUNTS[name], 3, resolution, resolution) and data.samples.dtype == torch.uint8
    assert data.num_classes == 9 and data.class_names == CATEGORIES
    assert data.labels.shape == (COUNTS[name],) and set(data.labels.tolist()) == set(range(9))
    assert (data.samples[:, :, 0, 0] == 255).float().mean() > 0.9  # pictures on white
    assert data.samples.float().std() > 40  # and not blank: the pictures are there


def test_the_flat_style_has_no_flags_but_every_other_category():
    counts = collections.Counter(load_emoji(16, 1, "emoji-flat").labels.tolist())
    flags = CATEGORIES.index("Flags")
    # Fluent Emoji draws the flags that are not countries' (chequered, white, pirate, rainbow...)
    assert 0 < counts[flags] < 20 and all(counts[label] > 50 for label in range(9) if label != flags)
    grey = load_emoji(32, 1, "emoji-flat")
    assert grey.samples.shape == (3139, 1, 32, 32)


def test_an_unknown_emoji_style_says_which_there_are():
    with pytest.raises(DatasetError, match="emoji-flat"):
        load_emoji(32, 3, "emoji-3d")


def test_codes_align_the_two_sets_exactly():
    noto, flat = builtin_codes("emoji"), builtin_codes("emoji-flat")
    assert len(noto) == len(set(noto)) == 3781 and len(flat) == len(set(flat)) == 3139
    assert set(flat) <= set(noto)  # only emoji both sets draw
    assert "1F44D-1F3FD" in flat and "2764-FE0F-200D-1F525" in flat  # emoji-data's fully qualified form
    rows_a, rows_b = aligned_rows("emoji", "emoji-flat")
    assert rows_a.dtype == rows_b.dtype == torch.long and len(rows_a) == len(rows_b) == 3139
    assert [noto[a] for a in rows_a.tolist()] == [flat[b] for b in rows_b.tolist()]
    assert sorted(rows_b.tolist()) == list(range(3139))  # every flat picture has its Noto counterpart
    assert rows_a.diff().min() > 0  # in A's order
    back_a, back_b = aligned_rows("emoji-flat", "emoji")
    assert torch.equal(back_a, rows_b) and torch.equal(back_b, rows_a)
    same_a, same_b = aligned_rows("emoji", "emoji")
    assert torch.equal(same_a, torch.arange(3781)) and torch.equal(same_b, torch.arange(3781))


def test_other_data_has_no_alignment():
    assert builtin_codes("digits") is None and builtin_codes("ring8") is None
    assert builtin_codes("someone/emoji") is None and builtin_codes("/tmp/pictures") is None
    assert aligned_rows("emoji", "digits") is None and aligned_rows("my-folder", "emoji-flat") is None


def test_aligned_pictures_show_the_same_emoji(sets_32):
    rows_a, rows_b = aligned_rows("emoji", "emoji-flat")
    a = sets_32["emoji"].samples[rows_a].float().flatten(1) / 255
    b = sets_32["emoji-flat"].samples[rows_b].float().flatten(1) / 255
    assert torch.equal(sets_32["emoji"].labels[rows_a], sets_32["emoji-flat"].labels[rows_b])
    shuffled = b[torch.randperm(len(b), generator=torch.Generator().manual_seed(0))]
    aligned_distance, shuffled_distance = (a - b).pow(2).mean(1), (a - shuffled).pow(2).mean(1)
    # Measured: mean squared distance 0.064 aligned, 0.123 shuffled; the aligned one smaller in 91%
    assert aligned_distance.mean() < 0.6 * shuffled_distance.mean()
    assert (aligned_distance < shuffled_distance).float().mean() > 0.85
    # Among 210 pictures of each style, the counterpart is the nearest or nearly (measured median rank 2)
    every = torch.arange(0, len(a), 15)
    distances = torch.cdist(a[every], b[every])
    rank = (distances < distances.diag()[:, None]).sum(1).float()
    assert rank.median() <= 5 and (rank == 0).float().mean() > 0.2


def test_skin_tones_align_exactly(sets_32):
    """Within each emoji's five skin tones, the flat picture aligned to Noto's darkest tone is the
    darkest flat one: a neighbouring tone in its place (an alignment off by one) fails."""
    def skin_brightness(pictures):  # mean brightness of the pixels that are not background
        pictures = pictures.float() / 255
        drawn = (pictures.min(1).values < 0.9).float()
        return (pictures.mean(1) * drawn).sum((1, 2)) / drawn.sum((1, 2))

    rows_a, rows_b = aligned_rows("emoji", "emoji-flat")
    noto = builtin_codes("emoji")
    brightness = skin_brightness(sets_32["emoji-flat"].samples[rows_b])
    groups = collections.defaultdict(dict)  # the emoji without its tone -> tone -> aligned row
    for row, a in enumerate(rows_a.tolist()):
        parts = noto[a].split("-")
        tones = [part for part in parts if part in TONES]
        if len(tones) == 1:
            groups["-".join(part for part in parts if part not in TONES)][tones[0]] = row
    toned = [torch.tensor([group[tone] for tone in TONES]) for group in groups.values() if len(group) == 5]
    assert len(toned) > 250
    darkest = sum(int(brightness[rows].argmin()) == 4 for rows in toned)
    assert darkest > 0.95 * len(toned)  # measured: all 309
    # Each group's pictures ranked by brightness (0: the darkest), averaged over the groups, by tone.
    # Measured: 3.43, 3.57, 2.00, 1.01, 0.00 (Fluent's light tone is a little pinker than its medium-light)
    mean_rank = torch.stack([brightness[rows].argsort().argsort() for rows in toned]).float().mean(0)
    assert mean_rank[4] < 0.2 and 0.7 < mean_rank[3] < 1.3 and 1.7 < mean_rank[2] < 2.3 and mean_rank[:2].min() > 3


@pytest.mark.parametrize("name", EMOJI_STYLES)
def test_each_json_agrees_with_its_sprite(name):
    sprite = EMOJI_SPRITES[name]
    meta = json.loads(sprite.with_suffix(".json").read_text())
    assert set(meta) == {"count", "size", "columns", "categories", "labels", "codes"}
    assert meta["count"] == COUNTS[name] == len(meta["labels"]) == len(meta["codes"])
    assert meta["size"] == 64 and meta["categories"] == CATEGORIES and set(meta["labels"]) <= set("012345678")
    sheet = np.asarray(Image.open(sprite).convert("RGB"))
    rows = -(-meta["count"] // meta["columns"])
    assert sheet.shape == (rows * 64, meta["columns"] * 64, 3)
    cells = sheet.reshape(rows, 64, meta["columns"], 64, 3).transpose(0, 2, 1, 3, 4).reshape(-1, 64, 64, 3)
    assert (cells[meta["count"]:] == 255).all()  # the unused cells of the last row: white
    darkest_pixel = cells[:meta["count"]].reshape(meta["count"], -1).min(1)
    assert (darkest_pixel < 240).all()  # every used cell drawn (the palest: a thought balloon, 216)
    assert sprite.stat().st_size < 8_000_000


def test_licence_and_notice_files_say_source_licence_and_changes():
    folder = EMOJI_SPRITES["emoji-flat"].parent
    licence = (folder / "LICENSE-fluent-emoji.txt").read_text()
    notice = (folder / "NOTICE-fluent-emoji.txt").read_text()
    assert licence.startswith("MIT License") and "Microsoft Corporation" in licence
    assert "@iconify-json/fluent-emoji-flat 1.2.6" in notice and "MIT" in notice
    assert "rsvg-convert" in notice and "composited on a" in notice and "fluent-emoji-flat-64.json" in notice
    assert "code point" in (folder / "NOTICE-noto-emoji.txt").read_text()
    build = Path(__file__).resolve().parents[1] / "tools" / "build_emoji_styles.py"
    assert "npm pack emoji-datasource-google@16.0.0 @iconify-json/fluent-emoji-flat@1.2.6" in build.read_text()
