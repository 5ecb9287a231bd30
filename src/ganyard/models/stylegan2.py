"""A small StyleGAN2 (Karras et al. 2020) that trains on a CPU: ``model.architecture: stylegan2``.

Generator: a mapping network turns z (and the one-hot class of a conditional GAN) into a style w; a
learned constant 4x4 input is then refined block by block, each block doubling the resolution with two
modulated, demodulated 3x3 convolutions (``ganyard.models.modulated``) with per-pixel noise inputs; every
block also draws an image through a 1x1 toRGB layer, and the images of all blocks are summed, each
upsampled to the next (the "skip" generator). With ``style_mixing`` > 0, in training a batch takes the
styles of a second z from a random layer on, with that probability.

Discriminator: ``resnet`` (StyleGAN2's choice at high resolution) or ``orig`` blocks of two 3x3
convolutions, each block halving the resolution, then at 4x4 the minibatch standard deviation
(``model.minibatch_stddev``), a convolution, a fully connected layer and the logit; a conditional one
adds a class projection (Miyato & Koyama 2018), like the other architectures here.

Every layer has an equalized learning rate (``ganyard.models.equalized``) and leaky ReLU(0.2) times
sqrt(2). Departures from the official code (NVlabs/stylegan2-ada-pytorch ``training/networks.py``), for
the sake of a CPU: no custom kernels, bilinear up- and average-pool downsampling instead of its
[1, 3, 3, 1] low-pass filters, w of the size of z, no path-length regularization. Channels: ``width``
at the image's resolution, doubling toward 4x4, at most 8 * ``width``.
"""

from __future__ import annotations

import math
from typing import get_args

import torch
import torch.nn.functional as F
from torch import nn

from ganyard.distributed import Processes
from ganyard.models.blocks import ClassProjection, MinibatchStdDev, class_weights, resolutions
from ganyard.models.equalized import EqualizedConv2d, EqualizedLinear, PixelNorm
from ganyard.models.modulated import ModulatedConv2d
from ganyard.params import DiscriminatorBlockKind

NAME = "StyleGAN2"  # in the error for an image size the blocks cannot reach
GAIN = math.sqrt(2)  # leaky ReLU(0.2) times this keeps unit variance from layer to layer


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * GAIN


