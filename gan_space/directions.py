"""Latent directions to steer a generator (GANSpace, Härkönen et al., 2020).

Sample many latents, run them through the generator's first layer, and take the
principal components of those activations: the directions along which the early
features vary most. Each component is carried back to latent space by linear regression
(latent ≈ U · PCA coordinates, the paper's recipe), so moving a latent along column k
of U moves the first-layer features mostly along component k. The directions are then
made orthonormal in variance order (Gram–Schmidt keeps direction 0 as it is), so
sliders act independently and one unit is one standard deviation of a Gaussian latent.

    directions = load_or_compute_directions(generator, folder)
    latents = steer(sample_latents(1, dim, seed), directions, [2.0, 0, -1.5])
    images = generate(generator, latents=latents)

The result is cached as `directions.safetensors` + `directions.json` next to the
generator (or in `cache_dir` when that folder is read-only).
"""

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

DIRECTIONS_FILE = "directions.safetensors"
DIRECTIONS_INFO = "directions.json"
FORMAT_VERSION = 1


@dataclass
class LatentDirections:
    directions: torch.Tensor  # (k, latent_dim), unit-norm rows, orthogonal, ordered by variance
    variances: torch.Tensor  # (k,) variance of the first-layer activations along each component
    explained: torch.Tensor  # (k,) share of the total activation variance each component holds
    layer: str  # which activations were analysed

    def __len__(self) -> int:
        return self.directions.shape[0]


def first_layer_activations(generator, latents: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[
        torch.Tensor, str]:
    """The features right after the generator's first layer, flattened: (N, F) and a name.
    Which layer that is, each network family says (NetworkFamily.first_layer)."""
    from .models import family_of

    return family_of(generator).first_layer(generator, latents, labels)


@torch.no_grad()
def compute_directions(generator, num_components: int = 10, num_samples: int = 4096,
                       seed: int = 0) -> LatentDirections:
    """The top `num_components` latent directions of `generator` (see the module docstring)."""
    latent_dim = generator.config.latent_dim
    if not 1 <= num_components <= latent_dim:
        raise ValueError(f"num_components must be from 1 to the latent size ({latent_dim}), got {num_components}")
    if num_samples < 2 * num_components:
        raise ValueError(f"num_samples must be at least {2 * num_components}, got {num_samples}")
    device = next(generator.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    latents = torch.randn(num_samples, latent_dim, generator=rng)
    num_classes = generator.config.num_classes
    labels = torch.randint(num_classes, (num_samples,), generator=rng).to(device) if num_classes else None
    was_training = generator.training
    generator.eval()  # BatchNorm uses its running statistics, as when sampling
    activations, layer = first_layer_activations(generator, latents.to(device), labels)
    generator.train(was_training)
    activations = activations.double().cpu()
    centred = activations - activations.mean(0)
    _, singular, components = torch.linalg.svd(centred, full_matrices=False)
    variances = singular.pow(2) / (num_samples - 1)
    total = variances.sum().clamp_min(1e-30)
    coordinates = centred @ components[:num_components].T  # (N, k) PCA coordinates
    # GANSpace's transfer to latent space: the U minimising sum ||U x_i - z_i||^2.
    basis = torch.linalg.lstsq(coordinates, latents.double()).solution.T  # (latent_dim, k)
    basis = basis / basis.norm(dim=0, keepdim=True).clamp_min(1e-30)
    q, r = torch.linalg.qr(basis)  # orthonormal, in order: q_0 is direction 0 itself
    q = q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(1, dtype=r.dtype))
    return LatentDirections(directions=q.T.float().contiguous(), variances=variances[:num_components].float(),
                            explained=(variances[:num_components] / total).float(), layer=layer)


def steer(latents: torch.Tensor, directions: LatentDirections | torch.Tensor, amounts) -> torch.Tensor:
    """latents (N, d) or (d,) moved by amounts[k] along direction k (units: one standard deviation)."""
    basis = directions.directions if isinstance(directions, LatentDirections) else directions
    amounts = torch.as_tensor([float(a) for a in amounts], dtype=basis.dtype)
    if amounts.numel() > basis.shape[0]:
        raise ValueError(f"{amounts.numel()} amounts for {basis.shape[0]} directions")
    offset = amounts @ basis[: amounts.numel()]
    return latents + offset.to(latents.device, latents.dtype)


def walk(latent: torch.Tensor, directions: LatentDirections, index: int, frames: int = 24,
         span: float = 3.0) -> torch.Tensor:
    """(frames, d) latents from -span to +span standard deviations along direction `index`."""
    if not 0 <= index < len(directions):
        raise ValueError(f"direction must be from 0 to {len(directions) - 1}, got {index}")
    if not 2 <= frames <= 256:
        raise ValueError(f"frames must be from 2 to 256, got {frames}")
    steps = torch.linspace(-span, span, frames)
    return latent.reshape(1, -1) + steps[:, None] * directions.directions[index][None]


# ---------------------------------------------------------------------------
# The cache next to the model


def _weights_fingerprint(folder: Path) -> str:
    """Changes whenever the weights do (size and modification time of each weights file)."""
    parts = []
    for path in sorted(folder.glob("*.safetensors")):
        if path.name != DIRECTIONS_FILE:
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _cache_folder(folder: Path, cache_dir: str | os.PathLike | None) -> Path:
    if os.access(folder, os.W_OK) and cache_dir is None:
        return folder
    base = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "gan_space-directions"
    return base / hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]


def load_or_compute_directions(generator, folder: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                               num_components: int = 10, num_samples: int = 4096, seed: int = 0) -> LatentDirections:
    """The cached directions of the generator saved in `folder`, computed (and cached) when
    missing or stale. `cache_dir`: where to cache instead of next to the model."""
    from safetensors.torch import load_file, save_file

    folder = Path(folder)
    num_components = min(num_components, generator.config.latent_dim)
    key = {"version": FORMAT_VERSION, "weights": _weights_fingerprint(folder), "num_components": num_components,
           "num_samples": num_samples, "seed": seed}
    where = _cache_folder(folder, cache_dir)
    try:
        info = json.loads((where / DIRECTIONS_INFO).read_text())
        if info.get("key") == key:
            tensors = load_file(str(where / DIRECTIONS_FILE))
            return LatentDirections(tensors["directions"], tensors["variances"], tensors["explained"], info["layer"])
    except (OSError, ValueError, KeyError):
        pass  # missing, stale or damaged: compute afresh
    result = compute_directions(generator, num_components, num_samples, seed)
    try:
        where.mkdir(parents=True, exist_ok=True)
        tmp = where / f".{DIRECTIONS_FILE}.tmp"
        save_file({"directions": result.directions, "variances": result.variances, "explained": result.explained},
                  str(tmp))
        os.replace(tmp, where / DIRECTIONS_FILE)
        (where / DIRECTIONS_INFO).write_text(json.dumps({
            "key": key, "layer": result.layer, "explained_variance": [round(float(v), 6) for v in result.explained],
        }, indent=2))
    except OSError:
        pass  # a cache that cannot be written costs only time
    return result


__all__ = ["LatentDirections", "compute_directions", "first_layer_activations", "load_or_compute_directions",
           "steer", "walk"]
