"""What users do with a trained generator: truncation, interpolation, class morphs, PNG export and `python -m ganyard.generate`."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats

from ganyard import generate as generate_cli
from ganyard.images import export_pngs, to_grid
from ganyard.interpolation import class_morphs, latent_walks, save_walk_gif, slerp
from ganyard.io import save_torch
from ganyard.metrics.backbones import extract
from ganyard.metrics.scores import fid_from_features
from ganyard.models import build_generator, generator_config
from ganyard.models.evaluator import EvaluatorCNN
from ganyard.params import ModelParams, ParamsError, validate_params
from ganyard.sampling import draw_noise, generate, sample_noise, truncated_noise

SMALL = {"latent_dim": 16, "generator_width": 4}


def small_generator(architecture: str = "dcgan", classes: int = 0, image_size: int = 16) -> torch.nn.Module:
    torch.manual_seed(0)
    params = ModelParams(architecture=architecture, conditional=bool(classes), **SMALL)
    return build_generator(params, channels=1, image_size=image_size, classes=classes).eval()


def generator_file(path, architecture: str = "dcgan", classes: int = 0) -> torch.nn.Module:
    generator = small_generator(architecture, classes)
    params = ModelParams(architecture=architecture, conditional=bool(classes), **SMALL)
    save_torch({"config": generator_config(params, channels=1, image_size=16, classes=classes), "state_dict": generator.state_dict(), "epoch": 3}, path)
    return generator


def read_pngs(folder) -> torch.Tensor:
    """The grey 8-bit PNG files of ``folder`` in name order as (N, 1, H, W) in [-1, 1], as ganyard takes images."""
    return torch.stack([torch.from_numpy(np.array(Image.open(path))).float().div(255).mul(2).sub(1)[None] for path in sorted(folder.iterdir())])


# --- truncation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.5, 1.0, 2.0])
def test_truncated_noise_is_the_truncated_normal(threshold):
    z = truncated_noise(4000, 25, torch.Generator().manual_seed(0), threshold)
    assert z.shape == (4000, 25) and z.dtype == torch.float32
    assert z.abs().max() <= threshold
    values = z.flatten().double().numpy()
    assert stats.kstest(values, stats.truncnorm(-threshold, threshold).cdf).pvalue > 0.01
    # not the normal scaled into the interval, whose spread is the normal's times threshold / max|z|
    assert stats.kstest(values, stats.norm(scale=threshold / 4).cdf).pvalue < 1e-6
    assert torch.equal(z, truncated_noise(4000, 25, torch.Generator().manual_seed(0), threshold))  # seeded


def test_truncated_noise_refuses_a_threshold_of_zero():
    with pytest.raises(ValueError, match="> 0"):
        truncated_noise(3, 4, torch.Generator(), 0.0)


def test_z_truncation_for_z_generators_and_none_for_stylegan2():
    rng = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    dcgan, stylegan2 = small_generator("dcgan"), small_generator("stylegan2")
    assert draw_noise(dcgan, 50, rng(), 0.7).abs().max() <= 0.7
    assert torch.equal(draw_noise(dcgan, 50, rng()), sample_noise(50, 16, rng()))  # no truncation: the plain draw, as before
    assert torch.equal(draw_noise(stylegan2, 50, rng(), 0.7), sample_noise(50, 16, rng()))  # stylegan2 truncates w instead


def test_stylegan2_truncation_moves_w_toward_the_mean():
    generator = small_generator("stylegan2")
    z = torch.randn(6, 16)
    w = generator.mapping(z)
    center = generator.mean_style()
    assert torch.allclose(generator.layer_styles(z, None, 0.5)[:, 0], center + 0.5 * (w - center), atol=1e-6)
    assert torch.equal(generate(generator, z, truncation=1.0), generate(generator, z))
    # psi -> 0: every z draws the image of the mean w
    spread = [generate(generator, z, truncation=psi).std(dim=0).mean().item() for psi in (1.0, 0.5, 0.01)]
    assert spread[0] > spread[1] > spread[2] and spread[2] < 0.02 * spread[0]


def test_truncation_params():
    assert validate_params({"sample": {"truncation": 0.7}}).sample.truncation == 0.7
    with pytest.raises(ParamsError, match="sample.truncation"):
        validate_params({"sample": {"truncation": 0}})
    with pytest.raises(ParamsError, match=r"psi.*\(0, 1\]"):
        validate_params({"model": {"architecture": "stylegan2"}, "sample": {"truncation": 1.5}})
    assert validate_params({"model": {"architecture": "dcgan"}, "sample": {"truncation": 1.5}}).sample.truncation == 1.5


# --- interpolation and class morphs -------------------------------------------------------------------------


def test_slerp_follows_the_great_circle():
    start, end = torch.randn(5, 32, dtype=torch.float64), torch.randn(5, 32, dtype=torch.float64)
    path = slerp(start, end, torch.linspace(0, 1, 9))
    assert path.shape == (5, 9, 32)
    assert torch.allclose(path[:, 0], start) and torch.allclose(path[:, -1], end)
    norms = path.norm(dim=2)
    assert torch.allclose(norms, torch.lerp(norms[:, :1], norms[:, -1:], torch.linspace(0, 1, 9, dtype=torch.float64)))  # norms: linear
    directions = path / norms.unsqueeze(2)
    steps = torch.arccos((directions[:, 1:] * directions[:, :-1]).sum(dim=2).clamp(-1, 1))
    assert torch.allclose(steps, steps[:, :1].expand_as(steps), atol=1e-9)  # equal angles: uniform speed along one arc
    total = torch.arccos((directions[:, 0] * directions[:, -1]).sum(dim=1))
    assert torch.allclose(steps.sum(dim=1), total)  # the short arc, not a detour
    assert torch.allclose(slerp(start, 3 * start, torch.tensor([0.5]))[:, 0], 2 * start)  # parallel: the straight line


def test_class_morph_goes_from_each_class_to_the_next():
    weights = class_morphs(4, 5).view(4, 5, 4)
    assert torch.allclose(weights.sum(dim=2), torch.ones(4, 5))
    for row in range(4):
        assert torch.equal(weights[row, 0], torch.eye(4)[row]) and torch.equal(weights[row, -1], torch.eye(4)[(row + 1) % 4])


@pytest.mark.parametrize("architecture", ["dcgan", "mlp", "msg", "progressive", "stylegan2"])
def test_one_hot_class_weights_draw_what_the_class_index_draws(architecture):
    generator = small_generator(architecture, classes=10)
    z, labels = torch.randn(4, 16), torch.tensor([0, 3, 9, 3])
    assert torch.allclose(generate(generator, z, labels), generate(generator, z, torch.eye(10)[labels]), atol=1e-6)
    halfway = generate(generator, z, 0.5 * torch.eye(10)[labels] + 0.5 * torch.eye(10)[(labels + 1) % 10])
    whole = generate(generator, z, labels)
    assert (halfway - whole).abs().max() > 0.01 * whole.abs().max()  # relative: an untrained DCGAN's images are near 0
    with pytest.raises(ValueError, match="10 classes"):
        generator(z, torch.ones(4, 3))


def test_latent_walks_end_at_their_drawn_points_and_the_gif_walks_there_and_back(tmp_path):
    generator = small_generator()
    walks = latent_walks(generator, rows=3, steps=6, rng=torch.Generator().manual_seed(2))
    ends = sample_noise(6, 16, torch.Generator().manual_seed(2))
    assert torch.allclose(walks.view(3, 6, 16)[:, 0], ends[:3], atol=1e-5) and torch.allclose(walks.view(3, 6, 16)[:, -1], ends[3:], atol=1e-5)
    images = generate(generator, walks)
    path = save_walk_gif(images, 3, tmp_path / "walk.gif")
    gif = Image.open(path)
    assert gif.n_frames == 6 + 4 and gif.info["loop"] == 0  # 0..5 then 4..1
    first = np.asarray(gif.convert("L"))
    gif.seek(5)
    assert not np.array_equal(first, np.asarray(gif.convert("L")))
    assert save_walk_gif(images, 3, tmp_path / "again.gif").read_bytes() == path.read_bytes()  # byte-stable


# --- PNG export ---------------------------------------------------------------------------------------------


def test_exported_pngs_give_torch_fidelitys_fid_the_same_as_ganyards_on_the_same_features(tmp_path):
    """torch-fidelity reads the exported folders as they are; with the evaluator as its feature extractor its FID is
    ganyard's FID of the same (8-bit) images."""
    import torch_fidelity
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    torch.manual_seed(0)
    evaluator = EvaluatorCNN(channels=1, classes=10, width=8, feature_dim=32).eval()

    class Evaluator(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)

        @staticmethod
        def get_provided_features_list():
            return ("features",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "features"

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return None

        def forward(self, images):  # uint8 (N, 3, H, W), grey repeated: ganyard's (N, 1, H, W) in [-1, 1]
            with torch.no_grad():
                return (evaluator.features_and_logits(images[:, :1].float() / 255 * 2 - 1)[0],)

    torch_fidelity.register_feature_extractor("ganyard-test-evaluator", Evaluator)
    generator = small_generator()
    fakes = generate(generator, sample_noise(300, 16, torch.Generator().manual_seed(0)))
    reals = torch.rand(300, 1, 16, 16) * 2 - 1
    export_pngs(fakes, tmp_path / "fakes")
    export_pngs(reals, tmp_path / "reals")
    assert sorted(path.name for path in (tmp_path / "fakes").iterdir())[:2] == ["000000.png", "000001.png"]
    metrics = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "fakes"), input2=str(tmp_path / "reals"), fid=True, feature_extractor="ganyard-test-evaluator",
        feature_layer_fid="features", cuda=False, verbose=False, save_cpu_ram=True,
    )  # fmt: skip

    ours = fid_from_features(
        extract(evaluator.features_and_logits, read_pngs(tmp_path / "fakes"), progress=False)[0],
        extract(evaluator.features_and_logits, read_pngs(tmp_path / "reals"), progress=False)[0],
    )
    assert metrics["frechet_inception_distance"] == pytest.approx(ours, rel=1e-4)
    assert (read_pngs(tmp_path / "fakes") - fakes).abs().max() <= 1 / 255 + 1e-6  # the files hold the samples to 8 bits


