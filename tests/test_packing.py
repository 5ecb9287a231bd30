"""PacGAN's packing (model.pack): the discriminator judges several samples at once, stacked along the channels."""

import pytest
import torch

from ganyard.losses import gradient_norm_penalty
from ganyard.models import build_discriminator
from ganyard.models.blocks import PackedDiscriminator
from ganyard.params import ModelParams, ParamsError, TrainParams, validate_params
from ganyard.training import check_data_parallel, make_gan, train


@pytest.mark.parametrize("architecture", ["dcgan", "mlp"])
def test_a_packed_discriminator_reads_consecutive_images_stacked_along_the_channels(architecture):
    torch.manual_seed(0)
    packed = build_discriminator(ModelParams(architecture=architecture, pack=3, discriminator_width=8), channels=1, image_size=16).eval()
    assert isinstance(packed, PackedDiscriminator) and packed.pack == 3
    images = torch.rand(6, 1, 16, 16) * 2 - 1
    logits = packed(images)
    assert logits.shape == (2,)
    by_hand = torch.cat([images[3], images[4], images[5]], dim=0).unsqueeze(0)  # the second pack: images 3, 4, 5 as 3 channels
    torch.testing.assert_close(logits[1:], packed.inner(by_hand))
    swapped = images[[0, 1, 2, 4, 3, 5]]  # the order within a pack matters only inside that pack
    assert torch.equal(packed(swapped)[0], logits[0]) and not torch.equal(packed(swapped)[1], logits[1])
    with pytest.raises(ValueError, match="a batch of 4 images does not split into packs of 3"):
        packed(images[:4])


def test_r1_through_a_packed_discriminator_is_per_image():
    torch.manual_seed(0)
    packed = build_discriminator(ModelParams(pack=2, discriminator_width=8), channels=1, image_size=16)
    images = (torch.rand(4, 1, 16, 16) * 2 - 1).requires_grad_(True)
    logits = packed(images)
    (gradient,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    expected = gradient.flatten(1).pow(2).sum(dim=1).mean()  # each image's own gradient norm, averaged over the 4
    torch.testing.assert_close(gradient_norm_penalty(logits, images), expected)


def test_packing_trains():
    params = TrainParams(epochs=1, batch_size=8, r1_gamma=1.0)
    torch.manual_seed(0)
    from ganyard.models import build_generator

    model = ModelParams(pack=2, generator_width=8, discriminator_width=8, latent_dim=16)
    gan = make_gan(build_generator(model, channels=1, image_size=16), build_discriminator(model, channels=1, image_size=16), params)
    history = train(gan, torch.rand(32, 1, 16, 16) * 2 - 1, params, torch.Generator().manual_seed(0), progress=False)
    assert history[0].discriminator_updates == 4 and torch.isfinite(torch.tensor(history[0].discriminator_loss))


def test_what_makes_no_sense_with_packing_is_refused():
    with pytest.raises(ParamsError, match="model.pack = 2 with model.architecture: msg: only dcgan, mlp read packed images"):
        validate_params({"model": {"architecture": "msg", "pack": 2}})
    with pytest.raises(ParamsError, match="model.pack = 2 with model.conditional"):
        validate_params({"model": {"pack": 2, "conditional": True}})
    with pytest.raises(ParamsError, match="model.pack = 3 does not divide train.batch_size = 64"):
        validate_params({"model": {"pack": 3}})
    with pytest.raises(ParamsError, match="minibatch_stddev_group = 4 does not divide the 6 packs of model.pack = 8 in a batch of 48"):
        validate_params({"model": {"pack": 8, "minibatch_stddev": True}, "train": {"batch_size": 48}})
    validate_params({"model": {"pack": 4, "minibatch_stddev": True}})  # 16 packs of 4: groups of 4
    with pytest.raises(ParamsError, match="WGAN-GP's interpolates and unit gradient norm are per image"):
        validate_params({"model": {"pack": 2, "discriminator_norm": "none"}, "train": {"loss": "wasserstein"}})
    validate_params({"model": {"pack": 2, "discriminator_norm": "none"}, "train": {"loss": "wasserstein", "gradient_penalty": 0.0}})
    packed = build_discriminator(ModelParams(pack=4), channels=1, image_size=16)
    with pytest.raises(ParamsError, match="model.pack = 4 must divide each process's share of the batch, 20 / 2"):
        check_data_parallel(TrainParams(batch_size=20), 2, packed)


def test_ada_counts_the_images_a_packed_logit_judged():
    from ganyard.augment import AdaptiveAugment

    one, packed = AdaptiveAugment(speed_images=1000, interval=1), AdaptiveAugment(speed_images=1000, interval=1)
    one.observe(torch.tensor([1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0]))  # 8 images, a logit each
    packed.observe(torch.tensor([1.0, 1.0]), images_per_logit=4)  # 8 images in 2 packs
    one.step(), packed.step()
    assert one.last_overfitting == 0.75 and packed.last_overfitting == 1.0  # both above the 0.6 target: p rises
    assert one.probability == packed.probability == pytest.approx(8 / 1000)  # both moved by the 8 images seen
