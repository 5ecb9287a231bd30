"""The training choices of the model and train params do what they say."""

import math

import pytest
import torch
from torch import nn

from ganyard import sampling, training
from ganyard.losses import discriminator_loss, generator_loss, gradient_norm_penalty, gradient_penalty
from ganyard.models import build_discriminator, build_generator
from ganyard.models.blocks import initialize
from ganyard.params import ModelParams, ParamsError, TrainParams, validate_params
from ganyard.training import EpochStats, make_gan, train_iteration, with_instance_noise

SMALL = {"latent_dim": 8, "generator_width": 4, "discriminator_width": 4}


@pytest.mark.parametrize("where", ["discriminator", "generator", "both"])
def test_spectral_norm_makes_largest_singular_values_about_one(where):
    params = ModelParams(spectral_norm=where, **SMALL)
    networks = {"generator": build_generator(params, channels=1, image_size=16), "discriminator": build_discriminator(params, channels=1, image_size=16)}
    for _ in range(30):  # power iterations run in training-mode forward passes
        networks["generator"](torch.randn(4, 8))
        networks["discriminator"](torch.randn(4, 1, 16, 16))
    for name, network in networks.items():
        normalized = [m for m in network.modules() if hasattr(m, "parametrizations")]
        assert bool(normalized) == (where in (name, "both"))
        for layer in normalized:
            weight = layer.weight.detach()
            matrix = weight.transpose(0, 1) if isinstance(layer, nn.ConvTranspose2d) else weight
            assert torch.linalg.matrix_norm(matrix.flatten(1), ord=2).item() == pytest.approx(1.0, abs=0.05)


def weights_of(network: nn.Module, kind=nn.Conv2d) -> list[torch.Tensor]:
    return [m.weight.detach() for m in network.modules() if isinstance(m, kind)]


def test_initialization_statistics():
    torch.manual_seed(0)
    layer = nn.Sequential(nn.Conv2d(64, 128, 3), nn.BatchNorm2d(128))
    fan_in, fan_out = 64 * 9, 128 * 9
    initialize(layer, "dcgan_normal")
    assert layer[0].weight.std().item() == pytest.approx(0.02, rel=0.05) and layer[1].weight.mean().item() == pytest.approx(1, abs=0.01)
    initialize(layer, "xavier")
    assert layer[0].weight.std().item() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.05)
    assert torch.all(layer[1].weight == 1)
    initialize(layer, "kaiming")
    assert layer[0].weight.std().item() == pytest.approx(math.sqrt(2 / (1 + 0.2**2) / fan_in), rel=0.05)
    initialize(layer, "orthogonal")
    flat = layer[0].weight.flatten(1)
    torch.testing.assert_close(flat @ flat.T, torch.eye(128), atol=1e-4, rtol=0)
    before = layer[0].weight.clone()
    initialize(layer, "default")
    assert torch.equal(layer[0].weight, before)  # untouched: PyTorch's own initialization stays
    assert torch.all(layer[0].bias == 0)


@pytest.mark.parametrize(("norm", "kind"), [("batch", nn.BatchNorm2d), ("instance", nn.InstanceNorm2d), ("layer", nn.GroupNorm), ("none", None)])
def test_norm_choices(norm, kind):
    params = ModelParams(generator_norm=norm, discriminator_norm=norm, **SMALL)
    for network in (build_generator(params, channels=1, image_size=32), build_discriminator(params, channels=1, image_size=32)):
        norms = [m for m in network.modules() if isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm))]
        assert all(isinstance(m, kind) for m in norms) and (bool(norms) == (kind is not None))
    if norm == "none":  # without a norm the convolutions need their bias back
        assert any(m.bias is not None for m in build_discriminator(params, channels=1, image_size=32).modules() if isinstance(m, nn.Conv2d))


def test_instance_norm_is_refused_for_the_mlp():
    with pytest.raises(ParamsError, match="model.generator_norm = 'instance'.*mlp"):
        validate_params({"model": {"architecture": "mlp", "generator_norm": "instance"}})