def test_export_replaces_the_folder_whole(tmp_path):
    export_pngs(torch.zeros(5, 1, 8, 8), tmp_path / "png")
    export_pngs(torch.zeros(2, 3, 8, 8), tmp_path / "png")
    assert sorted(path.name for path in (tmp_path / "png").iterdir()) == ["000000.png", "000001.png"]
    assert Image.open(tmp_path / "png" / "000001.png").mode == "RGB"
    assert not [path for path in tmp_path.iterdir() if path.name != "png"]  # no temporary folders left


# --- python -m ganyard.generate -----------------------------------------------------------------------------


def test_generate_writes_the_sample_stages_images(tmp_path, capsys):
    generator = generator_file(tmp_path / "generator.pt")
    assert (
        generate_cli.main(["--model", str(tmp_path / "generator.pt"), "--count", "7", "--out", str(tmp_path / "out"), "--grid", str(tmp_path / "g.png")]) == 0
    )
    files = sorted((tmp_path / "out").iterdir())
    assert [path.name for path in files] == [f"{index:06d}.png" for index in range(7)]
    expected = generate(generator, sample_noise(7, 16, torch.Generator().manual_seed(1234)))  # the default seed, the sample stage's
    read = read_pngs(tmp_path / "out")
    assert (read - expected).abs().max() <= 1 / 255 + 1e-6
    assert Image.open(tmp_path / "g.png").size == (3 * 18 + 2, 3 * 18 + 2)
    assert "wrote 7 images of [1, 16, 16]" in capsys.readouterr().out


