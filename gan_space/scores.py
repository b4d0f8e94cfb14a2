"""A score for any image set: Fréchet distance (FD) and kernel inception distance (KID)
between generated samples and real pictures, in the features of an image network.

Feature networks:

- "random" (the default): a fixed random convolutional network. It needs no download and
  no file: its weights are drawn from a fixed seed every time (never saved or loaded), so
  the same pictures always get the same features. Random features evaluate generative
  models much as trained ones do (Lee, Kim and Lee, "Demystifying randomly initialized
  networks for evaluating generative models", arXiv 2208.09218), and they are cheap: 1,000
  pictures take under a CPU-second. Its scores are comparable with each other (same network, same
  protocol), not with published FIDs.
- "inception": pytorch-fid's FID Inception (the network behind published FIDs), and
- "dinov2": DINOv2's CLS token (the FD_DINOv2 of Stein et al., 2023), both when their
  weights are on this machine as safetensors (a path setting, an environment variable or
  the Hugging Face cache) or, on explicit request (download=True), from the Hub. Pickled
  weights (.pth, .pt, .bin, ...) are refused: loading them could run any code.

FD = ||mu_a - mu_b||^2 + Tr(A + B - 2 (A B)^(1/2)) of the two feature Gaussians; it is
biased upwards at small sample counts, so every score comes with what real held-out
pictures get at the same count (`ImageReference`). KID is the unbiased estimate of the
squared MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over
random subsets: its expectation does not depend on the sample count (0 for the data's own
distribution).
"""

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

FEATURE_NETWORKS = ("random", "inception", "dinov2")
# The random network's version: its scores are comparable only between equal versions.
RANDOM_NETWORK = "random-v1"
RANDOM_SEED = 20_220_818  # its weights come from this seed (any fixed number would do; this one for good)
RANDOM_SIZE = 64  # pictures are resized to this many pixels a side before the network
RANDOM_WIDTHS = (16, 32, 64, 128)  # channels of its four 3x3, stride-2 convolutions
# Features times this come out about 1 in size on real pictures, so FD and the KID kernel
# (whose "+ 1" sets the scale) read like Inception's.
RANDOM_FEATURE_SCALE = 10.0
KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
KID_POOL = 2048  # KID draws its subsets from at most this many feature rows a side (memory)
PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".pkl", ".pickle", ".ckpt", ".npy", ".npz")
INCEPTION_SIZE = 299
DINOV2_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Where the pretrained networks' weights are looked for, in this order: the `weights`
# argument, the environment variable, then the Hugging Face cache (file in a Hub repo),
# and only with download=True the Hub itself. pytorch-fid publishes its FID Inception
# weights as a pickle only, so there is no Hub file by default: convert them once
# (see `_missing_weights`) or name a Hub copy in GAN_SPACE_INCEPTION_HUB.
WEIGHT_SOURCES = {
    "inception": {"env": "GAN_SPACE_INCEPTION_WEIGHTS", "hub_env": "GAN_SPACE_INCEPTION_HUB", "hub": None},
    # ViT-L/14: the network of FD_DINOv2 (Stein et al., 2023). GAN_SPACE_DINOV2_HUB picks another size
    # (facebook/dinov2-small/model.safetensors is 15x cheaper on a CPU; its scores differ).
    "dinov2": {"env": "GAN_SPACE_DINOV2_WEIGHTS", "hub_env": "GAN_SPACE_DINOV2_HUB",
               "hub": "facebook/dinov2-large/model.safetensors"},
}


# ---------------------------------------------------------------------------
# Pictures in


