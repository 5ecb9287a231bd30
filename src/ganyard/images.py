"""Image tensors to pictures."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image

from ganyard.io import write_folder_atomic

GRID_GAP = 2  # white pixels between the images of a grid and around it


def to_grid(images: torch.Tensor, columns: int | None = None) -> Image.Image:
    """Images (N, C, H, W) in [-1, 1] -> one PIL image, a square-ish grid with white 2-px gaps.

    The same pixels as torchvision's ``make_grid(..., padding=2, normalize=True, value_range=(-1, 1), pad_value=1)``
    (tests/test_generate.py compares them), drawn here because importing torchvision costs the train and sample
    stages 2 s each (it imports torch's compiler).
    """
    images = (images.detach().cpu().float().clamp(-1, 1) + 1) / 2
    count, channels, height, width = images.shape
    columns = min(columns or math.ceil(math.sqrt(count)), count)
    if count == 1:  # as make_grid: one image is drawn without its frame
        return _picture(images[0], grey=channels == 1)
    rows = math.ceil(count / columns)
    grid = torch.ones(channels, rows * (height + GRID_GAP) + GRID_GAP, columns * (width + GRID_GAP) + GRID_GAP)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = GRID_GAP + row * (height + GRID_GAP), GRID_GAP + column * (width + GRID_GAP)
        grid[:, top : top + height, left : left + width] = image
    return _picture(grid, grey=channels == 1)


def to_pictures(images: torch.Tensor) -> list[Image.Image]:
    """Images (N, C, H, W) in [-1, 1] -> N PIL images ("L" for one channel, "RGB" for three), quantized as ``to_grid``'s."""
    return [_picture((image.detach().cpu().float().clamp(-1, 1) + 1) / 2, grey=image.shape[0] == 1) for image in images]


def _picture(image: torch.Tensor, grey: bool) -> Image.Image:
    """(C, H, W) in [0, 1] -> a PIL image of its first channel (``grey``) or its three."""
    array = image.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0], mode="L") if grey else Image.fromarray(array, mode="RGB")


def export_pngs(images: torch.Tensor, folder: str | Path) -> Path:
    """Every image of (N, C, H, W) in [-1, 1] as ``folder``/000000.png, 000001.png, ... in order (``to_pictures``),
    a folder that torch-fidelity and clean-fid read as it is; written whole, then put in the place of ``folder``."""
    pictures = to_pictures(images)

    def write(temporary: Path) -> None:
        for index, picture in enumerate(pictures):
            picture.save(temporary / f"{index:06d}.png", format="PNG")

    return write_folder_atomic(folder, write)
