"""Differentiable augmentation of what the discriminator sees, for training on little data.

- DiffAugment (Zhao et al. 2020): colour, translation and cutout applied to every real and every
  generated image, in the discriminator's and in the generator's updates, so D never sees an
  un-augmented image and G's gradient flows through the same transformations.
- ADA (Karras et al. 2020): the same transformations, each applied to an image with probability p;
  p is raised while the discriminator overfits (r_t = E[sign(D(x_real))] above a target, 0.6) and
  lowered otherwise, every 4 iterations, at a speed that lets p go from 0 to 1 in ``ada_images`` images.

Images are (N, C, H, W) in [-1, 1]; every random draw comes from the given torch.Generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _uniform(count: int, rng: torch.Generator, device) -> torch.Tensor:
    return torch.rand(count, 1, 1, 1, generator=rng).to(device)


def _where(mask: torch.Tensor | None, changed: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    return changed if mask is None else torch.where(mask.view(-1, 1, 1, 1), changed, original)


def color(images: torch.Tensor, rng: torch.Generator, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2, colour images) and contrast (x0.5..1.5), per image."""
    count, device = images.shape[0], images.device
    out = images + (_uniform(count, rng, device) - 0.5)
    if images.shape[1] > 1:
        mean = out.mean(dim=1, keepdim=True)
        out = (out - mean) * (_uniform(count, rng, device) * 2) + mean
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * (_uniform(count, rng, device) + 0.5) + mean
    return _where(mask, out, images)


def translation(images: torch.Tensor, rng: torch.Generator, mask: torch.Tensor | None = None, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size in x and y, filling with zeros (mid grey)."""
    count, _, height, width = images.shape
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = torch.randint(-shift_y, shift_y + 1, (count, 1, 1), generator=rng).to(images.device)
    dx = torch.randint(-shift_x, shift_x + 1, (count, 1, 1), generator=rng).to(images.device)
    rows = (torch.arange(height, device=images.device).view(1, -1, 1) + dy + 1).clamp(0, height + 1)
    cols = (torch.arange(width, device=images.device).view(1, 1, -1) + dx + 1).clamp(0, width + 1)
    padded = F.pad(images, (1, 1, 1, 1))
    batch = torch.arange(count, device=images.device).view(-1, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
    return _where(mask, out, images)


def cutout(images: torch.Tensor, rng: torch.Generator, mask: torch.Tensor | None = None, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ``ratio`` of the image size at a random place in each image."""
    count, _, height, width = images.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = torch.randint(0, height + (1 - size_y % 2), (count, 1, 1), generator=rng).to(images.device) - size_y // 2
    left = torch.randint(0, width + (1 - size_x % 2), (count, 1, 1), generator=rng).to(images.device) - size_x // 2
    rows = torch.arange(height, device=images.device).view(1, -1, 1)
    cols = torch.arange(width, device=images.device).view(1, 1, -1)
    inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    out = images * (~inside).unsqueeze(1).to(images.dtype)
    return _where(mask, out, images)


def diff_augment(images: torch.Tensor, rng: torch.Generator, probability: float = 1.0) -> torch.Tensor:
    """Colour, translation and cutout, each applied to each image with ``probability`` (1: DiffAugment)."""
    for transform in (color, translation, cutout):
        if probability >= 1.0:
            images = transform(images, rng)
        elif probability > 0.0:
            mask = torch.rand(images.shape[0], generator=rng).to(images.device) < probability
            images = transform(images, rng, mask)
    return images


class AdaptiveAugment:
    """ADA's controller of the augmentation probability p (Karras et al. 2020, Eq. and Appendix).

    ``observe(real_logits)`` collects sign(D(x_real)); every ``interval`` iterations ``step`` moves
    p by sign(r_t - target) * (images seen since the last adjustment) / ``speed_images``, within [0, 1].
    """

    def __init__(self, target: float = 0.6, speed_images: int = 500_000, interval: int = 4):
        self.target, self.speed_images, self.interval = target, speed_images, interval
        self.probability = 0.0
        self.signs_total, self.signs_count, self.iterations = 0.0, 0, 0
        self.last_overfitting = 0.0

    def observe(self, real_logits: torch.Tensor) -> None:
        self.signs_total += torch.sign(real_logits.detach()).sum().item()
        self.signs_count += real_logits.numel()

    def step(self) -> None:
        """Call once per iteration, after the discriminator's updates."""
        self.iterations += 1
        if self.iterations % self.interval or not self.signs_count:
            return
        self.last_overfitting = self.signs_total / self.signs_count
        direction = 1.0 if self.last_overfitting > self.target else -1.0
        self.probability = min(1.0, max(0.0, self.probability + direction * self.signs_count / self.speed_images))
        self.signs_total, self.signs_count = 0.0, 0

    STATE = ("probability", "signs_total", "signs_count", "iterations", "last_overfitting")

    def state_dict(self) -> dict:
        """p and the statistics collected since its last adjustment, for checkpoints."""
        return {name: getattr(self, name) for name in self.STATE}

    def load_state_dict(self, state: dict) -> None:
        for name in self.STATE:
            setattr(self, name, state[name])