def _as_images(images, what: str) -> torch.Tensor:
    """A 4-D (N, C, H, W) tensor of 1 or 3 channels, uint8 or float in [-1, 1] (not copied)."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{what} must be a torch tensor or numpy array of pictures (N, C, H, W), "
                         f"got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        hint = (" (that looks like (N, H, W, C): permute it to (N, C, H, W))"
                if images.dim() == 4 and images.shape[-1] in (1, 3) else "")
        raise ValueError(f"{what} must be pictures of shape (N, C, H, W) with 1 or 3 channels, got shape "
                         f"{tuple(images.shape)}{hint}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise ValueError(f"{what} must be uint8 (0-255) or float in [-1, 1], got {images.dtype}")
    if images.shape[0] < 2:
        raise ValueError(f"{what} needs at least 2 pictures for a score, got {images.shape[0]}")
    if min(images.shape[2:]) < 4:
        raise ValueError(f"{what} are {images.shape[2]}x{images.shape[3]} pixels: a score needs at least 4x4")
    return images


def _to_float(batch: torch.Tensor) -> torch.Tensor:
    """One batch in [-1, 1], 3 channels (grey repeated), float32 on the CPU."""
    batch = batch.detach().cpu()
    if batch.dtype == torch.uint8:
        batch = batch.float() / 127.5 - 1.0
    else:
        batch = batch.float()
        if not torch.isfinite(batch).all():
            raise ValueError("the pictures hold NaN or infinite values: the generator has diverged; nothing to score")
        batch = batch.clamp(-1.0, 1.0)
    return batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch


def _resize(batch: torch.Tensor, size: int, mode: str = "bilinear", antialias: bool = True) -> torch.Tensor:
    if batch.shape[-2:] == (size, size):
        return batch
    antialias = antialias and min(batch.shape[-2:]) > size  # only a shrink needs the low-pass filter
    return F.interpolate(batch, size=(size, size), mode=mode, align_corners=False, antialias=antialias)


# ---------------------------------------------------------------------------
# The random network


class RandomFeatures:
    """Four 3x3 stride-2 convolutions with ReLU (16-32-64-128 channels) on pictures resized
    to 64 px. Features: each layer's per-channel spatial mean and standard deviation, and the
    input's per-colour mean and standard deviation (486 numbers).

    The first layer's filters have zero mean: random filters with a mean respond mostly to
    flat colour, which then swamps the statistics, while zero-mean ones respond to edges and
    texture, where blur, noise and GAN artefacts show (on the emoji set this made a 3x3 blur
    score 18 times real-vs-real instead of 2 times). The colour itself is kept by the input's
    own statistics."""

    name = "random"

    def __init__(self):
        # numpy's PCG64 stream, not torch's global RNG: the weights never depend on what
        # else ran in the process, and training code calling torch.manual_seed leaves them be.
        rng = np.random.default_rng(RANDOM_SEED)
        self.weights = []
        channels = 3
        for index, width in enumerate(RANDOM_WIDTHS):
            weight = rng.standard_normal((width, channels, 3, 3))
            if index == 0:
                weight -= weight.mean(axis=(2, 3), keepdims=True)
            weight *= math.sqrt(2.0 / (channels * 9))  # He scaling: activations keep their size through ReLUs
            self.weights.append(torch.from_numpy(weight.astype(np.float32)))
            channels = width
        self.dims = 6 + 2 * sum(RANDOM_WIDTHS)
        self.description = (f"a fixed random convolutional network ({RANDOM_NETWORK}: {len(RANDOM_WIDTHS)} layers, "
                            f"{self.dims} features, {RANDOM_SIZE} px)")
        self.batch_size = 256

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = _resize(batch, RANDOM_SIZE)
        parts = []
        for weight in [None, *self.weights]:
            if weight is not None:
                x = F.relu(F.conv2d(x, weight, stride=2, padding=1))
            std, mean = torch.std_mean(x.flatten(2), 2)
            parts += [mean, std]
        return torch.cat(parts, 1) * RANDOM_FEATURE_SCALE


# ---------------------------------------------------------------------------
# Pretrained networks from safetensors


def _check_not_pickle(path: Path) -> None:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ValueError(f"{path} is a pickle-format file ({path.suffix}): pickled weights are never loaded, since "
                         "unpickling can run any code. Convert it once to safetensors in a Python you trust, e.g. "
                         "`import torch, safetensors.torch as st; st.save_file(torch.load(PATH, weights_only=True), "
                         "'weights.safetensors')`, and point the setting at the .safetensors file.")


def _load_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    _check_not_pickle(path)
    if not path.is_file():
        raise ValueError(f"no weights file at {path}")
    try:
        return {name: tensor.float() for name, tensor in load_file(str(path)).items()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ValueError(f"{path} is not a readable safetensors file ({error}); give a .safetensors file") from None


def _hub_file(reference: str) -> tuple[str, str]:
    parts = reference.strip().split("/")
    if len(parts) < 3 or not all(parts):
        raise ValueError(f"a Hub weights file is written owner/repo/file.safetensors, got {reference!r}")
    return "/".join(parts[:2]), "/".join(parts[2:])


def find_weights(features: str, weights: str | os.PathLike | None = None, download: bool = False) -> Path:
    """The local safetensors file of a pretrained feature network: `weights` (a file, or a
    folder holding model.safetensors), else the environment variable, else the file in the
    Hugging Face cache; with download=True (and only then) it is fetched from the Hub."""
    source = WEIGHT_SOURCES[features]
    given = weights if weights is not None else os.environ.get(source["env"])
    if given:
        path = Path(os.path.expanduser(str(given)))
        if path.is_dir():
            path = path / "model.safetensors"
        _check_not_pickle(path)
        if not path.is_file():
            origin = "the weights argument" if weights is not None else source["env"]
            raise ValueError(f"no {features} weights at {path} (from {origin}): give a .safetensors file")
        return path
    reference = os.environ.get(source["hub_env"]) or source["hub"]
    if reference:
        repo_id, filename = _hub_file(reference)
        _check_not_pickle(Path(filename))
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, filename)
        if isinstance(cached, str):
            return Path(cached)
        if download:
            from huggingface_hub import hf_hub_download

            try:
                return Path(hf_hub_download(repo_id, filename))
            except Exception as error:  # offline, a missing repo, a gated model: say which and what to do
                raise ValueError(f"could not download the {features} weights {reference} ({type(error).__name__}: "
                                 f"{str(error).strip()[:200]}); download them by hand and set "
                                 f"{source['env']}") from None
    raise ValueError(_missing_weights(features, reference))


def _missing_weights(features: str, reference: str | None) -> str:
    source = WEIGHT_SOURCES[features]
    if features == "inception":
        how = ("pytorch-fid publishes its FID Inception weights (pt_inception-2015-12-05-6726825d.pth) as a pickle "
               "only: convert that file once to safetensors (`import torch, safetensors.torch as st; st.save_file("
               "torch.load('pt_inception-2015-12-05-6726825d.pth', weights_only=True), 'fid_inception.safetensors')`) "
               f"and set {source['env']}=/path/to/fid_inception.safetensors, or name a Hub copy in "
               f"{source['hub_env']}=owner/repo/file.safetensors")
    else:
        how = (f"set {source['env']} to a DINOv2 model.safetensors (transformers layout; a folder with it works too), "
               f"or allow the download of {reference} (download=True, or --download-weights on the command line)")
    return f"the {features} feature network's weights are not on this machine: {how}; or use features='random', " \
           "which needs none"


class _FoldedConvs:
    """Convolutions with their batch norm folded in (eval mode: y = relu(BN(conv(x))))."""

    def __init__(self, state: dict, names: list[str], eps: float, stride2: set, unpadded: set):
        self.layers = {}
        for name in names:
            weight = state[f"{name}.conv.weight"]
            scale = state[f"{name}.bn.weight"] / torch.sqrt(state[f"{name}.bn.running_var"] + eps)
            bias = state[f"{name}.bn.bias"] - state[f"{name}.bn.running_mean"] * scale
            kh, kw = weight.shape[-2:]
            stride = 2 if name in stride2 else 1
            padding = (0, 0) if stride == 2 or name in unpadded else (kh // 2, kw // 2)
            self.layers[name] = (weight * scale[:, None, None, None], bias, stride, padding)

    def __call__(self, name: str, x: torch.Tensor) -> torch.Tensor:
        weight, bias, stride, padding = self.layers[name]
        return F.relu(F.conv2d(x, weight, bias, stride=stride, padding=padding))


# The FID Inception (torchvision's Inception v3 layout, patched as pytorch-fid's
# fid_inception_v3: 1008 classes, average pools that ignore the zero padding, and a max pool
# in the last block). Channel counts are read from the weights, so any consistent file loads.
_INCEPTION_BRANCHES = {
    "A": ["branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3",
          "branch_pool"],
    "B": ["branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
    "C": ["branch1x1", "branch7x7_1", "branch7x7_2", "branch7x7_3", "branch7x7dbl_1", "branch7x7dbl_2",
          "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5", "branch_pool"],
    "D": ["branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"],
    "E": ["branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_1", "branch3x3dbl_2",
          "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"],
}
_INCEPTION_STEM = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"]
_INCEPTION_BLOCKS = [("Mixed_5b", "A"), ("Mixed_5c", "A"), ("Mixed_5d", "A"), ("Mixed_6a", "B"), ("Mixed_6b", "C"),
                     ("Mixed_6c", "C"), ("Mixed_6d", "C"), ("Mixed_6e", "C"), ("Mixed_7a", "D"), ("Mixed_7b", "E"),
                     ("Mixed_7c", "E")]


def inception_conv_names() -> list[str]:
    """Every BasicConv2d of the FID Inception, as named in its state dict."""
    return _INCEPTION_STEM + [f"{block}.{branch}" for block, kind in _INCEPTION_BLOCKS
                              for branch in _INCEPTION_BRANCHES[kind]]


class InceptionFeatures:
    """pytorch-fid's FID Inception: 2048 pool3 features of pictures resized to 299 px
    (bilinear, as pytorch-fid does), in [-1, 1]."""

    name = "inception"

    def __init__(self, path: Path):
        state = _load_safetensors(path)
        names = inception_conv_names()
        expected = {f"{n}.{part}" for n in names for part in ("conv.weight", "bn.weight", "bn.bias",
                                                               "bn.running_mean", "bn.running_var")}
        missing = sorted(expected - state.keys())
        if missing:
            raise ValueError(f"{path} is not the FID Inception in pytorch-fid's layout: it lacks {len(missing)} "
                             f"tensors ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
        # (fc, AuxLogits and BatchNorm counters are in such files too; the features need none of them.)
        stride2 = {"Conv2d_1a_3x3", "Mixed_6a.branch3x3", "Mixed_6a.branch3x3dbl_3", "Mixed_7a.branch3x3_2",
                   "Mixed_7a.branch7x7x3_4"}
        unpadded = {"Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_4a_3x3"}
        try:
            self.convs = _FoldedConvs(state, names, 0.001, stride2, unpadded)
            self.dims = int(self.convs.layers["Mixed_7c.branch1x1"][0].shape[0] +
                            2 * self.convs.layers["Mixed_7c.branch3x3_2a"][0].shape[0] +
                            2 * self.convs.layers["Mixed_7c.branch3x3dbl_3a"][0].shape[0] +
                            self.convs.layers["Mixed_7c.branch_pool"][0].shape[0])
            self(torch.zeros(1, 3, 80, 80))  # a shape mismatch shows now, with the file named
        except (RuntimeError, IndexError) as error:
            raise ValueError(f"{path} does not fit the FID Inception's layout ({str(error).strip()[:200]})") from None
        self.description = f"the FID Inception (pytorch-fid, pool3, {self.dims} features, {INCEPTION_SIZE} px)"
        self.batch_size = 32

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        c = self.convs
        # Bilinear without antialiasing, as pytorch-fid resizes (its numbers assume it).
        x = _resize(batch, INCEPTION_SIZE, antialias=False)
        x = c("Conv2d_2b_3x3", c("Conv2d_2a_3x3", c("Conv2d_1a_3x3", x)))
        x = F.max_pool2d(x, 3, 2)
        x = F.max_pool2d(c("Conv2d_4a_3x3", c("Conv2d_3b_1x1", x)), 3, 2)

        def pool_branch(name, x, use_max=False):
            pooled = (F.max_pool2d(x, 3, 1, 1) if use_max
                      else F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))  # TF's pools skip the padding
            return c(f"{name}.branch_pool", pooled)

        for name, kind in _INCEPTION_BLOCKS:
            def b(branch, y):
                return c(f"{name}.{branch}", y)

            if kind == "A":
                x = torch.cat([b("branch1x1", x), b("branch5x5_2", b("branch5x5_1", x)),
                               b("branch3x3dbl_3", b("branch3x3dbl_2", b("branch3x3dbl_1", x))),
                               pool_branch(name, x)], 1)
            elif kind == "B":
                x = torch.cat([b("branch3x3", x), b("branch3x3dbl_3", b("branch3x3dbl_2", b("branch3x3dbl_1", x))),
                               F.max_pool2d(x, 3, 2)], 1)
            elif kind == "C":
                seven = b("branch7x7_3", b("branch7x7_2", b("branch7x7_1", x)))
                double = x
                for i in range(1, 6):
                    double = b(f"branch7x7dbl_{i}", double)
                x = torch.cat([b("branch1x1", x), seven, double, pool_branch(name, x)], 1)
            elif kind == "D":
                seven = x
                for i in range(1, 5):
                    seven = b(f"branch7x7x3_{i}", seven)
                x = torch.cat([b("branch3x3_2", b("branch3x3_1", x)), seven, F.max_pool2d(x, 3, 2)], 1)
            else:
                three = b("branch3x3_1", x)
                double = b("branch3x3dbl_2", b("branch3x3dbl_1", x))
                x = torch.cat([b("branch1x1", x), b("branch3x3_2a", three), b("branch3x3_2b", three),
                               b("branch3x3dbl_3a", double), b("branch3x3dbl_3b", double),
                               pool_branch(name, x, use_max=name == "Mixed_7c")], 1)
        return x.mean((2, 3))


class Dinov2Features:
    """DINOv2's CLS token after the last layer norm (the features of FD_DINOv2), on pictures
    resized to 224 px (bicubic) and normalised with ImageNet's mean and deviation. Reads the
    transformers layout (Dinov2Model's model.safetensors); sizes come from the tensors,
    the head count from a config.json beside the file (else 64 channels a head, as in every
    published DINOv2)."""

    name = "dinov2"

    def __init__(self, path: Path):
        import json

        state = {key.removeprefix("dinov2."): value for key, value in _load_safetensors(path).items()}
        config = {}
        if (path.parent / "config.json").is_file():
            try:
                config = json.loads((path.parent / "config.json").read_text())
            except (OSError, ValueError):
                config = {}
        needed = ["embeddings.cls_token", "embeddings.position_embeddings",
                  "embeddings.patch_embeddings.projection.weight", "embeddings.patch_embeddings.projection.bias",
                  "layernorm.weight", "layernorm.bias", "encoder.layer.0.norm1.weight"]
        missing = [key for key in needed if key not in state]
        if missing:
            raise ValueError(f"{path} is not a DINOv2 model in the transformers layout: it lacks "
                             f"{', '.join(missing[:3])}")
        if any(".mlp.weights_in." in key for key in state):
            raise ValueError(f"{path} is DINOv2 giant (SwiGLU layers), which this loader does not read: use the "
                             "small, base or large model")
        self.state = state
        self.width = state["embeddings.cls_token"].shape[-1]
        self.patch = state["embeddings.patch_embeddings.projection.weight"].shape[-1]
        self.depth = len({key.split(".")[2] for key in state if key.startswith("encoder.layer.")})
        self.heads = int(config.get("num_attention_heads") or max(1, self.width // 64))
        self.eps = float(config.get("layer_norm_eps", 1e-6))
        if self.width % self.heads:
            raise ValueError(f"{path}: {self.width} channels do not split into {self.heads} attention heads")
        self.dims = self.width
        try:
            self._forward(torch.zeros(1, 3, self.patch * 2, self.patch * 2))
        except (RuntimeError, KeyError) as error:
            raise ValueError(f"{path} does not fit the DINOv2 layout ({type(error).__name__}: "
                             f"{str(error).strip()[:200]})") from None
        self.description = (f"DINOv2 ViT ({self.depth} layers, {self.width} features, patch {self.patch}, "
                            f"{DINOV2_SIZE} px; CLS token)")
        self.batch_size = 16

    def _positions(self, rows: int, cols: int) -> torch.Tensor:
        table = self.state["embeddings.position_embeddings"]
        cls, grid = table[:, :1], table[:, 1:]
        side = int(round(math.sqrt(grid.shape[1])))
        if (side, side) != (rows, cols):
            grid = grid.reshape(1, side, side, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(rows, cols), mode="bicubic", align_corners=False)
            grid = grid.permute(0, 2, 3, 1).reshape(1, rows * cols, -1)
        return torch.cat([cls, grid], 1)

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = _resize(batch, DINOV2_SIZE, mode="bicubic")
        x = (x + 1) / 2  # [-1, 1] -> [0, 1], then ImageNet's normalisation
        mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return self._forward((x - mean) / std)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.state
        x = F.conv2d(x, s["embeddings.patch_embeddings.projection.weight"],
                     s["embeddings.patch_embeddings.projection.bias"], stride=self.patch)
        rows, cols = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([s["embeddings.cls_token"].expand(x.shape[0], -1, -1), x], 1) + self._positions(rows, cols)
        n, length, width = x.shape
        for i in range(self.depth):
            p = f"encoder.layer.{i}."
            h = F.layer_norm(x, (width,), s[p + "norm1.weight"], s[p + "norm1.bias"], self.eps)

            def heads(name):
                y = F.linear(h, s[p + f"attention.attention.{name}.weight"], s[p + f"attention.attention.{name}.bias"])
                return y.view(n, length, self.heads, width // self.heads).transpose(1, 2)

            attended = F.scaled_dot_product_attention(heads("query"), heads("key"), heads("value"))
            attended = F.linear(attended.transpose(1, 2).reshape(n, length, width),
                                s[p + "attention.output.dense.weight"], s[p + "attention.output.dense.bias"])
            x = x + attended * s[p + "layer_scale1.lambda1"]
            h = F.layer_norm(x, (width,), s[p + "norm2.weight"], s[p + "norm2.bias"], self.eps)
            h = F.linear(F.gelu(F.linear(h, s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"])),
                         s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"])
            x = x + h * s[p + "layer_scale2.lambda1"]
        x = F.layer_norm(x, (width,), s["layernorm.weight"], s["layernorm.bias"], self.eps)
        return x[:, 0]


@lru_cache(maxsize=4)
def _network(features: str, path: str | None):
    if features == "random":
        return RandomFeatures()
    return (InceptionFeatures if features == "inception" else Dinov2Features)(Path(path))


def feature_network(features: str = "random", weights: str | os.PathLike | None = None, download: bool = False):
    """The feature network by name (built once per process): "random", "inception" or "dinov2"."""
    if features not in FEATURE_NETWORKS:
        raise ValueError(f"features must be one of {', '.join(FEATURE_NETWORKS)}, got {features!r}")
    if features == "random":
        return _network("random", None)
    path = find_weights(features, weights, download)
    return _network(features, str(path.resolve()))


def image_features(images, features="random", weights=None, download: bool = False,
                   batch_size: int | None = None) -> np.ndarray:
    """(N, D) float64 features of pictures (N, C, H, W): uint8, or float in [-1, 1].
    Converted batch by batch, so a uint8 set (a memory map, say) is never copied whole as float."""
    network = features if not isinstance(features, str) else feature_network(features, weights, download)
    images = _as_images(images, "the pictures")
    batch_size = batch_size or network.batch_size
    rows = [network(_to_float(images[start:start + batch_size])).double()
            for start in range(0, images.shape[0], batch_size)]
    return torch.cat(rows).numpy()


# ---------------------------------------------------------------------------
# The two distances


@contextlib.contextmanager
def _one_blas_thread():
    """numpy's BLAS on one thread for the matrix work of FD and KID: with torch's own threads
    just done with the features, a second pool of threads on 2 cores made FD 5 times slower
    (0.25 s instead of 0.05 s for 486 features), and one thread sums in one fixed order,
    whatever the machine's core count. (threadpoolctl comes with scikit-learn.)"""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def frechet_distance(mean_a, cov_a, mean_b, cov_b) -> float:
    """||mu_a - mu_b||^2 + Tr(A + B - 2 (A B)^(1/2)). Tr (A B)^(1/2) is the sum of the square
    roots of the eigenvalues of A^(1/2) B A^(1/2) (a symmetric matrix with the eigenvalues of
    A B): two symmetric eigendecompositions, real by construction, no ridge needed for
    singular covariances (fewer samples than features), and faster than a general sqrtm."""
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    with _one_blas_thread():
        values, vectors = np.linalg.eigh(cov_a)
        root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        middle = root_a @ cov_b @ root_a
        trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    distance = float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)
    return max(distance, 0.0)  # (rounding can leave -1e-12 for identical sets)


