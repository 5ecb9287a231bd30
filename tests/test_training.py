import copy
import math
import subprocess
import sys

import pytest
import torch

from ganyard import training
from ganyard.models import build_discriminator, build_generator
from ganyard.params import ModelParams, ParamsError, TrainParams, validate_params
from ganyard.training import (
    EpochStats,
    discriminator_update,
    generator_update,
    iterations_per_epoch,
    make_gan,
    train,
    train_iteration,
)

MODEL = ModelParams(architecture="dcgan", latent_dim=8, generator_width=4, discriminator_width=4)


def small_gan(train_params: TrainParams, architecture: str = "dcgan"):
    model = MODEL.model_copy(update={"architecture": architecture})
    return make_gan(build_generator(model, channels=1, image_size=16), build_discriminator(model, channels=1, image_size=16), train_params)


def fake_data(count: int = 64) -> torch.Tensor:
    return torch.rand(count, 1, 16, 16, generator=torch.Generator().manual_seed(7)) * 2 - 1


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in module.named_parameters()}


def changed(before: dict, module: torch.nn.Module) -> bool:
    return any(not torch.equal(before[name], value) for name, value in module.named_parameters())


def count_steps(optimizer: torch.optim.Optimizer) -> list[int]:
    calls = [0]
    original = optimizer.step

    def step(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    optimizer.step = step
    return calls


@pytest.mark.parametrize("architecture", ["dcgan", "mlp"])
def test_one_iteration_changes_both_networks(architecture):
    params = TrainParams(batch_size=8)
    gan = small_gan(params, architecture)
    generator_before, discriminator_before = snapshot(gan.generator), snapshot(gan.discriminator)
    train_iteration(gan, [fake_data(8)], params, torch.Generator().manual_seed(0), EpochStats())
    assert changed(generator_before, gan.generator)
    assert changed(discriminator_before, gan.discriminator)


@pytest.mark.parametrize(("discriminator_steps", "generator_steps"), [(1, 1), (3, 1), (2, 4)])
def test_iteration_makes_the_configured_numbers_of_updates(discriminator_steps, generator_steps):
    params = TrainParams(batch_size=8, discriminator_steps=discriminator_steps, generator_steps=generator_steps)
    gan = small_gan(params)
    discriminator_calls = count_steps(gan.discriminator_optimizer)
    generator_calls = count_steps(gan.generator_optimizer)
    batches = list(fake_data(8 * discriminator_steps).split(8))
    stats = EpochStats()
    train_iteration(gan, batches, params, torch.Generator().manual_seed(0), stats)
    assert discriminator_calls[0] == stats.discriminator_updates == discriminator_steps
    assert generator_calls[0] == stats.generator_updates == generator_steps


def test_generator_update_leaves_the_discriminator_weights_alone():
    params = TrainParams(batch_size=8)
    gan = small_gan(params)
    before = snapshot(gan.discriminator)
    generator_before = snapshot(gan.generator)
    generator_update(gan, 8, params, torch.Generator().manual_seed(0), EpochStats())
    assert not changed(before, gan.discriminator)
    assert changed(generator_before, gan.generator)
    assert all(p.grad is None for p in gan.discriminator.parameters())
    assert all(p.requires_grad for p in gan.discriminator.parameters())  # unfrozen again afterwards


def hand_written_iteration(generator, discriminator, real_batches, rng, generator_noise: str, lr: float = 2e-4):
    """One iteration written out: a discriminator update per real batch, then one generator update,
    on fresh noise (Algorithm 1) or on the last discriminator update's G(z) (pytorch/examples' dcgan/main.py)."""
    generator_optimizer = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    discriminator_optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    for real in real_batches:
        fake = generator(torch.randn(len(real), generator.latent_dim, generator=rng))
        discriminator_optimizer.zero_grad()
        discriminator_loss = torch.nn.functional.softplus(-discriminator(real)).mean() + torch.nn.functional.softplus(discriminator(fake.detach())).mean()
        discriminator_loss.backward()
        discriminator_optimizer.step()
    if generator_noise == "fresh":
        fake = generator(torch.randn(len(real_batches[0]), generator.latent_dim, generator=rng))
    generator_optimizer.zero_grad()
    torch.nn.functional.softplus(-discriminator(fake)).mean().backward()
    generator_optimizer.step()


@pytest.mark.parametrize("discriminator_steps", [1, 2])
@pytest.mark.parametrize("generator_noise", ["fresh", "reuse"])
def test_generator_noise_fresh_is_algorithm_1_and_reuse_is_dcgan_mains_step(generator_noise, discriminator_steps):
    # at the hand-written loop's settings: DCGAN's learning rate, no R1 penalty
    params = TrainParams(batch_size=8, generator_noise=generator_noise, discriminator_steps=discriminator_steps, lr=2e-4, r1_gamma=0.0)
    torch.manual_seed(0)
    gan = small_gan(params)
    by_hand = {mode: (copy.deepcopy(gan.generator), copy.deepcopy(gan.discriminator)) for mode in ("fresh", "reuse")}
    real_batches = list(fake_data(8 * discriminator_steps).split(8))
    train_iteration(gan, real_batches, params, torch.Generator().manual_seed(1), EpochStats())
    for mode, (generator, discriminator) in by_hand.items():
        hand_written_iteration(generator, discriminator, real_batches, torch.Generator().manual_seed(1), mode)
    ours = [*gan.generator.state_dict().values(), *gan.discriminator.state_dict().values()]
    for mode, (generator, discriminator) in by_hand.items():
        theirs = [*generator.state_dict().values(), *discriminator.state_dict().values()]
        same = all(torch.allclose(a.float(), b.float(), rtol=1e-5, atol=1e-6) for a, b in zip(ours, theirs))
        assert same == (mode == generator_noise), f"ganyard with generator_noise={generator_noise} vs the hand-written {mode} iteration"


def test_a_reused_conditional_generator_output_keeps_the_classes_it_was_drawn_for():
    """Reuse: the generator update judges G(z, y) with the y of the last real batch it was drawn for;
    fresh: with newly drawn classes."""
    model = MODEL.model_copy(update={"conditional": True})
    seen = {}
    for mode in ("fresh", "reuse"):
        params = TrainParams(batch_size=8, discriminator_steps=2, generator_noise=mode)
        gan = make_gan(build_generator(model, channels=1, image_size=16, classes=10), build_discriminator(model, channels=1, image_size=16, classes=10), params)
        calls = []
        gan.discriminator.register_forward_hook(lambda module, args, output: calls.append(args[1].clone()))  # noqa: B023 (this iteration's gan)
        label_batches = [torch.arange(8) % 10, (torch.arange(8) + 3) % 10]
        train_iteration(gan, list(fake_data(16).split(8)), params, torch.Generator().manual_seed(0), EpochStats(), label_batches=label_batches)
        assert len(calls) == 5  # two discriminator updates (reals, fakes), one generator update
        seen[mode] = calls[-1]
    assert torch.equal(seen["reuse"], label_batches[1])
    assert not torch.equal(seen["fresh"], label_batches[1])


def test_reused_generator_output_skips_one_generator_forward():
    calls = {}
    for mode in ("fresh", "reuse"):
        params = TrainParams(batch_size=8, discriminator_steps=2, generator_steps=2, generator_noise=mode)
        gan = small_gan(params)
        forwards = [0]
        gan.generator.register_forward_hook(lambda *_: forwards.__setitem__(0, forwards[0] + 1))  # noqa: B023 (this iteration's gan)
        train_iteration(gan, list(fake_data(16).split(8)), params, torch.Generator().manual_seed(0), EpochStats())
        calls[mode] = forwards[0]
    assert calls == {"fresh": 4, "reuse": 3}  # 2 for D, 2 for G; the first G update reuses the last D update's


def test_epoch_is_one_pass_of_the_reals_through_the_discriminator():
    assert iterations_per_epoch(4000, TrainParams(batch_size=64)) == 62
    assert iterations_per_epoch(4000, TrainParams(batch_size=64, discriminator_steps=5)) == 12
    with pytest.raises(ParamsError, match="train.batch_size"):
        iterations_per_epoch(100, TrainParams(batch_size=64, discriminator_steps=2))


def test_train_counts_updates_and_reports_every_epoch():
    params = TrainParams(batch_size=8, epochs=2, discriminator_steps=2, generator_steps=3)
    gan = small_gan(params)
    seen = []
    history = train(gan, fake_data(40), params, torch.Generator().manual_seed(0), on_epoch=lambda e, s: seen.append(e), progress=False)
    assert seen == [1, 2]
    # 40 images // (8 x 2) = 2 iterations per epoch
    assert [s.discriminator_updates for s in history] == [4, 4]
    assert [s.generator_updates for s in history] == [6, 6]
    for stats in history:
        assert 0 < stats.discriminator_on_real < 1 and 0 < stats.discriminator_on_fake < 1
        assert stats.discriminator_loss > 0


def test_same_seed_gives_bit_identical_weights_and_another_seed_does_not():
    params = TrainParams(batch_size=8, epochs=2)

    def run(seed: int):
        torch.manual_seed(seed)
        gan = small_gan(params)
        train(gan, fake_data(32), params, torch.Generator().manual_seed(seed), progress=False)
        return gan.generator.state_dict()

    first, second, other = run(1), run(1), run(2)
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)


