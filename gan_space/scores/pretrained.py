"""Pretrained feature networks from safetensors: pytorch-fid's FID Inception and DINOv2."""

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from .pictures import _resize

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
