"""Turn raw uint8 images into training tensors: split, scale to [-1, 1], pad and resize."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split

from ganyard.params import ParamsError


@dataclass(frozen=True)
class PreparedSplit:
    """Images float32 (N, C, S, S) in [-1, 1] and labels int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def to_dict(self) -> dict[str, torch.Tensor]:
        return {"images": self.images, "labels": self.labels}


def split_stratified(
    labels: torch.Tensor, test_fraction: float, seed: int, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, class-stratified split of ``labels`` (N,) into sorted (train_indices, test_indices).

    With ``limit``, a stratified subset of that many images is drawn first (for small-data experiments).
    Raises ParamsError when the split would leave a class without images in one part.
    """
    indices = np.arange(len(labels))
    strata = labels.numpy()
    try:
        if limit is not None and limit < len(indices):
            indices, _ = train_test_split(indices, train_size=limit, stratify=strata, random_state=seed)
            strata = strata[indices]
        train, test = train_test_split(indices, test_size=test_fraction, stratify=strata, random_state=seed)
    except ValueError as error:
        raise ParamsError(
            f"data.limit = {limit}, data.test_fraction = {test_fraction}: cannot split {len(indices)} images of "
            f"{len(np.unique(strata))} classes so that every class is in both splits ({error})"
        ) from None
    return np.sort(train), np.sort(test)


def prepare_images(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) in [0, 255] -> float32 (N, C, image_size, image_size) in [-1, 1].

    MNIST's 28x28 digits are first padded with background to 32x32 (as DCGAN on MNIST does),
    which keeps the digit's proportions, then resized with antialiasing if another size is asked.
    """
    scaled = images.to(torch.float32) / 127.5 - 1.0
    height, width = scaled.shape[-2:]
    if height < 32 and width < 32:
        pad_h, pad_w = 32 - height, 32 - width
        scaled = F.pad(scaled, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2), value=-1.0)
    if scaled.shape[-2:] != (image_size, image_size):
        scaled = F.interpolate(scaled, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
    return scaled.clamp_(-1.0, 1.0).contiguous()


def summarize(splits: dict[str, PreparedSplit], classes: int) -> dict:
    """Counts per split and class, image shape and value range, for metrics/data.json."""
    summary: dict = {}
    for name, split in splits.items():
        counts = torch.bincount(split.labels, minlength=classes).tolist()
        summary[name] = {"count": len(split.labels), "per_class": {str(c): n for c, n in enumerate(counts)}}
    any_split = next(iter(splits.values()))
    summary["image_shape"] = list(any_split.images.shape[1:])
    summary["value_min"] = min(float(s.images.min()) for s in splits.values())
    summary["value_max"] = max(float(s.images.max()) for s in splits.values())
    return summary