def test_separate_learning_rates_reach_the_optimizers():
    params = TrainParams(lr=1e-3, lr_discriminator=4e-4, beta1=0.0, beta2=0.9)
    gan = small_gan(params)
    assert gan.generator_optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert gan.discriminator_optimizer.param_groups[0]["lr"] == pytest.approx(4e-4)
    assert gan.discriminator_optimizer.param_groups[0]["betas"] == (0.0, 0.9)


def test_gan_state_round_trips():
    params = TrainParams(batch_size=8)
    gan = small_gan(params)
    train_iteration(gan, [fake_data(8)], params, torch.Generator().manual_seed(0), EpochStats())
    copy_of_gan = small_gan(params)
    copy_of_gan.load_state_dict(copy.deepcopy(gan.state_dict()))
    for name, value in gan.generator.state_dict().items():
        assert torch.equal(value, copy_of_gan.generator.state_dict()[name])
    assert copy_of_gan.discriminator_optimizer.state_dict()["state"].keys() == gan.discriminator_optimizer.state_dict()["state"].keys()


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"ema": 0.9, "replay": {"size": 40, "fraction": 0.5}},
        {"ema": None, "ema_half_life_images": 200, "ema_rampup": 0.1},
        {"augment": "ada", "ada_images": 200, "instance_noise": 0.1},
        {"augment": "diffaugment", "discriminator_steps": 2},
        {"generator_noise": "reuse", "discriminator_steps": 2, "replay": {"size": 40, "fraction": 0.5}},
    ],
)
def test_resuming_from_a_mid_run_state_gives_the_uninterrupted_run_bit_for_bit(overrides):
    params = TrainParams.model_validate({"epochs": 4, "batch_size": 16, **overrides})
    torch.manual_seed(3)
    reference = small_gan(params)
    initial = copy.deepcopy(reference.state_dict())
    train(reference, fake_data(), params, torch.Generator().manual_seed(5), progress=False)

    torch.manual_seed(3)
    first = small_gan(params)
    rng = torch.Generator().manual_seed(5)
    saved = {}

    class Interrupted(Exception):
        pass

    def checkpoint_then_crash(epoch, stats):
        if epoch == 2:
            saved.update(copy.deepcopy({"gan": first.state_dict(), "rng": rng.get_state()}))
            raise Interrupted

    with pytest.raises(Interrupted):
        train(first, fake_data(), params, rng, on_epoch=checkpoint_then_crash, progress=False)
    assert not all(torch.equal(a, b) for a, b in zip(initial["generator"].values(), saved["gan"]["generator"].values()))

    torch.manual_seed(99)  # the resumed process builds its networks from another seed: only the checkpoint counts
    resumed = small_gan(params)
    resumed_rng = torch.Generator()
    resumed.load_state_dict(saved["gan"], resumed_rng)
    resumed_rng.set_state(saved["rng"])
    history = train(resumed, fake_data(), params, resumed_rng, progress=False, start_epoch=2)
    assert len(history) == 2
    for network in ("generator", "discriminator"):
        for (name, a), b in zip(getattr(reference, network).state_dict().items(), getattr(resumed, network).state_dict().values()):
            assert torch.equal(a, b), f"{network}.{name}"
    if reference.generator_ema is not None:
        assert all(torch.equal(a, b) for a, b in zip(reference.generator_ema.state_dict().values(), resumed.generator_ema.state_dict().values()))
    if params.augment == "ada":
        assert reference.ada.state_dict() == resumed.ada.state_dict() and reference.ada.probability > 0


