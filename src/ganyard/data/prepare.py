"""Turn a source's uint8 images into training tensors: seeded split, scale to [-1, 1], resize."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganyard.data.sources import RAW_ROOT, load_source
from ganyard.data.stacked import MODE_NAMES, stack_digits
from ganyard.params import DataParams, ParamsError


@dataclass(frozen=True)
class PreparedSplit:
    """Images float32 (N, C, S, S) in [-1, 1], labels int64 (N,) or None (unlabelled data), class names.

    Stacked MNIST also keeps the split's single digits, float32 (M, 1, S, S) and their labels (M,): what the
    evaluator learns to read each channel from (every channel of ``images`` is one of them).
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    class_names: list[str] | None = None
    digits: torch.Tensor | None = None
    digit_labels: torch.Tensor | None = None

    def to_dict(self) -> dict:
        split = {"images": self.images, "labels": self.labels, "class_names": self.class_names}
        if self.digits is not None:
            split.update(digits=self.digits, digit_labels=self.digit_labels)
        return split


def split_stratified(
    labels: torch.Tensor | None, test_fraction: float, seed: int, limit: int | None = None, count: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``labels`` (N,) into sorted (train_indices, test_indices), stratified by class.

    With ``limit``, a (stratified) subset of that many images is drawn first, for small-data
    experiments. Unlabelled data (``labels`` None, ``count`` images) is split at random, seeded.
    Raises ParamsError when the split would leave a class without images in one part.
    """
    from sklearn.model_selection import train_test_split  # here, not at the top: sklearn takes 1-2 s to import, and every stage imports this module

    indices = np.arange(len(labels) if labels is not None else count)
    strata = labels.numpy() if labels is not None else None
    try:
        if limit is not None and limit < len(indices):
            indices, _ = train_test_split(indices, train_size=limit, stratify=strata, random_state=seed)
            strata = strata[indices] if strata is not None else None
        train, test = train_test_split(indices, test_size=test_fraction, stratify=strata, random_state=seed)
    except ValueError as error:
        classes = f" of {len(np.unique(strata))} classes so that every class is in both splits" if strata is not None else ""
        raise ParamsError(f"data.limit = {limit}, data.test_fraction = {test_fraction}: cannot split {len(indices)} images{classes} ({error})") from None
    return np.sort(train), np.sort(test)


def prepare_images(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) in [0, 255] -> float32 (N, C, image_size, image_size) in [-1, 1].

    Square sources only (every source is square by now: MNIST padded to 32, folders cropped);
    resized with antialiasing when another size is asked.
    """
    scaled = images.to(torch.float32) / 127.5 - 1.0
    if scaled.shape[-2:] != (image_size, image_size):
        scaled = F.interpolate(scaled, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
    return scaled.clamp_(-1.0, 1.0).contiguous()


MAX_CLASSES_LISTED = 100  # metrics/data.json lists the count of each class up to this many classes


def summarize(splits: dict[str, PreparedSplit], class_names: list[str] | None) -> dict:
    """Counts per split (and per class, by name), image shape and value range, for metrics/data.json."""
    summary: dict = {}
    for name, split in splits.items():
        summary[name] = {"count": len(split.images)}
        if class_names is not None:
            counts = torch.bincount(split.labels, minlength=len(class_names)).tolist()
            if len(class_names) <= MAX_CLASSES_LISTED:
                summary[name]["per_class"] = dict(zip(class_names, counts, strict=True))
            else:  # Stacked MNIST's 1,000 modes: how many occur, and the rarest and commonest counts
                summary[name].update(classes_present=sum(count > 0 for count in counts), min_per_class=min(counts), max_per_class=max(counts))
    any_split = next(iter(splits.values()))
    summary["image_shape"] = list(any_split.images.shape[1:])
    summary["value_min"] = min(float(s.images.min()) for s in splits.values())
    summary["value_max"] = max(float(s.images.max()) for s in splits.values())
    return summary


@dataclass
class PreparedData:
    """The prepare stage's result: the train and test splits, the summary for metrics/data.json, and
    the files of a folder source that were left out as (name, reason)."""

    splits: dict[str, PreparedSplit]
    summary: dict
    bad_files: list[tuple[str, str]]


def prepare_data(data: DataParams, raw_root: str | Path = RAW_ROOT, progress: bool = True) -> PreparedData:
    """Load ``data.source``, split it (seeded, stratified when labelled, after ``data.limit``) and scale,
    resize each split to ``data.image_size``. Raises DataError or ParamsError with a clear message."""
    raw = load_source(data, raw_root, progress)
    train_indices, test_indices = split_stratified(raw.labels, data.test_fraction, data.split_seed, data.limit, count=len(raw.images))
    if data.source == "stacked_mnist":
        splits = stack_splits(raw.images, raw.labels, {"train": train_indices, "test": test_indices}, data)
        summary = {"source": data.source, "labelled": True, "classes": len(MODE_NAMES), **summarize(splits, MODE_NAMES)}
        return PreparedData(splits, summary, [])
    splits = {
        name: PreparedSplit(
            prepare_images(raw.images[indices], data.image_size),
            raw.labels[indices] if raw.labels is not None else None,
            raw.class_names,
        )
        for name, indices in (("train", train_indices), ("test", test_indices))
    }
    summary = {
        "source": data.source,
        "labelled": raw.labels is not None,
        "classes": len(raw.class_names) if raw.class_names is not None else 0,
        **summarize(splits, raw.class_names),
    }
    if data.source == "folder":
        summary.update(bad_images=len(raw.bad_files), ignored_files=len(raw.ignored_files))
    return PreparedData(splits, summary, raw.bad_files)


def stack_splits(digits: torch.Tensor, labels: torch.Tensor, indices: dict[str, np.ndarray], data: DataParams) -> dict[str, PreparedSplit]:
    """Stacked MNIST's splits: each split's images stacked from that split's digits only (uint8 (N, 1, H, W),
    ``labels`` (N,)), ``data.stacked_train_images`` and ``data.stacked_test_images`` of them, seeded by
    ``data.split_seed``; labels are the modes (0-999), and each split keeps its single digits for the evaluator."""
    counts = {"train": data.stacked_train_images, "test": data.stacked_test_images}
    seeds = dict(zip(indices, np.random.SeedSequence(data.split_seed).generate_state(len(indices)).tolist(), strict=True))
    splits = {}
    for name, chosen in indices.items():
        stacked, modes = stack_digits(digits[chosen], labels[chosen], counts[name], seeds[name])
        splits[name] = PreparedSplit(
            prepare_images(stacked, data.image_size), modes, MODE_NAMES, prepare_images(digits[chosen], data.image_size), labels[chosen]
        )
    return splits
