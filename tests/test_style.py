import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganyard.io import ArtifactError, load_image
from ganyard.params import VGG19_LAYERS, ParamsError, StyleParams, validate_params
from ganyard.style import (
    JUDGE_SEED_OFFSET,
    MULTISCALE_LAYERS,
    FeatureExtractor,
    MultiscaleRandomFilters,
    coarse_to_fine_sizes,
    colour_distance,
    colour_histogram,
    colour_statistics,
    edge_similarity,
    gram_matrix,
    judge,
    load_vgg19_features,
    measure,
    preserve_colors,
    random_vgg19_features,
    recolour,
    resize_longer_side,
    samples_as_content,
    side_by_side,
    style_network,
    style_targets,
    stylize,
    to_png,
    total_variation,
    transfer,
    vgg19_features,
    weights_record,
)

LAYERS = ["relu1_1", "relu2_1", "relu3_1"]


def test_gram_matrix_by_hand():
    # Two channels over a 1x2 image: a = (1, 2), b = (3, 4); G = [[a.a, a.b], [b.a, b.b]] / (C H W = 4)
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4
    torch.testing.assert_close(gram_matrix(features), expected)


def test_total_variation_by_hand():
    image = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])  # vertical edge: horizontal diffs 1, vertical 0
    assert total_variation(image).item() == pytest.approx(1.0)
    assert total_variation(torch.full((1, 3, 4, 4), 0.3)).item() == 0.0