def test_a_non_finite_loss_stops_training_within_one_iteration():
    from ganyard.training import DivergenceError

    params = TrainParams(epochs=3, batch_size=16)
    gan = small_gan(params)
    with torch.no_grad():
        next(gan.discriminator.parameters())[0].fill_(float("nan"))
    calls = count_steps(gan.discriminator_optimizer)
    with pytest.raises(DivergenceError) as caught:
        train(gan, fake_data(), params, torch.Generator().manual_seed(0), progress=False)
    assert (caught.value.epoch, caught.value.iteration) == (1, 1) and "discriminator loss" in str(caught.value)
    assert calls[0] == 1  # stopped after the first iteration


def test_a_non_finite_weight_is_named():
    gan = small_gan(TrainParams())
    assert gan.non_finite_weight() is None
    with torch.no_grad():
        dict(gan.generator.named_buffers())[next(name for name, _ in gan.generator.named_buffers() if "running_mean" in name)].fill_(float("inf"))
    assert gan.non_finite_weight().startswith("generator.") and "running_mean" in gan.non_finite_weight()


def test_denormals_are_flushed_inside_training_and_not_after():
    from ganyard.cpu import denormals_flushed

    denormals = torch.full((4_000_000,), 1e-40)  # large enough that every OpenMP thread takes a share
    assert int(((denormals * 1.0) != 0).sum()) == len(denormals)
    with denormals_flushed():
        assert int(((denormals * 1.0) != 0).sum()) == 0  # in every thread, not only the caller's
    assert int(((denormals * 1.0) != 0).sum()) == len(denormals)  # other code in the process keeps IEEE behaviour


