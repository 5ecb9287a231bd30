"""The layers both architectures are built from: the normalizations, activations and initializations
the ``model`` params choose between, the minibatch layers (standard deviation, discrimination), the
discriminator's head, and class conditioning (one-hot input, projection).
"""

from __future__ import annotations

import math
from typing import get_args

import torch
import torch.nn.functional as F
from torch import nn

from ganyard.params import Activation, Initialization, Norm

# What the params allow is what is built here: the allowed values are the params' Literal types.
NORMS, ACTIVATIONS, INITS = get_args(Norm), get_args(Activation), get_args(Initialization)


def doubling_steps(image_size: int, architecture: str) -> int:
    """How many times a 4x4 map doubles to reach ``image_size`` (a power of two, at least 8); ValueError naming ``architecture`` otherwise."""
    steps = math.log2(image_size / 4)
    if image_size < 8 or steps != int(steps):
        raise ValueError(f"{architecture} needs an image size that is a power of two and at least 8, got {image_size}")
    return int(steps)


def resolutions(image_size: int, architecture: str) -> list[int]:
    """[4, 8, ..., image_size]: the resolutions of a network that doubles a 4x4 map up to ``image_size`` (``doubling_steps``)."""
    return [4 * 2**step for step in range(doubling_steps(image_size, architecture) + 1)]


def norm_2d(kind: str, channels: int) -> nn.Module:
    """A normalization of feature maps (N, channels, H, W)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # layer norm over (C, H, W), with a scale and shift per channel
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalization {kind!r}; allowed: {NORMS}")


def norm_1d(kind: str, features: int) -> nn.Module:
    """A normalization of feature vectors (N, features)."""
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.LayerNorm(features)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"normalization {kind!r} is not defined for fully connected layers; allowed: none, batch, layer")


def activation(kind: str, leaky_slope: float = 0.2) -> nn.Module:
    """A fresh activation module."""
    if kind == "relu":
        return nn.ReLU()
    if kind == "leaky_relu":
        return nn.LeakyReLU(leaky_slope)
    if kind == "elu":
        return nn.ELU()
    if kind == "gelu":
        return nn.GELU()
    if kind == "silu":
        return nn.SiLU()
    raise ValueError(f"unknown activation {kind!r}; allowed: {ACTIVATIONS}")


NORM_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm, nn.LayerNorm)
WEIGHT_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


def initialize(module: nn.Module, scheme: str) -> None:
    """Initialize every weight layer and norm of ``module`` in place by ``scheme``.

    ``dcgan_normal``: weights N(0, 0.02), norm scales N(1, 0.02) (Radford et al. 2016);
    ``xavier``: Glorot normal; ``kaiming``: He normal for (leaky) ReLU, fan-in; ``orthogonal``:
    orthogonal matrices (Saxe et al. 2014); ``default``: PyTorch's own. Biases are zeroed and norm
    scales set to 1 except under ``default``.
    """
    if scheme not in INITS:
        raise ValueError(f"unknown initialization {scheme!r}; allowed: {INITS}")
    if scheme == "default":
        return
    for layer in module.modules():
        if isinstance(layer, WEIGHT_LAYERS):
            if scheme == "dcgan_normal":
                nn.init.normal_(layer.weight, 0.0, 0.02)
            elif scheme == "xavier":
                nn.init.xavier_normal_(layer.weight)
            elif scheme == "kaiming":
                nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="leaky_relu", a=0.2)
            else:
                nn.init.orthogonal_(layer.weight)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, NORM_LAYERS) and getattr(layer, "weight", None) is not None:
            if scheme == "dcgan_normal":
                nn.init.normal_(layer.weight, 1.0, 0.02)
            else:
                nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018): (N, C, ...) -> (N, C + 1, ...).

    Within groups of ``group_size`` images, the std of every feature across the group, averaged
    over features, is appended as one constant channel, so the discriminator can see how varied a
    batch is and a collapsed generator stands out.
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        count = x.shape[0]
        group = min(self.group_size, count)
        while count % group:
            group -= 1
        grouped = x.reshape(group, count // group, *x.shape[1:])  # image g * M + m is grouped[g, m]
        spread = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt().flatten(1).mean(dim=1)  # (M,)
        extra = spread.repeat(group).view(count, 1, *([1] * (x.dim() - 2))).expand(count, 1, *x.shape[2:])
        return torch.cat([x, extra], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016): features (N, A) -> (N, A + kernels).

    Each image's features are projected by a learned tensor T to ``kernels`` rows of ``kernel_dim``;
    for each kernel b, o_b(x_i) = sum over the other images j of exp(-||M_i,b - M_j,b||_1), the
    closeness of image i to the rest of the batch, appended to its features.
    """

    def __init__(self, in_features: int, kernels: int, kernel_dim: int):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.projection = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = (x @ self.projection).view(-1, self.kernels, self.kernel_dim)
        distances = (rows.unsqueeze(0) - rows.unsqueeze(1)).abs().sum(dim=3)  # (N, N, kernels)
        closeness = torch.exp(-distances).sum(dim=1) - 1  # minus exp(0) for the image itself
        return torch.cat([x, closeness], dim=1)