def test_vgg19_layers_name_torchvision_vgg19_modules_in_order():
    modules = list(vgg19_features())  # torchvision's own, as the test below shows
    kinds = {"conv": torch.nn.Conv2d, "relu": torch.nn.ReLU, "pool": torch.nn.MaxPool2d}
    assert len(VGG19_LAYERS) == len(modules) == 37
    assert all(isinstance(module, kinds[name[:4]]) for name, module in zip(VGG19_LAYERS, modules))
    assert VGG19_LAYERS[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert VGG19_LAYERS[22] == "relu4_2" and VGG19_LAYERS[-1] == "pool5"


def test_random_weights_are_seeded_and_keep_activations_alive():
    first, again, other = random_vgg19_features(3), random_vgg19_features(3), random_vgg19_features(4)
    assert torch.equal(first[0].weight, again[0].weight) and not torch.equal(first[0].weight, other[0].weight)
    extractor = FeatureExtractor(first, ["relu1_1", "relu5_1"])
    outputs = extractor(torch.rand(1, 3, 64, 64))
    # Fan-in scaling: deep activations neither vanish nor explode relative to shallow ones.
    ratio = outputs["relu5_1"].pow(2).mean() / outputs["relu1_1"].pow(2).mean()
    assert 1e-3 < ratio.item() < 1e3


def test_extractor_refuses_unknown_layers():
    with pytest.raises(ValueError, match="unknown VGG19 layers"):
        FeatureExtractor(random_vgg19_features(0), ["relu9_9"])


def small_problem(size: int = 48):
    generator = torch.Generator().manual_seed(0)
    content = torch.zeros(1, 3, size, size)
    content[..., size // 4 : 3 * size // 4, size // 3 : 2 * size // 3] = 1.0  # a white bar on black
    stripes = (torch.arange(size) // 3 % 2).float()
    style = torch.stack(
        [stripes.view(1, -1).expand(size, size), torch.rand(size, size, generator=generator), stripes.view(-1, 1).expand(size, size)]
    ).unsqueeze(0)
    extractor = FeatureExtractor(random_vgg19_features(0), ["relu3_1", *LAYERS])
    return content, style, extractor


def test_the_loss_decreases_and_the_run_is_deterministic():
    content, style, extractor = small_problem()
    targets = style_targets(extractor, content, [style], [1.0], "relu3_1", LAYERS)
    run = lambda: transfer(extractor, targets, content, "relu3_1", LAYERS, 1.0, 10.0, 1.0, "lbfgs", steps=25, progress=False)  # noqa: E731
    first, again = run(), run()
    assert first.history[-1] < 0.5 * first.history[0]
    assert torch.equal(first.image, again.image)
    assert first.image.min() >= 0 and first.image.max() <= 1


def test_adam_also_decreases_the_loss():
    content, style, extractor = small_problem()
    targets = style_targets(extractor, content, [style], [1.0], "relu3_1", LAYERS)
    result = transfer(extractor, targets, content, "relu3_1", LAYERS, 1.0, 10.0, 1.0, "adam", steps=30, lr=0.02, progress=False)
    assert result.history[-1] < result.history[0] and result.steps == 30


def test_content_only_run_from_noise_reproduces_the_content():
    content, style, extractor = small_problem()
    targets = style_targets(extractor, content, [style], [1.0], "relu3_1", LAYERS)
    noise = torch.rand(content.shape, generator=torch.Generator().manual_seed(1))
    result = transfer(extractor, targets, noise, "relu3_1", LAYERS, 1.0, 0.0, 0.0, "lbfgs", steps=150, progress=False)
    assert result.content_loss < 0.05
    error_before = (noise - content).abs().mean()
    error_after = (result.image - content).abs().mean()
    assert error_after < 0.35 * error_before


def test_blended_style_grams_are_the_weighted_mean():
    content, style, extractor = small_problem()
    flipped = style.flip(-1)
    blended = style_targets(extractor, content, [style, flipped], [3.0, 1.0], "relu3_1", LAYERS)
    alone = [style_targets(extractor, content, [image], [1.0], "relu3_1", LAYERS) for image in (style, flipped)]
    for name in LAYERS:
        torch.testing.assert_close(blended.grams[name], 0.75 * alone[0].grams[name] + 0.25 * alone[1].grams[name])


def test_preserve_colors_keeps_content_colour_and_result_luminance():
    content = torch.zeros(1, 3, 4, 4)
    content[:, 0] = 0.8  # red
    result = torch.full((1, 3, 4, 4), 0.3)  # grey
    mixed = preserve_colors(result, content)
    luminance = lambda image: 0.299 * image[:, 0] + 0.587 * image[:, 1] + 0.114 * image[:, 2]  # noqa: E731
    torch.testing.assert_close(luminance(mixed), luminance(result), atol=2e-3, rtol=0)
    assert mixed[0, 0].mean() > mixed[0, 1].mean()  # reddish


def test_content_from_samples_and_panel_shapes():
    samples = torch.rand(20, 1, 32, 32) * 2 - 1
    content = samples_as_content(samples, 16)
    assert content.shape == (1, 3, 4 * 34 + 2, 4 * 34 + 2) and content.min() >= 0 and content.max() <= 1
    resized = resize_longer_side(torch.rand(1, 3, 60, 120), 64)
    assert resized.shape == (1, 3, 32, 64)
    panel = side_by_side([torch.rand(1, 3, 10, 10), torch.rand(1, 3, 20, 40)], height=10, gap=2)
    assert panel.shape == (1, 3, 10, 10 + 2 + 20)


def test_images_load_from_skimage_and_files_with_clear_errors(tmp_path):
    coffee = load_image("skimage:coffee")
    assert coffee.shape[:2] == (1, 3) and coffee.dtype == torch.float32 and coffee.min() >= 0 and coffee.max() <= 1
    picture = tmp_path / "mine.png"
    Image.fromarray(np.full((5, 7), 128, dtype=np.uint8), mode="L").save(picture)
    assert load_image(str(picture)).shape == (1, 3, 5, 7)
    with pytest.raises(ArtifactError, match="missing.jpg' does not exist"):
        load_image(str(tmp_path / "missing.jpg"))
    broken = tmp_path / "broken.png"
    broken.write_text("not a picture")
    with pytest.raises(ArtifactError, match="broken.png' cannot be read as a picture"):
        load_image(str(broken))
    with pytest.raises(ArtifactError, match="unknown image 'skimage:lily'.*skimage:coffee"):
        load_image("skimage:lily")


def test_style_params_validation():
    assert StyleParams(style_image=["skimage:coffee", "skimage:brick"]).blend == [1.0, 1.0]
    # an unknown bundled picture is refused with the params, before DVC removes the stylize stage's outputs
    with pytest.raises(ParamsError, match=r"style.style_image.*'skimage:nothing'.*skimage:coffee.*skimage:gravel"):
        validate_params({"style": {"style_image": ["skimage:coffee", "skimage:nothing"]}})
    with pytest.raises(ParamsError, match="style_blend has 1 weights for 2 style images"):
        validate_params({"style": {"style_image": ["skimage:coffee", "skimage:brick"], "style_blend": [1.0]}})
    with pytest.raises(ParamsError, match="style.content_layer = 'relu9_1'"):
        validate_params({"style": {"content_layer": "relu9_1"}})
    with pytest.raises(ParamsError, match="style.optimizer = 'sgd'"):
        validate_params({"style": {"optimizer": "sgd"}})
    with pytest.raises(ParamsError, match="preserve_colors keeps the content's colours and style.recolour_content replaces them"):
        validate_params({"style": {"preserve_colors": True, "recolour_content": True}})


def test_vgg19_features_are_torchvision_vgg19s_own_features():
    import torchvision

    reference = torchvision.models.vgg19(weights=None).features
    ours = vgg19_features()
    assert str(ours) == str(reference)
    assert {name: tensor.shape for name, tensor in ours.state_dict().items()} == {name: tensor.shape for name, tensor in reference.state_dict().items()}


def test_to_png_rounds_to_the_nearest_level_and_takes_the_first_image():
    first = torch.tensor([0.0, 0.5, 1.0, 0.999, 0.002, 1.5]).view(1, 3, 1, 2)  # channels (0, 0.5), (1, 0.999), (0.002, 1.5)
    picture = to_png(torch.cat([first, torch.zeros_like(first)]))
    assert picture.mode == "RGB" and picture.size == (2, 1)
    assert np.asarray(picture).tolist() == [[[0, 255, 1], [128, 255, 255]]]


def test_vgg19_weights_random_or_a_file_with_clear_errors(tmp_path):
    seeded = load_vgg19_features("random", 3)
    assert all(torch.equal(a, b) for a, b in zip(seeded.state_dict().values(), random_vgg19_features(3).state_dict().values(), strict=True))
    with pytest.raises(
        ArtifactError, match=r"ImageNet VGG19 weights not found at .*nowhere\.pth\. Download https://download\.pytorch\.org/models/vgg19-dcbb9e9d\.pth"
    ):
        load_vgg19_features("imagenet", 0, str(tmp_path / "nowhere.pth"))
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ArtifactError, match="wrong.pth does not hold torchvision's VGG19 weights: "):
        load_vgg19_features("imagenet", 0, str(wrong))


def test_imagenet_weights_are_read_from_the_torch_hub_cache_or_weights_path(tmp_path, monkeypatch):
    """A file in torchvision's key names (written here: the real one is 548 MB) is loaded as it is, from torch hub's
    checkpoints folder or from style.weights_path, and its record names the file by path and SHA-256."""
    import hashlib

    hub = tmp_path / "torch_home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    cached = hub / "vgg19-dcbb9e9d.pth"
    torch.save({f"features.{key}": value for key, value in random_vgg19_features(21).state_dict().items()}, cached)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    expected = random_vgg19_features(21).state_dict()
    assert all(torch.equal(a, b) for a, b in zip(load_vgg19_features("imagenet", 0).state_dict().values(), expected.values(), strict=True))
    assert weights_record("imagenet") == {"weights": "imagenet", "weights_file": str(cached), "weights_sha256": hashlib.sha256(cached.read_bytes()).hexdigest()}
    elsewhere = tmp_path / "mine.pth"
    elsewhere.write_bytes(cached.read_bytes())
    assert all(torch.equal(a, b) for a, b in zip(load_vgg19_features("imagenet", 0, str(elsewhere)).state_dict().values(), expected.values(), strict=True))
    assert weights_record("imagenet", str(elsewhere))["weights_file"] == str(elsewhere)
    assert weights_record("random") == {"weights": "random"}


def test_the_judge_measures_with_a_network_of_another_seed():
    content, style = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1)), torch.rand(1, 3, 16, 32, generator=torch.Generator().manual_seed(2))
    judged = judge(content, content, [style], [1.0], "relu2_1", ["relu1_1"], seed=5)
    assert list(judged)[:4] == ["judge_style_distance_result", "judge_style_distance_content", "judge_content_distance_result", "judge_content_distance_style"]
    assert judged["judge_colour_distance_result"] == judged["judge_colour_distance_content"] == colour_distance(content, colour_histogram(style))
    assert judged["judge_edge_similarity_result"] == pytest.approx(1.0)  # the content's own edges
    assert judged["judge_content_distance_result"] == 0.0  # the result is the content itself here
    assert judged["judge_style_distance_result"] == judged["judge_style_distance_content"] > 0
    network = FeatureExtractor(random_vgg19_features(5 + JUDGE_SEED_OFFSET), ["relu2_1", "relu1_1"])
    targets = style_targets(network, content, [style], [1.0], "relu2_1", ["relu1_1"])
    assert judged["judge_style_distance_result"] == measure(network, content, targets, "relu2_1", ["relu1_1"])[1]


