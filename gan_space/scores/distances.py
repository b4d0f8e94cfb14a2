"""The two distances between feature sets: Fréchet distance and KID."""

import contextlib

import numpy as np

KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
KID_POOL = 2048  # KID draws its subsets from at most this many feature rows a side (memory)


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
