"""DCGAN (Radford et al. 2016): transposed-convolution generator, strided-convolution discriminator.

The layers are listed by ``generator_stages`` and ``discriminator_stages``, one group per resolution, so
that MSG-GAN (``ganyard.models.msg``) is built from exactly these blocks and adds only its connections.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ganyard.models import blocks
from ganyard.models.image_layers import ImageConv2d, ImageConvTranspose2d


def generator_stages(
    *, latent_dim: int, width: int, channels: int, image_size: int, norm: str, activation: str, leaky_slope: float, classes: int, architecture: str = "DCGAN"
) -> list[list[nn.Module]]:
    """The DCGAN generator's layers, one list per output resolution: 4x4, 8x8, ..., image_size.

    The first (a transposed convolution of the 1x1 latent to 4x4: a fully connected layer in effect) and
    each hidden one (a transposed convolution doubling the resolution and halving the channels, down to
    ``width``) end with ``norm`` and ``activation``; the last is the image: a transposed convolution to
    ``channels`` and tanh. ``architecture`` names the model in the error for a bad ``image_size``.
    """
    steps = blocks.doubling_steps(image_size, architecture)
    features = width * 2 ** (steps - 1)
    bias = norm == "none"
    stages = [
        [nn.ConvTranspose2d(latent_dim + classes, features, 4, 1, 0, bias=bias), blocks.norm_2d(norm, features), blocks.activation(activation, leaky_slope)]
    ]
    for _ in range(steps - 1):
        stages.append(
            [nn.ConvTranspose2d(features, features // 2, 4, 2, 1, bias=bias), blocks.norm_2d(norm, features // 2), blocks.activation(activation, leaky_slope)]
        )
        features //= 2
    stages.append([ImageConvTranspose2d(features, channels, 4, 2, 1, bias=False), nn.Tanh()])
    return stages


def discriminator_stages(
    *,
    width: int,
    channels: int,
    image_size: int,
    norm: str,
    activation: str,
    leaky_slope: float,
    block_inputs: Callable[[int], int] = lambda features: features,
    architecture: str = "DCGAN",
) -> list[list[nn.Module]]:
    """The DCGAN discriminator's body, one list per input resolution: image_size, image_size / 2, ..., 8.

    The first is a strided 4x4 convolution of the image to ``width`` channels and ``activation``; each
    further one a strided 4x4 convolution doubling the channels, ``norm`` and ``activation`` (no norm
    after the first, as in DCGAN), down to 4x4 with ``width * image_size / 8`` channels. A block whose
    previous one gives F channels reads ``block_inputs(F)`` of them (F in DCGAN; MSG-GAN adds its image's).
    """
    steps = blocks.doubling_steps(image_size, architecture)
    bias = norm == "none"
    # No bias in the first and last convolutions, as in pytorch/examples' DCGAN.
    stages = [[ImageConv2d(channels, width, 4, 2, 1, bias=False), blocks.activation(activation, leaky_slope)]]
    features = width
    for _ in range(steps - 1):
        stages.append(
            [
                nn.Conv2d(block_inputs(features), features * 2, 4, 2, 1, bias=bias),
                blocks.norm_2d(norm, features * 2),
                blocks.activation(activation, leaky_slope),
            ]
        )
        features *= 2
    return stages


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, size, size) in [-1, 1].

    The layers of ``generator_stages`` in sequence: the first transposed convolution maps the 1x1 latent
    to 4x4; each further block doubles the resolution and halves the channels, down to ``width`` before
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
        stages = generator_stages(
            latent_dim=latent_dim,
            width=width,
            channels=channels,
            image_size=image_size,
            norm=norm,
            activation=activation,
            leaky_slope=leaky_slope,
            classes=classes,
        )
        self.latent_dim = latent_dim
        self.net = nn.Sequential(*(layer for stage in stages for layer in stage))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = blocks.with_class(z, labels, self.classes)
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """images (N, channels, size, size) -> logits (N,).

    The layers of ``discriminator_stages`` in sequence: strided 4x4 convolutions halve the resolution
    down to 4x4, each followed by ``norm`` (batch by default; none after the first, as in DCGAN) and
    ``activation`` (LeakyReLU(0.2) by default); a final 4x4 convolution gives one logit (or, with
    minibatch discrimination, a linear layer; see ``discriminator_head``). With ``classes`` > 0 a class
    projection (Miyato & Koyama 2018) of the spatially summed features is added to the logit.
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
        minibatch_stddev_group: int = 4,
        minibatch_kernels: int = 0,
        minibatch_kernel_dim: int = 5,
        classes: int = 0,
    ):
        super().__init__()
        stages = discriminator_stages(width=width, channels=channels, image_size=image_size, norm=norm, activation=activation, leaky_slope=leaky_slope)
        features = width * image_size // 8
        self.body = nn.Sequential(*(layer for stage in stages for layer in stage))
        self.head = blocks.discriminator_head(
            (features, 4, 4),
            minibatch_stddev=minibatch_stddev,
            minibatch_stddev_group=minibatch_stddev_group,
            minibatch_kernels=minibatch_kernels,
            minibatch_kernel_dim=minibatch_kernel_dim,
        )
        self.projection = blocks.ClassProjection(classes, features) if classes else None

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.body(images)
        logits = self.head(features).view(-1)
        if self.projection is not None:
            logits = logits + self.projection(features.sum(dim=(2, 3)), labels)
        return logits
