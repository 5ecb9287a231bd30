"""StyleGAN2's synthesis layers (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN").

A style vector w controls each convolution by scaling its input channels (modulation); the weights are
then rescaled so each output channel has unit variance again for unit-variance input (demodulation),
which replaces StyleGAN's AdaIN and removes its droplet artefacts. Per-layer noise inputs add
stochastic detail. Written with ordinary convolutions, as the official code trains without its custom
CUDA kernels, so it runs on a CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganyard.distributed import Processes
from ganyard.models.equalized import EqualizedLinear


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool = True, padding: int = 0) -> torch.Tensor:
    """x (N, I, H, W), weight (O, I, k, k), styles (N, I) -> (N, O, H', W').

    Image n is convolved with weight[o, i] * styles[n, i]; with ``demodulate`` each output channel's
    weights of image n are then divided by their L2 norm (over i and the kernel), + 1e-8 inside the root.
    Computed as StyleGAN2 trains ("fused_modconv" off): the styles scale the input channels and the
    demodulation the output channels of one ordinary convolution of the whole batch, the same function
    as a convolution per image and many times faster on a CPU than a grouped convolution.
    """
    out = F.conv2d(x * styles.reshape(*styles.shape, 1, 1), weight, padding=padding)
    if demodulate:
        # sum over i and the kernel of (weight[o, i] * styles[n, i])**2, without forming the (N, O, I, k, k) weights
        norms = (weight.square().sum(dim=(2, 3)).unsqueeze(0) * styles.square().unsqueeze(1)).sum(dim=2)  # (N, O)
        out = out * torch.rsqrt(norms + 1e-8).reshape(*norms.shape, 1, 1)
    return out


class NoiseInput(nn.Module):
    """x (N, C, H, W) -> x + strength * noise, one noise value per pixel shared by the channels.

    In training mode the noise is fresh N(0, 1) from torch's global CPU generator (which the training run
    seeds and checkpoints); in eval mode it is one fixed map drawn at construction, so a generator
    in eval mode is a function of its inputs alone. ``strength`` starts at 0 (StyleGAN2). Under torchrun
    (``processes``, set by ``distributed.data_parallel``) it draws the global batch's noise and keeps its share.
    """

    def __init__(self, resolution: int):
        super().__init__()
        self.processes = Processes()
        self.strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("fixed_noise", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            # drawn on the CPU, whose generator the checkpoints keep, also when training on a GPU
            noise = self.processes.shard(torch.randn(x.shape[0] * self.processes.world_size, 1, *x.shape[2:])).to(x.device, x.dtype)
        else:
            noise = self.fixed_noise.to(x.dtype)
        return x + noise * self.strength


class ModulatedConv2d(nn.Module):
    """x (N, in_channels, H, W), w (N, w_dim) -> (N, out_channels, H or 2H, ...): StyleGAN2's synthesis layer.

    The affine map of w gives the styles (initial bias 1: unmodulated at the start); weights N(0, 1);
    ``demodulate`` as above. ``up`` doubles the resolution first (bilinear; StyleGAN2 uses a transposed
    convolution with a [1, 3, 3, 1] low-pass filter instead). Then the noise input (``noise``), the
    bias and leaky ReLU(0.2) times sqrt(2) (``activate``), the gain that keeps unit variance.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, kernel_size: int = 3, up: bool = False,
                 demodulate: bool = True, resolution: int | None = None, activate: bool = True):  # fmt: skip
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise = NoiseInput(resolution) if resolution is not None else None
        self.up, self.demodulate, self.activate = up, demodulate, activate
        # Without demodulation (StyleGAN2's toRGB) the weights get the equalized learning rate's gain instead.
        self.style_gain = 1.0 if demodulate else 1 / (in_channels * kernel_size**2) ** 0.5

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        styles = self.affine(w) * self.style_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=self.demodulate, padding=self.weight.shape[-1] // 2)
        if self.noise is not None:
            x = self.noise(x)
        x = x + self.bias.reshape(1, -1, 1, 1)
        return F.leaky_relu(x, 0.2) * 2**0.5 if self.activate else x
