import pytest
import torch

from ganyard.distributed import Processes
from ganyard.io import ArtifactError, save_torch
from ganyard.models import build_discriminator, build_generator, generator_config, generator_from_config
from ganyard.models.progressive import Growth, GrowthSchedule, downsample, fade, fade_reals, upsample
from ganyard.params import ModelParams, ParamsError, TrainParams, validate_params
from ganyard.runs import BestGenerator, RunState
from ganyard.training import EpochStats, make_gan, train_iteration
from ganyard.training_log import TrainingLog
from ganyard.training_run import TrainingRun

SMALL = {"architecture": "progressive", "latent_dim": 16, "generator_width": 4, "discriminator_width": 4}


def networks(image_size: int = 16, channels: int = 1, **extra):
    torch.manual_seed(0)
    params = ModelParams(**SMALL, **extra)
    return build_generator(params, channels=channels, image_size=image_size), build_discriminator(params, channels=channels, image_size=image_size)


def at(growth: Growth, *modules):
    for module in modules:
        module.grow_to(growth)
    return modules[0] if len(modules) == 1 else modules


@pytest.mark.parametrize("image_size", [16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_size_and_stage_are_full_size(image_size, channels):
    generator, discriminator = networks(image_size, channels, minibatch_stddev=True)
    stages = [Growth(4), Growth(8, 0.5), Growth(image_size // 2), Growth(image_size, 0.25), Growth(image_size)]
    for stage in stages:
        images = at(stage, generator, discriminator)[0](torch.randn(4, 16))
        assert images.shape == (4, channels, image_size, image_size), stage
        assert discriminator(images).shape == (4,), stage
    # one toRGB and one fromRGB per resolution, 4 ... image_size
    assert len(generator.to_rgb) == len(discriminator.from_rgb) == image_size.bit_length() - 2


def test_a_generator_below_full_size_draws_blocks_of_equal_pixels():
    generator = at(Growth(4), networks(16)[0])
    images = generator(torch.randn(2, 16))
    assert torch.equal(images, upsample(images[:, :, ::4, ::4], 2))  # a 4x4 image, each pixel a 4x4 block


def test_the_schedule_grows_stable_then_fade_then_stable_up_to_the_image_size():
    schedule = GrowthSchedule(32, stable_images=100, fade_images=50)
    expected = {
        0: Growth(4),
        99: Growth(4),
        100: Growth(8, 0.0),  # a fade starts: the new block at alpha 0
        125: Growth(8, 0.5),  # mid-fade
        149: Growth(8, 49 / 50),
        150: Growth(8),
        250: Growth(16, 0.0),
        275: Growth(16, 0.5),
        400: Growth(32, 0.0),
        449: Growth(32, 49 / 50),
        450: Growth(32),
        10**9: Growth(32),  # full size to the end
    }
    assert {images: schedule.at(images) for images in expected} == expected
    assert schedule.grown_after == 450
    abrupt, fading = GrowthSchedule(16, stable_images=10, fade_images=0), GrowthSchedule(16, stable_images=0, fade_images=10)
    assert [abrupt.at(images) for images in (9, 10, 20)] == [Growth(4), Growth(8), Growth(16)]
    assert [fading.at(images) for images in (0, 5, 10, 15, 20)] == [Growth(8, 0.0), Growth(8, 0.5), Growth(16, 0.0), Growth(16, 0.5), Growth(16)]
    # Adam is reset where these change: when a fade starts and when it ends
    assert [Growth(4).levels, Growth(8, 0.0).levels, Growth(8, 0.7).levels, Growth(8).levels] == [(4, 4), (4, 8), (4, 8), (8, 8)]


@pytest.mark.parametrize("resolution", [8, 16])
def test_the_generator_fades_linearly_from_the_previous_level_to_the_new_block(resolution):
    generator = networks(16)[0].eval()
    z = torch.randn(5, 16)
    previous, new = at(Growth(resolution // 2), generator)(z), at(Growth(resolution), generator)(z)
    assert not torch.equal(previous, new)
    assert torch.equal(at(Growth(resolution, 0.0), generator)(z), previous)  # alpha 0: the new block contributes nothing
    assert torch.equal(at(Growth(resolution, 0.25), generator)(z), torch.lerp(previous, new, 0.25))
    with torch.no_grad():
        generator.to_rgb[resolution.bit_length() - 4].weight.add_(1.0)  # the previous level's toRGB
    assert torch.equal(at(Growth(resolution, 1.0), generator)(z), new)  # alpha 1: only the new toRGB path
    assert not torch.equal(at(Growth(resolution, 0.0), generator)(z), previous)


@pytest.mark.parametrize("resolution", [8, 16])
def test_the_discriminator_fades_from_the_previous_level_to_the_new_block(resolution):
    discriminator = networks(16, minibatch_stddev=True)[1]
    images = torch.randn(6, 1, 16, 16)
    previous, new = at(Growth(resolution // 2), discriminator)(images), at(Growth(resolution), discriminator)(images)
    assert not torch.equal(previous, new)
    assert torch.equal(at(Growth(resolution, 0.0), discriminator)(images), previous)
    halfway = at(Growth(resolution, 0.5), discriminator)(images)
    assert not torch.equal(halfway, previous) and not torch.equal(halfway, new)
    with torch.no_grad():
        discriminator.from_rgb[resolution.bit_length() - 4].weight.add_(1.0)
    assert torch.equal(at(Growth(resolution, 1.0), discriminator)(images), new)
    assert not torch.equal(at(Growth(resolution, 0.0), discriminator)(images), previous)


def test_pooling_gives_back_exactly_the_image_a_nearest_upsampling_came_from():
    small = torch.randn(3, 2, 4, 4)
    assert torch.equal(downsample(upsample(small, 3), 3), small)
    assert torch.equal(fade_reals(upsample(small, 3), Growth(4)), upsample(small, 3))  # reals already at the stage's resolution pass unchanged


def test_reals_are_faded_as_by_hand():
    images = torch.randn(2, 1, 16, 16)

    def block_means(x, size):  # each size x size block replaced by its mean
        count, channels, height, width = x.shape
        means = x.reshape(count, channels, height // size, size, width // size, size).mean(dim=(3, 5), keepdim=True)
        return means.expand(-1, -1, -1, size, -1, size).reshape(x.shape)

    torch.testing.assert_close(fade_reals(images, Growth(8)), block_means(images, 2))
    torch.testing.assert_close(fade_reals(images, Growth(8, 0.25)), 0.75 * block_means(images, 4) + 0.25 * block_means(images, 2))
    torch.testing.assert_close(fade_reals(images, Growth(16, 0.5)), 0.5 * block_means(images, 2) + 0.5 * images)
    assert torch.equal(fade_reals(images, Growth(16)), images)


def test_adam_is_reset_when_a_fade_starts_and_when_it_ends():
    generator, discriminator = networks(16)
    params = TrainParams(batch_size=8, lr=0.003, growth={"stable_images": 16, "fade_images": 16})
    gan = make_gan(generator, discriminator, params)
    real, rng = torch.rand(8, 1, 16, 16) * 2 - 1, torch.Generator().manual_seed(0)
    optimizers = (gan.generator_optimizer, gan.discriminator_optimizer)

    def steps() -> set[int]:
        return {int(state["step"]) for optimizer in optimizers for state in optimizer.state.values()}

    def iterate(images_shown):
        gan.grow(images_shown)
        after_grow = steps()
        train_iteration(gan, [real], params, rng, EpochStats())
        return after_grow

    assert iterate(0) == set() and iterate(8) == {1}  # stable at 4x4: the state builds up
    assert iterate(16) == set()  # a fade starts (8x8, alpha 0): fresh state
    assert steps() == {1} and iterate(24) == {1}  # mid-fade: kept
    assert iterate(32) == set()  # the fade ends: fresh again
    assert [group["lr"] for optimizer in optimizers for group in optimizer.param_groups] == [0.003, 0.003]
    assert all(network.growth == Growth(8) for network in gan.growing_networks)  # G, D and the EMA copy
    assert gan.growth_stage() == {"resolution": 8, "alpha": 1.0}


def test_the_ema_copy_follows_the_stage_and_its_weights_are_averaged():
    params = TrainParams(batch_size=8, ema=0.5, growth={"stable_images": 8, "fade_images": 16})
    gan = make_gan(*networks(16), params)
    real, rng = torch.rand(8, 1, 16, 16) * 2 - 1, torch.Generator().manual_seed(0)
    for images_shown in (0, 8, 16):
        gan.grow(images_shown)
        train_iteration(gan, [real], params, rng, EpochStats())
    assert gan.sampling_generator.growth == gan.generator.growth == Growth(8, 0.5)
    assert not torch.equal(gan.sampling_generator.to_rgb[0].weight, gan.generator.to_rgb[0].weight)


def test_a_generator_rebuilt_from_its_config_and_saved_weights_draws_the_same_images_at_a_lower_level(tmp_path):
    params = ModelParams(**SMALL, conditional=True)
    generator = build_generator(params, channels=3, image_size=32, classes=10).eval()
    at(Growth(16, 0.375), generator)
    best = BestGenerator()
    best.offer(3, 1.0, generator)  # what models/generator_best.pt holds
    torch.save({"state_dict": best.state_dict}, tmp_path / "generator.pt")
    at(Growth(32), generator)  # training went on
    rebuilt = generator_from_config(generator_config(params, channels=3, image_size=32, classes=10)).eval()
    assert rebuilt.growth == Growth(4)
    rebuilt.load_state_dict(torch.load(tmp_path / "generator.pt", weights_only=True)["state_dict"])
    assert rebuilt.growth == Growth(16, 0.375)
    z, labels = torch.randn(4, 16), torch.arange(4)
    assert torch.equal(rebuilt(z, labels), at(Growth(16, 0.375), generator)(z, labels))


def test_conditional_networks_use_the_class():
    params = ModelParams(**SMALL, conditional=True, minibatch_stddev=True)
    generator = build_generator(params, channels=1, image_size=16, classes=10).eval()
    discriminator = build_discriminator(params, channels=1, image_size=16, classes=10)
    at(Growth(8, 0.5), generator, discriminator)
    z, labels = torch.randn(6, 16), torch.arange(6)
    images = generator(z, labels)
    assert not torch.equal(images, generator(z, (labels + 1) % 10))
    assert not torch.equal(discriminator(images, labels), discriminator(images, (labels + 1) % 10))
    with pytest.raises(ValueError, match="class labels"):
        generator(z)
    with pytest.raises(ValueError, match="class labels"):
        discriminator(images)


def test_a_checkpoint_whose_stage_disagrees_with_its_networks_is_refused(tmp_path):
    params = TrainParams(batch_size=8, growth={"stable_images": 8, "fade_images": 16})
    state = RunState({}, "fingerprint", make_gan(*networks(16), params), torch.Generator().manual_seed(0))
    state.gan.grow(16)
    checkpoint = state.checkpoint(1, complete=False)
    assert checkpoint["growth"] == {"resolution": 8, "alpha": 0.5}
    fresh = RunState({}, "fingerprint", make_gan(*networks(16), params), torch.Generator().manual_seed(0))
    fresh.restore(checkpoint)
    assert all(network.growth == Growth(8, 0.5) for network in fresh.gan.growing_networks)
    with pytest.raises(ArtifactError, match="growth stage"):
        fresh.restore({**checkpoint, "growth": {"resolution": 8, "alpha": 1.0}})


def test_a_stage_the_network_does_not_have_is_refused():
    generator = networks(16)[0]
    for stage in (Growth(32), Growth(12), Growth(8, 1.5), Growth(4, 0.5)):
        with pytest.raises(ValueError, match="no growth stage"):
            generator.grow_to(stage)


def test_choices_progressive_cannot_take_are_refused():
    for extra, key in (({"spectral_norm": "both"}, "model.spectral_norm"), ({"minibatch_discrimination": 4}, "model.minibatch_discrimination")):
        with pytest.raises(ParamsError, match=key) as refused:
            validate_params({"model": {**SMALL, **extra}})
        assert "progressive" in str(refused.value)
    with pytest.raises(ParamsError, match="train.growth.stable_images = 0 and train.growth.fade_images = 0"):
        validate_params({"model": SMALL, "train": {"growth": {"stable_images": 0, "fade_images": 0}}})
    validate_params({"train": {"growth": {"stable_images": 0, "fade_images": 0}}})  # dcgan does not grow: no opinion
    # The stage is set once per iteration: a phase shorter than one would skip a resolution (16 + 16 images at batch 64
    # go from 4x4 straight to 16x16).
    assert [GrowthSchedule(32, 16, 16).at(64 * k).resolution for k in range(3)] == [4, 16, 32]
    with pytest.raises(ParamsError, match=r"train.growth.fade_images = 16 is shorter than one iteration, .* = 128 real images"):
        validate_params({"model": SMALL, "train": {"discriminator_steps": 2, "growth": {"stable_images": 128, "fade_images": 16}}})
    with pytest.raises(ParamsError, match="train.growth.fade_images"):
        validate_params({"train": {"growth": {"fade_images": -1}}})
    assert validate_params({"model": SMALL, "train": {"growth": {"fade_images": 0}}}).train.growth.fade_images == 0


def test_a_training_run_logs_and_checkpoints_the_stage_of_each_epoch(tmp_path):
    data = tmp_path / "train.pt"
    save_torch({"images": torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1, "labels": None, "class_names": []}, data)
    train = {"epochs": 3, "batch_size": 16, "eval_every": 0, "checkpoint_every": 1, "preview_images": 4, "growth": {"stable_images": 32, "fade_images": 32}}
    params = validate_params({"model": SMALL, "train": train, "sample": {"checkpoint": "last"}})
    # eval_every 0: no quick FID, so the evaluator file is only fingerprinted; the data file stands in for it
    run = TrainingRun(params, torch.device("cpu"), Processes(), data=data, evaluator=data, checkpoint=tmp_path / "last.pt", set_aside=tmp_path / "aside")
    with TrainingLog(tmp_path / "staging", tmp_path / "metrics") as log:
        run.train(log)
    # 4 iterations an epoch; the stage of each epoch's last iteration (images 48, 112, 176): fading to 8x8, fading to 16x16, grown
    assert [(record["metrics"]["resolution"], record["metrics"]["alpha"]) for record in run.state.records] == [(8, 0.5), (16, 0.5), (16, 1.0)]
    assert torch.load(tmp_path / "last.pt", weights_only=True)["growth"] == {"resolution": 16, "alpha": 0.5}  # epoch 2's checkpoint
    last, _ = run.generators()
    assert last["state_dict"]["_extra_state"].tolist() == [16.0, 1.0]  # models/generator.pt's generator is the grown one


@pytest.mark.parametrize("growth", [Growth(8, 0.5), Growth(16, 0.25)])
def test_a_fade_runs_under_bfloat16_autocast(growth):
    # train.amp runs the forward passes under autocast (CUDA); there F.interpolate stays float32 while the
    # convolutions give bfloat16, and torch.lerp refuses the mixed pair (an H200 run crashed at the first
    # fade). The CPU's autocast keeps interpolate in bfloat16, so the mixed pair is made here by hand.
    generator, discriminator = at(growth, *networks(16, minibatch_stddev=True))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        images = generator(torch.randn(4, 16))
        scores = discriminator(images)
    assert images.shape == (4, 1, 16, 16) and torch.isfinite(images.float()).all()
    assert scores.shape == (4,) and torch.isfinite(scores.float()).all()
    old, new = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8).bfloat16()
    assert fade(old, new, 0.25).dtype == torch.float32
    torch.testing.assert_close(fade(old, new, 0.25), torch.lerp(old, new.float(), 0.25))
    assert torch.equal(fade(new, old, 0.5), torch.lerp(new.float(), old, 0.5))
