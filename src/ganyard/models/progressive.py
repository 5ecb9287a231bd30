"""ProGAN (Karras et al. 2018, "Progressive Growing of GANs"): ``model.architecture: progressive``.

Both networks are built at full size, and a growth stage (``Growth``: the resolution they work at and
the fade-in α of its newest block) says how much of them is used. Training starts at 4×4; after
``train.growth.stable_images`` real images the next resolution fades in over ``train.growth.fade_images``,
then trains stable, and so on up to the image size, where it stays (``GrowthSchedule``). During a fade

- the generator's image is lerp(upsample(toRGB_{r/2}(h_{r/2})), toRGB_r(block_r(h_{r/2})), α),
- the discriminator's features lerp(fromRGB_{r/2}(avgpool(x_r)), block_r(fromRGB_r(x_r)), α),
- and the real images are faded alike, lerp(upsample(avgpool(x_r)), x_r, α) (``fade_reals``),

so at α = 0 the new block contributes nothing and at α = 1 the old toRGB/fromRGB nothing. The rest of
the pipeline only sees full-size images: the generator's image is nearest-upsampled to the image size and
the discriminator average-pools its input down to its resolution, which gives back exactly the image a
nearest upsampling came from.

Layers (the reference: tkarras/progressive_growing_of_gans, ``networks.py``): the generator's latent is
pixel-normalized, mapped to 4×4 by an equalized linear layer, then 3×3 convolutions, two per block after
the first, each followed by leaky ReLU(0.2) and pixel norm; nearest-neighbour 2× upsampling; a 1×1 toRGB
per resolution. The discriminator: a 1×1 fromRGB (and leaky ReLU) per resolution, blocks of two 3×3
convolutions and a 2× average pool, then at 4×4 the minibatch standard deviation (``model.minibatch_stddev``),
a 3×3 convolution, a 4×4 fully connected layer and the logit. Every layer has an equalized learning rate.
A conditional generator gets a normalized class embedding beside z (as ``stylegan2``), a conditional
discriminator a class projection (as the others). The growth stage travels with the weights in the
state_dict (``_extra_state``), so a saved generator draws the same images when rebuilt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganyard.models.blocks import doubling_steps, resolutions
from ganyard.models.equalized import EqualizedConv2d, EqualizedLinear, PixelNorm
from ganyard.models.stylegan2 import DiscriminatorEpilogue, LatentInput, channels_at, lrelu

NAME = "ProGAN"  # in the error for an image size the blocks cannot reach


@dataclass(frozen=True)
class Growth:
    """A growth stage: the networks work at ``resolution`` (4, 8, ..., image size), with its newest block
    faded in by ``alpha`` in [0, 1] (1: stable, the block fully in)."""

    resolution: int = 4
    alpha: float = 1.0

    @property
    def fading(self) -> bool:
        return self.alpha < 1.0

    @property
    def levels(self) -> tuple[int, int]:
        """(the lowest, the highest) resolution the stage draws on: (r/2, r) in a fade, (r, r) when stable.
        ProGAN resets Adam whenever this changes (``reset_opt_for_new_lod``): when a fade starts and when it ends."""
        return (self.resolution // 2 if self.fading else self.resolution, self.resolution)


@dataclass(frozen=True)
class GrowthSchedule:
    """ProGAN's schedule, a function of the real images shown to the discriminator so far: ``stable_images``
    at 4×4, then for each doubling ``fade_images`` of fade and ``stable_images`` stable, then ``image_size``
    to the end (the reference's ``TrainingSchedule`` with ``lod_training_kimg`` and ``lod_transition_kimg``)."""

    image_size: int
    stable_images: int
    fade_images: int

    def __post_init__(self):
        if self.stable_images < 0 or self.fade_images < 0 or self.stable_images + self.fade_images == 0:
            raise ValueError(f"a growth schedule needs image counts >= 0, not both 0; got {self.stable_images} stable, {self.fade_images} fade")

    @property
    def doublings(self) -> int:
        return doubling_steps(self.image_size, NAME)

    @property
    def grown_after(self) -> int:
        """The real images shown before the networks work at the full image size."""
        return self.doublings * (self.stable_images + self.fade_images)

    def at(self, images_shown: int) -> Growth:
        """The stage after ``images_shown`` real images (an integer count: exact, no float drift)."""
        done, into = divmod(images_shown, self.stable_images + self.fade_images)  # whole (stable + fade) periods, and into the next
        if done >= self.doublings:
            return Growth(self.image_size)
        if into < self.stable_images:
            return Growth(4 * 2**done)
        return Growth(4 * 2 ** (done + 1), (into - self.stable_images) / self.fade_images)


def downsample(images: torch.Tensor, times: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H / 2**times, W / 2**times) by ``times`` 2×2 average pools (each exact on a
    nearest-upsampled image, so ``downsample(upsample(x, k), k)`` is ``x``, bit for bit)."""
    for _ in range(times):
        images = F.avg_pool2d(images, 2)
    return images


def upsample(images: torch.Tensor, times: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H * 2**times, W * 2**times), nearest neighbour (every pixel copied into a block)."""
    return F.interpolate(images, scale_factor=2**times, mode="nearest") if times else images


def fade(old: torch.Tensor, new: torch.Tensor, alpha: float) -> torch.Tensor:
    """lerp(old, new, alpha) of two same-shaped tensors, in the wider of their dtypes: under CUDA's bfloat16 autocast
    (train.amp) a convolution's output is bfloat16 and an interpolation's float32, a pair torch.lerp refuses."""
    dtype = torch.promote_types(old.dtype, new.dtype)
    return torch.lerp(old.to(dtype), new.to(dtype), alpha)


def fade_reals(images: torch.Tensor, growth: Growth) -> torch.Tensor:
    """Real images (N, C, S, S) as the discriminator is shown them at ``growth``, still (N, C, S, S): brought
    down to the stage's resolution r, during a fade lerp(upsample(avgpool(x_r)), x_r, alpha), and
    nearest-upsampled back to S (ProGAN's ``process_reals``)."""
    steps = int(math.log2(images.shape[-1] // growth.resolution))
    at_resolution = downsample(images, steps)
    if growth.fading:
        at_resolution = fade(upsample(downsample(at_resolution, 1), 1), at_resolution, growth.alpha)
    return upsample(at_resolution, steps)


class GrowingNetwork(nn.Module):
    """A network that works at a growth stage (``growth``, set by ``grow_to``); the stage is saved in the
    state_dict as ``_extra_state``, a float64 tensor [resolution, alpha], outside the parameters and
    buffers (so the generator's moving average, which averages buffers, leaves it alone)."""

    def __init__(self, image_size: int):
        super().__init__()
        self.image_size = image_size
        self.growth = Growth()

    def grow_to(self, growth: Growth) -> None:
        sizes = resolutions(self.image_size, NAME)
        if growth.resolution not in sizes or not 0.0 <= growth.alpha <= 1.0 or (growth.resolution == 4 and growth.fading):
            raise ValueError(f"no growth stage {growth} for a {self.image_size}-px network: resolution one of {sizes}, alpha in [0, 1] (1 at 4)")
        self.growth = growth

    @property
    def level(self) -> int:
        """log2(resolution / 4): the index of the stage's block."""
        return int(math.log2(self.growth.resolution // 4))

    def get_extra_state(self) -> torch.Tensor:
        return torch.tensor([self.growth.resolution, self.growth.alpha], dtype=torch.float64)

    def set_extra_state(self, state: torch.Tensor) -> None:
        resolution, alpha = state.tolist()
        self.grow_to(Growth(int(resolution), alpha))


class GeneratorInput(nn.Module):
    """(N, inputs) -> (N, features, 4, 4): an equalized linear layer to 4×4, then a 3×3 convolution, each with leaky ReLU and pixel norm."""

    def __init__(self, inputs: int, features: int):
        super().__init__()
        self.features = features
        self.dense = EqualizedLinear(inputs, features * 16)
        self.convolution = EqualizedConv2d(features, features, 3, padding=1)
        self.normalize = PixelNorm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(lrelu(self.dense(x).view(-1, self.features, 4, 4)))
        return self.normalize(lrelu(self.convolution(x)))


class GeneratorBlock(nn.Module):
    """(N, in_channels, r/2, r/2) -> (N, out_channels, r, r): nearest 2× upsampling, two 3×3 convolutions, each with leaky ReLU and pixel norm."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.first = EqualizedConv2d(in_channels, out_channels, 3, padding=1)
        self.second = EqualizedConv2d(out_channels, out_channels, 3, padding=1)
        self.normalize = PixelNorm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(lrelu(self.first(upsample(x, 1))))
        return self.normalize(lrelu(self.second(x)))


class ProgressiveGenerator(GrowingNetwork):
    """z (N, latent_dim) [, labels (N,)] -> images (N, channels, image_size, image_size), about [-1, 1] (not
    clamped, as ProGAN), drawn at the growth stage's resolution and nearest-upsampled to the image size."""

    def __init__(self, *, latent_dim: int, width: int, channels: int, image_size: int, classes: int = 0):
        super().__init__(image_size)
        self.latent_dim, self.classes = latent_dim, classes
        sizes = resolutions(image_size, NAME)
        self.input = LatentInput(latent_dim, classes)
        self.blocks = nn.ModuleList([GeneratorInput(self.input.features, channels_at(4, image_size, width))])
        self.blocks.extend(GeneratorBlock(channels_at(size // 2, image_size, width), channels_at(size, image_size, width)) for size in sizes[1:])
        self.to_rgb = nn.ModuleList(EqualizedConv2d(channels_at(size, image_size, width), channels, 1) for size in sizes)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.input(z, labels)
        level, growth = self.level, self.growth
        for block in self.blocks[: level if growth.fading else level + 1]:
            x = block(x)
        if growth.fading:  # x is h_{r/2}: the old image, upsampled, fades into the new block's
            image = fade(upsample(self.to_rgb[level - 1](x), 1), self.to_rgb[level](self.blocks[level](x)), growth.alpha)
        else:
            image = self.to_rgb[level](x)
        return upsample(image, doubling_steps(self.image_size, NAME) - level)


class DiscriminatorBlock(nn.Module):
    """(N, in_channels, r, r) -> (N, out_channels, r/2, r/2): two 3×3 convolutions with leaky ReLU, then a 2× average pool."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.first = EqualizedConv2d(in_channels, in_channels, 3, padding=1)
        self.second = EqualizedConv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return downsample(lrelu(self.second(lrelu(self.first(x)))), 1)


class ProgressiveDiscriminator(GrowingNetwork):
    """images (N, channels, image_size, image_size) [, labels (N,)] -> logits (N,), judged at the growth stage's resolution."""

    def __init__(self, *, width: int, channels: int, image_size: int, minibatch_stddev: bool = False, minibatch_stddev_group: int = 4, classes: int = 0):
        super().__init__(image_size)
        sizes = resolutions(image_size, NAME)
        self.from_rgb = nn.ModuleList(EqualizedConv2d(channels, channels_at(size, image_size, width), 1) for size in sizes)
        # blocks[level - 1] halves resolution 4 * 2**level; the 4×4 block is the output layers below
        self.blocks = nn.ModuleList(DiscriminatorBlock(channels_at(size, image_size, width), channels_at(size // 2, image_size, width)) for size in sizes[1:])
        self.epilogue = DiscriminatorEpilogue(
            channels_at(4, image_size, width), minibatch_stddev=minibatch_stddev, minibatch_stddev_group=minibatch_stddev_group, classes=classes
        )

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        level, growth = self.level, self.growth
        at_resolution = downsample(images, doubling_steps(self.image_size, NAME) - level)
        x = lrelu(self.from_rgb[level](at_resolution))
        if level:
            x = self.blocks[level - 1](x)
            if growth.fading:  # the new block's features fade in over those of the old fromRGB on the pooled image
                x = fade(lrelu(self.from_rgb[level - 1](downsample(at_resolution, 1))), x, growth.alpha)
            for block in reversed(self.blocks[: level - 1]):
                x = block(x)
        return self.epilogue(x, labels)
