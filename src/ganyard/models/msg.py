"""MSG-GAN (Karnewar & Wang 2020, "MSG-GAN: Multi-Scale Gradients for Generative Adversarial Networks"): ``model.architecture: msg``.

Built from DCGAN's blocks (``ganyard.models.dcgan``), with the same params, so that ``dcgan`` and ``msg``
differ only by MSG-GAN's multi-scale connections:

- the generator also draws an image from every block below the last (4x4, 8x8, ..., size / 2) by a 1x1
  convolution and tanh, like its last layer's; the last block's output is the full-size image;
- the discriminator reads the image of every scale: the full-size one at its first block, as DCGAN, and
  each smaller one at the block of that resolution (and at 4x4 before the head), joined to the block's
  features by one of the paper's combine functions φ (section 3; ``model.msg_combine``);
- the real images' scales are their average-pooled pyramid.

The scales travel packed in one tensor (``pack_scales``): each nearest-upsampled to the full size and
concatenated on the channel axis, finest first, (N, S * C, H, W), so that scale s is exactly
``x[:, s*C:(s+1)*C, ::2**s, ::2**s]`` (``unpack_scale``). Everything the training loop does to what the
discriminator sees (augmentation, instance noise, replay, R1, WGAN-GP's interpolates) therefore works
on it unchanged, and ``MSGGenerator.forward`` returns the full-size image alone, as every generator here,
for sampling and the quick FID; ``multi_scale`` returns the packed tensor for training.
"""

from __future__ import annotations

from typing import get_args

import torch
import torch.nn.functional as F
from torch import nn

from ganyard.models import blocks
from ganyard.models.dcgan import discriminator_stages, generator_stages
from ganyard.params import ScaleCombine

SCALE_COMBINES = get_args(ScaleCombine)
NAME = "MSG-GAN"  # in the error for an image size the blocks cannot reach


def scale_count(image_size: int) -> int:
    """How many scales MSG-GAN draws at ``image_size``: 4x4, 8x8, ..., image_size (4 at 32 px)."""
    return blocks.doubling_steps(image_size, NAME) + 1


