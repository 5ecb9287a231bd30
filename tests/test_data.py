import numpy as np
import pytest
import torch

from ganyard.data import PreparedSplit, load_source, prepare_images, split_stratified, summarize
from ganyard.params import ParamsError


@pytest.fixture(scope="module")
def mnist5k():
    return load_source("mnist5k")


def test_mnist5k_is_the_bundled_5000_digit_subset(mnist5k):
    images, labels = mnist5k
    assert images.shape == (5000, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and images[:, :, 0, :].float().mean() < 5  # dark background, bright strokes


def test_split_is_stratified_disjoint_and_seeded(mnist5k):
    _, labels = mnist5k
    train, test = split_stratified(labels, 0.2, seed=0)
    assert len(train) == 4000 and len(test) == 1000
    assert not set(train) & set(test)
    assert torch.bincount(labels[test]).tolist() == [100] * 10
    again, _ = split_stratified(labels, 0.2, seed=0)
    other, _ = split_stratified(labels, 0.2, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_limit_keeps_a_stratified_subset(mnist5k):
    _, labels = mnist5k
    train, test = split_stratified(labels, 0.2, seed=0, limit=300)
    assert len(train) + len(test) == 300
    assert torch.bincount(labels[train], minlength=10).tolist() == [24] * 10


def test_limit_too_small_for_every_class_is_a_params_error(mnist5k):
    _, labels = mnist5k
    with pytest.raises(ParamsError, match="data.limit = 20"):
        split_stratified(labels, 0.1, seed=0, limit=20)


def test_prepare_pads_mnist_to_32_and_scales_to_minus_one_one(mnist5k):
    images, _ = mnist5k
    prepared = prepare_images(images[:10], 32)
    assert prepared.shape == (10, 1, 32, 32) and prepared.dtype == torch.float32
    assert prepared.min() == -1.0 and prepared.max() == 1.0
    assert torch.all(prepared[:, :, :2, :] == -1.0)  # the 2-pixel pad is background
    assert torch.equal(prepared[:, :, 2:30, 2:30], images[:10].float() / 127.5 - 1)


@pytest.mark.parametrize("size", [16, 64, 128])
def test_prepare_resizes_within_range(mnist5k, size):
    prepared = prepare_images(mnist5k[0][:4], size)
    assert prepared.shape == (4, 1, size, size)
    assert prepared.min() >= -1 and prepared.max() <= 1


def test_summary_counts_per_split_and_class():
    split = PreparedSplit(torch.full((3, 1, 4, 4), -1.0), torch.tensor([0, 2, 2]))
    summary = summarize({"train": split}, classes=3)
    assert summary["train"] == {"count": 3, "per_class": {"0": 1, "1": 0, "2": 2}}
    assert summary["image_shape"] == [1, 4, 4] and summary["value_min"] == summary["value_max"] == -1.0