def test_multiscale_filters_through_the_fft_equal_direct_convolutions():
    network = MultiscaleRandomFilters(seed=3, maps=4, sizes=(3, 7, 55))
    image = torch.rand(2, 3, 21, 30, generator=torch.Generator().manual_seed(0))
    normalized = (image - network.mean) / network.std
    outputs = network(image)
    assert list(outputs) == ["scale3", "scale7", "scale55"]
    for size in (3, 7, 55):
        pad = size // 2
        direct = torch.relu(F.conv2d(F.pad(normalized, (pad,) * 4, mode="replicate"), getattr(network, f"weight{size}")))
        assert outputs[f"scale{size}"].shape == (2, 4, 21, 30)
        torch.testing.assert_close(outputs[f"scale{size}"], direct, atol=1e-4, rtol=1e-4)
    again = MultiscaleRandomFilters(seed=3, maps=4, sizes=(3, 7, 55))
    assert torch.equal(again.weight55, network.weight55) and not torch.equal(MultiscaleRandomFilters(seed=4, maps=4, sizes=(3,)).weight3, network.weight3)


def test_style_network_measures_the_style_with_the_random_filters_and_the_content_with_vgg19():
    params = StyleParams(features="multiscale", multiscale_maps=2, content_layer="relu2_1")
    network, style_layers = style_network(params)
    assert style_layers == list(MULTISCALE_LAYERS) == [f"scale{size}" for size in (3, 5, 7, 11, 15, 23, 37, 55)]
    outputs = network(torch.rand(1, 3, 16, 16))
    assert set(outputs) == {"relu2_1", *MULTISCALE_LAYERS} and outputs["scale55"].shape == (1, 2, 16, 16)
    plain, layers = style_network(StyleParams())
    assert layers == StyleParams().style_layers and set(plain(torch.rand(1, 3, 16, 16))) == {"relu4_2", *layers}


