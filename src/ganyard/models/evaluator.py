"""The evaluator: a small CNN classifier whose features and class probabilities score generated images.

Trained on the prepared training split (the usual practice for MNIST-like data, where ImageNet
Inception features say little). Its penultimate layer is the feature space for FID, KID and
precision/recall; its softmax gives the class probabilities for IS and mode coverage. On unlabelled
data it learns to tell by how much an image was rotated (0, 90, 180 or 270 degrees; Gidaris et al.
2018), which needs no labels and still learns features of shape and texture; its outputs are then
rotations, not classes, and say nothing about IS or mode coverage.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ganyard import paths
from ganyard.io import load_torch


def _block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
        nn.Conv2d(outputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class EvaluatorCNN(nn.Module):
    """images (N, channels, S, S) in [-1, 1] -> logits (N, classes); ``features`` gives (N, feature_dim).

    Three conv blocks (width, 2 width, 4 width channels), each two 3x3 convolutions with batch norm
    and ReLU then 2x2 max pooling, global average pooling, a ``feature_dim`` fully connected layer
    with ReLU (the features), dropout, and a linear classifier.
    """

    TASKS = ("classes", "rotation")

    def __init__(self, channels: int, classes: int, width: int = 32, feature_dim: int = 128, dropout: float = 0.3, task: str = "classes"):
        super().__init__()
        if task not in self.TASKS:
            raise ValueError(f"unknown evaluator task {task!r}; allowed: {self.TASKS}")
        self.task = task  # what the head predicts: the data's classes, or one of 4 rotations
        self.config = {"channels": channels, "classes": classes, "width": width, "feature_dim": feature_dim, "dropout": dropout, "task": task}
        self.body = nn.Sequential(_block(channels, width), _block(width, 2 * width), _block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(4 * width, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, classes))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(self.body(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(images)
        return features, self.head(features)


def load_evaluator(path: str | Path = paths.EVALUATOR) -> EvaluatorCNN:
    """The trained evaluator CNN from the train_evaluator stage, in eval mode. ArtifactError when missing or foreign."""
    saved = load_torch(path, "evaluator")
    model = EvaluatorCNN(**saved["config"])
    model.load_state_dict(saved["state_dict"])
    return model.to(memory_format=torch.channels_last).eval()  # the layout its inputs get (backbones.extract)
