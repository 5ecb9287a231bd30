"""Generators and discriminators, built from the ``model`` params section."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganyard.io import ArtifactError, load_torch
from ganyard.models.blocks import WEIGHT_LAYERS, PackedDiscriminator, initialize
from ganyard.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganyard.models.mlp import MLPDiscriminator, MLPGenerator
from ganyard.models.msg import MSGDiscriminator, MSGGenerator
from ganyard.models.progressive import ProgressiveDiscriminator, ProgressiveGenerator
from ganyard.models.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from ganyard.params import ModelParams

GENERATORS = {"dcgan": DCGANGenerator, "mlp": MLPGenerator, "msg": MSGGenerator}
DISCRIMINATORS = {"dcgan": DCGANDiscriminator, "mlp": MLPDiscriminator, "msg": MSGDiscriminator}


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
    common = {"channels": channels, "image_size": image_size, "classes": classes if params.conditional else 0}
    if params.architecture == "stylegan2":  # its own layers, initialization and scale (equalized learning rate)
        return StyleGAN2Generator(
            latent_dim=params.latent_dim, width=params.generator_width, mapping_depth=params.mapping_depth, style_mixing=params.style_mixing, **common
        )
    if params.architecture == "progressive":  # likewise
        return ProgressiveGenerator(latent_dim=params.latent_dim, width=params.generator_width, **common)
    generator = GENERATORS[params.architecture](
        latent_dim=params.latent_dim,
        width=params.generator_width,
        norm=params.generator_norm,
        activation=params.generator_activation,
        leaky_slope=params.leaky_slope,
        **common,
    )
    initialize(generator, params.init)
    if params.spectral_norm in ("generator", "both"):
        apply_spectral_norm(generator)
    return generator


def build_discriminator(params: ModelParams, *, channels: int, image_size: int, classes: int = 0) -> nn.Module:
    """A freshly initialized discriminator: images (N, channels, size, size) [, labels (N,)] -> logits (N,), or
    with ``params.pack`` > 1 (PacGAN) logits (N / pack,), one per pack of consecutive images.

    ``msg``'s reads every scale packed instead, (N, scales * channels, size, size) (``ganyard.models.msg``).
    """
    common = {"channels": channels, "image_size": image_size, "classes": classes if params.conditional else 0}
    stddev = {"minibatch_stddev": params.minibatch_stddev, "minibatch_stddev_group": params.minibatch_stddev_group}
    if params.architecture == "stylegan2":
        return StyleGAN2Discriminator(width=params.discriminator_width, block=params.discriminator_block, **stddev, **common)
    if params.architecture == "progressive":
        return ProgressiveDiscriminator(width=params.discriminator_width, **stddev, **common)
    if params.pack > 1:  # PacGAN: the inner network reads pack images stacked along the channels
        common["channels"] = channels * params.pack
    discriminator = DISCRIMINATORS[params.architecture](
        width=params.discriminator_width,
        norm=params.discriminator_norm,
        activation=params.discriminator_activation,
        leaky_slope=params.leaky_slope,
        **stddev,
        minibatch_kernels=params.minibatch_discrimination,
        minibatch_kernel_dim=params.minibatch_kernel_dim,
        **({"combine": params.msg_combine} if params.architecture == "msg" else {}),
        **common,
    )
    initialize(discriminator, params.init)
    if params.spectral_norm in ("discriminator", "both"):
        apply_spectral_norm(discriminator)
    return PackedDiscriminator(discriminator, params.pack) if params.pack > 1 else discriminator


GENERATOR_CONFIG = frozenset({"model", "channels", "image_size", "classes"})  # the keys of generator_config's dict


def generator_config(params: ModelParams, *, channels: int, image_size: int, classes: int = 0) -> dict:
    """What ``generator_from_config`` needs to rebuild the generator (a dict of ``GENERATOR_CONFIG``), stored beside its weights."""
    return {"model": params.model_dump(), "channels": channels, "image_size": image_size, "classes": classes}


def generator_from_config(config: dict) -> nn.Module:
    """Rebuild a generator (to load weights into) from ``generator_config``'s dict."""
    return build_generator(ModelParams(**config["model"]), channels=config["channels"], image_size=config["image_size"], classes=config["classes"])


def load_generator(path: str | Path) -> tuple[nn.Module, dict]:
    """The generator in ``path`` (a ganyard generator file) with its weights, and the file's contents.

    Raises ArtifactError naming what is wrong: no such file, not a torch file, or not a generator file.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(
            f"{path}: no such file (a generator file is the train stage's models/generator.pt or models/generator_best.pt; dvc repro writes them)"
        )
    try:
        saved = load_torch(path, "generator file")
    except ArtifactError:
        raise ArtifactError(f"{path} is not a ganyard generator file: torch cannot load it as a file of plain tensors") from None
    config = saved.get("config") if isinstance(saved, dict) else None
    if not isinstance(config, dict) or not GENERATOR_CONFIG <= set(config) or "state_dict" not in saved:
        keys = ", ".join(map(str, saved)) if isinstance(saved, dict) else type(saved).__name__
        raise ArtifactError(
            f"{path} is not a ganyard generator file: it holds {keys or 'nothing'}, where one holds a state_dict and a config of "
            f"{', '.join(sorted(GENERATOR_CONFIG))}"
        )
    try:
        generator = generator_from_config(saved["config"])
        generator.load_state_dict(saved["state_dict"])
    except (KeyError, TypeError, ValueError, ValidationError, RuntimeError) as error:
        raise ArtifactError(f"{path}: its config and weights do not make a generator of this ganyard: {str(error).splitlines()[0]}") from None
    return generator.eval(), saved
