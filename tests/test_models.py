import pytest
import torch

from ganyard.models import build_discriminator, build_generator, generator_config, generator_from_config
from ganyard.params import ModelParams


@pytest.mark.parametrize("architecture", ["dcgan", "mlp"])
@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_for_each_architecture_size_and_channel_count(architecture, image_size, channels):
    params = ModelParams(architecture=architecture, latent_dim=16, generator_width=8, discriminator_width=8)
    generator = build_generator(params, channels=channels, image_size=image_size)
    discriminator = build_discriminator(params, channels=channels, image_size=image_size)
    images = generator(torch.randn(5, 16))
    assert images.shape == (5, channels, image_size, image_size)
    assert images.min() >= -1 and images.max() <= 1  # tanh output, the data's range
    assert discriminator(images).shape == (5,)


def test_dcgan_layout_follows_the_paper():
    params = ModelParams(architecture="dcgan", latent_dim=100, generator_width=64, discriminator_width=64)
    generator = build_generator(params, channels=1, image_size=64)
    convolutions = [m for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    # 100 -> 512 (4x4) -> 256 (8x8) -> 128 (16x16) -> 64 (32x32) -> 1 (64x64), as pytorch/examples' dcgan.
    assert [c.out_channels for c in convolutions] == [512, 256, 128, 64, 1]
    discriminator = build_discriminator(params, channels=1, image_size=64)
    norms = [m for m in discriminator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert [n.num_features for n in norms] == [128, 256, 512]  # none after the first convolution


def test_dcgan_initialization_statistics():
    params = ModelParams(architecture="dcgan", generator_width=64, discriminator_width=64)
    generator = build_generator(params, channels=1, image_size=32)
    weights = torch.cat([m.weight.flatten() for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert weights.mean().abs() < 2e-3 and weights.std().item() == pytest.approx(0.02, rel=0.05)
    scales = torch.cat([m.weight for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert scales.mean().item() == pytest.approx(1.0, abs=0.01)


def test_generator_rebuilds_from_its_config():
    params = ModelParams(architecture="mlp", latent_dim=8, generator_width=4)
    generator = build_generator(params, channels=3, image_size=16).eval()
    rebuilt = generator_from_config(generator_config(params, channels=3, image_size=16)).eval()
    rebuilt.load_state_dict(generator.state_dict())
    noise = torch.randn(4, 8)
    assert torch.equal(generator(noise), rebuilt(noise))


def test_dcgan_refuses_a_size_that_is_not_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        build_generator(ModelParams(architecture="dcgan"), channels=1, image_size=48)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_image_side_convolutions_equal_torchs_with_first_and_second_derivatives(channels, layout):
    """ImageConv2d / ImageConvTranspose2d take another route on the CPU; in float64 every value must be torch's."""
    from torch.nn.utils.parametrizations import spectral_norm

    from ganyard.models.image_layers import ImageConv2d, ImageConvTranspose2d

    torch.manual_seed(0)
    pairs = [
        (ImageConv2d(channels, 8, 4, 2, 1, bias=False), torch.nn.Conv2d(channels, 8, 4, 2, 1, bias=False), (6, channels, 16, 16)),
        (ImageConvTranspose2d(8, channels, 4, 2, 1, bias=False), torch.nn.ConvTranspose2d(8, channels, 4, 2, 1, bias=False), (6, 8, 8, 8)),
        (spectral_norm(ImageConv2d(channels, 8, 4, 2, 1, bias=False)), spectral_norm(torch.nn.Conv2d(channels, 8, 4, 2, 1, bias=False)), (6, channels, 16, 16)),
        (
            spectral_norm(ImageConvTranspose2d(8, channels, 4, 2, 1, bias=False)),
            spectral_norm(torch.nn.ConvTranspose2d(8, channels, 4, 2, 1, bias=False)),
            (6, 8, 8, 8),
        ),
    ]
    for ours, torchs, shape in pairs:
        ours, torchs = ours.double().eval(), torchs.double().eval()
        ours.load_state_dict(torchs.state_dict())  # the same parameter names: checkpoints load either way
        x = torch.randn(shape, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_(True)
        mine, theirs = ours(x), torchs(x)
        assert type(mine.grad_fn).__name__ in ("_ImageInBackward", "_ImageOutBackward")  # the other route was taken
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)
        weight_ours = ours.parametrizations.weight.original if hasattr(ours, "parametrizations") else ours.weight
        weight_torchs = torchs.parametrizations.weight.original if hasattr(torchs, "parametrizations") else torchs.weight
        grad = torch.randn_like(theirs)
        first_ours = torch.autograd.grad(mine, (x, weight_ours), grad, create_graph=True)
        first_torchs = torch.autograd.grad(theirs, (x, weight_torchs), grad, create_graph=True)
        for a, b in zip(first_ours, first_torchs):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        # R1's second derivative: d/dweight of |d out / d x|^2
        second_ours = torch.autograd.grad(first_ours[0].pow(2).sum(), weight_ours)[0]
        second_torchs = torch.autograd.grad(first_torchs[0].pow(2).sum(), weight_torchs)[0]
        torch.testing.assert_close(second_ours, second_torchs, rtol=1e-10, atol=1e-10)
        # Only the needed gradient: an input without grad, or a frozen weight, gets none and breaks nothing.
        weight_ours.requires_grad_(False)
        (grad_x,) = torch.autograd.grad(ours(x), x, grad)
        torch.testing.assert_close(grad_x, first_torchs[0], rtol=1e-12, atol=1e-12)
        weight_ours.requires_grad_(True)
        (grad_w,) = torch.autograd.grad(ours(x.detach()), weight_ours, grad)
        torch.testing.assert_close(grad_w, first_torchs[1], rtol=1e-12, atol=1e-12)


def test_dcgan_uses_the_image_side_convolutions_at_both_ends():
    from ganyard.models.image_layers import ImageConv2d, ImageConvTranspose2d

    params = ModelParams(architecture="dcgan", latent_dim=16, generator_width=8, discriminator_width=8)
    generator, discriminator = build_generator(params, channels=3, image_size=32), build_discriminator(params, channels=3, image_size=32)
    assert [type(m) for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)][-1] is ImageConvTranspose2d
    assert [type(m) for m in discriminator.modules() if isinstance(m, torch.nn.Conv2d)][0] is ImageConv2d


@pytest.mark.parametrize("channels", [1, 3])
def test_gradient_norm_penalty_through_a_discriminator_with_the_image_side_convolution_equals_torchs(channels):
    """The gradient reaching the first layer depends on the later layers: R1's second derivative then
    runs back through the matrix product and col2im of the input gradient."""
    from ganyard.models.image_layers import ImageConv2d

    def discriminator(first: torch.nn.Module) -> torch.nn.Sequential:
        return torch.nn.Sequential(
            first, torch.nn.LeakyReLU(0.2), torch.nn.Conv2d(8, 16, 4, 2, 1), torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 1)
        )

    torch.manual_seed(0)
    torchs = discriminator(torch.nn.Conv2d(channels, 8, 4, 2, 1, bias=False)).double()
    ours = discriminator(ImageConv2d(channels, 8, 4, 2, 1, bias=False)).double()
    ours.load_state_dict(torchs.state_dict())
    real = torch.randn(5, channels, 16, 16, dtype=torch.float64)
    gradients = []
    for network in (ours, torchs):
        images = real.clone().requires_grad_(True)
        logits = network(images)
        (grad_images,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
        loss = torch.nn.functional.softplus(-logits).mean() + grad_images.pow(2).sum(dim=(1, 2, 3)).mean()
        gradients.append(torch.autograd.grad(loss, list(network.parameters())))
    for a, b in zip(*gradients):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_image_side_convolutions_are_torchs_own_where_their_route_does_not_apply():
    from ganyard.models.image_layers import ImageConv2d, ImageConvTranspose2d

    def route(layer, x) -> str:
        return type(layer(x).grad_fn).__name__

    image, features = torch.randn(2, 1, 16, 16), torch.randn(2, 8, 8, 8)
    assert route(ImageConv2d(1, 8, 4, 2, 1, bias=False), image) == "_ImageInBackward"
    assert route(ImageConvTranspose2d(8, 1, 4, 2, 1, bias=False), features) == "_ImageOutBackward"
    assert route(ImageConv2d(1, 8, 4, 2, 1, bias=True), image) == "ConvolutionBackward0"
    assert route(ImageConv2d(8, 8, 4, 2, 1, bias=False), features) == "ConvolutionBackward0"  # not an image: too many channels
    assert route(ImageConvTranspose2d(8, 1, 4, 2, 1, bias=False, output_padding=1), features) == "ConvolutionBackward0"
    assert route(ImageConvTranspose2d(8, 8, 4, 2, 1, bias=False), features) == "ConvolutionBackward0"
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts torch's layers itself: leave them to it
        assert route(ImageConv2d(1, 8, 4, 2, 1, bias=False), image) == "ConvolutionBackward0"
        assert route(ImageConvTranspose2d(8, 1, 4, 2, 1, bias=False), features) == "ConvolutionBackward0"