def test_deterministic_algorithms_are_on_without_importing_the_compiler():
    # A fresh process: this one may have imported torch._inductor already.
    script = (
        "import sys, torch\n"
        "from ganyard.cpu import use_deterministic_algorithms\n"
        "assert not torch.are_deterministic_algorithms_enabled()\n"
        "use_deterministic_algorithms(warn_only=True)\n"
        "print(torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(), 'torch._inductor' in sys.modules)\n"
        "import torch._inductor.config as inductor_config\n"
        "use_deterministic_algorithms()\n"
        "print(torch.is_deterministic_algorithms_warn_only_enabled(), inductor_config.deterministic)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "True", "False", "False", "True"]


def test_lazy_r1_is_a_step_of_its_own_on_every_nth_discriminator_update(monkeypatch):
    steps = []
    monkeypatch.setattr(training, "lazy_regularization_step", lambda gan, real, fake, labels, params: steps.append(len(steps)))
    lazy = TrainParams(batch_size=8, r1_gamma=1.0, r1_interval=3)
    torch.manual_seed(0)
    gan, rng, stats = small_gan(lazy), torch.Generator().manual_seed(1), EpochStats()
    for iteration in range(7):  # updates 0 and 3 and 6 carry the penalty
        train_iteration(gan, [fake_data(8)], lazy, rng, stats, iteration=iteration)
    assert len(steps) == 3 and stats.discriminator_updates == 7
    steps.clear()
    for iteration in range(4):  # 2 discriminator steps an iteration: updates 0, 3 and 6 of 8
        train_iteration(gan, [fake_data(8)] * 2, lazy.model_copy(update={"discriminator_steps": 2}), rng, stats, iteration=iteration)
    assert len(steps) == 3


def r1_gradient(params: TrainParams) -> dict[str, torch.Tensor]:
    """D's gradient from the last backward pass of one discriminator update on a fixed batch and fixed
    weights (an SGD at lr 0 keeps them), with the draws of the same seeds every time."""
    torch.manual_seed(0)
    gan = small_gan(params)
    gan.discriminator_optimizer = torch.optim.SGD(gan.discriminator.parameters(), lr=0.0)
    discriminator_update(gan, fake_data(8), params, torch.Generator().manual_seed(1), EpochStats(), regularize=True)
    return {name: weight.grad.clone() for name, weight in gan.discriminator.named_parameters()}


def test_lazy_r1_every_k_updates_pulls_as_hard_as_r1_on_every_update():
    # The lazy step's gradient is k times R1's own, which at r1_interval 1 rides in the update's loss: the
    # same expected penalty gradient per discriminator update.
    every = TrainParams(batch_size=8, r1_gamma=2.0)
    r1_alone = {
        name: with_r1 - without
        for (name, with_r1), without in zip(r1_gradient(every).items(), r1_gradient(every.model_copy(update={"r1_gamma": 0.0})).values())
    }
    lazy = r1_gradient(every.model_copy(update={"r1_interval": 4}))
    assert any(float(gradient.abs().max()) > 1e-4 for gradient in r1_alone.values())
    for name, gradient in lazy.items():
        torch.testing.assert_close(gradient, 4 * r1_alone[name], rtol=1e-4, atol=1e-6)


def test_r2_penalizes_the_gradient_at_the_fakes_and_lazily_pulls_as_hard():
    every = TrainParams(batch_size=8, r1_gamma=0.0, r2_gamma=2.0)
    r2_alone = {
        name: with_r2 - without
        for (name, with_r2), without in zip(r1_gradient(every).items(), r1_gradient(every.model_copy(update={"r2_gamma": 0.0})).values())
    }
    assert any(float(gradient.abs().max()) > 1e-4 for gradient in r2_alone.values())
    lazy = r1_gradient(every.model_copy(update={"r1_interval": 4}))
    for name, gradient in lazy.items():
        torch.testing.assert_close(gradient, 4 * r2_alone[name], rtol=1e-4, atol=1e-6)
    # R1 and R2 at once, lazily: one step on the sum of both
    both = TrainParams(batch_size=8, r1_gamma=2.0, r2_gamma=2.0)
    r1_alone = {
        name: with_r1 - without for (name, with_r1), without in zip(r1_gradient(both).items(), r1_gradient(both.model_copy(update={"r1_gamma": 0.0})).values())
    }
    lazy_both = r1_gradient(both.model_copy(update={"r1_interval": 4}))
    for name, gradient in lazy_both.items():
        torch.testing.assert_close(gradient, 4 * (r1_alone[name] + r2_alone[name]), rtol=1e-4, atol=1e-6)


def test_lazy_r2_alone_rescales_adam_like_lazy_r1():
    assert training.lazy_r1_ratio(TrainParams(r1_gamma=0.0, r2_gamma=1.0, r1_interval=4)) == pytest.approx(0.8)
    assert training.lazy_r1_ratio(TrainParams(r1_gamma=0.0, r2_gamma=0.0, r1_interval=4)) == 1.0


def test_ada_with_the_relativistic_loss_is_refused():
    with pytest.raises(ParamsError, match="ADA steers by the sign of D's logits on reals, which the relativistic loss leaves unanchored"):
        validate_params({"train": {"loss": "relativistic", "augment": "ada"}})


def test_the_relativistic_loss_trains_and_its_generator_step_reads_the_reals(monkeypatch):
    seen = []
    original = training.generator_loss
    monkeypatch.setattr(training, "generator_loss", lambda fake, objective, real=None: seen.append(real) or original(fake, objective, real))
    params = TrainParams(epochs=2, batch_size=8, loss="relativistic", r1_gamma=1.0, r2_gamma=1.0)
    torch.manual_seed(0)
    gan = small_gan(params)
    history = train(gan, fake_data(32), params, torch.Generator().manual_seed(0), progress=False)
    assert all(real is not None and real.shape == (8,) for real in seen) and len(seen) == 8
    assert all(math.isfinite(stats.generator_loss) and math.isfinite(stats.discriminator_loss) for stats in history)


def test_lazy_r1_rescales_the_discriminators_adam_as_stylegan2_does():
    params = TrainParams(lr=2e-3, beta1=0.0, beta2=0.99, r1_gamma=1.0, r1_interval=16)
    gan = small_gan(params)
    (group,) = gan.discriminator_optimizer.param_groups
    assert group["lr"] == pytest.approx(2e-3 * 16 / 17) and group["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))
    assert gan.generator_optimizer.param_groups[0]["lr"] == 2e-3 and gan.generator_optimizer.param_groups[0]["betas"] == (0.0, 0.99)
    for not_lazy in ({"r1_interval": 1}, {"r1_gamma": 0.0}):
        (group,) = small_gan(params.model_copy(update=not_lazy)).discriminator_optimizer.param_groups
        assert group["lr"] == 2e-3 and group["betas"] == (0.0, 0.99)


def test_lazy_r1_with_skipping_the_discriminator_is_refused():
    with pytest.raises(ParamsError, match="train.r1_interval = 4 with train.discriminator_skip_below"):
        validate_params({"train": {"r1_interval": 4, "discriminator_skip_below": 0.3}})
    validate_params({"train": {"r1_interval": 1, "discriminator_skip_below": 0.3}})