@pytest.mark.parametrize(("name", "kind"), [("relu", nn.ReLU), ("leaky_relu", nn.LeakyReLU), ("elu", nn.ELU), ("gelu", nn.GELU), ("silu", nn.SiLU)])
def test_activation_choices(name, kind):
    params = ModelParams(generator_activation=name, discriminator_activation=name, leaky_slope=0.1, **SMALL)
    for network in (build_generator(params, channels=1, image_size=16), build_discriminator(params, channels=1, image_size=16)):
        activations = [m for m in network.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU))]
        assert activations and all(type(m) is kind for m in activations)
        if kind is nn.LeakyReLU:
            assert all(m.negative_slope == 0.1 for m in activations)


LOG3 = math.log(3.0)


@pytest.mark.parametrize(
    ("objective", "real", "fake", "d_expected", "g_expected"),
    [
        ("hinge", [0.5], [-0.25], 0.5 + 0.75, 0.25),
        ("hinge", [2.0], [-3.0], 0.0, 3.0),
        ("least_squares", [0.5], [0.25], 0.5 * (0.25 + 0.0625), 0.5 * 0.5625),
        ("wasserstein", [2.0, 4.0], [1.0, -1.0], 0.0 - 3.0, 0.0),
    ],
)
def test_objectives_by_hand(objective, real, fake, d_expected, g_expected):
    real, fake = torch.tensor(real), torch.tensor(fake)
    assert discriminator_loss(real, fake, objective).item() == pytest.approx(d_expected)
    assert generator_loss(fake, objective).item() == pytest.approx(g_expected)


def test_one_sided_label_smoothing_by_hand():
    # real target 0.9 at D = 0.75: -(0.9 log 0.75 + 0.1 log 0.25); fake at D = 0.5: -log 0.5
    expected = -(0.9 * math.log(0.75) + 0.1 * math.log(0.25)) - math.log(0.5)
    assert discriminator_loss(torch.tensor([LOG3]), torch.tensor([0.0]), "non_saturating", real_label=0.9).item() == pytest.approx(expected)


