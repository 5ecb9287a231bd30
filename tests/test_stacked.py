import pytest
import torch

from ganyard.data.sources import load_mnist5k
from ganyard.data.stacked import stack_digits
from ganyard.metrics.scores import mode_coverage, stacked_modes


def test_each_channel_is_one_of_the_digits_and_the_mode_reads_their_labels():
    digits = load_mnist5k()
    stacked, modes = stack_digits(digits.images, digits.labels, 2000, seed=3)
    assert stacked.shape == (2000, 3, 32, 32) and stacked.dtype == torch.uint8 and modes.dtype == torch.int64
    flat = digits.images.flatten(1)
    for index in (0, 1, 1999):
        for channel in range(3):
            matches = (flat == stacked[index, channel].flatten()).all(dim=1).nonzero().flatten()
            assert len(matches) >= 1  # this channel is one of the digits, pixel for pixel
            assert int(digits.labels[matches[0]]) == int(modes[index]) // 10 ** (2 - channel) % 10
    channel_labels = torch.stack([modes // 100, modes // 10 % 10, modes % 10], dim=1)
    assert stacked_modes(channel_labels.numpy()).tolist() == modes.tolist()
    covered, kl = mode_coverage(modes.numpy(), 1000)
    assert covered > 800 and kl < 0.6  # 2,000 uniform draws of 1,000 modes: about 865 seen, KL about 0.45


def test_stacking_is_seeded_and_uses_only_the_digits_given():
    digits = load_mnist5k()
    train = torch.arange(0, 5000, 2)  # a split: the other digits must never appear
    first = stack_digits(digits.images[train], digits.labels[train], 300, seed=7)
    again = stack_digits(digits.images[train], digits.labels[train], 300, seed=7)
    other = stack_digits(digits.images[train], digits.labels[train], 300, seed=8)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]) and not torch.equal(first[0], other[0])
    left_out = {bytes(image.numpy()) for image in digits.images[1::2, 0]} - {bytes(image.numpy()) for image in digits.images[train, 0]}
    assert not any(bytes(channel.numpy()) in left_out for image in first[0] for channel in image)


def test_stacking_refuses_colour_images_and_missing_labels():
    with pytest.raises(ValueError, match=r"single-channel digits \(N, 1, H, W\), got \(4, 3, 8, 8\)"):
        stack_digits(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64), 2, 0)
    with pytest.raises(ValueError, match="4 digits, 3 labels"):
        stack_digits(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64), 2, 0)