def test_multiscale_style_transfer_moves_toward_the_style():
    content = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1)) * 0.2 + 0.4  # grey, low contrast
    style = torch.zeros(1, 3, 24, 24)
    style[..., ::4, :] = 1.0  # white stripes every 4 rows
    network, layers = style_network(StyleParams(features="multiscale", multiscale_maps=8, content_layer="relu1_1"))
    targets = style_targets(network, content, [style], [1.0], "relu1_1", layers)
    before = measure(network, content, targets, "relu1_1", layers)[1]
    result = transfer(network, targets, content, "relu1_1", layers, 0.0, 1.0, 0.0, steps=30, progress=False)
    assert result.style_loss < 0.5 * before


def test_colour_distance_is_the_share_of_pixels_in_other_colours():
    red, blue = torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    red[:, 0], blue[:, 2] = 1.0, 1.0
    half = torch.cat([red[..., :2], blue[..., 2:]], dim=3)
    assert colour_distance(red, colour_histogram(red)) == 0.0 and colour_distance(red, colour_histogram(blue)) == 1.0
    assert colour_distance(half, colour_histogram(red)) == pytest.approx(0.5)
    assert colour_histogram(half).sum().item() == pytest.approx(1.0) and colour_histogram(half).numel() == 8**3


def test_edge_similarity_is_one_for_the_same_edges_and_low_for_none():
    image = torch.zeros(1, 3, 32, 32)
    image[..., 8:24, 8:24] = 1.0  # a white square
    assert edge_similarity(image, image) == pytest.approx(1.0)
    moved_far, moved_near = edge_similarity(image.roll(8, dims=3), image), edge_similarity(image.roll(2, dims=3), image)
    assert moved_far < moved_near < 0.5  # the further the square moved, the less alike (0.28, 0.43 measured)
    assert edge_similarity(torch.full_like(image, 0.5), image) < 0.3  # no edges: only the empty areas agree (0.25)
    assert edge_similarity(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)), image) < 0.05  # edges everywhere


