"""DCGAN (Radford et al. 2016): transposed-convolution generator, strided-convolution discriminator."""

from __future__ import annotations

import math

import torch
from torch import nn

from ganyard.models import blocks
from ganyard.models.image_layers import ImageConv2d, ImageConvTranspose2d


def _upsampling_steps(image_size: int) -> int:
    steps = math.log2(image_size / 4)
    if image_size < 8 or steps != int(steps):
        raise ValueError(f"DCGAN needs an image size that is a power of two and at least 8, got {image_size}")
    return int(steps)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, size, size) in [-1, 1].

    The first transposed convolution maps the 1x1 latent to 4x4 (a fully connected layer in effect);
    each further block doubles the resolution and halves the channels, down to ``width`` before
    the last, which outputs the image through tanh. Each hidden block: transposed convolution,
    ``norm`` (batch by default), ``activation`` (ReLU by default). With ``classes`` > 0 the one-hot class
    (N,) labels is appended to z (a conditional GAN, Mirza & Osindero 2014).
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
        self.classes = classes
        steps = _upsampling_steps(image_size)
        features = width * 2 ** (steps - 1)
        bias = norm == "none"
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + classes, features, 4, 1, 0, bias=bias),
            blocks.norm_2d(norm, features),
            blocks.activation(activation, leaky_slope),
        ]
        for _ in range(steps - 1):
            layers += [
                nn.ConvTranspose2d(features, features // 2, 4, 2, 1, bias=bias),
                blocks.norm_2d(norm, features // 2),
                blocks.activation(activation, leaky_slope),
            ]
            features //= 2
        layers += [ImageConvTranspose2d(features, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.latent_dim = latent_dim
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = blocks.with_class(z, labels, self.classes)
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """images (N, channels, size, size) -> logits (N,).

    Strided 4x4 convolutions halve the resolution down to 4x4, each followed by ``norm`` (batch by
    default; none after the first, as in DCGAN) and ``activation`` (LeakyReLU(0.2) by default); a final 4x4
    convolution gives one logit (or, with minibatch discrimination, a linear layer; see
    ``discriminator_head``). With ``classes`` > 0 a class projection (Miyato & Koyama 2018) of the
    spatially summed features is added to the logit.
    """

    def __init__(
        self,
        *,
        width: int,
        channels: int,
        image_size: int,
        norm: str = "batch",
        activation: str = "leaky_relu",
        leaky_slope: float = 0.2,
        minibatch_stddev: bool = False,
        minibatch_kernels: int = 0,
        minibatch_kernel_dim: int = 5,
        classes: int = 0,
    ):
        super().__init__()
        steps = _upsampling_steps(image_size)
        bias = norm == "none"
        # No bias in the first and last convolutions, as in pytorch/examples' DCGAN.
        layers: list[nn.Module] = [ImageConv2d(channels, width, 4, 2, 1, bias=False), blocks.activation(activation, leaky_slope)]
        features = width
        for _ in range(steps - 1):
            layers += [nn.Conv2d(features, features * 2, 4, 2, 1, bias=bias), blocks.norm_2d(norm, features * 2), blocks.activation(activation, leaky_slope)]
            features *= 2
        self.body = nn.Sequential(*layers)
        self.head = blocks.discriminator_head(
            (features, 4, 4), minibatch_stddev=minibatch_stddev, minibatch_kernels=minibatch_kernels, minibatch_kernel_dim=minibatch_kernel_dim
        )
        self.projection = blocks.ClassProjection(classes, features) if classes else None

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.body(images)
        logits = self.head(features).view(-1)
        if self.projection is not None:
            logits = logits + self.projection(features.sum(dim=(2, 3)), labels)
        return logits
