"""Stacked MNIST (Metz, Poole, Pfau & Sohl-Dickstein 2017, "Unrolled generative adversarial networks"):
three digits stacked as the red, green and blue channels of one image, so 10 x 10 x 10 = 1,000 modes, the
literature's benchmark for mode collapse (VEEGAN, PacGAN, PresGAN and R3GAN report on it).

Triplets are drawn from the digits of one split at a time (training triplets from the training digits only,
test triplets from the test digits only), so that no test digit is ever seen in training, in any channel.
"""

from __future__ import annotations

import torch

from ganyard.metrics.scores import stacked_modes

STACKED_CHANNELS = 3  # digits per image: modes = 10 ** 3


def stack_digits(images: torch.Tensor, labels: torch.Tensor, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` three-channel images from single-channel digits.

    ``images`` uint8 (N, 1, H, W) and ``labels`` int64 (N,) in 0-9: each output channel is one of ``images``,
    drawn uniformly with replacement and independently per channel (seeded by ``seed``). Returns the
    images uint8 (count, 3, H, W) and their modes int64 (count,), 100 * red digit + 10 * green + blue.
    """
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"stacking needs single-channel digits (N, 1, H, W), got {tuple(images.shape)}")
    if len(images) == 0 or len(labels) != len(images):
        raise ValueError(f"stacking needs as many labels as digits and at least one digit ({len(images)} digits, {len(labels)} labels)")
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(images), (count, STACKED_CHANNELS), generator=generator)
    stacked = images[picks.flatten(), 0].reshape(count, STACKED_CHANNELS, *images.shape[-2:])
    return stacked, torch.from_numpy(stacked_modes(labels[picks].numpy()))