def test_coarse_to_fine_sizes_halve_down_to_the_coarse_size():
    assert coarse_to_fine_sizes(512, 128) == [128, 256, 512]
    assert coarse_to_fine_sizes(300, 128) == [150, 300]
    assert coarse_to_fine_sizes(128, 128) == [128] and coarse_to_fine_sizes(100, 128) == [100]
    assert coarse_to_fine_sizes(255, 128) == [255]  # half of it is below the coarse size


def test_stylize_refines_a_coarse_solution_up_to_the_size():
    samples = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    common = {"content_images": 4, "optimizer": "adam", "lr": 0.02, "steps": 3, "refine_steps": 2, "style_layers": ["relu1_1"], "content_layer": "relu2_1"}
    done = stylize(StyleParams(**common, size=64, coarse_size=16), samples, progress=False)
    assert done.image.shape == done.content.shape == (1, 3, 64, 64) and done.styles[0].shape[-1] == 64  # coffee is 400 x 600
    assert done.result.steps == 3 + 2 + 2  # at 16, 32 and 64 px
    single = stylize(StyleParams(**common, size=64, coarse_size=64), samples, progress=False)
    assert single.result.steps == 3 and single.image.shape == (1, 3, 64, 64)
    assert not torch.equal(single.image, done.image)


def test_colour_statistics_blend_the_styles_pixels_by_their_weights():
    red, blue = torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 8, 2)  # sizes differ: each picture counts by its weight
    red[:, 0], blue[:, 2] = 1.0, 1.0
    mean, covariance = colour_statistics([red, blue], [3.0, 1.0])
    torch.testing.assert_close(mean, torch.tensor([0.75, 0.0, 0.25], dtype=torch.float64))
    difference = torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64)  # a two-point mixture: p (1 - p) d d^T
    torch.testing.assert_close(covariance, 0.75 * 0.25 * torch.outer(difference, difference))


def test_recolour_gives_the_content_the_target_colour_mean_and_covariance():
    content = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1  # variance 0.053 per channel
    mixing = torch.tensor([[0.5, 0.3, 0.0], [0.1, 0.4, 0.2], [0.0, 0.1, 0.3]], dtype=torch.float64)
    target_mean, target_covariance = torch.tensor([0.6, 0.4, 0.3], dtype=torch.float64), 0.01 * mixing @ mixing.T
    moved = recolour(content, target_mean, target_covariance)
    assert moved.min() > 0 and moved.max() < 1  # nothing clamped: the statistics below are the map's own
    mean, covariance = colour_statistics([moved], [1.0])
    torch.testing.assert_close(mean, target_mean, atol=1e-6, rtol=0)
    # exact but for the floor added to the content's covariance (1e-3 against 0.053: 2 % of the scale)
    torch.testing.assert_close(covariance, target_covariance, atol=2e-4, rtol=0.03)
    grey = content[:, :1].expand(1, 3, 64, 64)  # a grey picture: its greys go onto one line through the target mean
    moved_grey = recolour(grey, target_mean, target_covariance)
    singular_values = torch.linalg.svdvals(moved_grey[0].reshape(3, -1).double() - target_mean[:, None])
    assert singular_values[1] < 1e-3 * singular_values[0]
    assert torch.isclose(moved_grey[0, 0].mean().double(), target_mean[0], atol=1e-3)


def test_stylize_with_recolour_content_starts_from_the_style_colours_and_is_judged_against_the_content():
    samples = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    common = {"content_images": 4, "optimizer": "adam", "lr": 0.02, "steps": 2, "style_layers": ["relu1_1"], "content_layer": "relu2_1", "size": 32}
    plain = stylize(StyleParams(**common, recolour_content=False), samples, progress=False)
    recoloured = stylize(StyleParams(**common, recolour_content=True), samples, progress=False)
    torch.testing.assert_close(recoloured.content, plain.content, rtol=0, atol=0)  # the panel and the judges see the content as it was
    coffee_colours = colour_histogram(plain.styles[0])
    assert colour_distance(recoloured.image, coffee_colours) < colour_distance(plain.image, coffee_colours) - 0.3
    assert recoloured.judged["judge_colour_distance_result"] < plain.judged["judge_colour_distance_result"] - 0.3
    # the grey content's greys become the coffee's colours, and its shapes stay: edges where the content has them
    assert recoloured.judged["judge_edge_similarity_result"] > 0.5
