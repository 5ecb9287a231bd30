"""The layers of Karras et al.'s architectures (ProGAN, StyleGAN2) that keep every layer learning at one speed.

Equalized learning rate (Karras et al. 2018, section 4.1): weights are drawn from N(0, 1) and scaled at
run time by He's constant 1/sqrt(fan_in), instead of being drawn at that scale once. The function is
the same at the start, but Adam's step, which is about the learning rate whatever the gradient's
scale, now moves every layer's *effective* weights by the same relative amount. ``lr_multiplier``
slows a layer down further (StyleGAN's mapping network uses 0.01): the stored weights are divided by
it and the run-time scale multiplied by it.

Pixelwise feature normalization (ProGAN's ``PixelNorm``): each pixel's feature vector scaled to unit
mean square, in place of batch norm in the generator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class EqualizedLinear(nn.Module):
    """x (N, in_features) -> (N, out_features): a linear layer with equalized learning rate.

    Stored: ``weight`` ~ N(0, 1) / lr_multiplier, ``bias`` = bias_init / lr_multiplier. Used:
    weight * (lr_multiplier / sqrt(in_features)) and bias * lr_multiplier (StyleGAN2-ADA's
    FullyConnectedLayer).
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, bias_init: float = 0.0, lr_multiplier: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.bias_gain
        return F.linear(x, self.weight * self.weight_gain, bias)


class EqualizedConv2d(nn.Module):
    """x (N, in_channels, H, W) -> (N, out_channels, H', W'): a convolution with equalized learning rate.

    Stored: ``weight`` ~ N(0, 1), ``bias`` = 0; used: weight / sqrt(in_channels * kernel_size**2).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.weight_gain, self.bias, stride=self.stride, padding=self.padding)


class PixelNorm(nn.Module):
    """x (N, C, ...) -> x / sqrt(mean over C of x**2 + eps): every pixel's feature vector at unit mean square."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)
