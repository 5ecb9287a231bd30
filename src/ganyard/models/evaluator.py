"""The evaluator: a small CNN classifier whose features and class probabilities score generated images.

Trained on the prepared training split (the usual practice for MNIST-like data, where ImageNet
Inception features say little). Its penultimate layer is the feature space for FID, KID and
precision/recall; its softmax gives the class probabilities for IS and mode coverage. On unlabelled
data it learns to tell by how much an image was rotated (0, 90, 180 or 270 degrees; Gidaris et al.
2018), which needs no labels and still learns features of shape and texture; its outputs are then
rotations, not classes, and say nothing about IS or mode coverage. Rotations alone leave colour out of
the features (a picture with its colour channels swapped keeps its rotation), so on colour pictures it
can also tell in which of the six orders their channels were put ("rotation_colour", 24 classes). On
Stacked MNIST (three digits as the colour channels) it is a digit classifier applied to each channel alone,
as the literature counts modes: its class probabilities are those of the 1,000 modes (the product of the
channels' digit probabilities) and its features the three channels' features side by side.
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

    TASKS = ("classes", "rotation", "rotation_colour", "stacked")

    def __init__(self, channels: int, classes: int, width: int = 32, feature_dim: int = 128, dropout: float = 0.3, task: str = "classes"):
        super().__init__()
        if task not in self.TASKS:
            raise ValueError(f"unknown evaluator task {task!r}; allowed: {self.TASKS}")
        # What the head predicts: the data's classes, one of 4 rotations (times 6 channel orders), or (stacked) each channel's digit, whose
        # combinations are the ``classes`` modes: classes = digits ** channels.
        self.task = task
        self.config = {"channels": channels, "classes": classes, "width": width, "feature_dim": feature_dim, "dropout": dropout, "task": task}
        inputs, outputs = channels, classes
        if task == "stacked":
            inputs, outputs = 1, round(classes ** (1 / channels))
            if outputs**channels != classes:
                raise ValueError(f"a stacked evaluator's {classes} modes must be digits ** channels for its {channels} channels")
        self.body = nn.Sequential(_block(inputs, width), _block(width, 2 * width), _block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(4 * width, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, outputs))

    def channel_features(self, images: torch.Tensor) -> torch.Tensor:
        """Features (M, feature_dim) of images (M, inputs, S, S): whole images, or (stacked) single channels."""
        return self.embed(self.body(images))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, feature_dim), or (stacked) (N, channels * feature_dim): each channel's features, red first."""
        if self.task != "stacked":
            return self.channel_features(images)
        count, channels, height, width = images.shape
        return self.channel_features(images.reshape(count * channels, 1, height, width)).reshape(count, -1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[1]

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features as ``features``, and logits (N, classes): for a stacked evaluator, the log-probabilities of the
        modes, log p(mode) = sum over the channels of log p(channel's digit) (``mode_log_probabilities``)."""
        features = self.features(images)
        if self.task != "stacked":
            return features, self.head(features)
        channel_logits = self.head(features.reshape(len(images) * images.shape[1], -1)).reshape(len(images), images.shape[1], -1)
        return features, mode_log_probabilities(channel_logits.log_softmax(dim=2))


def mode_log_probabilities(channel_log_probabilities: torch.Tensor) -> torch.Tensor:
    """(N, C, K) log-probabilities of each channel's digit -> (N, K ** C) log-probabilities of the modes, the
    channels independent given the image; mode = sum of digit_c * K ** (C - 1 - c), so the first channel is the
    most significant digit (100 r + 10 g + b for Stacked MNIST, as ``ganyard.data.stacked.stacked_modes``)."""
    count, channels, digits = channel_log_probabilities.shape
    modes = channel_log_probabilities[:, 0]
    for channel in range(1, channels):
        modes = (modes.unsqueeze(2) + channel_log_probabilities[:, channel].unsqueeze(1)).reshape(count, -1)
    return modes


def load_evaluator(path: str | Path = paths.EVALUATOR) -> EvaluatorCNN:
    """The trained evaluator CNN from the train_evaluator stage, in eval mode. ArtifactError when missing or foreign.
    Draws nothing from torch's global generator."""
    saved = load_torch(path, "evaluator")
    # Building the network initializes its layers from torch's global generator before the saved weights replace
    # them: a draw whose count depends on the evaluator's shape. Training draws StyleGAN2's noise inputs from that
    # generator, so loading the quick FID's evaluator must leave it where it was.
    with torch.random.fork_rng(devices=[]):
        model = EvaluatorCNN(**saved["config"])
    model.load_state_dict(saved["state_dict"])
    return model.to(memory_format=torch.channels_last).eval()  # the layout its inputs get (backbones.extract)