def discriminator_head(
    features: tuple[int, ...], *, minibatch_stddev: bool, minibatch_kernels: int, minibatch_kernel_dim: int, minibatch_stddev_group: int = 4
) -> nn.Sequential:
    """The discriminator's last layers, from body features of shape ``features`` — (C, 4, 4) for
    DCGAN, (F,) for the MLP — to one logit per image, with the optional minibatch layers."""
    layers: list[nn.Module] = []
    channels = features[0]
    if minibatch_stddev:
        layers.append(MinibatchStdDev(minibatch_stddev_group))
        channels += 1
    size = channels * math.prod(features[1:])
    if minibatch_kernels:
        layers += [nn.Flatten(), MinibatchDiscrimination(size, minibatch_kernels, minibatch_kernel_dim), nn.Linear(size + minibatch_kernels, 1)]
    elif len(features) == 3:
        layers.append(nn.Conv2d(channels, 1, features[1], 1, 0, bias=False))  # DCGAN's last 4x4 convolution
    else:
        layers.append(nn.Linear(channels, 1))
    return nn.Sequential(*layers)


def class_weights(labels: torch.Tensor | None, classes: int, dtype: torch.dtype) -> torch.Tensor:
    """A conditional generator's class input: ``labels`` (N,) class indices -> their one-hot rows (N, classes);
    (N, classes) weights (a blend of classes, e.g. a morph between two) pass through as they are."""
    if labels is None:
        raise ValueError("this generator is class-conditional: pass the class labels")
    if labels.dim() == 2:
        if labels.shape[1] != classes:
            raise ValueError(f"class weights have {labels.shape[1]} columns; this generator has {classes} classes")
        return labels.to(dtype)
    return F.one_hot(labels, classes).to(dtype)


def with_class(z: torch.Tensor, labels: torch.Tensor | None, classes: int) -> torch.Tensor:
    """z (N, latent) with the class input (``class_weights``: one-hot ``labels`` (N,) or weights (N, classes)) appended
    when the network is conditional."""
    if not classes:
        return z
    return torch.cat([z, class_weights(labels, classes, z.dtype)], dim=1)


class ClassProjection(nn.Module):
    """The projection discriminator's class term (Miyato & Koyama 2018): <embed(y), phi(x)> per image.

    features (N, F), labels (N,) -> (N,), added to the unconditional logit.
    """

    def __init__(self, classes: int, features: int):
        super().__init__()
        self.embedding = nn.Embedding(classes, features)

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if labels is None:
            raise ValueError("this discriminator is class-conditional: pass the class labels")
        return (self.embedding(labels) * features).sum(dim=1)


class PackedDiscriminator(nn.Module):
    """PacGAN's discriminator (Lin et al. 2018): images (N, C, H, W) -> logits (N / pack,), each logit judging
    ``pack`` consecutive images together, stacked along the channels, by ``inner``, a discriminator built
    for pack * C channels. Labels are not supported (``model.conditional`` is refused with packing)."""

    def __init__(self, inner: nn.Module, pack: int):
        super().__init__()
        self.inner, self.pack = inner, pack

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        count, channels, height, width = images.shape
        if count % self.pack:
            raise ValueError(f"a batch of {count} images does not split into packs of {self.pack}")
        packed = images.reshape(count // self.pack, self.pack * channels, height, width)
        return self.inner(packed.contiguous(memory_format=torch.channels_last))  # the layout make_gan gives the weights
