import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganyard.models.equalized import EqualizedConv2d, EqualizedLinear, PixelNorm
from ganyard.models.modulated import ModulatedConv2d, NoiseInput, modulated_conv2d


def test_equalized_linear_scales_its_weights_at_run_time():
    torch.manual_seed(0)
    layer = EqualizedLinear(50, 3, bias_init=1.0, lr_multiplier=0.01)
    x = torch.randn(7, 50)
    assert torch.allclose(layer(x), F.linear(x, layer.weight * 0.01 / math.sqrt(50), layer.bias * 0.01))
    assert layer.weight.std().item() == pytest.approx(100, rel=0.2)  # stored N(0, 1) / lr_multiplier
    assert torch.allclose(layer.bias * 0.01, torch.ones(3))  # the bias in use starts at bias_init


def test_equalized_convolution_is_a_convolution_of_he_scaled_weights():
    torch.manual_seed(0)
    layer = EqualizedConv2d(6, 4, 3, padding=1)
    x = torch.randn(2, 6, 8, 8)
    assert torch.allclose(layer(x), F.conv2d(x, layer.weight / math.sqrt(6 * 9), layer.bias, padding=1), atol=1e-6)


def relative_step(layer: nn.Module, fan_in: int, effective) -> float:
    """How far one Adam step moves ``layer``'s weights in use, relative to their spread."""
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
    before = effective(layer).detach().clone()
    layer(torch.randn(16, fan_in)).square().mean().backward()
    optimizer.step()
    return ((effective(layer).detach() - before).abs().mean() / before.std()).item()


def test_equalized_learning_rate_moves_narrow_and_wide_layers_alike():
    # Adam steps every parameter by about lr: with the He constant applied at run time the weights in use move
    # by lr relative to their spread whatever the fan-in; drawn at that scale (torch's Linear) a wide layer moves far more.
    torch.manual_seed(0)
    equalized = [relative_step(EqualizedLinear(fan_in, 8), fan_in, lambda layer: layer.weight * layer.weight_gain) for fan_in in (4, 1024)]
    plain = [relative_step(nn.Linear(fan_in, 8), fan_in, lambda layer: layer.weight) for fan_in in (4, 1024)]
    assert equalized[1] / equalized[0] == pytest.approx(1, rel=0.25)
    assert plain[1] / plain[0] > 8  # sqrt(1024 / 4) = 16 in theory


def test_pixel_norm_gives_every_pixel_unit_mean_square():
    x = torch.randn(3, 16, 5, 5) * torch.rand(3, 1, 5, 5) * 10
    assert torch.allclose(PixelNorm()(x).square().mean(dim=1), torch.ones(3, 5, 5), atol=1e-5)


def hand_modulated(x, weight, styles, demodulate, padding):
    out = []
    for image, style in zip(x, styles):
        w = weight * style.reshape(1, -1, 1, 1)
        if demodulate:
            w = w / torch.sqrt((w**2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        out.append(F.conv2d(image[None], w, padding=padding))
    return torch.cat(out)


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_convolution_matches_one_convolution_per_image(demodulate):
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 5, 7, 7, dtype=torch.float64), torch.randn(4, 5, 3, 3, dtype=torch.float64), torch.rand(3, 5, dtype=torch.float64) + 0.5
    ours = modulated_conv2d(x, weight, styles, demodulate=demodulate, padding=1)
    assert torch.allclose(ours, hand_modulated(x, weight, styles, demodulate, 1), atol=1e-12)


def test_demodulation_gives_unit_variance_for_unit_variance_input():
    torch.manual_seed(0)
    x = torch.randn(4, 256, 24, 24, dtype=torch.float64)
    weight = torch.randn(8, 256, 3, 3, dtype=torch.float64) * 5
    styles = torch.exp(torch.randn(4, 256, dtype=torch.float64))  # styles of very different sizes
    out = modulated_conv2d(x, weight, styles, demodulate=True, padding=1)[..., 1:-1, 1:-1]  # the zero-padded border has less input
    variances = out.var(dim=(2, 3))
    assert variances.mean().item() == pytest.approx(1, abs=0.05)
    without = modulated_conv2d(x, weight, styles, demodulate=False, padding=1)[..., 1:-1, 1:-1].var(dim=(2, 3))
    assert without.mean().item() > 100  # what demodulation corrects


def test_noise_input_is_fresh_in_training_and_fixed_in_eval():
    torch.manual_seed(0)
    layer = NoiseInput(8)
    with torch.no_grad():
        layer.strength.fill_(0.5)
    x = torch.zeros(2, 3, 8, 8)
    first, second = layer(x), layer(x)
    assert not torch.equal(first, second) and torch.equal(first[:, 0], first[:, 1])  # one value per pixel for all channels
    layer.eval()
    assert torch.equal(layer(x), layer(x)) and torch.equal(layer(x), (layer.fixed_noise * 0.5).expand(2, 3, 8, 8))


def test_modulated_layer_shapes_and_unmodulated_start():
    torch.manual_seed(0)
    layer = ModulatedConv2d(6, 4, w_dim=10, up=True, resolution=16)
    assert layer(torch.randn(2, 6, 8, 8), torch.randn(2, 10)).shape == (2, 4, 16, 16)
    # At the start the affine map gives styles of 1 (its bias) plus w's small contribution.
    styles = layer.affine(torch.zeros(2, 10))
    assert torch.allclose(styles, torch.ones(2, 6))
    to_rgb = ModulatedConv2d(6, 3, w_dim=10, kernel_size=1, demodulate=False, activate=False)
    assert to_rgb(torch.randn(2, 6, 8, 8), torch.randn(2, 10)).shape == (2, 3, 8, 8)
