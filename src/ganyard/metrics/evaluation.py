"""From images to the numbers in metrics/eval.json.

Generated images are scored against the held-out test split (the reference). The same scores are
computed for an equally large, seeded subset of the training split against the same reference
(the ``*_real`` keys): what a perfect generator would get at this sample size.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ganyard.metrics.backbones import Backbone, extract
from ganyard.metrics.scores import (
    class_coverage,
    feature_statistics,
    fid_from_features,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    mode_coverage,
    precision_recall,
)
from ganyard.params import EvaluateParams


def describe_images(images: torch.Tensor, evaluator: nn.Module, inception: Backbone | None = None, desc: str = "images") -> dict[str, torch.Tensor]:
    """Everything the scores need of one image set (N, C, S, S) in [-1, 1], all float64.

    ``features`` (N, d) come from the backbone: the Inception network when given, else the evaluator.
    ``probabilities`` (N, k), for IS, from the same network, and ``class_probabilities`` (N, classes),
    for mode coverage, from the evaluator: both only where they are class probabilities (an evaluator
    trained on unlabelled data predicts rotations, so it gives neither).
    """
    features, probabilities = extract(evaluator_backbone(evaluator), images, desc=f"{desc}: evaluator")
    description = {"features": features}
    if evaluator.task in ("classes", "stacked"):  # stacked: the probabilities of the 1,000 modes
        description.update(probabilities=probabilities, class_probabilities=probabilities)
    if inception is not None:
        description["features"], description["probabilities"] = extract(inception, images, batch_size=50, desc=f"{desc}: inception")
    return description


def evaluator_backbone(evaluator: nn.Module) -> Backbone:
    """The evaluator CNN as a backbone: penultimate features and logits."""
    return evaluator.features_and_logits


def subset(description: dict[str, torch.Tensor], indices: torch.Tensor | slice) -> dict[str, torch.Tensor]:
    return {key: value[indices] for key, value in description.items()}


def real_subset(train_count: int, count: int, seed: int) -> torch.Tensor:
    """Which ``count`` of the ``train_count`` training images stand in for a perfect generator (sorted, seeded)."""
    return torch.from_numpy(np.sort(np.random.RandomState(seed).permutation(train_count)[:count]))


def score(
    candidate: dict[str, torch.Tensor], reference: dict[str, torch.Tensor], real_class_shares: np.ndarray | None, params: EvaluateParams
) -> dict[str, float]:
    """All scores of one image set against the reference set (each a ``describe_images`` dict).

    IS needs ``probabilities``, coverage and class entropy ``class_probabilities`` and the real
    class shares; without them (unlabelled data) those keys are left out.
    """
    kid_mean, kid_std = kernel_inception_distance(candidate["features"], reference["features"], params.kid_subsets, params.kid_subset_size, params.seed)
    precision, recall = precision_recall(candidate["features"], reference["features"], params.precision_recall_k)
    scores = {"fid": fid_from_features(candidate["features"], reference["features"])}
    if "probabilities" in candidate:
        scores["is_mean"], scores["is_std"] = inception_score(candidate["probabilities"], params.is_splits, params.seed)
    scores.update(kid_mean=kid_mean, kid_std=kid_std, precision=precision, recall=recall)
    if "class_probabilities" in candidate and real_class_shares is not None:
        scores["coverage"], scores["class_entropy"] = class_coverage(candidate["class_probabilities"], real_class_shares)
    return scores


def evaluate_samples(
    samples: dict[str, torch.Tensor],
    train: dict[str, torch.Tensor],
    test: dict[str, torch.Tensor],
    test_labels: torch.Tensor | None,
    params: EvaluateParams,
) -> dict[str, float]:
    """Scores of the samples and, as ``*_real``, of as many training images, both against the test split.

    Uses N = min(#samples, #train) of each: the first N samples, and N training images drawn with
    ``params.seed``. The class shares of the test labels are the real frequencies for coverage
    (``test_labels`` None: unlabelled data, no coverage).
    """
    count = min(len(samples["features"]), len(train["features"]))
    chosen = real_subset(len(train["features"]), count, params.seed)
    real_class_shares = None
    if test_labels is not None and "class_probabilities" in samples:
        real_class_shares = np.bincount(test_labels.numpy(), minlength=samples["class_probabilities"].shape[1]) / len(test_labels)
    fake_scores = score(subset(samples, slice(0, count)), test, real_class_shares, params)
    real_scores = score(subset(train, chosen), test, real_class_shares, params)
    return {
        **fake_scores,
        **{f"{name}_real": value for name, value in real_scores.items()},
        "n_samples": count,
        "n_reference": len(test["features"]),
    }


def pixel_spread(images: torch.Tensor) -> float:
    """How much the images (N, C, S, S) differ from one another: at each pixel and channel the standard
    deviation across the N images (population std, float64), averaged. 0 for N copies of one image; a
    generator that has stopped listening to its noise draws images whose spread falls far below the real
    images', whatever its architecture, which makes it a cheap mode-collapse alarm."""
    return images.double().std(dim=0, correction=0).mean().item()


def pixel_spreads(samples: torch.Tensor, train_images: torch.Tensor, count: int, params: EvaluateParams) -> dict[str, float]:
    """``pixel_std`` of the first ``count`` samples and, as ``pixel_std_real``, of the training images that
    :func:`evaluate_samples` scores as the real floor (the same seeded subset of ``count``)."""
    chosen = real_subset(len(train_images), count, params.seed)
    return {"pixel_std": pixel_spread(samples[:count]), "pixel_std_real": pixel_spread(train_images[chosen])}


def conditional_accuracy(
    samples: dict[str, torch.Tensor],
    sample_labels: torch.Tensor,
    train: dict[str, torch.Tensor],
    train_labels: torch.Tensor,
    count: int,
    params: EvaluateParams,
) -> dict[str, float]:
    """How often the evaluator sees the class a conditional generator was asked for, in its first
    ``count`` samples; and, as ``conditional_accuracy_real``, its accuracy on the same training
    subset ``evaluate_samples`` uses for the ``*_real`` scores."""
    predicted = samples["class_probabilities"][:count].argmax(dim=1)
    chosen = real_subset(len(train["features"]), count, params.seed)
    real_predicted = train["class_probabilities"][chosen].argmax(dim=1)
    return {
        "conditional_accuracy": (predicted == sample_labels[:count]).double().mean().item(),
        "conditional_accuracy_real": (real_predicted == train_labels[chosen]).double().mean().item(),
    }


def mode_scores(samples: dict[str, torch.Tensor], test: dict[str, torch.Tensor], count: int) -> dict[str, float]:
    """Stacked MNIST's mode count, as the literature reports it: of the first ``count`` samples, ``modes`` (how many of
    the evaluator's classes, the 1,000 modes, appear at least once) and ``mode_kl`` (the KL divergence of their histogram
    from uniform, nats; ``ganyard.metrics.scores.mode_coverage``); as ``modes_real`` and ``mode_kl_real``, the same of
    the first ``count`` real test images: the floor at this sample count. Both need ``class_probabilities``."""
    mode_count = samples["class_probabilities"].shape[1]
    scores = {}
    for suffix, description in (("", samples), ("_real", test)):
        if len(description["class_probabilities"]) < count:
            raise ValueError(f"{count} images asked for the mode count, {len(description['class_probabilities'])} given")
        covered, kl = mode_coverage(description["class_probabilities"][:count].argmax(dim=1).numpy(), mode_count)
        scores.update({f"modes{suffix}": covered, f"mode_kl{suffix}": kl})
    return {**scores, "mode_samples": count}


def class_histogram(
    samples: dict[str, torch.Tensor], test_labels: torch.Tensor | None, class_names: list[str] | None, count: int
) -> list[tuple[str, float, float]]:
    """(class name, share of the first ``count`` samples the evaluator puts in it, share of the test
    images in it) per class; empty for unlabelled data."""
    if test_labels is None or class_names is None or "class_probabilities" not in samples:
        return []
    classes = len(class_names)
    predicted = samples["class_probabilities"][:count].argmax(dim=1)
    sample_shares = torch.bincount(predicted, minlength=classes).double() / len(predicted)
    real_shares = torch.bincount(test_labels, minlength=classes).double() / len(test_labels)
    # commas would break the CSV row
    return [(name.replace(",", ";"), float(s), float(r)) for name, s, r in zip(class_names, sample_shares, real_shares)]


class QuickFID:
    """FID on the evaluator's features between generated images and a fixed real set, for training curves."""

    def __init__(self, evaluator: nn.Module, real_images: torch.Tensor):
        self.backbone = evaluator_backbone(evaluator)
        features, _ = extract(self.backbone, real_images, progress=False)
        self.real_statistics = feature_statistics(features)

    def __call__(self, images: torch.Tensor) -> float:
        features, _ = extract(self.backbone, images, progress=False)
        return frechet_distance(*feature_statistics(features), *self.real_statistics)