def test_generate_draws_one_class_of_a_conditional_generator(tmp_path):
    generator = generator_file(tmp_path / "generator.pt", classes=10)
    assert generate_cli.main(["--model", str(tmp_path / "generator.pt"), "--count", "4", "--out", str(tmp_path / "out"), "--class", "7", "--seed", "5"]) == 0
    expected = generate(generator, sample_noise(4, 16, torch.Generator().manual_seed(5)), torch.full((4,), 7))
    read = read_pngs(tmp_path / "out")
    assert (read - expected).abs().max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--count", "0"], "--count 0: give at least 1 image"),
        (["--class", "3"], "--class 3: this generator is unconditional"),
        (["--truncation", "-1"], "--truncation -1.0: this generator takes a threshold > 0 on z"),
    ],
)
def test_generate_refuses_bad_arguments(tmp_path, capsys, arguments, message):
    generator_file(tmp_path / "generator.pt")
    with pytest.raises(SystemExit) as exit_info:
        code = generate_cli.main(["--model", str(tmp_path / "generator.pt"), "--count", "3", "--out", str(tmp_path / "out"), *arguments])
        raise SystemExit(code)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_generate_refuses_a_class_out_of_range_missing_and_foreign_files_and_a_full_folder(tmp_path, capsys):
    generator_file(tmp_path / "conditional.pt", classes=10)
    save_torch({"config": {"channels": 1, "classes": 10}, "state_dict": {}}, tmp_path / "evaluator.pt")
    (tmp_path / "params.yaml").write_text("seed: 0\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me")
    cases = [
        (["--model", str(tmp_path / "conditional.pt"), "--class", "10"], "--class 10 is out of range: this generator has classes 0 to 9"),
        (["--model", str(tmp_path / "missing.pt")], "no such file"),
        (["--model", str(tmp_path / "evaluator.pt")], "is not a ganyard generator file: it holds config, state_dict"),
        (["--model", str(tmp_path / "params.yaml")], "is not a ganyard generator file: torch cannot load it"),
    ]
    for arguments, message in cases:
        assert generate_cli.main([*arguments, "--count", "2", "--out", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        generate_cli.main(["--model", str(tmp_path / "conditional.pt"), "--count", "2", "--out", str(tmp_path / "full")])
    assert "is not empty" in capsys.readouterr().err
    assert [path.name for path in (tmp_path / "full").iterdir()] == ["mine.txt"]


@pytest.mark.parametrize(("count", "channels", "columns"), [(1, 1, None), (5, 1, None), (16, 3, None), (17, 1, 4), (7, 3, 10)])
def test_the_grid_is_torchvisions_make_grid_pixel_for_pixel(count, channels, columns):
    from torchvision.utils import make_grid

    images = torch.randn(count, channels, 6, 5, generator=torch.Generator().manual_seed(count)) * 1.5  # beyond [-1, 1] too
    reference = make_grid(images, nrow=columns or math.ceil(math.sqrt(count)), padding=2, normalize=True, value_range=(-1, 1), pad_value=1.0)
    expected = reference.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    drawn = np.asarray(to_grid(images, columns))
    assert np.array_equal(drawn, expected[:, :, 0] if channels == 1 else expected)