def _polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def kernel_inception_distance(features_a: np.ndarray, features_b: np.ndarray, num_subsets: int = KID_SUBSETS,
                              subset_size: int = KID_SUBSET_SIZE, seed: int = 0,
                              kernel_b: np.ndarray | None = None) -> tuple[float, float]:
    """KID: the mean and standard deviation over `num_subsets` random subsets (of
    min(subset_size, both counts) rows each, drawn without replacement) of the unbiased MMD^2
    estimate with the cubic polynomial kernel. Subsets come from numpy's seeded generator,
    so the same features and seed give the same KID. `kernel_b`: features_b's own kernel
    matrix, when the caller keeps it (a fixed real set)."""
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be at least 1, got {num_subsets}")
    rng = np.random.default_rng(seed)
    # Subsets are drawn from at most KID_POOL rows a side, so the kernel matrices stay small.
    if len(features_a) > KID_POOL:
        features_a = features_a[np.sort(rng.choice(len(features_a), KID_POOL, replace=False))]
    if len(features_b) > KID_POOL:
        features_b, kernel_b = features_b[np.sort(rng.choice(len(features_b), KID_POOL, replace=False))], None
    m = min(subset_size, len(features_a), len(features_b))
    if m < 2:
        raise ValueError(f"KID needs subsets of at least 2 pictures a side, got {m}")
    with _one_blas_thread():
        return _kid(features_a, features_b, kernel_b, m, num_subsets, rng)


