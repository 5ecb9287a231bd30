"""Building blocks the ``model`` params choose between: normalizations, activations, initializations."""

from __future__ import annotations

from torch import nn

NORMS = ("none", "batch", "instance", "layer")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu")
INITS = ("dcgan_normal", "xavier", "kaiming", "orthogonal", "default")


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
WEIGHT_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


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
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, NORM_LAYERS) and getattr(layer, "weight", None) is not None:
            if scheme == "dcgan_normal":
                nn.init.normal_(layer.weight, 1.0, 0.02)
            else:
                nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
