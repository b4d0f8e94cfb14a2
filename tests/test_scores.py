"""gan_space.scores: FD and KID in random-network features (and the Inception / DINOv2
loaders, on tiny weights files made here), their calibration on real and procedurally drawn
pictures, and their use by the live watcher, the command line and the Hub card."""

import json
import math
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from gan_space import scores
from gan_space.scores import pretrained
from gan_space.scores import (ImageReference, RealStatistics, calibration_pictures, feature_network, find_weights,
                              frechet_distance, image_features, image_score, kernel_inception_distance,
                              real_statistics)


# ---------------------------------------------------------------------------
# Pictures to score


def shapes(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """Procedural pictures, uint8 (n, 3, size, size): one to three discs and boxes of random
    colours on white, at random places and sizes."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    pictures = torch.full((n, 3, size, size), 255.0)
    for _ in range(3):
        present = torch.rand(n, generator=g) < 0.7
        centre = torch.rand(n, 2, generator=g) * size
        radius = (0.1 + 0.25 * torch.rand(n, generator=g)) * size
        colour = torch.rand(n, 3, generator=g) * 255
        dy, dx = ys - centre[:, 0, None, None], xs - centre[:, 1, None, None]
        disc = dy ** 2 + dx ** 2 < radius[:, None, None] ** 2
        box = (dy.abs() < radius[:, None, None]) & (dx.abs() < 0.6 * radius[:, None, None])
        round_one = torch.rand(n, generator=g) < 0.5
        mask = torch.where(round_one[:, None, None], disc, box) & present[:, None, None]
        pictures = torch.where(mask[:, None], colour[:, :, None, None], pictures)
    return pictures.round().to(torch.uint8)


@pytest.fixture(scope="module")
def emoji():
    """400 of the built-in Noto emoji (64 px RGB), in a fixed random order."""
    from gan_space.data import load_emoji

    pictures = load_emoji().samples
    order = torch.randperm(len(pictures), generator=torch.Generator().manual_seed(0))[:400]
    return pictures[order].clone()


# ---------------------------------------------------------------------------
# The random network


def test_the_random_network_is_fixed_and_needs_no_file():
    """Weights from a fixed seed, the same in every process and version (scores of
    random-v1 stay comparable): pinned here, so a change shows."""
    network = feature_network("random")
    assert feature_network("random") is network  # built once per process
    assert [round(float(w.double().abs().sum()), 4) for w in network.weights] == \
        [83.9269, 427.3772, 1221.7225, 3479.3734]
    assert abs(float(network.weights[0].double().sum())) < 1e-5  # zero-mean first layer
    pictures = torch.sin(7 * torch.linspace(-1, 1, 2 * 3 * 20 * 20)).reshape(2, 3, 20, 20)
    features = image_features(pictures)
    assert features.shape == (2, 486) and features.dtype == np.float64
    assert features.sum() == pytest.approx(265.8122, rel=1e-5)


def test_the_same_samples_get_the_same_score_whatever_else_ran():
    samples, real = shapes(120, seed=1).float() / 127.5 - 1, shapes(150, seed=2)
    first = image_score(samples, real, seed=3)
    torch.manual_seed(12345)
    torch.rand(1000)
    np.random.seed(7)
    assert image_score(samples, real, seed=3) == first  # bit for bit
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one_thread = image_score(samples, real, seed=3)
    finally:
        torch.set_num_threads(threads)
    assert one_thread["frechet_distance"] == pytest.approx(first["frechet_distance"], rel=1e-5)
    assert one_thread["kid"] == pytest.approx(first["kid"], rel=1e-4, abs=1e-7)
    # Another KID seed draws other subsets; FD has no randomness at all.
    other = image_score(samples, real, seed=4)
    assert other["frechet_distance"] == first["frechet_distance"] and other["kid"] != first["kid"]
    assert set(first) == {"frechet_distance", "kid", "kid_std", "num_samples", "num_real", "features"}
    assert first["num_samples"] == 120 and first["num_real"] == 150 and first["features"] == "random"


def test_uint8_float_grey_and_colour_pictures():
    colour = shapes(40, seed=5)
    assert np.allclose(image_features(colour), image_features(colour.float() / 127.5 - 1), atol=1e-5)
    grey = colour[:, :1]
    assert np.allclose(image_features(grey), image_features(grey.expand(-1, 3, -1, -1)), atol=1e-6)
    # Any size: pictures are resized to the network's 64 px first.
    assert image_features(shapes(3, seed=6, size=128)).shape == (3, 486)
    assert image_features(np.asarray(colour[:4])).shape == (4, 486)


@pytest.mark.parametrize("pictures, message", [
    (torch.zeros(5, 16, 16, 3, dtype=torch.uint8), "looks like (N, H, W, C)"),
    (torch.zeros(5, 2, 16, 16), "1 or 3 channels"),
    (torch.zeros(1, 3, 16, 16), "at least 2 pictures"),
    (torch.zeros(4, 3, 16, 16, dtype=torch.int64), "uint8"),
    (torch.full((4, 3, 16, 16), float("nan")), "NaN"),
    ([[1, 2]], "torch tensor or numpy array"),
])
def test_bad_pictures_are_clear_errors(pictures, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        image_features(pictures)


def test_unknown_network_and_mismatched_statistics():
    with pytest.raises(ValueError, match="features must be one of random, inception, dinov2"):
        image_score(shapes(4, 0), shapes(4, 1), features="clip")
    statistics = real_statistics(shapes(8, 0))
    statistics.features = "dinov2"  # as if taken with another network
    with pytest.raises(ValueError, match="taken with the 'dinov2' network"):
        image_score(shapes(4, 1), statistics)


# ---------------------------------------------------------------------------
# The distances


def test_frechet_distance_matches_the_matrix_square_root():
    from scipy import linalg

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((200, 12)), rng.standard_normal((200, 12)) @ rng.standard_normal((12, 12)) * 0.5 + 1
    mean_a, cov_a, mean_b, cov_b = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    expected = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * linalg.sqrtm(cov_a @ cov_b).real)
    assert frechet_distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mean_a, cov_a, mean_a, cov_a) == pytest.approx(0, abs=1e-9)
    # Fewer samples than features (singular covariances): still finite and not negative.
    few = rng.standard_normal((5, 12))
    assert 0 <= frechet_distance(few.mean(0), np.cov(few, rowvar=False), mean_b, cov_b) < math.inf


def test_kid_is_the_unbiased_polynomial_mmd():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((60, 8)), rng.standard_normal((50, 8)) + 0.3

    def k(a, b):
        return (a @ b.T / 8 + 1) ** 3

    m = 50  # the whole of y, and 50 of x's 60 rows: with a subset of all rows the formula is the textbook one
    kid, std = kernel_inception_distance(x[:50], y, num_subsets=3, subset_size=1000)
    kxx, kyy, kxy = k(x[:50], x[:50]), k(y, y), k(x[:50], y)
    direct = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
    assert kid == pytest.approx(direct, rel=1e-10) and std == pytest.approx(0, abs=1e-12)
    # Unbiased: two samples of one distribution average about 0 (unlike FD, which stays above 0).
    values = [kernel_inception_distance(rng.standard_normal((40, 8)), rng.standard_normal((40, 8)), 10, 40, s)[0]
              for s in range(30)]
    assert abs(np.mean(values)) < 3 * np.std(values) / math.sqrt(len(values))
    with pytest.raises(ValueError, match="num_subsets must be at least 1"):
        kernel_inception_distance(x, y, num_subsets=0)


def _order(real, reference, count=None):
    """FD and KID of real held-out pictures, blurred, noisy and pure noise, against `reference`."""
    statistics = real_statistics(reference)
    real = real[:count] if count else real
    return {name: statistics.score_features(image_features(pictures), seed=0)
            for name, pictures in calibration_pictures(real).items()}


@pytest.mark.parametrize("size", [64, 32])
def test_emoji_order_real_blurred_noise(emoji, size):
    pictures = emoji if size == 64 else F.interpolate(emoji.float(), size=size, mode="bilinear", antialias=True,
                                                     align_corners=False).round().to(torch.uint8)
    result = _order(pictures[200:], pictures[:200])
    for metric in ("frechet_distance", "kid"):
        real, blurred, noisy_, noise = (result[k][metric] for k in ("real", "blurred", "noisy", "pure noise"))
        assert real < blurred < noise and real < noisy_ < noise, (metric, result)
    # With margins: a blur is far from real-vs-real, noise farther still.
    assert result["blurred"]["frechet_distance"] > 5 * result["real"]["frechet_distance"]
    assert result["pure noise"]["frechet_distance"] > 5 * result["blurred"]["frechet_distance"]
    assert abs(result["real"]["kid"]) < 0.1 * result["blurred"]["kid"]


def test_procedural_pictures_order_real_blurred_noise():
    result = _order(shapes(200, seed=11), shapes(200, seed=12))
    for metric in ("frechet_distance", "kid"):
        real, blurred, noisy_, noise = (result[k][metric] for k in ("real", "blurred", "noisy", "pure noise"))
        assert real < blurred < noise and real < noisy_ < noise, (metric, result)
    assert result["blurred"]["frechet_distance"] > 3 * result["real"]["frechet_distance"]


def test_stable_across_sample_counts(emoji):
    """A distortion's FD changes little with the count (its bias, visible in real-vs-real,
    shrinks as 1/n); KID has no bias: real-vs-real stays about 0 at every count."""
    reference, held_out = emoji[:200], emoji[200:]
    small, large = _order(held_out, reference, 100), _order(held_out, reference, 200)
    for name in ("blurred", "noisy"):
        assert small[name]["frechet_distance"] == pytest.approx(large[name]["frechet_distance"], rel=0.25)
        assert small[name]["kid"] == pytest.approx(large[name]["kid"], rel=0.25)
    assert small["real"]["frechet_distance"] > large["real"]["frechet_distance"]  # the upward bias of few samples
    for result in (small, large):
        assert abs(result["real"]["kid"]) < 0.1 * result["blurred"]["kid"]


def test_real_statistics_are_kept_and_reused(monkeypatch):
    samples, real = shapes(60, seed=1), shapes(200, seed=2)
    statistics = real_statistics(real)
    assert isinstance(statistics, RealStatistics) and statistics.num_pictures == 200
    rows = []
    network = feature_network("random")
    call = type(network).__call__
    monkeypatch.setattr(type(network), "__call__", lambda self, batch: rows.append(len(batch)) or call(self, batch))
    assert image_score(samples, statistics) == image_score(samples, real)
    assert sum(rows) == 60 + 60 + 200  # the real set's features only when no statistics were given


def test_a_measurement_of_256_samples_is_cheap(emoji):
    reference = ImageReference.of(emoji, num_samples=256, max_reference=1000, seed=0)
    assert reference.num_held_out == 200 and reference.statistics.num_pictures == 200  # 400 pictures: halves
    samples = emoji[:256].float() / 127.5 - 1
    result = reference.score(samples)  # (the first call of a process pays torch's one-off set-up)
    cpu_seconds = []
    for _ in range(3):  # the best of three: the machine may be busy with other work
        start = time.process_time()
        reference.score(samples)
        cpu_seconds.append(time.process_time() - start)
    # About 0.5 CPU-seconds on a 2-core machine (features of 256 pictures at 64 px, FD, 100 KID subsets).
    assert min(cpu_seconds) < 2.0, cpu_seconds
    assert 0 < reference.estimate_seconds(256) < 5
    assert result["real_frechet_distance"] == reference.real_frechet_distance and "network" in result


def test_the_reference_reads_only_the_rows_it_uses(tmp_path):
    """A set of any size: only the chosen uint8 rows are read and converted, never a float
    copy of the whole set (here 40,000 pictures, 470 MB as float32; the process grows far less)."""
    script = textwrap.dedent(f"""
        import resource, numpy as np, torch
        from gan_space.scores import ImageReference
        shape = (40_000, 3, 32, 32)
        mapped = np.lib.format.open_memmap({str(tmp_path / 'big.npy')!r}, mode="w+", dtype=np.uint8, shape=shape)
        mapped[::97] = 200
        mapped.flush()
        pictures = torch.from_numpy(np.load({str(tmp_path / 'big.npy')!r}, mmap_mode="c"))
        torch.set_num_threads(1)
        ImageReference.of(pictures[:8], num_samples=4, max_reference=4)  # warm up: torch's own set-up
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        reference = ImageReference.of(pictures, num_samples=256, max_reference=1000, seed=0)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024, reference.statistics.num_pictures)
    """)
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    grown_mb, reference_pictures = map(int, process.stdout.split())
    assert reference_pictures == 1000 and grown_mb < 150, grown_mb


def test_image_metrics_frechet_distance_uses_this_one():
    from gan_space.image_metrics import frechet_distance as pictures_distance

    sharp = shapes(64, seed=3).float() / 255
    other = shapes(64, seed=4).float() / 255
    assert pictures_distance(sharp, sharp) == pytest.approx(0.0, abs=1e-6)
    # (64 pictures: FD's small-sample bias is large, so only the order is asked for here.)
    blurred = calibration_pictures(shapes(64, seed=3))["blurred"].float() / 255
    assert pictures_distance(blurred, sharp) > pictures_distance(other, sharp)
    assert pictures_distance(other, sharp) == pytest.approx(scores.frechet_distance_images(other, sharp))


# ---------------------------------------------------------------------------
# Pretrained networks: tiny files in the real layouts, loaded through the real code path


def inception_shapes(divisor: int) -> dict:
    """torchvision's Inception v3 (pytorch-fid's FID variant) conv table, every channel count
    divided by `divisor`: name -> (out, in, kernel height, kernel width)."""
    def c(n):
        return max(1, n // divisor)

    table = {"Conv2d_1a_3x3": (c(32), 3, 3, 3), "Conv2d_2a_3x3": (c(32), c(32), 3, 3),
             "Conv2d_2b_3x3": (c(64), c(32), 3, 3), "Conv2d_3b_1x1": (c(80), c(64), 1, 1),
             "Conv2d_4a_3x3": (c(192), c(80), 3, 3)}
    channels = c(192)

    def add(block, rows):
        for name, shape in rows.items():
            table[f"{block}.{name}"] = shape

    for block, pool in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
        add(block, {"branch1x1": (c(64), channels, 1, 1), "branch5x5_1": (c(48), channels, 1, 1),
                    "branch5x5_2": (c(64), c(48), 5, 5), "branch3x3dbl_1": (c(64), channels, 1, 1),
                    "branch3x3dbl_2": (c(96), c(64), 3, 3), "branch3x3dbl_3": (c(96), c(96), 3, 3),
                    "branch_pool": (c(pool), channels, 1, 1)})
        channels = c(64) + c(64) + c(96) + c(pool)
    add("Mixed_6a", {"branch3x3": (c(384), channels, 3, 3), "branch3x3dbl_1": (c(64), channels, 1, 1),
                     "branch3x3dbl_2": (c(96), c(64), 3, 3), "branch3x3dbl_3": (c(96), c(96), 3, 3)})
    channels = c(384) + c(96) + channels
    for block, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        c7 = c(c7)
        add(block, {"branch1x1": (c(192), channels, 1, 1), "branch7x7_1": (c7, channels, 1, 1),
                    "branch7x7_2": (c7, c7, 1, 7), "branch7x7_3": (c(192), c7, 7, 1),
                    "branch7x7dbl_1": (c7, channels, 1, 1), "branch7x7dbl_2": (c7, c7, 7, 1),
                    "branch7x7dbl_3": (c7, c7, 1, 7), "branch7x7dbl_4": (c7, c7, 7, 1),
                    "branch7x7dbl_5": (c(192), c7, 1, 7), "branch_pool": (c(192), channels, 1, 1)})
        channels = 4 * c(192)
    add("Mixed_7a", {"branch3x3_1": (c(192), channels, 1, 1), "branch3x3_2": (c(320), c(192), 3, 3),
                     "branch7x7x3_1": (c(192), channels, 1, 1), "branch7x7x3_2": (c(192), c(192), 1, 7),
                     "branch7x7x3_3": (c(192), c(192), 7, 1), "branch7x7x3_4": (c(192), c(192), 3, 3)})
    channels = c(320) + c(192) + channels
    for block in ("Mixed_7b", "Mixed_7c"):
        add(block, {"branch1x1": (c(320), channels, 1, 1), "branch3x3_1": (c(384), channels, 1, 1),
                    "branch3x3_2a": (c(384), c(384), 1, 3), "branch3x3_2b": (c(384), c(384), 3, 1),
                    "branch3x3dbl_1": (c(448), channels, 1, 1), "branch3x3dbl_2": (c(384), c(448), 3, 3),
                    "branch3x3dbl_3a": (c(384), c(384), 1, 3), "branch3x3dbl_3b": (c(384), c(384), 3, 1),
                    "branch_pool": (c(192), channels, 1, 1)})
        channels = c(320) + 4 * c(384) + c(192)
    return table, channels


def tiny_inception(path, divisor: int = 16, seed: int = 0, drop: str | None = None):
    """A FID Inception state dict (convs, batch norms, counters, the 1008-class fc) with
    channel counts / divisor, saved as safetensors."""
    g = torch.Generator().manual_seed(seed)
    table, channels = inception_shapes(divisor)
    state = {}
    for name, (out, inp, kh, kw) in table.items():
        state[f"{name}.conv.weight"] = torch.randn(out, inp, kh, kw, generator=g) * math.sqrt(2 / (inp * kh * kw))
        state[f"{name}.bn.weight"] = 1 + 0.1 * torch.randn(out, generator=g)
        state[f"{name}.bn.bias"] = 0.1 * torch.randn(out, generator=g)
        state[f"{name}.bn.running_mean"] = 0.1 * torch.randn(out, generator=g)
        state[f"{name}.bn.running_var"] = 1 + 0.1 * torch.rand(out, generator=g)
        state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    state["fc.weight"], state["fc.bias"] = torch.randn(1008, channels, generator=g), torch.zeros(1008)
    state.pop(drop, None)
    save_file(state, str(path))
    return channels


def test_inception_loads_a_file_in_pytorch_fids_layout(tmp_path, monkeypatch):
    path = tmp_path / "fid_inception.safetensors"
    channels = tiny_inception(path)
    monkeypatch.setenv("GAN_SPACE_INCEPTION_WEIGHTS", str(path))
    network = feature_network("inception")
    assert network.dims == channels == 128 and "FID Inception" in network.description
    pictures = shapes(6, seed=1)
    features = image_features(pictures, "inception")
    assert features.shape == (6, 128) and np.isfinite(features).all() and features.std(0).max() > 0
    assert np.array_equal(features, image_features(pictures, "inception"))
    result = image_score(pictures, shapes(6, seed=2), features="inception", num_kid_subsets=5)
    assert result["features"] == "inception" and result["frechet_distance"] > 0
    # The argument wins over the environment; a damaged or incomplete file says what is wrong.
    broken = tmp_path / "broken.safetensors"
    tiny_inception(broken, drop="Mixed_6c.branch7x7_2.bn.running_var")
    with pytest.raises(ValueError, match="lacks 1 tensors \\(Mixed_6c.branch7x7_2.bn.running_var\\)"):
        feature_network("inception", weights=broken)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        feature_network("inception", weights=tmp_path / "junk.safetensors")


def test_batch_norm_is_folded_as_eval_mode_computes_it():
    g = torch.Generator().manual_seed(0)
    conv, norm = torch.nn.Conv2d(4, 5, (1, 7), padding=(0, 3), bias=False), torch.nn.BatchNorm2d(5, eps=0.001)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g))
        norm.weight.copy_(torch.rand(5, generator=g) + 0.5)
        norm.bias.copy_(torch.randn(5, generator=g))
        norm.running_mean.copy_(torch.randn(5, generator=g))
        norm.running_var.copy_(torch.rand(5, generator=g) + 0.5)
    norm.eval()
    state = {"b.conv.weight": conv.weight.detach(), **{f"b.bn.{k}": v for k, v in norm.state_dict().items()}}
    folded = pretrained._FoldedConvs(state, ["b"], 0.001, set(), set())
    x = torch.randn(2, 4, 9, 9, generator=g)
    with torch.no_grad():
        assert torch.allclose(folded("b", x), F.relu(norm(conv(x))), atol=1e-5)


def test_pickled_weights_are_refused_before_reading(tmp_path, monkeypatch):
    pickled = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    pickled.write_bytes(b"\x80\x04 any pickle would run code here")
    for features in ("inception", "dinov2"):
        with pytest.raises(ValueError, match="pickled weights are never loaded"):
            feature_network(features, weights=pickled)
    monkeypatch.setenv("GAN_SPACE_DINOV2_WEIGHTS", str(tmp_path / "model.bin"))
    with pytest.raises(ValueError, match=r"model.bin is a pickle-format file \(.bin\)"):
        find_weights("dinov2")


def tiny_dinov2(folder, width=32, heads=2, depth=2, grid=4, patch=14, seed=0, layer_scale=None):
    """A DINOv2 model in the transformers layout (model.safetensors + config.json)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=0.2):
        return torch.randn(*shape, generator=g) * scale

    state = {"embeddings.cls_token": r(1, 1, width), "embeddings.mask_token": r(1, width),
             "embeddings.position_embeddings": r(1, grid * grid + 1, width),
             "embeddings.patch_embeddings.projection.weight": r(width, 3, patch, patch, scale=0.05),
             "embeddings.patch_embeddings.projection.bias": r(width),
             "layernorm.weight": 1 + r(width), "layernorm.bias": r(width)}
    for i in range(depth):
        p = f"encoder.layer.{i}."
        for name in ("norm1", "norm2"):
            state[p + f"{name}.weight"], state[p + f"{name}.bias"] = 1 + r(width), r(width)
        for name in ("query", "key", "value"):
            state[p + f"attention.attention.{name}.weight"] = r(width, width)
            state[p + f"attention.attention.{name}.bias"] = r(width)
        state[p + "attention.output.dense.weight"], state[p + "attention.output.dense.bias"] = r(width, width), r(width)
        for name in ("layer_scale1", "layer_scale2"):
            scale = torch.full((width,), layer_scale) if layer_scale is not None else 1 + r(width)
            state[p + f"{name}.lambda1"] = scale
        state[p + "mlp.fc1.weight"], state[p + "mlp.fc1.bias"] = r(4 * width, width), r(4 * width)
        state[p + "mlp.fc2.weight"], state[p + "mlp.fc2.bias"] = r(width, 4 * width), r(width)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"model_type": "dinov2", "hidden_size": width,
                                                    "num_attention_heads": heads, "layer_norm_eps": 1e-6}))
    return state


