"""Each score against an independent implementation on the same arrays, and analytic cases."""

import math
import warnings

import numpy as np
import pytest
import torch

import ganyard.metrics.scores as scores_module
from ganyard.data.stacked import stacked_modes
from ganyard.metrics.scores import (
    class_coverage,
    feature_statistics,
    fid_from_features,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    mode_coverage,
    precision_recall,
)


def random_statistics(dimension: int, seed: int):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((3 * dimension, dimension)) @ rng.standard_normal((dimension, dimension)) * 0.3
    features += rng.standard_normal(dimension)
    return feature_statistics(features)


@pytest.mark.parametrize("dimension", [8, 64, 256])
def test_fid_agrees_with_pytorch_fid(dimension):
    from pytorch_fid.fid_score import calculate_frechet_distance

    first, second = random_statistics(dimension, 1), random_statistics(dimension, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy deprecates sqrtm's disp argument that pytorch-fid passes
        reference = calculate_frechet_distance(*first, *second)
    kept = [array.copy() for array in (*first, *second)]
    assert frechet_distance(*first, *second) == pytest.approx(reference, rel=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(kept, (*first, *second)))  # LAPACK works on copies, not the caller's statistics


def test_fid_with_a_singular_covariance_agrees_with_pytorch_fid():
    # Fewer images than dimensions: the covariance is singular and has no Cholesky factor.
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(3)
    first = feature_statistics(rng.standard_normal((20, 32)))
    second = feature_statistics(rng.standard_normal((200, 32)) + 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = calculate_frechet_distance(*first, *second)
    assert frechet_distance(*first, *second) == pytest.approx(reference, rel=1e-6)


def test_fid_of_identical_sets_is_zero_and_of_shifted_gaussians_is_the_squared_shift():
    features = np.random.default_rng(0).standard_normal((2000, 16))
    assert fid_from_features(features, features) == pytest.approx(0.0, abs=1e-8)
    mean, covariance = feature_statistics(features)
    shift = np.arange(16) / 4.0
    assert frechet_distance(mean, covariance, mean + shift, covariance) == pytest.approx(shift @ shift, rel=1e-9)


def test_fid_of_gaussians_with_known_covariances():
    # Diagonal covariances a and b: FID = sum (sqrt a - sqrt b)^2
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(np.zeros(3), np.diag(a), np.zeros(3), np.diag(b)) == pytest.approx(expected)


def test_fid_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def logits_for(count: int, classes: int, seed: int) -> torch.Tensor:
    return torch.randn(count, classes, generator=torch.Generator().manual_seed(seed)) * 3


def test_inception_score_agrees_with_torch_fidelity():
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = logits_for(1000, 10, 0)
    reference = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    mean, std = inception_score(logits.double().softmax(1), splits=10, seed=2020)
    assert mean == pytest.approx(reference["inception_score_mean"], rel=1e-9)
    assert std == pytest.approx(reference["inception_score_std"], rel=1e-7)


def test_inception_score_analytic_cases():
    assert inception_score(np.full((100, 10), 0.1), splits=5)[0] == pytest.approx(1.0)
    one_hot = np.eye(10)[np.arange(1000) % 10]
    # Shuffled splits of 100 are not exactly balanced; one split covering all rows is.
    assert inception_score(one_hot, splits=1) == pytest.approx((10.0, 0.0))
    assert inception_score(np.eye(10)[np.zeros(50, dtype=int)], splits=1)[0] == pytest.approx(1.0)


def assert_kid_agrees_with_torch_fidelity(first: torch.Tensor, second: torch.Tensor, subsets: int, subset_size: int) -> None:
    from torch_fidelity.metric_kid import kid_features_to_metric

    reference = kid_features_to_metric(
        first,
        second,
        kid_subsets=subsets,
        kid_subset_size=subset_size,
        kid_degree=3,
        kid_gamma=None,
        kid_coef0=1,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
        rng_seed=2020,
        verbose=False,
    )
    mean, std = kernel_inception_distance(first, second, subsets=subsets, subset_size=subset_size, seed=2020)
    assert mean == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-9)
    assert std == pytest.approx(reference["kernel_inception_distance_std"], rel=1e-7)


def test_kid_agrees_with_torch_fidelity():
    rng = np.random.default_rng(0)
    assert_kid_agrees_with_torch_fidelity(torch.from_numpy(rng.standard_normal((300, 32))), torch.from_numpy(rng.standard_normal((250, 32)) + 0.2), 20, 200)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(1)
    same = kernel_inception_distance(rng.standard_normal((500, 8)), rng.standard_normal((500, 8)), subsets=10, subset_size=500)
    shifted = kernel_inception_distance(rng.standard_normal((500, 8)), rng.standard_normal((500, 8)) + 1, subsets=10, subset_size=500)
    assert abs(same[0]) < 0.05 < shifted[0]


def test_precision_recall_agree_with_torch_fidelity():
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    rng = np.random.default_rng(0)
    fake = torch.from_numpy(rng.standard_normal((400, 16)) * 0.8)
    real = torch.from_numpy(rng.standard_normal((300, 16)) + 0.3)
    reference = calculate_precision_recall_full(fake, real, neighborhood=3, batch_size=10000)
    assert precision_recall(fake, real, k=3) == pytest.approx(reference, abs=1e-6)  # it averages in float32


def test_precision_recall_of_a_collapsed_generator():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((500, 4))
    collapsed = real[:1] + rng.standard_normal((500, 4)) * 1e-3  # every fake at one real point
    precision, recall = precision_recall(collapsed, real, k=3)
    assert precision == 1.0 and recall < 0.05


def test_class_coverage():
    real_shares = np.full(10, 0.1)
    balanced = np.eye(10)[np.arange(1000) % 10]
    assert class_coverage(balanced, real_shares) == pytest.approx((1.0, math.log(10)))
    collapsed = np.eye(10)[np.zeros(1000, dtype=int)]
    assert class_coverage(collapsed, real_shares) == pytest.approx((0.1, 0.0))
    # Seven classes at 0.14 each, three at 0.01: those three fall below half their real share.
    histogram = np.repeat(np.arange(10), [140] * 7 + [10] * 3)
    coverage, _ = class_coverage(np.eye(10)[histogram], real_shares)
    assert coverage == pytest.approx(0.7)


def test_kid_with_a_whole_set_as_the_subset_agrees_with_torch_fidelity():
    # subset_size >= the smaller set: its subsets are reorderings of it (the within-set sum is computed once).
    rng = np.random.default_rng(1)
    assert_kid_agrees_with_torch_fidelity(torch.from_numpy(rng.standard_normal((400, 16))), torch.from_numpy(rng.standard_normal((150, 16)) * 1.1), 10, 150)


def test_stacked_modes_read_the_channels_as_the_digits_of_one_number():
    assert stacked_modes([[0, 0, 0], [1, 2, 3], [9, 9, 9], [0, 4, 7]]).tolist() == [0, 123, 999, 47]
    assert stacked_modes([[1, 0], [3, 1]], classes_per_channel=4).tolist() == [4, 13]
    with pytest.raises(ValueError, match=r"integers in \[0, 10\)"):
        stacked_modes([[1, 10, 2]])


def test_mode_coverage_all_modes_one_mode_and_a_known_kl():
    every_mode_twice = np.repeat(np.arange(1000), 2)
    assert mode_coverage(every_mode_twice, 1000) == (1000, pytest.approx(0.0, abs=1e-12))
    assert mode_coverage(np.full(26_000, 417), 1000) == (1, pytest.approx(math.log(1000)))
    # half the images in mode 0, the other half spread over modes 1-4: p = (1/2, 1/8 x 4) of 10 modes
    modes = np.array([0] * 4 + [1, 2, 3, 4])
    expected = 0.5 * math.log(0.5 * 10) + 4 * 0.125 * math.log(0.125 * 10)
    assert mode_coverage(modes, 10) == (5, pytest.approx(expected))
    with pytest.raises(ValueError, match=r"integers in \[0, 10\)"):
        mode_coverage(np.array([3, 10]), 10)


def test_precision_and_recall_by_blocks_equal_the_one_matrix_computation(monkeypatch):
    rng = np.random.RandomState(4)
    fake, real = rng.normal(size=(300, 16)), rng.normal(0.3, 1.1, size=(250, 16))
    whole = precision_recall(fake, real, k=3)
    monkeypatch.setattr(scores_module, "ONE_PIECE_ROWS", 100)  # 26,000 rows are scored block by block like this
    monkeypatch.setattr(scores_module, "DISTANCE_BLOCK_ROWS", 64)
    assert precision_recall(fake, real, k=3) == pytest.approx(whole, abs=1e-12)
    assert 0 < whole[0] < 1 and 0 < whole[1] < 1
