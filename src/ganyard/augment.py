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

from functools import partial

import torch
import torch.nn.functional as F


def _uniform(count: int, rng: torch.Generator, device) -> torch.Tensor:
    return torch.rand(count, 1, 1, 1, generator=rng).to(device)


def _where(mask: torch.Tensor | None, changed: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    return changed if mask is None else torch.where(mask.view(-1, 1, 1, 1), changed, original)


def color(images: torch.Tensor, rng: torch.Generator, mask: torch.Tensor | None = None, scales: int = 1) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2, colour images) and contrast (x0.5..1.5), per image.

    ``images`` (N, scales * C, H, W) may hold several scales of each image (MSG-GAN's packed tensor,
    ``ganyard.models.msg``): each scale then gets the same draws, and its own channel and image means.
    """
    count, device = images.shape[0], images.device
    channels = images.shape[1] // scales
    brightness = _uniform(count, rng, device) - 0.5
    saturation = _uniform(count, rng, device) * 2 if channels > 1 else None
    contrast = _uniform(count, rng, device) + 0.5
    parts = [_color_one(scale, brightness, saturation, contrast) for scale in images.split(channels, dim=1)]
    return _where(mask, parts[0] if len(parts) == 1 else torch.cat(parts, dim=1), images)


def _color_one(images: torch.Tensor, brightness: torch.Tensor, saturation: torch.Tensor | None, contrast: torch.Tensor) -> torch.Tensor:
    out = images + brightness
    if saturation is not None:
        mean = out.mean(dim=1, keepdim=True)
        out = (out - mean) * saturation + mean
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    return (out - mean) * contrast + mean


def translation(images: torch.Tensor, rng: torch.Generator, mask: torch.Tensor | None = None, ratio: float = 0.125, scales: int = 1) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size in x and y, filling with zeros (mid grey).

    With ``scales`` > 1 (MSG-GAN's packed tensor, ``ganyard.models.msg``), the shift is drawn in full-size
    pixels and scale s, stored nearest-upsampled, moves by it rounded to whole pixels of its own (2**s
    full-size pixels; half to even, so a coarse scale moves as often left as right) and stays nearest-upsampled.
    """
    count, channels, height, width = images.shape
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = torch.randint(-shift_y, shift_y + 1, (count, 1, 1), generator=rng).to(images.device)
    dx = torch.randint(-shift_x, shift_x + 1, (count, 1, 1), generator=rng).to(images.device)
    parts = [_shift(part, _to_scale(dy, scale), _to_scale(dx, scale)) for scale, part in enumerate(images.split(channels // scales, dim=1))]
    return _where(mask, parts[0] if scales == 1 else torch.cat(parts, dim=1), images)


def _to_scale(offset: torch.Tensor, scale: int) -> torch.Tensor:
    """Full-size pixel offsets rounded to whole pixels of scale ``scale`` (multiples of 2**scale), half to even."""
    return offset if scale == 0 else torch.round(offset / 2**scale).long() * 2**scale


def _shift(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images moved by (N, 1, 1) whole pixels dy, dx; what comes in from outside is zero."""
    count, _, height, width = images.shape
    rows = (torch.arange(height, device=images.device).view(1, -1, 1) + dy + 1).clamp(0, height + 1)
    cols = (torch.arange(width, device=images.device).view(1, 1, -1) + dx + 1).clamp(0, width + 1)
    padded = F.pad(images, (1, 1, 1, 1))
    batch = torch.arange(count, device=images.device).view(-1, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(images: torch.Tensor, rng: torch.Generator, mask: torch.Tensor | None = None, ratio: float = 0.5, scales: int = 1) -> torch.Tensor:
    """Zero a square of ``ratio`` of the image size at a random place in each image.

    With ``scales`` > 1 (packed as for ``translation``), scale s loses a square of its own pixels of the
    size divided by 2**s, its top-left corner rounded like ``translation``'s shift: whole pixels of scale s.
    """
    count, channels, height, width = images.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = torch.randint(0, height + (1 - size_y % 2), (count, 1, 1), generator=rng).to(images.device) - size_y // 2
    left = torch.randint(0, width + (1 - size_x % 2), (count, 1, 1), generator=rng).to(images.device) - size_x // 2
    rows = torch.arange(height, device=images.device).view(1, -1, 1)
    cols = torch.arange(width, device=images.device).view(1, 1, -1)
    parts = []
    for scale, part in enumerate(images.split(channels // scales, dim=1)):
        # a square of whole scale-s pixels: rows and columns of its grid, offsets and sizes in full-size pixels
        top_s, left_s = _to_scale(top, scale), _to_scale(left, scale)
        tall, wide = max(1, round(size_y / 2**scale)) * 2**scale, max(1, round(size_x / 2**scale)) * 2**scale
        grid_rows, grid_cols = rows - rows % 2**scale, cols - cols % 2**scale
        inside = (grid_rows >= top_s) & (grid_rows < top_s + tall) & (grid_cols >= left_s) & (grid_cols < left_s + wide)
        parts.append(part * (~inside).unsqueeze(1).to(images.dtype))
    return _where(mask, parts[0] if scales == 1 else torch.cat(parts, dim=1), images)


def diff_augment(images: torch.Tensor, rng: torch.Generator, probability: float = 1.0, scales: int = 1) -> torch.Tensor:
    """Colour, translation and cutout, each applied to each image with ``probability`` (1: DiffAugment).

    With ``scales`` > 1, ``images`` (N, scales * C, H, W) holds MSG-GAN's packed scales of each image
    (``ganyard.models.msg``): every scale of an image gets the same draws, the colour transform exactly
    per scale, translation and cutout rounded to whole pixels of each scale (see ``translation``).
    """
    for transform in (partial(color, scales=scales), partial(translation, scales=scales), partial(cutout, scales=scales)):
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

    def observe(self, real_logits: torch.Tensor, images_per_logit: int = 1) -> None:
        """Collect sign(D(x_real)) of ``real_logits`` (M,), each judging ``images_per_logit`` real images (PacGAN's
        packs): r_t stays the mean sign, and p moves by the images seen, not the logits."""
        self.signs_total += torch.sign(real_logits.detach()).sum().item() * images_per_logit
        self.signs_count += real_logits.numel() * images_per_logit

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
