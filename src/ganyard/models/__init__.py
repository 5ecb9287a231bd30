"""Generators and discriminators, built from the ``model`` params section."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganyard.models.blocks import WEIGHT_LAYERS, initialize
from ganyard.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganyard.models.mlp import MLPDiscriminator, MLPGenerator
from ganyard.models.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from ganyard.params import ModelParams

GENERATORS = {"dcgan": DCGANGenerator, "mlp": MLPGenerator}
DISCRIMINATORS = {"dcgan": DCGANDiscriminator, "mlp": MLPDiscriminator}


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) on every convolution and linear layer, in place.

    Each weight is divided by its largest singular value, estimated by one power iteration per
    forward pass in training mode.
    """
    for layer in list(module.modules()):
        if isinstance(layer, WEIGHT_LAYERS):
            spectral_norm(layer)  # picks dim 1 (output channels) for transposed convolutions itself
    return module


def build_generator(params: ModelParams, *, channels: int, image_size: int, classes: int = 0) -> nn.Module:
    """A freshly initialized generator: z (N, latent_dim) [, labels (N,)] -> images (N, channels, size, size).

    ``classes`` (the data's class count) is used when ``params.conditional``.
    """
    if params.architecture == "stylegan2":  # its own layers, initialization and scale (equalized learning rate)
        return StyleGAN2Generator(
            latent_dim=params.latent_dim,
            width=params.generator_width,
            channels=channels,
            image_size=image_size,
            mapping_depth=params.mapping_depth,
            style_mixing=params.style_mixing,
            classes=classes if params.conditional else 0,
        )
    generator = GENERATORS[params.architecture](
        latent_dim=params.latent_dim,
        width=params.generator_width,
        channels=channels,
        image_size=image_size,
        norm=params.generator_norm,
        activation=params.generator_activation,
        leaky_slope=params.leaky_slope,
        classes=classes if params.conditional else 0,
    )
    initialize(generator, params.init)
    if params.spectral_norm in ("generator", "both"):
        apply_spectral_norm(generator)
    return generator


def build_discriminator(params: ModelParams, *, channels: int, image_size: int, classes: int = 0) -> nn.Module:
    """A freshly initialized discriminator: images (N, channels, size, size) [, labels (N,)] -> logits (N,)."""
    if params.architecture == "stylegan2":
        return StyleGAN2Discriminator(
            width=params.discriminator_width,
            channels=channels,
            image_size=image_size,
            block=params.discriminator_block,
            minibatch_stddev=params.minibatch_stddev,
            classes=classes if params.conditional else 0,
        )
    discriminator = DISCRIMINATORS[params.architecture](
        width=params.discriminator_width,
        channels=channels,
        image_size=image_size,
        norm=params.discriminator_norm,
        activation=params.discriminator_activation,
        leaky_slope=params.leaky_slope,
        minibatch_stddev=params.minibatch_stddev,
        minibatch_kernels=params.minibatch_discrimination,
        minibatch_kernel_dim=params.minibatch_kernel_dim,
        classes=classes if params.conditional else 0,
    )
    initialize(discriminator, params.init)
    if params.spectral_norm in ("discriminator", "both"):
        apply_spectral_norm(discriminator)
    return discriminator


def generator_config(params: ModelParams, *, channels: int, image_size: int, classes: int = 0) -> dict:
    """What ``generator_from_config`` needs to rebuild the generator, stored beside its weights."""
    return {"model": params.model_dump(), "channels": channels, "image_size": image_size, "classes": classes}


def generator_from_config(config: dict) -> nn.Module:
    """Rebuild a generator (to load weights into) from ``generator_config``'s dict."""
    return build_generator(ModelParams(**config["model"]), channels=config["channels"], image_size=config["image_size"], classes=config["classes"])
