import pytest
import torch

from ganyard.models import build_discriminator, build_generator, generator_config, generator_from_config
from ganyard.params import ModelParams


@pytest.mark.parametrize("architecture", ["dcgan", "mlp"])
@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_for_each_architecture_size_and_channel_count(architecture, image_size, channels):
    params = ModelParams(architecture=architecture, latent_dim=16, generator_width=8, discriminator_width=8)
    generator = build_generator(params, channels, image_size)
    discriminator = build_discriminator(params, channels, image_size)
    images = generator(torch.randn(5, 16))
    assert images.shape == (5, channels, image_size, image_size)
    assert images.min() >= -1 and images.max() <= 1  # tanh output, the data's range
    assert discriminator(images).shape == (5,)


def test_dcgan_layout_follows_the_paper():
    params = ModelParams(architecture="dcgan", latent_dim=100, generator_width=64, discriminator_width=64)
    generator = build_generator(params, 1, 64)
    convolutions = [m for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    # 100 -> 512 (4x4) -> 256 (8x8) -> 128 (16x16) -> 64 (32x32) -> 1 (64x64), as pytorch/examples' dcgan.
    assert [c.out_channels for c in convolutions] == [512, 256, 128, 64, 1]
    discriminator = build_discriminator(params, 1, 64)
    norms = [m for m in discriminator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert [n.num_features for n in norms] == [128, 256, 512]  # none after the first convolution


def test_dcgan_initialization_statistics():
    params = ModelParams(architecture="dcgan", generator_width=64, discriminator_width=64)
    generator = build_generator(params, 1, 32)
    weights = torch.cat([m.weight.flatten() for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert weights.mean().abs() < 2e-3 and weights.std().item() == pytest.approx(0.02, rel=0.05)
    scales = torch.cat([m.weight for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert scales.mean().item() == pytest.approx(1.0, abs=0.01)


def test_generator_rebuilds_from_its_config():
    params = ModelParams(architecture="mlp", latent_dim=8, generator_width=4)
    generator = build_generator(params, 3, 16).eval()
    rebuilt = generator_from_config(generator_config(params, 3, 16)).eval()
    rebuilt.load_state_dict(generator.state_dict())
    noise = torch.randn(4, 8)
    assert torch.equal(generator(noise), rebuilt(noise))


def test_dcgan_refuses_a_size_that_is_not_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        build_generator(ModelParams(architecture="dcgan"), 1, 48)
