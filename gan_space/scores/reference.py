"""Real statistics kept once, and scores of samples or a generator against them."""

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .distances import (KID_POOL, KID_SUBSET_SIZE, KID_SUBSETS, _one_blas_thread, _polynomial_kernel, frechet_distance,
                        kernel_inception_distance)
from .features import feature_network, image_features
from .pictures import _as_images



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




def generator_score(generator, pictures, num: int = 1000, features: str = "random", seed: int = 0,
                    max_reference: int = 10_000, weights=None, download: bool = False) -> dict:
    """A generator's FD and KID: `num` samples (latent seeds seed, seed + 1, ...) against
    reference pictures of `pictures`, and real held-out pictures (as many, at most half the
    set) against the same reference: the line the samples' FD is to be read against."""
    from ..sampling import generate

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
    from ..pairs import gaussian_blur

    def to_uint8(x: torch.Tensor) -> torch.Tensor:
        return x.round().clamp(0, 255).to(torch.uint8)

    noise = torch.randn(pictures.shape, generator=torch.Generator().manual_seed(1)) * 25.5
    return {"real": pictures,
            "blurred": to_uint8(gaussian_blur(pictures, torch.ones(len(pictures)))),
            "noisy": to_uint8(pictures.float() + noise),
            "pure noise": torch.randint(0, 256, pictures.shape, generator=torch.Generator().manual_seed(2),
                                        dtype=torch.uint8)}
