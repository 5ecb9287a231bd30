"""Generators and discriminators, built from the ``model`` params section."""

from __future__ import annotations

from torch import nn

from ganyard.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganyard.models.mlp import MLPDiscriminator, MLPGenerator
from ganyard.params import ModelParams

GENERATORS = {"dcgan": DCGANGenerator, "mlp": MLPGenerator}
DISCRIMINATORS = {"dcgan": DCGANDiscriminator, "mlp": MLPDiscriminator}


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialization: weights N(0, 0.02), norm scales N(1, 0.02), biases 0. Use with ``apply``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_generator(params: ModelParams, channels: int, image_size: int) -> nn.Module:
    """A freshly initialized generator: z (N, latent_dim) -> images (N, channels, size, size)."""
    generator = GENERATORS[params.architecture](params.latent_dim, params.generator_width, channels, image_size)
    generator.apply(dcgan_init)
    return generator


def build_discriminator(params: ModelParams, channels: int, image_size: int) -> nn.Module:
    """A freshly initialized discriminator: images (N, channels, size, size) -> logits (N,)."""
    discriminator = DISCRIMINATORS[params.architecture](params.discriminator_width, channels, image_size)
    discriminator.apply(dcgan_init)
    return discriminator


def generator_config(params: ModelParams, channels: int, image_size: int) -> dict:
    """What ``generator_from_config`` needs to rebuild the generator, stored beside its weights."""
    return {
        "architecture": params.architecture,
        "latent_dim": params.latent_dim,
        "generator_width": params.generator_width,
        "discriminator_width": params.discriminator_width,
        "channels": channels,
        "image_size": image_size,
    }


def generator_from_config(config: dict) -> nn.Module:
    """Rebuild an (uninitialized-weights) generator from ``generator_config``'s dict."""
    params = ModelParams(
        architecture=config["architecture"],
        latent_dim=config["latent_dim"],
        generator_width=config["generator_width"],
        discriminator_width=config["discriminator_width"],
    )
    return GENERATORS[params.architecture](params.latent_dim, params.generator_width, config["channels"], config["image_size"])