def pack_scales(images: list[torch.Tensor]) -> torch.Tensor:
    """Images of every scale, finest first, [(N, C, H, W), (N, C, H/2, W/2), ..., (N, C, 4, 4)] -> (N, S*C, H, W).

    Each is nearest-upsampled to H x W (every pixel repeated 2**s x 2**s times), then all are concatenated
    on the channel axis; ``unpack_scale`` gives each back exactly.
    """
    size = images[0].shape[-1]
    return torch.cat(
        [F.interpolate(image, scale_factor=size // image.shape[-1], mode="nearest") if image.shape[-1] != size else image for image in images], dim=1
    )


def unpack_scale(packed: torch.Tensor, scale: int, channels: int) -> torch.Tensor:
    """Scale ``scale`` (0: the full size) of ``pack_scales``'s (N, S*C, H, W): (N, C, H / 2**scale, W / 2**scale), a strided view."""
    factor = 2**scale
    return packed[:, scale * channels : (scale + 1) * channels, ::factor, ::factor]


def pack_pyramid(images: torch.Tensor, scales: int) -> torch.Tensor:
    """Real images (N, C, H, W) -> their average-pooled pyramid (2**s x 2**s means for scale s), packed: (N, scales*C, H, W)."""
    return pack_scales([images, *(F.avg_pool2d(images, 2**scale) for scale in range(1, scales))])


class PointwiseConv2d(nn.Conv2d):
    """A bias-free 1x1 ``nn.Conv2d`` computed as a matrix product over the channels: the same weights and results.

    oneDNN's 1x1 convolutions of MSG-GAN's odd channel counts (features and an image joined: 33 -> 32
    at 16x16) took twice as long as the 4x4 convolutions beside them, their double backward (R1) most.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.permute(0, 2, 3, 1), self.weight.flatten(1)).permute(0, 3, 1, 2)


class MSGGenerator(nn.Module):
    """z (N, latent_dim) [, labels (N,)] -> images (N, channels, size, size) in [-1, 1]; ``multi_scale`` gives every scale.

    DCGAN's generator (``generator_stages``, the same arguments), each block but the last followed by
    a 1x1 convolution to ``channels`` and tanh: the image of that block's resolution.
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
        self.latent_dim, self.classes, self.channels = latent_dim, classes, channels
        stages = generator_stages(
            latent_dim=latent_dim,
            width=width,
            channels=channels,
            image_size=image_size,
            norm=norm,
            activation=activation,
            leaky_slope=leaky_slope,
            classes=classes,
            architecture=NAME,
        )
        self.scales = len(stages)
        self.blocks = nn.ModuleList(nn.Sequential(*stage) for stage in stages)
        # bias-free like DCGAN's image layer; stage[0] is each block's transposed convolution
        self.to_image = nn.ModuleList(nn.Sequential(PointwiseConv2d(stage[0].out_channels, channels), nn.Tanh()) for stage in stages[:-1])

    def _features(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        z = blocks.with_class(z, labels, self.classes)
        return z.view(z.shape[0], -1, 1, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The full-size image (N, channels, size, size) alone: the smaller ones are side branches, not computed."""
        x = self._features(z, labels)
        for block in self.blocks:
            x = block(x)
        return x

    def multi_scale(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Every scale, packed by ``pack_scales`` (finest first): (N, scales * channels, size, size); scale 0 is ``forward``'s image."""
        x = self._features(z, labels)
        images = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            images.append(self.to_image[index](x) if index < len(self.to_image) else x)
        return pack_scales(images[::-1])


def joined_channels(combine: str, features: int, channels: int) -> int:
    """The channels ``ScaleJoin(combine, features, channels)`` outputs."""
    if combine == "simple":
        return features + channels
    if combine == "lin_cat":
        return features + max(features // 2, 1)
    if combine == "cat_lin":
        return features
    raise ValueError(f"unknown MSG-GAN combine function {combine!r}; allowed: {', '.join(SCALE_COMBINES)}")


class ScaleJoin(nn.Module):
    """MSG-GAN's combine function φ (section 3): features (N, F, r, r) and the image of that scale (N, C, r, r) -> (N, joined_channels, r, r).

    ``simple``: [image; features]. ``lin_cat``: [1x1 convolution of the image to F/2 channels; features].
    ``cat_lin``: a 1x1 convolution of [image; features] back to F channels. The 1x1 convolutions are
    linear and bias-free: a batch norm or the next convolution's bias follows.
    """

    def __init__(self, combine: str, features: int, channels: int):
        super().__init__()
        self.out_channels = joined_channels(combine, features, channels)
        self.image_features = PointwiseConv2d(channels, self.out_channels - features) if combine == "lin_cat" else None
        self.mix = PointwiseConv2d(features + channels, features) if combine == "cat_lin" else None

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        if self.image_features is not None:
            image = self.image_features(image)
        joined = torch.cat([image, features], dim=1)
        return self.mix(joined) if self.mix is not None else joined


class MSGDiscriminator(nn.Module):
    """Every scale packed, (N, scales * channels, size, size) (``pack_scales``) [, labels (N,)] -> logits (N,).

    DCGAN's discriminator (``discriminator_stages``, the same arguments) reading the full-size image at
    its first block; before each further block, and before the head at 4x4, the image of that block's
    resolution is joined to the features by ``combine`` (``ScaleJoin``). The head and the class
    projection (of the spatially summed joined features at 4x4) are DCGAN's.
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
        combine: str = "cat_lin",
    ):
        super().__init__()
        self.channels, self.scales = channels, scale_count(image_size)
        stages = discriminator_stages(
            width=width,
            channels=channels,
            image_size=image_size,
            norm=norm,
            activation=activation,
            leaky_slope=leaky_slope,
            block_inputs=lambda features: joined_channels(combine, features, channels),
            architecture=NAME,
        )
        self.blocks = nn.ModuleList(nn.Sequential(*stage) for stage in stages)
        # The features reaching scales 1, 2, ...: width at size / 2, doubling down to 4x4.
        self.joins = nn.ModuleList(ScaleJoin(combine, width * 2**index, channels) for index in range(self.scales - 1))
        features = self.joins[-1].out_channels
        self.head = blocks.discriminator_head(
            (features, 4, 4),
            minibatch_stddev=minibatch_stddev,
            minibatch_stddev_group=minibatch_stddev_group,
            minibatch_kernels=minibatch_kernels,
            minibatch_kernel_dim=minibatch_kernel_dim,
        )
        self.projection = blocks.ClassProjection(classes, features) if classes else None

    def forward(self, packed: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if packed.shape[1] != self.scales * self.channels:
            raise ValueError(
                f"the MSG-GAN discriminator reads {self.scales} scales of {self.channels} channels packed, {self.scales * self.channels} channels; "
                f"got {packed.shape[1]} (pack real images with ganyard.models.msg.pack_pyramid, generated ones with the generator's multi_scale)"
            )
        x = self.blocks[0](unpack_scale(packed, 0, self.channels))
        for scale, join in enumerate(self.joins, start=1):
            x = join(x, unpack_scale(packed, scale, self.channels))
            if scale < len(self.blocks):
                x = self.blocks[scale](x)
        logits = self.head(x).view(-1)
        if self.projection is not None:
            logits = logits + self.projection(x.sum(dim=(2, 3)), labels)
        return logits