def _kid(features_a, features_b, kernel_b, m, num_subsets, rng) -> tuple[float, float]:
    kaa = _polynomial_kernel(features_a, features_a)
    kbb = kernel_b if kernel_b is not None else _polynomial_kernel(features_b, features_b)
    kab = _polynomial_kernel(features_a, features_b)
    # Each subset as a 0/1 column: a sum over a sub-block is u' K v, done for all subsets at once.
    pick_a = np.zeros((len(features_a), num_subsets))
    pick_b = np.zeros((len(features_b), num_subsets))
    for s in range(num_subsets):
        pick_a[rng.choice(len(features_a), m, replace=False), s] = 1
        pick_b[rng.choice(len(features_b), m, replace=False), s] = 1
    within_a = ((kaa @ pick_a) * pick_a).sum(0) - np.diag(kaa) @ pick_a
    within_b = ((kbb @ pick_b) * pick_b).sum(0) - np.diag(kbb) @ pick_b
    across = ((kab @ pick_b) * pick_a).sum(0)
    mmd2 = (within_a + within_b) / (m * (m - 1)) - 2 * across / (m * m)
    return float(mmd2.mean()), float(mmd2.std())


# ---------------------------------------------------------------------------
# Real statistics, kept once, and scores against them


@dataclass
class RealStatistics:
    """A real set's features, once: their mean and covariance (for FD) and up to KID_POOL
    rows of the features themselves with their kernel matrix (for KID)."""

    features: str  # the feature network's name
    description: str
    num_pictures: int
    mean: np.ndarray
    cov: np.ndarray
    kid_features: np.ndarray
    _kernel: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(cls, real, features="random", weights=None, download: bool = False, seed: int = 0):
        """features: a network's name, or the network itself."""
        network = feature_network(features, weights, download) if isinstance(features, str) else features
        rows = image_features(real, network)
        kid_rows = rows
        if len(rows) > KID_POOL:
            kid_rows = rows[np.sort(np.random.default_rng(seed).choice(len(rows), KID_POOL, replace=False))]
        with _one_blas_thread():
            cov = np.cov(rows, rowvar=False)
        return cls(features=network.name, description=network.description, num_pictures=len(rows),
                   mean=rows.mean(0), cov=cov, kid_features=kid_rows)

    def kernel(self) -> np.ndarray:
        if self._kernel is None:
            with _one_blas_thread():
                self._kernel = _polynomial_kernel(self.kid_features, self.kid_features)
        return self._kernel

    def score_features(self, rows: np.ndarray, num_kid_subsets: int = KID_SUBSETS,
                       kid_subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> dict:
        """FD and KID of feature rows (from the same network) against these statistics."""
        kid, kid_std = kernel_inception_distance(rows, self.kid_features, num_kid_subsets, kid_subset_size, seed,
                                                 kernel_b=self.kernel())
        with _one_blas_thread():
            cov = np.cov(rows, rowvar=False)
        return {"frechet_distance": frechet_distance(rows.mean(0), cov, self.mean, self.cov),
                "kid": kid, "kid_std": kid_std, "num_samples": len(rows), "num_real": self.num_pictures,
                "features": self.features}


def real_statistics(real, features: str = "random", weights=None, download: bool = False) -> RealStatistics:
    """Statistics of a real set, to score many sample sets against without recomputing them."""
    return RealStatistics.of(real, features, weights, download)


def image_score(samples, real, features: str = "random", num_kid_subsets: int = KID_SUBSETS,
                kid_subset_size: int = KID_SUBSET_SIZE, seed: int = 0, weights=None,
                download: bool = False) -> dict:
    """FD and KID of `samples` (float in [-1, 1] or uint8, (N, C, H, W)) against `real`
    (pictures, or a RealStatistics made by `real_statistics`, which is then not recomputed).
    Returns {"frechet_distance", "kid", "kid_std", "num_samples", "num_real", "features"}.
    The same samples, real set and seed give the same numbers."""
    if not isinstance(real, RealStatistics):
        real = RealStatistics.of(real, features, weights, download)
    elif real.features != features:
        raise ValueError(f"the real statistics were taken with the {real.features!r} network, not {features!r}: "
                         f"take them again with features={features!r}")
    rows = image_features(samples, feature_network(features, weights, download))
    return real.score_features(rows, num_kid_subsets, kid_subset_size, seed)


@dataclass
class ImageReference:
    """A real set split once, with a fixed seed, into reference pictures (their statistics
    kept) and held-out pictures as many as the samples to be scored. The held-out pictures'
    own score is what real data get at that sample count: FD is biased upwards by few
    samples, so a sample set's FD means something next to that line, not alone."""

    statistics: RealStatistics
    network: object  # the feature network the statistics were taken with
    num_held_out: int
    real_frechet_distance: float
    real_kid: float
    seconds_per_picture: float  # the feature network's time per picture, measured here
    seconds_fixed: float  # FD's and KID's time, measured here

    @classmethod
    def of(cls, pictures, num_samples: int, max_reference: int = 1000, seed: int = 0,
           features: str = "random", weights=None, download: bool = False) -> "ImageReference":
        """pictures: uint8 (N, C, H, W), a memory map included: only the chosen rows are read."""
        pictures = _as_images(pictures, "the real pictures")
        total = pictures.shape[0]
        if total < 4:
            raise ValueError(f"a reference needs at least 4 real pictures (2 to hold out, 2 to compare with), "
                             f"got {total}")
        order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
        held = min(num_samples, total // 2)
        held_index, reference_index = order[:held].sort().values, order[held:held + max_reference].sort().values
        network = feature_network(features, weights, download)
        start = time.perf_counter()
        statistics = RealStatistics.of(pictures[reference_index], network, seed=seed)
        held_rows = image_features(pictures[held_index], network)
        seconds_per_picture = (time.perf_counter() - start) / (len(reference_index) + held)
        held_score = statistics.score_features(held_rows, seed=seed)
        # Timed again, warm: a process's first eigendecomposition pays seconds of one-off
        # set-up, which would make the live app wait far too long for its first measurement.
        start = time.perf_counter()
        statistics.score_features(held_rows, seed=seed)
        return cls(statistics, network, held, held_score["frechet_distance"], held_score["kid"], seconds_per_picture,
                   time.perf_counter() - start)

    def score(self, samples, num_kid_subsets: int = KID_SUBSETS, seed: int = 0) -> dict:
        """The samples' FD and KID, with the held-out real pictures' beside them."""
        rows = image_features(samples, self.network)
        result = self.statistics.score_features(rows, num_kid_subsets, seed=seed)
        result.update(real_frechet_distance=self.real_frechet_distance, real_kid=self.real_kid,
                      num_held_out=self.num_held_out, network=self.statistics.description)
        return result

    def estimate_seconds(self, num_samples: int) -> float:
        return self.seconds_per_picture * num_samples + self.seconds_fixed


# ---------------------------------------------------------------------------
# A run's own pictures, and a generator's score against them


def run_pictures(run_dir: str | os.PathLike, resolution: int, channels: int) -> tuple[torch.Tensor, str] | None:
    """The pictures a run trained on, uint8 (N, C, H, W), and where they came from; None when
    they are not on this machine. Read, never written: the run's data cache when it holds
    pictures of this size (exactly what the run trained on, already decoded, memory-mapped),
    else a built-in set, else the train_config's dataset path when it exists here (decoded
    into memory). A Hugging Face dataset with no cache is not downloaded."""
    import json

    from .checkpoints import ModelLoadError, saved_train_config
    from .data import BUILTIN_IMAGE_SETS, CACHE_META, CACHE_VERSION, load_dataset

    run_dir = Path(run_dir)
    try:
        config = saved_train_config(run_dir)
    except (ModelLoadError, OSError, ValueError, KeyError):
        return None
    dataset = str(config.get("dataset") or "")
    cache = run_dir / "data-cache"
    try:
        meta = json.loads((cache / CACHE_META).read_text())
        file = cache / Path(str(meta["file"])).name
        shape = (int(meta["count"]), channels, resolution, resolution)
        if (meta.get("version") == CACHE_VERSION and meta.get("shape") == list(shape[1:]) and shape[0] >= 1
                and file.stat().st_size == math.prod(shape)):
            # Copy-on-write, as gan_space.data maps it: torch gets a writable array, the file is never changed.
            pictures = torch.from_numpy(np.memmap(file, dtype=np.uint8, mode="c", shape=shape))
            return pictures, f"{dataset} (the run's data cache)"
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no cache, or one of another size: try the source
    local = Path(os.path.expanduser(dataset)) if dataset else None
    if dataset in BUILTIN_IMAGE_SETS or (local is not None and local.exists()):
        data = load_dataset(dataset, resolution, channels, max_images=int(config.get("max_images") or 50_000),
                            seed=int(config.get("seed") or 0))
        if data.kind == "images":
            return data.samples, dataset
    return None


def generator_score(generator, pictures, num: int = 1000, features: str = "random", seed: int = 0,
                    max_reference: int = 10_000, weights=None, download: bool = False) -> dict:
    """A generator's FD and KID: `num` samples (latent seeds seed, seed + 1, ...) against
    reference pictures of `pictures`, and real held-out pictures (as many, at most half the
    set) against the same reference: the line the samples' FD is to be read against."""
    from .sampling import generate

    reference = ImageReference.of(pictures, num, max_reference=max_reference, seed=seed, features=features,
                                  weights=weights, download=download)
    samples = generate(generator, num, seed=seed)
    return reference.score(samples, seed=seed)


def frechet_distance_images(images: torch.Tensor, references: torch.Tensor) -> float:
    """The random-network FD between two sets of float pictures in [0, 1] (the convention of
    gan_space.image_metrics, whose `frechet_distance` uses this one)."""
    images, references = _as_images(images, "the pictures"), _as_images(references, "the reference pictures")
    network = feature_network("random")
    a = image_features(images.float() * 2 - 1, network)
    b = image_features(references.float() * 2 - 1, network)
    with _one_blas_thread():
        cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return frechet_distance(a.mean(0), cov_a, b.mean(0), cov_b)


def calibration_pictures(pictures: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the score is calibrated with (README; benchmarks/image_scores.py): uint8 pictures
    (N, C, H, W) as they are ("real"), blurred (Gaussian, sigma 1 pixel), with Gaussian noise
    (sigma 10% of the range) and replaced by uniform noise ("pure noise"), with fixed seeds.
    A score worth having orders real < blurred, noisy < pure noise."""
    from .pairs import gaussian_blur

    def to_uint8(x: torch.Tensor) -> torch.Tensor:
        return x.round().clamp(0, 255).to(torch.uint8)

    noise = torch.randn(pictures.shape, generator=torch.Generator().manual_seed(1)) * 25.5
    return {"real": pictures,
            "blurred": to_uint8(gaussian_blur(pictures, torch.ones(len(pictures)))),
            "noisy": to_uint8(pictures.float() + noise),
            "pure noise": torch.randint(0, 256, pictures.shape, generator=torch.Generator().manual_seed(2),
                                        dtype=torch.uint8)}


__all__ = ["FEATURE_NETWORKS", "ImageReference", "RealStatistics", "RandomFeatures", "InceptionFeatures",
           "Dinov2Features", "feature_network", "find_weights", "image_features", "image_score", "real_statistics",
           "frechet_distance", "kernel_inception_distance", "inception_conv_names",
           "frechet_distance_images", "run_pictures", "generator_score", "calibration_pictures"]
