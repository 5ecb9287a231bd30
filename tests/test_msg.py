import pytest
import torch
import torch.nn.functional as F

from ganyard.augment import color, cutout, diff_augment, translation
from ganyard.losses import gradient_norm_penalty
from ganyard.models import build_discriminator, build_generator
from ganyard.models.msg import SCALE_COMBINES, PointwiseConv2d, ScaleJoin, joined_channels, pack_pyramid, pack_scales, scale_count, unpack_scale
from ganyard.params import ModelParams, ParamsError, TrainParams, validate_params
from ganyard.training import EpochStats, make_gan, train, train_iteration

SMALL = {"architecture": "msg", "latent_dim": 16, "generator_width": 4, "discriminator_width": 4}


def networks(image_size: int = 16, channels: int = 1, classes: int = 0, **model):
    params = ModelParams(**{**SMALL, **model})
    return build_generator(params, channels=channels, image_size=image_size, classes=classes), build_discriminator(
        params, channels=channels, image_size=image_size, classes=classes
    )


@pytest.mark.parametrize("image_size", [16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_size(image_size, channels):
    generator, discriminator = networks(image_size, channels, minibatch_stddev=True)
    scales = scale_count(image_size)
    assert scales == generator.scales == discriminator.scales == {16: 3, 32: 4, 64: 5, 128: 6}[image_size]
    z = torch.randn(4, 16)
    assert generator(z).shape == (4, channels, image_size, image_size)
    packed = generator.multi_scale(z)
    assert packed.shape == (4, scales * channels, image_size, image_size)
    assert discriminator(packed).shape == (4,)
    assert discriminator(pack_pyramid(torch.rand(4, channels, image_size, image_size), scales)).shape == (4,)


def test_the_generators_packed_scales_unpack_to_images_of_every_size_and_the_finest_is_forwards_image():
    generator, _ = networks(32, 3)
    generator.eval()  # batch norm's running statistics: the two calls below see the same function
    z = torch.randn(5, 16)
    packed = generator.multi_scale(z)
    images = [unpack_scale(packed, scale, 3) for scale in range(4)]
    assert [image.shape[-1] for image in images] == [32, 16, 8, 4]
    assert torch.equal(images[0], generator(z))
    for scale, image in enumerate(images):
        assert image.abs().max() <= 1  # tanh
        # nearest upsampling: each pixel of scale s fills a 2**s x 2**s square of the packed tensor
        group = packed[:, 3 * scale : 3 * scale + 3]
        assert torch.equal(group, image.repeat_interleave(2**scale, dim=2).repeat_interleave(2**scale, dim=3))
    assert not torch.equal(F.avg_pool2d(images[0], 2), images[1])  # each scale is drawn by its own block, not pooled


def test_the_real_pyramid_is_the_average_pooled_image():
    real = torch.randn(2, 3, 16, 16)
    packed = pack_pyramid(real, 3)
    assert packed.shape == (2, 9, 16, 16)
    assert torch.equal(unpack_scale(packed, 0, 3), real)
    for scale in (1, 2):
        assert torch.equal(unpack_scale(packed, scale, 3), F.avg_pool2d(real, 2**scale))
    # by hand: pixel (1, 2) of scale 1 is the mean of the 2x2 square at rows 2-3, columns 4-5
    assert torch.allclose(unpack_scale(packed, 1, 3)[:, :, 1, 2], real[:, :, 2:4, 4:6].mean(dim=(2, 3)))
    assert torch.allclose(unpack_scale(packed, 2, 3)[:, :, 3, 0], real[:, :, 12:16, 0:4].mean(dim=(2, 3)))


def test_packing_and_unpacking_round_trip_exactly():
    images = [torch.randn(3, 2, 32 // 2**scale, 32 // 2**scale) for scale in range(4)]
    packed = pack_scales(images)
    assert all(torch.equal(unpack_scale(packed, scale, 2), image) for scale, image in enumerate(images))


@pytest.mark.parametrize("combine", SCALE_COMBINES)
def test_each_combine_function_gives_its_channels(combine):
    join = ScaleJoin(combine, features=8, channels=3)
    out = join(torch.randn(2, 8, 4, 4), torch.randn(2, 3, 4, 4))
    assert out.shape == (2, {"simple": 11, "lin_cat": 12, "cat_lin": 8}[combine], 4, 4) and join.out_channels == out.shape[1]
    assert joined_channels(combine, 8, 3) == out.shape[1]


def test_simple_concatenates_the_image_to_the_features_and_cat_lin_is_one_1x1_convolution_of_both():
    features, image = torch.randn(2, 8, 4, 4), torch.randn(2, 3, 4, 4)
    assert torch.equal(ScaleJoin("simple", 8, 3)(features, image), torch.cat([image, features], dim=1))
    cat_lin = ScaleJoin("cat_lin", 8, 3)
    expected = F.conv2d(torch.cat([image, features], dim=1), cat_lin.mix.weight)
    assert torch.allclose(cat_lin(features, image), expected, atol=1e-6)


def test_the_pointwise_convolution_is_nn_conv2ds_1x1_in_every_layout():
    layer = PointwiseConv2d(33, 32)
    for x in (torch.randn(4, 33, 8, 8), torch.randn(4, 33, 8, 8).contiguous(memory_format=torch.channels_last)):
        assert torch.allclose(layer(x), F.conv2d(x, layer.weight), atol=1e-5)


@pytest.mark.parametrize("combine", SCALE_COMBINES)
def test_the_logit_depends_on_every_scale_and_only_on_its_own_pixels(combine):
    _, discriminator = networks(32, 1, msg_combine=combine)
    packed = pack_pyramid(torch.randn(4, 1, 32, 32), 4).requires_grad_(True)
    (gradient,) = torch.autograd.grad(discriminator(packed).sum(), packed)
    for scale in range(4):
        read = unpack_scale(gradient, scale, 1)
        assert read.abs().sum() > 0, f"scale {scale} does not reach the logit"
        unread = gradient[:, scale].clone()
        unread[:, :: 2**scale, :: 2**scale] = 0
        assert unread.abs().max() == 0  # nothing but every 2**s-th pixel of scale s is read


def test_the_discriminator_refuses_unpacked_images():
    _, discriminator = networks(16, 1)
    with pytest.raises(ValueError, match="3 scales of 1 channels packed"):
        discriminator(torch.randn(2, 1, 16, 16))


def test_r1_through_the_packed_tensor_is_the_sum_over_scales():
    _, discriminator = networks(16, 3, discriminator_norm="layer")  # no batch statistics: one image's logit depends on it alone
    packed = pack_pyramid(torch.randn(4, 3, 16, 16), 3).requires_grad_(True)
    penalty = gradient_norm_penalty(discriminator(packed), packed)
    scales = [unpack_scale(packed.detach(), scale, 3).clone().requires_grad_(True) for scale in range(3)]
    gradients = torch.autograd.grad(discriminator(pack_scales(scales)).sum(), scales)
    by_scale = sum(gradient.flatten(1).pow(2).sum(dim=1) for gradient in gradients).mean()
    assert torch.allclose(penalty, by_scale, rtol=1e-5)
    penalty.backward()
    weights = {name: parameter for name, parameter in discriminator.named_parameters() if name.endswith("weight")}
    assert any(name.startswith("joins") for name in weights)
    assert all(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in weights.values())


def test_augmentation_keeps_every_scale_nearest_upsampled():
    """After DiffAugment every scale of the packed tensor is still a small image upsampled by repetition (what unpack_scale reads)."""
    packed = pack_pyramid(torch.rand(64, 3, 32, 32) * 2 - 1, 4)
    augmented = diff_augment(packed, torch.Generator().manual_seed(3), scales=4)
    for scale in range(4):
        small = unpack_scale(augmented, scale, 3)
        assert small.shape[-1] == 32 // 2**scale
        assert torch.equal(augmented[:, 3 * scale : 3 * scale + 3], F.interpolate(small, scale_factor=2**scale, mode="nearest"))
    assert not torch.equal(augmented, packed)


def test_translation_moves_every_scale_as_often_left_as_right():
    """Scale s moves by the full-size shift in whole pixels of its own, rounded half to even: at 4x4 of 32 px
    (shifts up to 4 of 32 pixels, half a pixel there) not at all; at 8x8 by -1, 0 or +1 with equal odds of
    -1 and +1. Found by the position of one bright pixel per scale, over 4,000 draws."""
    count, size = 4000, 32
    scales = [torch.zeros(count, 1, size // 2**s, size // 2**s) for s in range(4)]
    for image in scales:
        image[:, :, image.shape[-1] // 2, image.shape[-1] // 2] = 1.0
    moved = translation(pack_scales(scales), torch.Generator().manual_seed(5), scales=4)
    draws = torch.Generator().manual_seed(5)
    dy = torch.randint(-4, 5, (count,), generator=draws)
    for scale in range(4):
        small = unpack_scale(moved, scale, 1)
        row = small.flatten(1).argmax(dim=1) // small.shape[-1] - small.shape[-1] // 2
        assert torch.equal(row, -torch.round(dy / 2**scale).long()), scale  # the content moves against the read offset
        assert (row == 1).sum() == (row == -1).sum() if scale == 3 else abs((row == 1).float().mean() - (row == -1).float().mean()) < 0.03
    assert (unpack_scale(moved, 3, 1).flatten(1).argmax(dim=1) == 2 * 4 + 2).all()  # 4x4 of 32 px: never moves


def test_cutout_cuts_whole_pixels_of_every_scale():
    """Scale s loses a square of (size/2)/2**s of its own pixels, like the full-size image's half-size square."""
    packed = pack_pyramid(torch.ones(500, 1, 32, 32), 4)
    cut = cutout(packed, torch.Generator().manual_seed(6), scales=4)
    for scale in range(4):
        small = unpack_scale(cut, scale, 1)
        lost = (small == 0).flatten(1).sum(dim=1)
        side = 16 // 2**scale
        assert lost.max() == side * side  # a whole square where it lies inside
        assert lost.float().mean() > 0.4 * side * side  # clipped at the border at most
        assert torch.equal(cut[:, scale : scale + 1], F.interpolate(small, scale_factor=2**scale, mode="nearest"))


def test_the_colour_transform_per_scale_commutes_with_the_pyramid():
    real = torch.rand(5, 3, 16, 16) * 2 - 1
    augmented_pyramid = color(pack_pyramid(real, 3), torch.Generator().manual_seed(4), scales=3)
    pyramid_of_augmented = pack_pyramid(color(real, torch.Generator().manual_seed(4)), 3)
    assert torch.allclose(augmented_pyramid, pyramid_of_augmented, atol=1e-5)
    mixed = color(pack_pyramid(real, 3), torch.Generator().manual_seed(4))  # the packed tensor taken as one 9-channel image
    assert not torch.allclose(mixed, pyramid_of_augmented, atol=1e-3)


def test_conditional_networks_take_the_class():
    generator, discriminator = networks(16, 1, classes=10, conditional=True)
    generator.eval()
    z, labels = torch.randn(6, 16), torch.arange(6)
    assert not torch.equal(generator.multi_scale(z, labels), generator.multi_scale(z, (labels + 1) % 10))
    packed = generator.multi_scale(z, labels)
    assert not torch.equal(discriminator(packed, labels), discriminator(packed, (labels + 1) % 10))
    with pytest.raises(ValueError, match="class labels"):
        generator.multi_scale(z)


def test_msgs_blocks_are_dcgans():
    """With DCGAN's weights in its blocks, msg's generator draws DCGAN's image; with cat_lin its discriminator's blocks have DCGAN's shapes."""
    params = ModelParams(**SMALL)
    dcgan = build_generator(params.model_copy(update={"architecture": "dcgan"}), channels=1, image_size=32).eval()
    msg = build_generator(params, channels=1, image_size=32).eval()
    blocks = [name for name in msg.state_dict() if name.startswith("blocks.")]
    assert len(blocks) == len(dcgan.state_dict())
    msg.load_state_dict(dict(zip(blocks, dcgan.state_dict().values(), strict=True)), strict=False)
    z = torch.randn(3, 16)
    assert torch.equal(msg(z), dcgan(z))
    dcgan_discriminator = build_discriminator(params.model_copy(update={"architecture": "dcgan"}), channels=1, image_size=32)
    msg_discriminator = build_discriminator(params, channels=1, image_size=32)
    assert [p.shape for p in msg_discriminator.blocks.parameters()] == [p.shape for p in dcgan_discriminator.body.parameters()]
    assert [p.shape for p in msg_discriminator.head.parameters()] == [p.shape for p in dcgan_discriminator.head.parameters()]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"augment": "diffaugment", "instance_noise": 0.1},
        {"augment": "ada", "ada_images": 100},
        {"replay": {"size": 32, "fraction": 0.5}, "generator_noise": "fresh"},
    ],
)
def test_training_moves_every_toRGB_and_join(overrides):
    params = TrainParams(batch_size=8, epochs=1, **overrides)
    generator, discriminator = networks(16, 1)
    gan = make_gan(generator, discriminator, params)
    before = {name: value.clone() for name, value in [*generator.named_parameters(), *discriminator.named_parameters()]}
    stats = train(gan, torch.rand(32, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1, params, torch.Generator().manual_seed(0), progress=False)
    assert stats[0].discriminator_updates == stats[0].generator_updates == 4
    moved = {name for name, value in [*generator.named_parameters(), *discriminator.named_parameters()] if not torch.equal(before[name], value)}
    assert {"to_image.0.0.weight", "to_image.1.0.weight", "joins.0.mix.weight", "joins.1.mix.weight"} <= moved
    assert moved == set(before)


def test_wasserstein_gradient_penalty_on_packed_interpolates():
    params = TrainParams(batch_size=8, loss="wasserstein", gradient_penalty=10.0, r1_gamma=0.0)
    generator, discriminator = networks(16, 1, discriminator_norm="layer", msg_combine="lin_cat")
    gan = make_gan(generator, discriminator, params)
    stats = EpochStats()
    train_iteration(gan, [torch.rand(8, 1, 16, 16) * 2 - 1], params, torch.Generator().manual_seed(0), stats)
    assert stats.discriminator_updates == 1 and torch.isfinite(torch.tensor(stats.discriminator_loss_total))


def test_msg_combine_allows_only_the_three_functions():
    for combine in SCALE_COMBINES:
        assert validate_params({"model": {"architecture": "msg", "msg_combine": combine}}).model.msg_combine == combine
    with pytest.raises(ParamsError, match="model.msg_combine = 'sum'"):
        validate_params({"model": {"architecture": "msg", "msg_combine": "sum"}})
