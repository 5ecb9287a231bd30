import pytest
import torch

from ganyard.distributed import Processes
from ganyard.io import save_torch
from ganyard.losses import gradient_norm_penalty
from ganyard.models import build_discriminator, build_generator, generator_config, generator_from_config
from ganyard.models.evaluator import EvaluatorCNN, load_evaluator
from ganyard.models.modulated import ModulatedConv2d
from ganyard.models.stylegan2 import StyleGAN2Generator, channels_at
from ganyard.params import ModelParams, ParamsError, validate_params
from ganyard.sampling import generate
from ganyard.training_log import TrainingLog
from ganyard.training_run import TrainingRun

SMALL = {"architecture": "stylegan2", "latent_dim": 16, "generator_width": 4, "discriminator_width": 4}


@pytest.mark.parametrize("image_size", [16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_size(image_size, channels):
    torch.manual_seed(0)
    params = ModelParams(**SMALL, minibatch_stddev=True)
    generator = build_generator(params, channels=channels, image_size=image_size)
    discriminator = build_discriminator(params, channels=channels, image_size=image_size)
    images = generator(torch.randn(4, 16))
    assert images.shape == (4, channels, image_size, image_size)
    assert discriminator(images).shape == (4,)
    # Two convolutions per block after the first (one at 4x4), and a toRGB per block.
    blocks = image_size.bit_length() - 2  # 4x4, 8x8, ..., image_size
    assert sum(isinstance(m, ModulatedConv2d) for m in generator.modules()) == (1 + 2 * (blocks - 1)) + blocks


def test_channels_double_toward_4x4_up_to_eight_times_the_width():
    assert [channels_at(size, 32, 32) for size in (4, 8, 16, 32)] == [256, 128, 64, 32]
    assert [channels_at(size, 128, 4) for size in (4, 8, 16, 32, 64, 128)] == [32, 32, 32, 16, 8, 4]


def test_conditional_generator_and_discriminator_take_classes():
    params = ModelParams(**SMALL, conditional=True)
    generator = build_generator(params, channels=1, image_size=16, classes=10).eval()
    discriminator = build_discriminator(params, channels=1, image_size=16, classes=10)
    z, labels = torch.randn(6, 16), torch.arange(6)
    images = generator(z, labels)
    assert not torch.equal(images, generator(z, (labels + 1) % 10))  # the class changes the image
    assert discriminator(images, labels).shape == (6,)
    with pytest.raises(ValueError, match="class labels"):
        generator(z)


def test_eval_mode_is_a_function_of_the_inputs_and_rebuilds_from_its_config():
    torch.manual_seed(0)
    params = ModelParams(**SMALL)
    generator = build_generator(params, channels=1, image_size=16)
    with torch.no_grad():
        for module in generator.modules():
            if hasattr(module, "strength"):
                module.strength.fill_(1.0)  # noise inputs on, as after training
    z = torch.randn(3, 16)
    generator.train()
    assert not torch.equal(generator(z), generator(z))  # fresh noise in training
    generator.eval()
    assert torch.equal(generator(z), generator(z))  # the fixed noise maps
    rebuilt = generator_from_config(generator_config(params, channels=1, image_size=16)).eval()
    rebuilt.load_state_dict(generator.state_dict())
    assert torch.equal(rebuilt(z), generator(z))


def test_style_mixing_takes_a_second_z_from_a_random_layer_on_in_training_only():
    torch.manual_seed(0)
    generator = StyleGAN2Generator(latent_dim=8, width=4, channels=1, image_size=16, style_mixing=1.0)
    z = torch.randn(5, 8)
    styles = generator.layer_styles(z, None)  # training mode: always mixed at probability 1
    same_as_first = [torch.equal(styles[:, layer], styles[:, 0]) for layer in range(generator.styles)]
    cutoff = same_as_first.index(False)
    assert 1 <= cutoff < generator.styles and not any(same_as_first[cutoff:])
    assert all(torch.equal(styles[:, layer], styles[:, cutoff]) for layer in range(cutoff, generator.styles))
    generator.eval()
    unmixed = generator.layer_styles(z, None)
    assert all(torch.equal(unmixed[:, layer], unmixed[:, 0]) for layer in range(generator.styles))
    assert torch.equal(unmixed[:, 0], styles[:, 0])


@pytest.mark.parametrize("block", ["orig", "resnet"])
def test_gradient_norm_penalty_reaches_every_discriminator_weight(block):
    torch.manual_seed(0)
    discriminator = build_discriminator(ModelParams(**SMALL, discriminator_block=block, minibatch_stddev=True), channels=1, image_size=16)
    real = torch.randn(4, 1, 16, 16, requires_grad=True)
    penalty = gradient_norm_penalty(discriminator(real), real)
    penalty.backward()
    assert penalty.item() > 0
    weights = {name: parameter for name, parameter in discriminator.named_parameters() if name.endswith("weight")}
    assert weights and all(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in weights.values())


def test_choices_stylegan2_cannot_take_are_refused():
    for extra in ({"spectral_norm": "discriminator"}, {"minibatch_discrimination": 4}):
        with pytest.raises(ParamsError, match="stylegan2"):
            validate_params({"model": {**SMALL, **extra}})


def test_generate_clamps_the_unbounded_output_to_the_picture_range():
    torch.manual_seed(0)
    generator = build_generator(ModelParams(**SMALL), channels=1, image_size=16)
    z = torch.randn(32, 16)
    with torch.no_grad():
        raw = generator.eval()(z)
    assert raw.abs().max() > 1  # the skip generator's summed toRGB outputs are not bounded
    images = generate(generator, z)
    assert images.min() >= -1 and images.max() <= 1
    assert torch.equal(images, raw.clamp(-1, 1))


def test_the_quick_fid_evaluator_does_not_change_the_stylegan2_generator(tmp_path):
    # StyleGAN2's noise inputs draw from torch's global generator in training. Building the quick FID's evaluator
    # (default init of its layers, then the saved weights) drew from it too, as many numbers as the evaluator's
    # shape has weights: two runs that differed only in the evaluator (4 rotation classes or 24 rotation and
    # channel-order classes) trained different generators. A DCGAN draws nothing from it and was unaffected.
    data = tmp_path / "train.pt"
    save_torch({"images": torch.rand(32, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1, "labels": None, "class_names": []}, data)
    evaluators = []
    for classes, task in ((4, "rotation"), (24, "rotation_colour")):
        evaluator = EvaluatorCNN(3, classes, width=4, feature_dim=8, task=task)
        evaluators.append(save_torch({"config": evaluator.config, "state_dict": evaluator.state_dict()}, tmp_path / f"evaluator{classes}.pt"))

    torch.manual_seed(0)
    before = torch.get_rng_state()
    load_evaluator(evaluators[1])
    assert torch.equal(torch.get_rng_state(), before)  # loading draws nothing

    train = {"epochs": 1, "batch_size": 16, "eval_every": 1, "eval_samples": 16, "preview_images": 4, "r1_gamma": 1.0, "r1_interval": 1, "ema": None}
    params = validate_params({"model": SMALL, "train": train, "data": {"image_size": 16}, "sample": {"checkpoint": "last"}})
    generators = []
    for index, evaluator in enumerate(evaluators):
        run = TrainingRun(params, torch.device("cpu"), Processes(), data, evaluator, tmp_path / f"last{index}.pt", tmp_path / f"aside{index}")
        with TrainingLog(tmp_path / f"staging{index}", tmp_path / f"metrics{index}") as log:
            run.train(log)
        assert "fid" in run.state.records[0]["metrics"]  # the evaluator was used
        generators.append(run.generators()[0]["state_dict"])
    assert all(torch.equal(generators[0][key], generators[1][key]) for key in generators[0])
