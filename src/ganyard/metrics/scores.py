"""Scores of generated images, computed from features and class probabilities.

Inputs are arrays of features (N, d) or class probabilities (N, classes), as numpy float64 or
torch tensors; outputs are plain floats. Formulas and defaults follow the reference
implementations (pytorch-fid, torch-fidelity); the tests compare against them.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch


def _as_float64(array) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    return np.asarray(array, dtype=np.float64)


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of features (N, d), float64, covariance with N - 1 as pytorch-fid."""
    features = _as_float64(features)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need features of shape (N >= 2, d), got {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative round-off clipped to 0)."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def _trace_of_sqrt_product(covariance_1: np.ndarray, covariance_2: np.ndarray) -> float:
    """tr((S1 S2)^1/2) for symmetric PSD S1, S2.

    S2 S1 has the eigenvalues of the symmetric PSD matrix L^T S2 L, where S1 = L L^T (Cholesky), so
    the trace is the sum of the square roots of that matrix's eigenvalues. LAPACK's generalized
    symmetric solver does exactly this (potrf, sygst, syevx) and forms L^T S2 L using its symmetry,
    half the work of two matrix products. A singular S1 (fewer images than dimensions) has no
    Cholesky factor; then S1^1/2 from a symmetric eigendecomposition takes the place of L.
    """
    try:
        # The transposes are the same symmetric matrices in Fortran order, which LAPACK's wrappers then copy
        # as they are instead of transposing (C order): 11% of the time at d = 2048.
        eigenvalues = scipy.linalg.eigh(covariance_2.T, covariance_1.T, type=2, eigvals_only=True, driver="gvx", check_finite=False)
    except np.linalg.LinAlgError:
        factor = _symmetric_sqrt(covariance_1)
        middle = factor.T @ covariance_2 @ factor
        eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mean_1: np.ndarray, covariance_1: np.ndarray, mean_2: np.ndarray, covariance_2: np.ndarray) -> float:
    """FID (Heusel et al. 2017): |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), float64.

    The trace of the matrix square root comes from symmetric eigenvalue problems, not a general
    (non-symmetric) matrix square root as pytorch-fid takes: about 20x faster at d = 2048
    (benchmarks/metrics_speed.py), no complex round-off to discard, and equal to pytorch-fid's value
    to about 1e-12 relative.
    """
    mean_1, mean_2 = _as_float64(mean_1), _as_float64(mean_2)
    covariance_1, covariance_2 = _as_float64(covariance_1), _as_float64(covariance_2)
    if mean_1.shape != mean_2.shape or covariance_1.shape != covariance_2.shape:
        raise ValueError(f"statistics differ in shape: {mean_1.shape}/{covariance_1.shape} vs {mean_2.shape}/{covariance_2.shape}")
    difference = mean_1 - mean_2
    trace_of_root = _trace_of_sqrt_product(covariance_1, covariance_2)
    return float(difference @ difference + np.trace(covariance_1) + np.trace(covariance_2) - 2 * trace_of_root)


def fid_from_features(features_1, features_2) -> float:
    """FID between two feature sets (N1, d) and (N2, d)."""
    return frechet_distance(*feature_statistics(features_1), *feature_statistics(features_2))


