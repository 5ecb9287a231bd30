"""Image tensors to pictures."""

from __future__ import annotations

import math

import torch
from PIL import Image


def to_grid(images: torch.Tensor, columns: int | None = None) -> Image.Image:
    """Images (N, C, H, W) in [-1, 1] -> one PIL image, a square-ish grid with 2-px gaps."""
    from torchvision.utils import make_grid  # here: torchvision takes over a second to import, and most stages never draw a grid

    columns = columns or math.ceil(math.sqrt(len(images)))
    grid = make_grid(images.detach().cpu().float(), nrow=columns, padding=2, normalize=True, value_range=(-1, 1), pad_value=1.0)
    array = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    if images.shape[1] == 1:  # make_grid repeats grey to three channels; keep one
        return Image.fromarray(array[:, :, 0], mode="L")
    return Image.fromarray(array, mode="RGB")