class Linear(nn.Module):
    """D(x) = w . x: its gradient is w everywhere."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, images):
        return images.flatten(1) @ self.weight


def test_gradient_penalties_on_a_linear_critic():
    weight = torch.tensor([3.0, 4.0, 0.0, 0.0])  # |w| = 5
    critic = Linear(weight)
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    assert gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0)).item() == pytest.approx((5 - 1) ** 2)
    real.requires_grad_(True)
    assert gradient_norm_penalty(critic(real), real).item() == pytest.approx(25.0)


def gan_for(train_params: TrainParams, **model):
    params = ModelParams(**{**SMALL, **model})
    return make_gan(build_generator(params, channels=1, image_size=16), build_discriminator(params, channels=1, image_size=16), train_params)


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("loss", ["non_saturating", "minimax", "hinge", "least_squares", "wasserstein"])
def test_every_objective_trains_both_networks(loss):
    params = TrainParams(batch_size=8, loss=loss, r1_gamma=1.0 if loss == "hinge" else 0.0)
    gan = gan_for(params)
    before_g, before_d = snapshot(gan.generator), snapshot(gan.discriminator)
    train_iteration(gan, [torch.rand(8, 1, 16, 16) * 2 - 1], params, torch.Generator().manual_seed(0), EpochStats())
    assert any(not torch.equal(a, b) for a, b in zip(before_g, gan.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, gan.discriminator.parameters()))


def test_discriminator_is_skipped_while_its_loss_is_below_the_threshold():
    images = torch.rand(8, 1, 16, 16) * 2 - 1
    always = TrainParams(batch_size=8, discriminator_steps=3, discriminator_skip_below=1e6)
    gan = gan_for(always)
    before = snapshot(gan.discriminator)
    stats = EpochStats()
    train_iteration(gan, [images] * 3, always, torch.Generator().manual_seed(0), stats)
    assert stats.discriminator_skipped == 3 and stats.discriminator_updates == 0 and stats.discriminator_loss > 0
    assert all(torch.equal(a, b) for a, b in zip(before, gan.discriminator.parameters()))
    never = TrainParams(batch_size=8, discriminator_steps=3, discriminator_skip_below=0.0)
    stats = EpochStats()
    train_iteration(gan_for(never), [images] * 3, never, torch.Generator().manual_seed(0), stats)
    assert stats.discriminator_skipped == 0 and stats.discriminator_updates == 3


def test_instance_noise_has_the_asked_std_and_anneals_to_zero(monkeypatch):
    noisy = with_instance_noise(torch.zeros(20000), 0.3, torch.Generator().manual_seed(0))
    assert noisy.std().item() == pytest.approx(0.3, rel=0.03)
    assert torch.equal(with_instance_noise(torch.ones(3), 0.0, torch.Generator()), torch.ones(3))
    seen = []
    monkeypatch.setattr(training, "train_iteration", lambda gan, batches, params, rng, stats, noise_std, labels, iteration: seen.append(noise_std))
    params = TrainParams(batch_size=8, epochs=2, instance_noise=0.2)
    training.train(gan_for(params), torch.zeros(32, 1, 16, 16), params, torch.Generator(), progress=False)
    assert seen == pytest.approx([0.2 * (1 - i / 8) for i in range(8)])


def test_label_smoothing_only_with_cross_entropy():
    with pytest.raises(ParamsError, match="train.label_smoothing"):
        validate_params({"train": {"loss": "hinge", "label_smoothing": 0.1}})
    assert validate_params({"train": {"label_smoothing": 0.1}}).train.label_smoothing == 0.1


def test_replay_buffer_contents_and_mixing_ratio():
    from ganyard.replay import ReplayBuffer

    buffer = ReplayBuffer(size=10, fraction=0.25, rng=torch.Generator().manual_seed(0))
    batches = [torch.full((8, 1, 2, 2), float(step)) for step in range(4)]
    first = buffer.mix(batches[0])
    assert torch.equal(first, batches[0]) and buffer.count == 8  # nothing to replay yet
    second = buffer.mix(batches[1])
    values = second[:, 0, 0, 0]
    assert (values == 0).sum() == 2 and (values == 1).sum() == 6  # 25 % from the past, the rest current
    assert buffer.count == 10  # full: 8 + 2, the other 6 replaced random entries
    stored = buffer.images[:, 0, 0, 0]
    assert set(stored.tolist()) <= {0.0, 1.0} and (stored == 1).sum() >= 2
    for batch in batches[2:]:
        buffer.mix(batch)
    assert buffer.count == 10 and (buffer.images[:, 0, 0, 0] == 3).sum() > 0  # the newest images get in


def test_discriminator_sees_replayed_fakes(monkeypatch):
    params = TrainParams(batch_size=8, epochs=1, replay={"size": 64, "fraction": 0.5})
    gan = gan_for(params)
    training.train(gan, torch.rand(32, 1, 16, 16) * 2 - 1, params, torch.Generator().manual_seed(0), progress=False)
    assert gan.replay is not None and gan.replay.count == 32  # 4 iterations of 8 fakes each


def test_ema_generator_is_the_moving_average_and_is_used_for_sampling():
    params = TrainParams(batch_size=8, ema=0.5)
    gan = gan_for(params)
    assert gan.sampling_generator is gan.generator_ema.module
    images = torch.rand(8, 1, 16, 16) * 2 - 1
    rng = torch.Generator().manual_seed(0)
    train_iteration(gan, [images], params, rng, EpochStats())  # the first update copies the weights
    for averaged, current in zip(gan.generator_ema.module.parameters(), gan.generator.parameters()):
        torch.testing.assert_close(averaged, current.detach())
    before = [p.detach().clone() for p in gan.generator_ema.module.parameters()]
    train_iteration(gan, [images], params, rng, EpochStats())
    # Then ema = decay * ema + (1 - decay) * current after every generator update.
    for old, averaged, current in zip(before, gan.generator_ema.module.parameters(), gan.generator.parameters()):
        torch.testing.assert_close(averaged, 0.5 * old + 0.5 * current.detach())
        assert not torch.equal(averaged, current)
    without = gan_for(TrainParams(ema=None))
    assert without.sampling_generator is without.generator and without.generator_ema is None


def test_ema_decay_from_a_half_life_in_images_with_stylegan2s_ramp_up():
    fixed = TrainParams(batch_size=64)
    assert training.ema_decay(fixed, 0) == training.ema_decay(fixed, 10_000) == 0.995
    half_life = TrainParams(batch_size=64, ema=None, ema_half_life_images=20_000)
    assert training.ema_decay(half_life, 0) == training.ema_decay(half_life, 10_000) == 0.5 ** (64 / 20_000)
    # halving: after half_life / batch_size updates at that decay, the start's weight is one half
    assert training.ema_decay(half_life, 0) ** (20_000 / 64) == pytest.approx(0.5)
    ramped = TrainParams(batch_size=64, ema=None, ema_half_life_images=20_000, ema_rampup=0.05)
    assert training.ema_decay(ramped, 0) == 0.0  # StyleGAN2's first update: ema_nimg = 0 images seen x 0.05
    assert training.ema_decay(ramped, 1) == pytest.approx(0.5 ** (64 / 3.2))  # 64 images seen -> a half-life of 3.2
    assert training.ema_decay(ramped, 1000) == pytest.approx(0.5 ** (64 / 3200))
    assert training.ema_decay(ramped, 10_000) == training.ema_decay(half_life, 0)  # 640,000 x 0.05 > 20,000: the full half-life


def test_a_half_life_ema_averages_with_the_ramped_decay_of_each_update():
    params = TrainParams(batch_size=8, ema=None, ema_half_life_images=40, ema_rampup=0.5)
    gan = gan_for(params)
    assert gan.sampling_generator is gan.generator_ema.module
    images = torch.rand(8, 1, 16, 16) * 2 - 1
    rng = torch.Generator().manual_seed(0)
    expected = None
    for update in range(4):
        train_iteration(gan, [images], params, rng, EpochStats())
        current = [p.detach().clone() for p in gan.generator.parameters()]
        decay = training.ema_decay(params, update)  # 0, then 0.5 ** (8 / 4), 0.5 ** (8 / 8), 0.5 ** (8 / 12)
        expected = current if expected is None else [decay * old + (1 - decay) * new for old, new in zip(expected, current)]
        for averaged, value in zip(gan.generator_ema.module.parameters(), expected):
            torch.testing.assert_close(averaged, value)
    assert [training.ema_decay(params, update) for update in range(3)] == [0.0, 0.25, 0.5]
    assert not all(torch.equal(a, b) for a, b in zip(gan.generator_ema.module.parameters(), gan.generator.parameters()))


def test_ema_params_that_contradict_each_other_are_refused():
    with pytest.raises(ParamsError, match=r"train.ema = 0.995 with train.ema_half_life_images = 20000: both set"):
        validate_params({"train": {"ema_half_life_images": 20_000}})
    with pytest.raises(ParamsError, match=r"train.ema_rampup = 0.05 limits train.ema_half_life_images, which is null"):
        validate_params({"train": {"ema": None, "ema_rampup": 0.05}})
    params = validate_params({"train": {"ema": None, "ema_half_life_images": 20_000, "ema_rampup": 0.05}})
    assert (params.train.ema, params.train.ema_half_life_images, params.train.ema_rampup) == (None, 20_000, 0.05)


def test_wasserstein_penalty_with_a_batch_normalized_critic_is_refused():
    with pytest.raises(ParamsError, match="needs a critic without batch norm.*model.discriminator_norm"):
        validate_params({"train": {"loss": "wasserstein"}})
    assert validate_params({"train": {"loss": "wasserstein"}, "model": {"discriminator_norm": "layer"}}).train.loss == "wasserstein"
    assert validate_params({"train": {"loss": "wasserstein", "gradient_penalty": 0}}).train.gradient_penalty == 0


def test_minibatch_stddev_by_hand():
    from ganyard.models.blocks import MinibatchStdDev

    layer = MinibatchStdDev(group_size=2)
    x = torch.tensor([[0.0, 0.0], [10.0, 10.0], [2.0, 4.0], [10.0, 10.0]]).view(4, 2, 1, 1)
    out = layer(x)
    assert out.shape == (4, 3, 1, 1)
    # groups pair image m with image m + 2: (0,0)&(2,4) -> stds (1, 2), mean 1.5; (10,10)&(10,10) -> 0
    torch.testing.assert_close(out[:, 2, 0, 0], torch.tensor([1.5, 0.0, 1.5, 0.0]), atol=1e-3, rtol=0)
    torch.testing.assert_close(out[:, :2], x)
    assert MinibatchStdDev()(torch.randn(6, 5)).shape == (6, 6)  # vectors too; group shrinks to divide N


@pytest.mark.parametrize("architecture", ["dcgan", "mlp", "msg", "progressive", "stylegan2"])
def test_minibatch_stddev_group_reaches_every_discriminator(architecture):
    def stddev_groups(group: int) -> list[int]:
        params = ModelParams(architecture=architecture, minibatch_stddev=True, minibatch_stddev_group=group, **SMALL)
        discriminator = build_discriminator(params, channels=1, image_size=16)
        return [layer.group_size for layer in discriminator.modules() if isinstance(layer, MinibatchStdDev)]

    from ganyard.models.blocks import MinibatchStdDev

    assert stddev_groups(4) == [4] and stddev_groups(8) == [8]


def test_a_minibatch_stddev_group_that_does_not_divide_the_batch_is_refused():
    with pytest.raises(ParamsError, match=r"model.minibatch_stddev_group = 24 does not divide train.batch_size = 64"):
        validate_params({"model": {"minibatch_stddev": True, "minibatch_stddev_group": 24}})
    assert validate_params({"model": {"minibatch_stddev": True, "minibatch_stddev_group": 32}}).model.minibatch_stddev_group == 32
    assert validate_params({"model": {"minibatch_stddev_group": 24}}).model.minibatch_stddev_group == 24  # off: nothing to divide
    with pytest.raises(ParamsError, match="minibatch_stddev_group"):
        validate_params({"model": {"minibatch_stddev": True, "minibatch_stddev_group": 1}})


def test_minibatch_discrimination_measures_closeness_to_the_batch():
    from ganyard.models.blocks import MinibatchDiscrimination

    layer = MinibatchDiscrimination(in_features=3, kernels=4, kernel_dim=2)
    same = layer(torch.ones(5, 3))
    assert same.shape == (5, 7)
    torch.testing.assert_close(same[:, 3:], torch.full((5, 4), 4.0))  # 4 identical neighbours, exp(0) each
    spread = layer(torch.arange(5.0).view(5, 1).expand(5, 3) * 1000)
    assert spread[:, 3:].max() < 1e-3


@pytest.mark.parametrize("architecture", ["dcgan", "mlp"])
def test_discriminator_with_minibatch_layers(architecture):
    params = ModelParams(architecture=architecture, minibatch_stddev=True, minibatch_discrimination=8, minibatch_kernel_dim=3, **SMALL)
    discriminator = build_discriminator(params, channels=1, image_size=16)
    images = torch.randn(6, 1, 16, 16, requires_grad=True)
    logits = discriminator(images)
    assert logits.shape == (6,)
    logits.sum().backward()
    layer = next(m for m in discriminator.modules() if type(m).__name__ == "MinibatchDiscrimination")
    assert layer.projection.grad is not None and layer.projection.grad.abs().sum() > 0


def test_augmentations_keep_shape_range_semantics_and_are_seeded():
    from ganyard.augment import color, cutout, diff_augment, translation

    images = torch.rand(16, 3, 16, 16) * 2 - 1
    rng = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(diff_augment(images, rng()), diff_augment(images, rng()))
    shifted = translation(images, rng())
    assert shifted.shape == images.shape and (shifted == 0).any()  # zero fill where content moved away
    holes = cutout(torch.ones(4, 1, 8, 8), rng())
    assert torch.all((holes == 0).flatten(1).sum(1) <= 16) and (holes == 0).any()  # at most a 4x4 square each
    assert torch.equal(translation(images, rng(), mask=torch.zeros(16, dtype=torch.bool)), images)
    assert torch.equal(diff_augment(images, rng(), probability=0.0), images)
    brightened = color(torch.zeros(8, 1, 4, 4), rng())
    assert brightened.abs().max() <= 0.5 + 1e-6  # brightness within +-0.5, contrast keeps a flat image flat
    images.requires_grad_(True)
    diff_augment(images, rng()).sum().backward()  # differentiable: G's gradient flows through
    assert images.grad is not None


def test_ada_probability_follows_the_sign_of_real_logits():
    from ganyard.augment import AdaptiveAugment

    ada = AdaptiveAugment(target=0.6, speed_images=100, interval=4)
    for _ in range(8):  # D says "real" with confidence on every real image: overfitting
        ada.observe(torch.ones(10))
        ada.step()
    assert ada.probability == pytest.approx(2 * 40 / 100) and ada.last_overfitting == 1.0
    for _ in range(4):  # now r = 0 < 0.6: p goes back down
        ada.observe(torch.tensor([1.0, -1.0] * 5))
        ada.step()
    assert ada.probability == pytest.approx(0.4)


@pytest.mark.parametrize("augment", ["diffaugment", "ada"])
def test_training_with_augmentation_runs_and_logs_p(augment):
    params = TrainParams(batch_size=8, epochs=2, augment=augment, ada_images=64)
    gan = gan_for(params)
    history = training.train(gan, torch.rand(32, 1, 16, 16) * 2 - 1, params, torch.Generator().manual_seed(0), progress=False)
    if augment == "ada":
        assert gan.ada is not None and history[-1].augment_probability == gan.ada.probability
    else:
        assert gan.ada is None and history[-1].augment_probability == 0.0


@pytest.mark.parametrize("architecture", ["dcgan", "mlp"])
def test_conditional_networks_use_the_class(architecture):
    params = ModelParams(architecture=architecture, conditional=True, **SMALL)
    generator, discriminator = (
        build_generator(params, channels=1, image_size=16, classes=10).eval(),
        build_discriminator(params, channels=1, image_size=16, classes=10),
    )
    z = torch.randn(1, 8).repeat(2, 1)
    images = generator(z, torch.tensor([3, 7]))
    assert images.shape == (2, 1, 16, 16) and not torch.equal(images[0], images[1])  # same z, other class
    with torch.no_grad():
        # Give the class embedding weight so the projection matters, then compare two labels on one image.
        next(m for m in discriminator.modules() if isinstance(m, nn.Embedding)).weight.normal_()
        logits = discriminator(images[:1].repeat(2, 1, 1, 1), torch.tensor([3, 7]))
    assert logits.shape == (2,) and logits[0] != logits[1]
    with pytest.raises(ValueError, match="class-conditional: pass the class labels"):
        generator(z)
    unconditional = build_generator(ModelParams(architecture=architecture, **SMALL), channels=1, image_size=16, classes=10)
    assert getattr(unconditional, "classes", 0) == 0  # classes are ignored unless model.conditional


def test_conditional_training_feeds_labels_to_both_networks(monkeypatch):
    params = TrainParams(batch_size=8, epochs=1)
    model = ModelParams(conditional=True, **SMALL)
    gan = make_gan(build_generator(model, channels=1, image_size=16, classes=10), build_discriminator(model, channels=1, image_size=16, classes=10), params)
    seen = []
    original = gan.discriminator.forward
    monkeypatch.setattr(gan.discriminator, "forward", lambda images, labels=None: seen.append(labels) or original(images, labels))
    labels = torch.arange(16) % 10
    training.train(gan, torch.rand(16, 1, 16, 16) * 2 - 1, params, torch.Generator().manual_seed(0), progress=False, labels=labels)
    assert seen and all(entry is not None and entry.shape == (8,) for entry in seen)
    with pytest.raises(ValueError, match="needs the class labels"):
        training.train(gan, torch.rand(16, 1, 16, 16), params, torch.Generator(), progress=False)
    images = sampling.generate(gan.generator, torch.randn(4, 8), torch.tensor([0, 1, 2, 3]))
    assert images.shape == (4, 1, 16, 16)


def test_conditional_with_replay_is_refused():
    with pytest.raises(ParamsError, match="model.conditional = true with train.replay.size"):
        validate_params({"model": {"conditional": True}, "train": {"replay": {"size": 100}}})
