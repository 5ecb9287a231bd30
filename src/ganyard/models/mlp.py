"""Fully connected GAN (Goodfellow et al. 2014), the simplest case in the seed notes."""

from __future__ import annotations

import math

import torch
from torch import nn

from ganyard.models import blocks


class MLPGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, size, size) in [-1, 1].

    Hidden layers of 4, 8 and 16 times ``width`` units (256-512-1024 at width 64), each
    Linear-``norm``-``activation`` (batch norm and ReLU by default), then a linear layer to every pixel and tanh.
    """

    def __init__(
        self,
        *,
        latent_dim: int,
        width: int,
        channels: int,
        image_size: int,
        norm: str = "batch",
        activation: str = "relu",
        leaky_slope: float = 0.2,
        classes: int = 0,
    ):
        super().__init__()
        self.latent_dim, self.classes = latent_dim, classes
        self.image_shape = (channels, image_size, image_size)
        sizes = [latent_dim + classes, 4 * width, 8 * width, 16 * width]
        layers: list[nn.Module] = []
        for inputs, outputs in zip(sizes, sizes[1:]):
            layers += [nn.Linear(inputs, outputs, bias=norm == "none"), blocks.norm_1d(norm, outputs), blocks.activation(activation, leaky_slope)]
        layers += [nn.Linear(sizes[-1], math.prod(self.image_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(blocks.with_class(z, labels, self.classes)).view(z.shape[0], *self.image_shape)


class MLPDiscriminator(nn.Module):
    """images (N, channels, size, size) -> logits (N,).

    Hidden layers of 16, 8 and 4 times ``width`` units, each Linear-``norm``-``activation`` (no norm and
    LeakyReLU(0.2) by default, as in the original GAN), then one logit.
    """

    def __init__(
        self,
        *,
        width: int,
        channels: int,
        image_size: int,
        norm: str = "none",
        activation: str = "leaky_relu",
        leaky_slope: float = 0.2,
        minibatch_stddev: bool = False,
        minibatch_stddev_group: int = 4,
        minibatch_kernels: int = 0,
        minibatch_kernel_dim: int = 5,
        classes: int = 0,
    ):
        super().__init__()
        sizes = [channels * image_size * image_size, 16 * width, 8 * width, 4 * width]
        layers: list[nn.Module] = []
        for inputs, outputs in zip(sizes, sizes[1:]):
            layers += [nn.Linear(inputs, outputs), blocks.norm_1d(norm, outputs), blocks.activation(activation, leaky_slope)]
        self.body = nn.Sequential(*layers)
        self.head = blocks.discriminator_head(
            (sizes[-1],),
            minibatch_stddev=minibatch_stddev,
            minibatch_stddev_group=minibatch_stddev_group,
            minibatch_kernels=minibatch_kernels,
            minibatch_kernel_dim=minibatch_kernel_dim,
        )
        self.projection = blocks.ClassProjection(classes, sizes[-1]) if classes else None

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.body(images.flatten(1))
        logits = self.head(features).view(-1)
        if self.projection is not None:
            logits = logits + self.projection(features, labels)
        return logits