def channels_at(resolution: int, image_size: int, width: int) -> int:
    return min(width * image_size // resolution, 8 * width)


class LatentInput(nn.Module):
    """z (N, latent_dim) [, labels (N,) or class weights (N, classes)] -> (N, latent_dim or 2 * latent_dim): z normalized
    to unit mean square, and for a conditional generator (``classes`` > 0) a learned class embedding, normalized alike,
    beside it (StyleGAN2's mapping input; ProGAN's generator input here)."""

    def __init__(self, latent_dim: int, classes: int = 0):
        super().__init__()
        self.classes = classes
        self.features = latent_dim * (2 if classes else 1)
        self.normalize = PixelNorm()
        self.embed = EqualizedLinear(classes, latent_dim) if classes else None

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.normalize(z)
        if self.embed is None:
            return x
        return torch.cat([x, self.normalize(self.embed(class_weights(labels, self.classes, z.dtype)))], dim=1)


class MappingNetwork(nn.Module):
    """z (N, latent_dim) [, labels (N,)] -> w (N, latent_dim): ``depth`` fully connected layers at a 100x lower learning rate.

    z (and the class embedding of a conditional GAN) are first normalized to unit mean square.
    """

    def __init__(self, *, latent_dim: int, depth: int, classes: int = 0):
        super().__init__()
        self.input = LatentInput(latent_dim, classes)
        self.layers = nn.ModuleList(
            EqualizedLinear(self.input.features if index == 0 else latent_dim, latent_dim, lr_multiplier=0.01) for index in range(depth)
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.input(z, labels)
        for layer in self.layers:
            x = lrelu(layer(x))
        return x


class StyleGAN2Generator(nn.Module):
    """z (N, latent_dim) [, labels (N,) or class weights (N, classes)] [, truncation psi] -> images (N, channels, size, size),
    about [-1, 1] (not clamped, as StyleGAN2)."""

    def __init__(self, *, latent_dim: int, width: int, channels: int, image_size: int, mapping_depth: int = 2, style_mixing: float = 0.0, classes: int = 0):
        super().__init__()
        self.latent_dim, self.classes, self.style_mixing = latent_dim, classes, style_mixing
        self.processes = Processes()  # under torchrun (distributed.data_parallel): the mixing z is the global batch's share
        self.mapping = MappingNetwork(latent_dim=latent_dim, depth=mapping_depth, classes=classes)
        sizes = resolutions(image_size, NAME)
        self.constant = nn.Parameter(torch.randn(channels_at(4, image_size, width), 4, 4))
        self.convolutions, self.to_rgb = nn.ModuleList(), nn.ModuleList()
        for resolution in sizes:
            features = channels_at(resolution, image_size, width)
            if resolution > 4:  # the first convolution of a block doubles the resolution
                self.convolutions.append(ModulatedConv2d(channels_at(resolution // 2, image_size, width), features, latent_dim, up=True, resolution=resolution))
            self.convolutions.append(ModulatedConv2d(features, features, latent_dim, resolution=resolution))
            self.to_rgb.append(ModulatedConv2d(features, channels, latent_dim, kernel_size=1, demodulate=False, activate=False))
        self.styles = len(self.convolutions) + len(self.to_rgb)  # one w per layer (the same w unless styles are mixed)

    @torch.no_grad()
    def mean_style(self, samples: int = 10_000, seed: int = 0) -> torch.Tensor:
        """(latent_dim,): the mean w of ``samples`` seeded z (all classes alike for a conditional generator), the centre
        of the truncation trick (the official code keeps a moving average of w from training instead)."""
        z = torch.randn(samples, self.latent_dim, generator=torch.Generator().manual_seed(seed)).to(self.constant.device)
        labels = torch.arange(samples, device=z.device) % self.classes if self.classes else None
        return self.mapping(z, labels).mean(dim=0)

    def layer_styles(self, z: torch.Tensor, labels: torch.Tensor | None, truncation: float | None = None, center: torch.Tensor | None = None) -> torch.Tensor:
        """(N, layers, latent_dim): w for every layer; in training, mixed with a second z's from a random layer on.
        ``truncation`` psi: w moved toward ``center`` (default ``mean_style()``; pass it when drawing in batches) to
        center + psi * (w - center) (StyleGAN's truncation trick)."""
        w = self.mapping(z, labels)
        if truncation is not None:
            w = torch.lerp(self.mean_style() if center is None else center, w, truncation)
        w = w.unsqueeze(1).repeat(1, self.styles, 1)
        if self.training and self.style_mixing and torch.rand([]).item() < self.style_mixing:
            cutoff = int(torch.randint(1, self.styles, []).item())
            second = self.processes.shard(torch.randn(len(z) * self.processes.world_size, z.shape[1])).to(z.device, z.dtype)  # CPU: checkpointed
            w[:, cutoff:] = self.mapping(second, labels).unsqueeze(1)
        return w

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float | None = None, center: torch.Tensor | None = None) -> torch.Tensor:
        ws = iter(self.layer_styles(z, labels, truncation, center).unbind(dim=1))
        x = self.constant.unsqueeze(0).expand(z.shape[0], -1, -1, -1)
        convolutions, image = iter(self.convolutions), None
        for block, to_rgb in enumerate(self.to_rgb):
            for _ in range(1 if block == 0 else 2):
                x = next(convolutions)(x, next(ws))
            rgb = to_rgb(x, next(ws))
            image = rgb if image is None else F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False) + rgb
        return image


class DiscriminatorBlock(nn.Module):
    """(N, C_in, r, r) -> (N, C_out, r/2, r/2): two 3x3 convolutions and a 2x2 average pool; ``resnet`` adds a
    1x1-convolved, pooled shortcut and scales the sum by sqrt(1/2)."""

    def __init__(self, in_channels: int, out_channels: int, resnet: bool):
        super().__init__()
        self.first = EqualizedConv2d(in_channels, in_channels, 3, padding=1)
        self.second = EqualizedConv2d(in_channels, out_channels, 3, padding=1)
        self.shortcut = EqualizedConv2d(in_channels, out_channels, 1, bias=False) if resnet else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.avg_pool2d(lrelu(self.second(lrelu(self.first(x)))), 2)
        if self.shortcut is None:
            return out
        return (self.shortcut(F.avg_pool2d(x, 2)) + out) * math.sqrt(0.5)


class DiscriminatorEpilogue(nn.Module):
    """(N, features, 4, 4) [, labels (N,)] -> logits (N,): the 4x4 end of StyleGAN2's (and ProGAN's) discriminator.

    The minibatch standard deviation (``minibatch_stddev``), a 3x3 convolution, a fully connected layer and
    the logit; with ``classes`` a class projection (Miyato & Koyama 2018) of the fully connected features.
    """

    def __init__(self, features: int, *, minibatch_stddev: bool = False, minibatch_stddev_group: int = 4, classes: int = 0):
        super().__init__()
        self.stddev = MinibatchStdDev(minibatch_stddev_group) if minibatch_stddev else None
        self.convolution = EqualizedConv2d(features + (1 if minibatch_stddev else 0), features, 3, padding=1)
        self.fully_connected = EqualizedLinear(features * 16, features)
        self.logit = EqualizedLinear(features, 1)
        self.projection = ClassProjection(classes, features) if classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.stddev is not None:
            x = self.stddev(x)
        features = lrelu(self.fully_connected(lrelu(self.convolution(x)).flatten(1)))
        logits = self.logit(features).view(-1)
        if self.projection is not None:
            logits = logits + self.projection(features, labels)
        return logits


class StyleGAN2Discriminator(nn.Module):
    """images (N, channels, size, size) [, labels (N,)] -> logits (N,)."""

    def __init__(
        self,
        *,
        width: int,
        channels: int,
        image_size: int,
        block: str = "resnet",
        minibatch_stddev: bool = False,
        minibatch_stddev_group: int = 4,
        classes: int = 0,
    ):
        super().__init__()
        if block not in get_args(DiscriminatorBlockKind):
            raise ValueError(f"unknown StyleGAN2 discriminator block {block!r}; allowed: {', '.join(get_args(DiscriminatorBlockKind))}")
        sizes = resolutions(image_size, NAME)[::-1]  # image_size, ..., 4
        self.from_rgb = EqualizedConv2d(channels, channels_at(image_size, image_size, width), 1)
        self.blocks = nn.Sequential(
            *(DiscriminatorBlock(channels_at(size, image_size, width), channels_at(size // 2, image_size, width), block == "resnet") for size in sizes[:-1])
        )
        self.epilogue = DiscriminatorEpilogue(
            channels_at(4, image_size, width), minibatch_stddev=minibatch_stddev, minibatch_stddev_group=minibatch_stddev_group, classes=classes
        )

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.epilogue(self.blocks(lrelu(self.from_rgb(images))), labels)