def reference_dinov2(state, pictures, heads, patch=14, eps=1e-6):
    """The ViT forward written out plainly (einsum attention), to check the loader's."""
    x = F.interpolate(pictures, size=(224, 224), mode="bicubic", align_corners=False)
    x = ((x + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    tokens = F.conv2d(x, state["embeddings.patch_embeddings.projection.weight"],
                      state["embeddings.patch_embeddings.projection.bias"], stride=patch)
    side = tokens.shape[-1]
    tokens = tokens.flatten(2).transpose(1, 2)
    table = state["embeddings.position_embeddings"]
    grid = int(math.isqrt(table.shape[1] - 1))
    positions = F.interpolate(table[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2), size=(side, side),
                              mode="bicubic", align_corners=False).permute(0, 2, 3, 1).reshape(1, side * side, -1)
    x = torch.cat([state["embeddings.cls_token"].expand(len(x), -1, -1), tokens], 1)
    x = x + torch.cat([table[:, :1], positions], 1)
    width = x.shape[-1]
    head = width // heads
    layer = 0
    while f"encoder.layer.{layer}.norm1.weight" in state:
        p = f"encoder.layer.{layer}."
        h = F.layer_norm(x, (width,), state[p + "norm1.weight"], state[p + "norm1.bias"], eps)
        q, k, v = (h @ state[p + f"attention.attention.{n}.weight"].T + state[p + f"attention.attention.{n}.bias"]
                   for n in ("query", "key", "value"))
        q, k, v = (t.reshape(*t.shape[:2], heads, head) for t in (q, k, v))
        weights = torch.softmax(torch.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(head), -1)
        attended = torch.einsum("nhqk,nkhd->nqhd", weights, v).reshape(*x.shape)
        attended = attended @ state[p + "attention.output.dense.weight"].T + state[p + "attention.output.dense.bias"]
        x = x + state[p + "layer_scale1.lambda1"] * attended
        h = F.layer_norm(x, (width,), state[p + "norm2.weight"], state[p + "norm2.bias"], eps)
        h = F.gelu(h @ state[p + "mlp.fc1.weight"].T + state[p + "mlp.fc1.bias"])
        x = x + state[p + "layer_scale2.lambda1"] * (h @ state[p + "mlp.fc2.weight"].T + state[p + "mlp.fc2.bias"])
        layer += 1
    return F.layer_norm(x, (width,), state["layernorm.weight"], state["layernorm.bias"], eps)[:, 0]


def test_dinov2_computes_the_vit_forward(tmp_path):
    state = tiny_dinov2(tmp_path / "dino")
    network = feature_network("dinov2", weights=tmp_path / "dino")  # a folder: its model.safetensors
    assert network.dims == 32 and network.heads == 2 and network.depth == 2
    pictures = shapes(3, seed=4).float() / 127.5 - 1
    with torch.no_grad():
        expected = reference_dinov2(state, pictures, heads=2)
    assert np.allclose(image_features(pictures, network), expected.double().numpy(), atol=1e-4)
    # With the layer scales at 0 the blocks add nothing: the CLS token is layernorm(cls + its position).
    silent = tiny_dinov2(tmp_path / "silent", layer_scale=0.0)
    cls = silent["embeddings.cls_token"][0, 0] + silent["embeddings.position_embeddings"][0, 0]
    expected = F.layer_norm(cls, (32,), silent["layernorm.weight"], silent["layernorm.bias"], 1e-6)
    assert np.allclose(image_features(pictures, feature_network("dinov2", weights=tmp_path / "silent")),
                       expected.double().numpy()[None].repeat(3, 0), atol=1e-5)


def test_dinov2_from_the_hugging_face_cache_and_download_only_on_request(tmp_path, monkeypatch):
    from huggingface_hub import constants

    import huggingface_hub

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded without being asked")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    monkeypatch.delenv("GAN_SPACE_DINOV2_WEIGHTS", raising=False)
    monkeypatch.setenv("GAN_SPACE_DINOV2_HUB", "tester/tiny-dinov2/model.safetensors")
    with pytest.raises(ValueError, match="allow the download of tester/tiny-dinov2/model.safetensors"):
        feature_network("dinov2")

    # Asked to download: the Hub's file is fetched (here a stand-in for the network).
    fetched = tmp_path / "fetched"
    tiny_dinov2(fetched, seed=1)
    asked = []

    def fake_download(repo_id, filename, **kwargs):
        asked.append((repo_id, filename))
        return str(fetched / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    assert find_weights("dinov2", download=True) == fetched / "model.safetensors"
    assert asked == [("tester/tiny-dinov2", "model.safetensors")]

    # Already in the Hugging Face cache (as hf_hub_download leaves it): found with no download.
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub-cache" / "models--tester--tiny-dinov2"
    tiny_dinov2(repo / "snapshots" / commit, seed=2)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    found = find_weights("dinov2")
    assert found == repo / "snapshots" / commit / "model.safetensors"
    assert image_features(shapes(2, seed=0), feature_network("dinov2")).shape == (2, 32)


def test_inception_has_no_hub_default_and_says_how_to_convert(monkeypatch):
    monkeypatch.delenv("GAN_SPACE_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("GAN_SPACE_INCEPTION_HUB", raising=False)
    with pytest.raises(ValueError, match="convert that file once to safetensors") as error:
        feature_network("inception", download=True)
    assert "features='random', which needs none" in str(error.value)


# ---------------------------------------------------------------------------
# Live in the app, on the command line, on the Hub card


def _image_trainer(tmp_path, folder):
    from gan_space.training import TrainConfig, Trainer

    config = TrainConfig.for_dataset(str(folder), out_dir=str(tmp_path / "run"), arch="dcgan", resolution=16,
                                     width=8, batch_size=8, steps=2, log_every=1, sample_every=10_000)
    return Trainer(config)


@pytest.fixture
def shape_folder(tmp_path):
    from PIL import Image

    folder = tmp_path / "shapes"
    folder.mkdir()
    for i, picture in enumerate(shapes(40, seed=9, size=16)):
        Image.fromarray(picture.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    return folder


def test_the_watcher_scores_pictures_against_the_runs_own(tmp_path, shape_folder):
    from gan_space.diagnostics import SampleWatcher, quality_line
    from gan_space.ui import train_tab
    from gan_space.ui.jobs import JobSnapshot

    trainer = _image_trainer(tmp_path, shape_folder)
    watcher = SampleWatcher(trainer)
    reference = watcher.state_of("picture score")
    assert reference is not None and reference.num_held_out == 20
    assert watcher.estimate_seconds() >= reference.estimate_seconds(256) > 0
    point = watcher.measure()
    assert point.frechet_features == "random network"
    # An untrained generator is far from the pictures; real held-out pictures are close.
    assert point.frechet_distance > 3 * point.real_frechet_distance and point.kid > point.real_kid
    line = quality_line(point)
    assert "KID" in line and "real held-out pictures" in line and "random-network features" in line
    _, frechet = train_tab.quality_frames(JobSnapshot(run_name="r", quality=[point]))
    assert set(frechet["curve"]) == {"samples", "real held-out pictures"}
    # The same again from a second watcher: fixed latents, fixed reference, fixed subsets.
    again = SampleWatcher(trainer).measure()
    assert (again.frechet_distance, again.kid) == (point.frechet_distance, point.kid)


def test_cli_score_with_a_dataset_and_with_the_runs_own_pictures(tmp_path, shape_folder):
    from gan_space.cli import main

    run = tmp_path / "run"
    assert main(["train", "--dataset", str(shape_folder), "--out", str(run), "--steps", "2", "--arch", "dcgan",
                 "--resolution", "16", "--width", "8", "--batch-size", "8"]) == 0
    process = subprocess.run([sys.executable, "-m", "gan_space", "score", "--model", str(run), "--num", "50"],
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    out = process.stdout
    assert "50 samples of" in out and "against 20 real pictures" in out and "the run's data cache" in out
    assert "samples:                FD" in out and "KID" in out and "real held-out pictures: FD" in out
    assert "random-v1" in out
    sample_fd = float(out.split("samples:                FD ")[1].split()[0])
    real_fd = float(out.split("real held-out pictures: FD ")[1].split()[0])
    assert sample_fd > real_fd

    process = subprocess.run([sys.executable, "-m", "gan_space", "score", "--model", "checkpoints/digits",
                              "--dataset", "digits", "--num", "200"], capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    assert "200 samples of checkpoints/digits" in process.stdout


@pytest.mark.parametrize("args, message", [
    (["--model", "checkpoints/digits"], "not on this machine"),
    (["--model", "checkpoints/digits", "--dataset", "digits", "--num", "1"], "--num must be from 2"),
    (["--model", "checkpoints/digits", "--dataset", "digits", "--features", "inception"], "convert that file once"),
])
def test_cli_score_errors_are_one_clear_line(args, message, monkeypatch, capsys):
    from gan_space.cli import main

    monkeypatch.delenv("GAN_SPACE_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("GAN_SPACE_INCEPTION_HUB", raising=False)
    assert main(["score", *args]) != 0
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_the_hub_card_scores_pictures_from_the_runs_data(tmp_path, shape_folder):
    from gan_space import hub
    from gan_space.checkpoints import load_generator
    from gan_space.hub.card import _quality_lines, _quality_metrics

    trainer = _image_trainer(tmp_path, shape_folder)
    for _ in trainer.run():
        pass
    quality = _quality_metrics(load_generator(tmp_path / "run"), "shapes", run_dir=tmp_path / "run")
    assert quality["features"] == "random" and quality["num_samples"] == 1000
    assert quality["num_real"] == 20 and quality["num_held_out"] == 20
    assert quality["frechet_distance"] > quality["real_frechet_distance"]
    lines = "\n".join(_quality_lines(quality))
    assert "| Fréchet distance (random features) |" in lines and "| KID (random features) |" in lines
    assert "real held-out pictures" in lines and "random-v1" in lines

    staging = tmp_path / "staging"
    staging.mkdir()
    hub.stage_repo_files(tmp_path / "run", staging, "someone/shapes-gan")
    card = (staging / "README.md").read_text()
    assert "## Quality" in card and "| KID (random features) |" in card
    summary = json.loads((staging / "summary.json").read_text())
    assert summary["quality"]["frechet_distance"] == pytest.approx(quality["frechet_distance"])
