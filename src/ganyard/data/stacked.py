"""Stacked MNIST (Metz, Poole, Pfau & Sohl-Dickstein 2017, "Unrolled generative adversarial networks"):
three digits stacked as the red, green and blue channels of one image, so 10 x 10 x 10 = 1,000 modes, the
literature's benchmark for mode collapse (VEEGAN, PacGAN, PresGAN and R3GAN report on it).

Triplets are drawn from the digits of one split at a time (training triplets from the training digits only,
test triplets from the test digits only), so that no test digit is ever seen in training, in any channel.
"""

from __future__ import annotations

import numpy as np
import torch

STACKED_CHANNELS = 3  # digits per image: modes = 10 ** 3
DIGITS = 10
MODE_NAMES = [f"{mode:03d}" for mode in range(DIGITS**STACKED_CHANNELS)]  # the class names of the modes: red, green, blue digit


def stacked_modes(channel_classes, classes_per_channel: int = 10) -> np.ndarray:
    """The mode of each stacked image from the class of each of its channels: (N, channels) ints in
    [0, classes_per_channel) -> (N,) ints, the channels read as the digits of one number, the first the
    most significant (Stacked MNIST: three digits, modes 0-999; Metz et al. 2017)."""
    channel_classes = np.asarray(channel_classes, dtype=np.int64)
    if channel_classes.ndim != 2 or channel_classes.min(initial=0) < 0 or channel_classes.max(initial=0) >= classes_per_channel:
        raise ValueError(f"channel classes must be (N, channels) integers in [0, {classes_per_channel}), got shape {channel_classes.shape}")
    weights = classes_per_channel ** np.arange(channel_classes.shape[1] - 1, -1, -1)
    return channel_classes @ weights


def channel_digits(modes: torch.Tensor) -> torch.Tensor:
    """Modes (N,) in 0-999 -> the digit of each channel (N, 3), red first (a single mode: (3,)); the inverse of ``stacked_modes``."""
    return torch.stack([modes // DIGITS ** (STACKED_CHANNELS - 1 - channel) % DIGITS for channel in range(STACKED_CHANNELS)], dim=-1)


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
