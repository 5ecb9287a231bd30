"""The convolutions on the image side of the networks: the discriminator's first (image in) and the
generator's last (image out), with 1 or 3 channels on the image side.

They hold the same weights and compute the same function as ``nn.Conv2d`` and ``nn.ConvTranspose2d``,
first and second derivatives included, and differ only in how the CPU computes them. Scattering a
feature map into so few channels is a case oneDNN handles badly: the generator's 32 -> 1 channel
output layer ran at about 10 GFLOP/s where the layers beside it run at 200. That scatter is the
forward pass of the transposed convolution and the input gradient of the convolution; here it is one
matrix product and a col2im (``F.fold``) instead, and every other part stays with oneDNN. Measured
in the default training iteration: about 5% faster (benchmarks/train_throughput.py).

They are the ordinary torch layers wherever that route does not apply: off the CPU, under autocast,
with more than ``MAX_MATMUL_ROUTE_CHANNELS`` channels on the image side, a bias, groups, dilation, string
padding, a padding mode other than zeros, ``output_size`` or ``output_padding``, or unbatched input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MAX_MATMUL_ROUTE_CHANNELS = 4  # the most channels on the image side that take the matrix-product route


def _scatter_to_image(features: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """conv_transpose2d(features, weight) without bias, by a matrix product and col2im.

    features (N, C, H, W), weight (C, out_channels, kH, kW) -> (N, out_channels, *size).
    """
    count, channels, height, width = features.shape
    pixels = features.permute(0, 2, 3, 1).reshape(count, height * width, channels)  # a view when channels-last
    columns = pixels @ weight.reshape(channels, -1)  # (N, H*W, out_channels*kH*kW)
    images = F.fold(columns.transpose(1, 2), size, weight.shape[2:], padding=padding, stride=stride)
    if features.is_contiguous(memory_format=torch.channels_last):
        images = images.contiguous(memory_format=torch.channels_last)  # keep the caller's layout (a no-op for 1 channel)
    return images


def _convolution_backward(grad, inputs, weight, stride, padding, transposed: bool, mask: list[bool]):
    return torch.ops.aten.convolution_backward(grad, inputs, weight, None, list(stride), list(padding), [1, 1], transposed, [0, 0], 1, [*mask, False])


class _ImageOut(torch.autograd.Function):
    """conv_transpose2d to few channels: forward by ``_scatter_to_image``, gradients by oneDNN."""

    @staticmethod
    def forward(ctx, features, weight, stride, padding):
        height, width = features.shape[2:]
        kernel = weight.shape[2:]
        size = ((height - 1) * stride[0] - 2 * padding[0] + kernel[0], (width - 1) * stride[1] - 2 * padding[1] + kernel[1])
        ctx.save_for_backward(features, weight)
        ctx.stride, ctx.padding = stride, padding
        return _scatter_to_image(features, weight, stride, padding, size)

    @staticmethod
    def backward(ctx, grad):
        features, weight = ctx.saved_tensors
        grad_features, grad_weight, _ = _convolution_backward(grad, features, weight, ctx.stride, ctx.padding, True, list(ctx.needs_input_grad[:2]))
        return grad_features, grad_weight, None, None


class _ImageIn(torch.autograd.Function):
    """conv2d from few channels: forward and weight gradient by oneDNN, input gradient by ``_scatter_to_image``."""

    @staticmethod
    def forward(ctx, images, weight, stride, padding):
        ctx.save_for_backward(images, weight)
        ctx.stride, ctx.padding = stride, padding
        return F.conv2d(images, weight, None, stride, padding)

    @staticmethod
    def backward(ctx, grad):
        # With create_graph (the R1 and WGAN-GP penalties) these ops are recorded: second derivatives work.
        # needs_input_grad is fixed at the forward pass, so the penalty's autograd.grad(..., images) also
        # gets the (cheap: 1 input channel) weight gradient, which torch's own layer would skip.
        images, weight = ctx.saved_tensors
        grad_images = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_images = _scatter_to_image(grad, weight, ctx.stride, ctx.padding, tuple(images.shape[2:]))
        if ctx.needs_input_grad[1]:
            grad_weight = _convolution_backward(grad, images, weight, ctx.stride, ctx.padding, False, [False, True])[1]
        return grad_images, grad_weight, None, None


def _plain(layer: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``layer`` must run as the ordinary torch layer on ``x``."""
    return (
        x.device.type != "cpu"
        or torch.is_autocast_enabled(x.device.type)
        or x.dim() != 4
        or layer.bias is not None
        or layer.groups != 1
        or layer.dilation != (1, 1)
        or layer.padding_mode != "zeros"
    )


class ImageConv2d(nn.Conv2d):
    """``nn.Conv2d`` reading an image (``in_channels`` <= 4); same weights and results, faster input gradient on CPU."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if _plain(self, images) or self.in_channels > MAX_MATMUL_ROUTE_CHANNELS or isinstance(self.padding, str):
            return super().forward(images)
        return _ImageIn.apply(images, self.weight, self.stride, self.padding)


class ImageConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` writing an image (``out_channels`` <= 4); same weights and results, faster forward on CPU."""

    def forward(self, features: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if _plain(self, features) or self.out_channels > MAX_MATMUL_ROUTE_CHANNELS or output_size is not None or self.output_padding != (0, 0):
            return super().forward(features, output_size)
        return _ImageOut.apply(features, self.weight, self.stride, self.padding)