def inception_score(probabilities, splits: int = 10, seed: int = 2020) -> tuple[float, float]:
    """IS (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), mean and population std over splits.

    ``probabilities`` (N, classes) rows sum to 1. Rows are shuffled with ``seed`` and cut into
    ``splits`` parts of N // splits, as torch-fidelity does.
    """
    probabilities = _as_float64(probabilities)
    count = len(probabilities)
    if not 1 <= splits <= count:
        raise ValueError(f"evaluate.is_splits = {splits} must be between 1 and the number of images ({count})")
    probabilities = probabilities[np.random.RandomState(seed).permutation(count)]
    log_probabilities = np.log(np.clip(probabilities, 1e-300, None))
    scores = []
    for part in range(splits):
        chunk = slice(part * count // splits, (part + 1) * count // splits)
        marginal = probabilities[chunk].mean(axis=0, keepdims=True)
        kl = (probabilities[chunk] * (log_probabilities[chunk] - np.log(np.clip(marginal, 1e-300, None)))).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _cubic_kernel(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """(a b^T / d + 1)^3 for (m, d) and (n, d), float64: one addmm (scale and offset inside the matrix
    product) and an in-place cube, half the time of the same in numpy, where ``** 3`` calls pow() per entry."""
    a, b = torch.from_numpy(a), torch.from_numpy(b)
    return torch.addmm(torch.ones((), dtype=a.dtype), a, b.T, alpha=1.0 / a.shape[1]).pow_(3)


def _within_sum(x: np.ndarray) -> float:
    """Sum of the kernel over all pairs of different rows of x: it does not depend on the rows' order."""
    k_xx = _cubic_kernel(x, x)
    return float(k_xx.sum() - k_xx.diagonal().sum())


def _polynomial_mmd2(x: np.ndarray, y: np.ndarray, within_x: float | None = None, within_y: float | None = None) -> float:
    """Unbiased MMD^2 with the kernel k(a, b) = (a.b / d + 1)^3, for equal-size sets (m, d).

    ``within_x``, ``within_y``: ``_within_sum`` of x and y, when already known."""
    m = len(x)
    within_x = _within_sum(x) if within_x is None else within_x
    within_y = _within_sum(y) if within_y is None else within_y
    return float((within_x + within_y) / (m * (m - 1)) - 2 * _cubic_kernel(x, y).sum().item() / (m * m))


def kernel_inception_distance(features_1, features_2, subsets: int = 100, subset_size: int = 1000, seed: int = 2020) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): mean and std of the unbiased polynomial-kernel MMD^2 over subsets.

    Each subset draws min(subset_size, N1, N2) rows of each set without replacement, with a
    numpy RandomState(seed) in the order torch-fidelity uses. Values can be slightly negative.
    """
    features_1, features_2 = _as_float64(features_1), _as_float64(features_2)
    size = min(subset_size, len(features_1), len(features_2))
    if size < 2:
        raise ValueError("KID needs at least 2 images in each set")
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    # A "subset" that is the whole set (the usual case for the smaller, real set) is only reordered:
    # its within-set sum is the same every time, so it is computed once.
    whole = [_within_sum(features) if size == len(features) else None for features in (features_1, features_2)]
    for index in range(subsets):
        x = features_1[rng.choice(len(features_1), size, replace=False)]
        y = features_2[rng.choice(len(features_2), size, replace=False)]
        values[index] = _polynomial_mmd2(x, y, *whole)
    return float(values.mean()), float(values.std())


# Above ONE_PIECE_ROWS images a set's pairwise distances are computed DISTANCE_BLOCK_ROWS rows at a time (26,000 x
# 26,000 float64 distances, Stacked MNIST's 26,000 samples, would take 5.4 GB at once, and kthvalue copies its input).
# Up to it, in one piece as always, so the scores of smaller sets keep their exact bits (a block's matrix product
# may round differently).
ONE_PIECE_ROWS = 8192
DISTANCE_BLOCK_ROWS = 1024


def _kth_neighbour_distances(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row (itself excluded)."""
    if len(features) <= ONE_PIECE_ROWS:
        return torch.cdist(features, features).kthvalue(k + 1, dim=1).values
    # topk of k + 1 keeps a few columns where kthvalue would copy the whole block; the same values
    return torch.cat([torch.cdist(block, features).topk(k + 1, dim=1, largest=False).values[:, k] for block in features.split(DISTANCE_BLOCK_ROWS)])


def precision_recall(fake_features, real_features, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each point's ball has the radius of its k-th nearest neighbour within its own set. Precision is
    the share of fakes inside some real ball (distance <= radius); recall the share of reals inside
    some fake ball.
    """
    fake = torch.as_tensor(_as_float64(fake_features))
    real = torch.as_tensor(_as_float64(real_features))
    if min(len(fake), len(real)) <= k:
        raise ValueError(f"precision/recall with k = {k} needs more than {k} images in each set")
    real_radii = _kth_neighbour_distances(real, k)
    fake_radii = _kth_neighbour_distances(fake, k)
    if max(len(fake), len(real)) <= ONE_PIECE_ROWS:  # one matrix, as it always was
        fake_to_real = torch.cdist(fake, real)
        precision = (fake_to_real <= real_radii[None, :]).any(dim=1).double().mean().item()
        recall = (fake_to_real.T <= fake_radii[None, :]).any(dim=1).double().mean().item()
        return precision, recall
    inside_real_ball, real_inside = [], torch.zeros(len(real), dtype=torch.bool)
    for block, radii in zip(fake.split(DISTANCE_BLOCK_ROWS), fake_radii.split(DISTANCE_BLOCK_ROWS)):  # each distance once, as above
        distances = torch.cdist(block, real)
        inside_real_ball.append((distances <= real_radii[None, :]).any(dim=1))
        real_inside |= (distances <= radii[:, None]).any(dim=0)
    return torch.cat(inside_real_ball).double().mean().item(), real_inside.double().mean().item()


def class_coverage(fake_probabilities, real_class_shares) -> tuple[float, float]:
    """Mode coverage of a generator, from its images' predicted classes.

    ``fake_probabilities`` (N, classes); ``real_class_shares`` (classes,) the real frequency of each
    class. Returns (coverage, entropy): the share of classes predicted for at least half their real
    frequency, and the entropy in nats of the predicted-class histogram (log(classes) when uniform).
    """
    fake_probabilities = _as_float64(fake_probabilities)
    real_class_shares = _as_float64(real_class_shares)
    classes = fake_probabilities.shape[1]
    histogram = np.bincount(fake_probabilities.argmax(axis=1), minlength=classes) / len(fake_probabilities)
    present = real_class_shares > 0
    coverage = float((histogram[present] >= 0.5 * real_class_shares[present]).mean())
    nonzero = histogram[histogram > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum())
    return coverage, entropy


def mode_coverage(modes, mode_count: int) -> tuple[int, float]:
    """How a generator covers ``mode_count`` equally likely modes, from the mode of each of its images
    ``modes`` (N,) ints in [0, mode_count). Returns (covered, kl): how many modes appear at least once,
    and the KL divergence in nats of the modes' histogram p from the uniform distribution u,
    sum p log(p / u) over the modes that appear: 0 when every mode is equally frequent, log(mode_count)
    when all images are one mode (as the Stacked MNIST tables of Unrolled GAN, VEEGAN, PacGAN and R3GAN report)."""
    modes = np.asarray(modes, dtype=np.int64)
    if modes.ndim != 1 or len(modes) == 0 or modes.min() < 0 or modes.max() >= mode_count:
        raise ValueError(f"modes must be a non-empty (N,) array of integers in [0, {mode_count})")
    histogram = np.bincount(modes, minlength=mode_count) / len(modes)
    present = histogram[histogram > 0]
    return int(len(present)), float((present * np.log(present * mode_count)).sum())
