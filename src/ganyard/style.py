"""Neural style transfer (Gatys, Ecker & Bethge 2016) on VGG19 features, or with the style measured by
one layer of multi-scale random filters (Ustyuzhaninov et al. 2017); coarse to fine for large pictures.

The result image is optimized directly: a content loss on the features of one layer, a style loss on
the Gram matrices of several layers, and a total-variation loss, by L-BFGS or Adam. Images are
tensors (1, 3, H, W) in [0, 1].

Both terms are normalized per layer (the content loss by the content features' mean square, each
style layer's Gram loss by its target Gram's squared norm), so every layer counts alike whatever
the scale of its activations. That is what makes random, untrained VGG19 weights usable (He, Wang &
Hopcroft 2016): their activations' scale differs from layer to layer by orders of magnitude.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn

from ganyard.io import ArtifactError, load_image, load_torch
from ganyard.params import VGG19_LAYERS
from ganyard.progress import progress_bar

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
# RGB -> YIQ (NTSC): luminance Y, chrominance I and Q
RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))
JUDGE_SEED_OFFSET = 1_000_003  # the judging network's seed is style.seed plus this: never the optimizing network's


def vgg19_features() -> nn.Sequential:
    """torchvision's VGG19 ``features`` (16 convolutions, their ReLUs, 5 max pools), default-initialized.

    Built with the function ``torchvision.models.vgg19`` builds them with, without the classifier:
    its 120 M fully-connected weights take over a second to initialize and are never used here.
    """
    return torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["E"], batch_norm=False)


def random_vgg19_features(seed: int) -> nn.Sequential:
    """VGG19's convolutional part with seeded random weights.

    Kaiming-normal weights with fan-in scaling and zero biases keep the activations' variance roughly
    constant from layer to layer (torchvision's fan-out default shrinks or grows it), so deep layers
    neither vanish nor explode.
    """
    generator = torch.Generator().manual_seed(seed)
    features = vgg19_features()
    for module in features:
        if isinstance(module, nn.Conv2d):
            fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
            with torch.no_grad():
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                module.bias.zero_()
    return features


def imagenet_vgg19_features(state_dict: dict) -> nn.Sequential:
    """VGG19's convolutional part with torchvision's ImageNet weights: the ``features.*`` entries of
    ``vgg19-dcbb9e9d.pth``'s state dict (the classifier's are not needed). RuntimeError when they do not fit."""
    features = vgg19_features()
    features.load_state_dict({key.removeprefix("features."): value for key, value in state_dict.items() if key.startswith("features.")})
    return features


def vgg19_weights_file(weights_path: str | None = None) -> Path:
    """Where the ImageNet VGG19 weights are read from: ``weights_path``, or else torch hub's checkpoints folder."""
    return Path(weights_path).expanduser() if weights_path else Path(torch.hub.get_dir()) / "checkpoints" / VGG19_WEIGHTS_FILE


def weights_record(weights: str, weights_path: str | None = None) -> dict:
    """What metrics/style.json says of the weights: their kind, and for ``imagenet`` the file's path and SHA-256."""
    if weights != "imagenet":
        return {"weights": weights}
    path = vgg19_weights_file(weights_path)
    return {"weights": weights, "weights_file": str(path), "weights_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def load_vgg19_features(weights: str, seed: int, weights_path: str | None = None) -> nn.Sequential:
    """VGG19's convolutional part as ``style.weights`` asks: ``random`` (seeded by ``seed``) or ``imagenet``.

    The ImageNet weights are read from ``vgg19_weights_file(weights_path)``. Raises ArtifactError saying
    where to get them when the file is missing or does not hold them.
    """
    if weights == "random":
        return random_vgg19_features(seed)
    path = vgg19_weights_file(weights_path)
    if not path.is_file():
        raise ArtifactError(
            f"ImageNet VGG19 weights not found at {path}. Download https://download.pytorch.org/models/{VGG19_WEIGHTS_FILE} "
            f"into {Path(torch.hub.get_dir()) / 'checkpoints'} or set style.weights_path; or use style.weights: random."
        )
    try:
        return imagenet_vgg19_features(load_torch(path, "VGG19 weights"))
    except RuntimeError as error:
        raise ArtifactError(f"{path} does not hold torchvision's VGG19 weights: {str(error).splitlines()[0]}") from None


class FeatureExtractor(nn.Module):
    """images (N, 3, H, W) in [0, 1] -> {layer name: activations} for the requested layers.

    ImageNet normalization first; the network is cut after the deepest requested layer; max pooling
    is replaced by average pooling (Gatys et al.: smoother gradients, better images); ReLUs are not
    in-place, so earlier activations stay intact.
    """

    def __init__(self, vgg_features: nn.Sequential, layers: Sequence[str]):
        super().__init__()
        unknown = [name for name in layers if name not in VGG19_LAYERS]
        if unknown:
            raise ValueError(f"unknown VGG19 layers {unknown}; allowed: {list(VGG19_LAYERS)}")
        last = max(VGG19_LAYERS.index(name) for name in layers)
        modules = []
        for module in list(vgg_features)[: last + 1]:
            if isinstance(module, nn.MaxPool2d):
                module = nn.AvgPool2d(2, 2)
            elif isinstance(module, nn.ReLU):
                module = nn.ReLU(inplace=False)
            modules.append(module)
        self.net = nn.Sequential(*modules).eval().requires_grad_(False)
        self.layers = set(layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images - self.mean) / self.std
        outputs = {}
        for name, module in zip(VGG19_LAYERS, self.net):
            x = module(x)
            if name in self.layers:
                outputs[name] = x
        return outputs


MULTISCALE_SIZES = (3, 5, 7, 11, 15, 23, 37, 55)  # Ustyuzhaninov et al. 2017's filter sizes, in pixels
MULTISCALE_LAYERS = tuple(f"scale{size}" for size in MULTISCALE_SIZES)


class MultiscaleRandomFilters(nn.Module):
    """One convolutional layer of seeded random filters at several sizes, each followed by a ReLU
    (Ustyuzhaninov, Brendel, Gatys & Bethge 2017: "What does it take to generate natural textures?").

    images (N, 3, H, W) in [0, 1] -> {"scale<k>": (N, maps, H, W)} for k in ``sizes``. ImageNet normalization
    first, as for VGG19; the borders are padded by repeating the edge pixels. The convolutions are computed
    through the FFT: the 55-pixel filters would cost about 2 million multiply-adds per pixel as direct
    convolutions, and the same result (a cross-correlation, as ``F.conv2d``) costs a few FFTs of the image.
    """

    def __init__(self, seed: int, maps: int = 128, sizes: Sequence[int] = MULTISCALE_SIZES):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.sizes = tuple(sizes)
        for size in self.sizes:  # Kaiming fan-in scale, as the random VGG19 (the losses are normalized per layer anyway)
            weight = torch.randn(maps, 3, size, size, generator=generator) * (2.0 / (3 * size * size)) ** 0.5
            self.register_buffer(f"weight{size}", weight)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self._spectra: dict[tuple[int, int], list[torch.Tensor]] = {}  # per padded image size

    def _filter_spectra(self, shape: tuple[int, int]) -> list[torch.Tensor]:
        if shape not in self._spectra:  # flipped: the FFT convolves, F.conv2d (and this layer) cross-correlates
            self._spectra[shape] = [torch.fft.rfft2(getattr(self, f"weight{size}").flip(-2, -1), s=shape) for size in self.sizes]
        return self._spectra[shape]

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        height, width = images.shape[-2:]
        pad = max(self.sizes) // 2
        padded = F.pad((images - self.mean) / self.std, (pad, pad, pad, pad), mode="replicate")
        shape = (padded.shape[-2], padded.shape[-1])
        spectrum = torch.fft.rfft2(padded)
        outputs = {}
        for size, filters in zip(self.sizes, self._filter_spectra(shape)):
            response = torch.fft.irfft2(torch.einsum("nchw,mchw->nmhw", spectrum, filters), s=shape)
            start = pad + (size - 1) // 2  # where the filter centred on pixel (0, 0) of the unpadded image lands
            outputs[f"scale{size}"] = F.relu(response[..., start : start + height, start : start + width])
        return outputs


class StyleFeatures(nn.Module):
    """What the style transfer measures: VGG19's layers (``FeatureExtractor``) and, with ``multiscale``
    (a ``MultiscaleRandomFilters``), its "scale<k>" maps too; images (N, 3, H, W) -> one dict of both."""

    def __init__(self, vgg: FeatureExtractor, multiscale: MultiscaleRandomFilters | None = None):
        super().__init__()
        self.vgg, self.multiscale = vgg, multiscale

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {**self.vgg(images), **(self.multiscale(images) if self.multiscale is not None else {})}


def style_network(params) -> tuple[StyleFeatures, list[str]]:
    """The feature network ``style`` params (``ganyard.params.StyleParams``) ask for, and the layers of its style
    loss: VGG19's ``style_layers``, or with ``features: multiscale`` the random filters' eight scales (seeded by
    ``seed``). The content loss is VGG19's ``content_layer`` either way."""
    vgg19 = load_vgg19_features(params.weights, params.seed, params.weights_path)
    if params.features == "vgg19":
        return StyleFeatures(FeatureExtractor(vgg19, [params.content_layer, *params.style_layers])), list(params.style_layers)
    return StyleFeatures(FeatureExtractor(vgg19, [params.content_layer]), MultiscaleRandomFilters(params.seed, params.multiscale_maps)), list(MULTISCALE_LAYERS)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of activations (N, C, H, W) -> (N, C, C), divided by C * H * W."""
    count, channels, height, width = features.shape
    flat = features.reshape(count, channels, height * width)
    return flat @ flat.transpose(1, 2) / (channels * height * width)


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels, horizontally and vertically."""
    return (images[..., 1:, :] - images[..., :-1, :]).pow(2).mean() + (images[..., :, 1:] - images[..., :, :-1]).pow(2).mean()


def content_distance(result: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared feature difference, relative to the target's mean square."""
    return (result - target).pow(2).mean() / target.pow(2).mean().clamp_min(1e-12)


def style_distance(result_grams: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the squared Gram difference, relative to the target Gram's squared norm."""
    terms = [(result_grams[name] - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12) for name, target in target_grams.items()]
    return torch.stack(terms).mean()


@dataclass
class StyleTargets:
    """What the optimization matches: the content features and the (blended) style Grams."""

    content: torch.Tensor
    grams: dict[str, torch.Tensor]


def style_targets(
    extractor: FeatureExtractor, content: torch.Tensor, styles: Sequence[torch.Tensor], blend: Sequence[float], content_layer: str, style_layers: Sequence[str]
) -> StyleTargets:
    """Content features of ``content`` (1, 3, H, W); style Grams, the ``blend``-weighted mean over ``styles``."""
    with torch.no_grad():
        content_features = extractor(content)[content_layer]
        grams = {name: torch.zeros(1) for name in style_layers}
        total = float(sum(blend))
        for style, weight in zip(styles, blend):
            features = extractor(style)
            for name in style_layers:
                grams[name] = grams[name] + gram_matrix(features[name]) * (weight / total)
    return StyleTargets(content_features, grams)


@dataclass
class TransferResult:
    image: torch.Tensor  # (1, 3, H, W) in [0, 1]
    content_loss: float
    style_loss: float
    tv_loss: float
    steps: int
    seconds: float
    history: list[float]


def transfer(
    extractor: FeatureExtractor,
    targets: StyleTargets,
    start: torch.Tensor,
    content_layer: str,
    style_layers: Sequence[str],
    content_weight: float,
    style_weight: float,
    tv_weight: float,
    optimizer: str = "lbfgs",
    steps: int = 200,
    lr: float = 1.0,
    progress: bool = True,
) -> TransferResult:
    """Optimize an image from ``start`` (1, 3, H, W) in [0, 1] toward the targets.

    Loss = content_weight * content + style_weight * style + tv_weight * TV. ``steps`` counts loss
    evaluations (L-BFGS closure calls) or Adam steps. The image is clamped to [0, 1] after each step.
    """
    image = start.detach().clone().requires_grad_(True)
    terms: dict[str, float] = {}

    def loss_terms() -> torch.Tensor:
        features = extractor(image)
        content = content_distance(features[content_layer], targets.content)
        style = style_distance({name: gram_matrix(features[name]) for name in style_layers}, targets.grams)
        variation = total_variation(image)
        terms.update(content=content.item(), style=style.item(), tv=variation.item())
        return content_weight * content + style_weight * style + tv_weight * variation

    history: list[float] = []
    started = time.perf_counter()
    bar = progress_bar(desc="stylize", unit="step", total=steps, enabled=progress)
    if optimizer == "lbfgs":
        solver = torch.optim.LBFGS(
            [image], lr=lr, max_iter=steps, max_eval=steps, history_size=50, line_search_fn="strong_wolfe", tolerance_grad=0, tolerance_change=0
        )

        def closure():
            solver.zero_grad()
            loss = loss_terms()
            loss.backward()
            history.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{history[-1]:.4g}", refresh=False)
            return loss

        solver.step(closure)
    elif optimizer == "adam":
        solver = torch.optim.Adam([image], lr=lr)
        for _ in range(steps):
            solver.zero_grad()
            loss = loss_terms()
            loss.backward()
            solver.step()
            with torch.no_grad():
                image.clamp_(0, 1)
            history.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{history[-1]:.4g}", refresh=False)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; allowed: 'lbfgs', 'adam'")
    bar.close()
    with torch.no_grad():
        image.clamp_(0, 1)
        loss_terms()  # the reported terms are those of the final, clamped image
    return TransferResult(image.detach(), terms["content"], terms["style"], terms["tv"], len(history), time.perf_counter() - started, history)


def _rgb_to_yiq(images: torch.Tensor) -> torch.Tensor:
    matrix = torch.tensor(RGB_TO_YIQ, dtype=images.dtype)
    return torch.einsum("ij,njhw->nihw", matrix, images)


def _yiq_to_rgb(images: torch.Tensor) -> torch.Tensor:
    matrix = torch.linalg.inv(torch.tensor(RGB_TO_YIQ, dtype=torch.float64))
    return torch.einsum("ij,njhw->nihw", matrix.to(images.dtype), images)


def preserve_colors(result: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of ``result`` with the colours (YIQ chrominance) of ``content``; both (N, 3, H, W) in [0, 1]."""
    mixed = _rgb_to_yiq(content)
    mixed[:, 0] = _rgb_to_yiq(result)[:, 0]
    return _yiq_to_rgb(mixed).clamp(0, 1)


COLOUR_COVARIANCE_FLOOR = 1e-3  # added to the content's colour covariance: a grey picture has none off the grey axis


def colour_statistics(images: Sequence[torch.Tensor], weights: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and covariance (3, 3), float64, of the RGB values of the pixels of ``images`` (1, 3, H, W), each
    picture counting with its share of ``weights`` whatever its size: the statistics of their blended colours."""
    total = float(sum(weights))
    mean = torch.zeros(3, dtype=torch.float64)
    second_moment = torch.zeros(3, 3, dtype=torch.float64)
    for image, weight in zip(images, weights):
        pixels = image[0].reshape(3, -1).double()
        mean += pixels.mean(1) * (weight / total)
        second_moment += pixels @ pixels.T / pixels.shape[1] * (weight / total)
    return mean, second_moment - torch.outer(mean, mean)


def _symmetric_power(matrix: torch.Tensor, power: float) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp_min(1e-12) ** power) @ vectors.T


def recolour(image: torch.Tensor, mean: torch.Tensor, covariance: torch.Tensor) -> torch.Tensor:
    """``image`` (1, 3, H, W) in [0, 1] with its pixels' colours moved by one affine map to the given mean and
    covariance (Gatys, Ecker, Bethge, Hertzmann & Shechtman 2017, "Controlling perceptual factors in neural style
    transfer", their colour transfer: x' = C_t^1/2 C_x^-1/2 (x - m_x) + m_t), clamped to [0, 1].

    Run from the style to the content, it gives the content the style's palette before the transfer, so the
    content loss asks for the content's shapes and the style loss need not fight it over every pixel's colour.
    A grey content has one colour axis: its greys go onto one line of colours through the style's mean.
    """
    pixels = image[0].reshape(3, -1).double()
    own_mean, own_covariance = colour_statistics([image], [1.0])
    own_covariance = own_covariance + COLOUR_COVARIANCE_FLOOR * torch.eye(3, dtype=torch.float64)
    transform = _symmetric_power(covariance, 0.5) @ _symmetric_power(own_covariance, -0.5)
    moved = transform @ (pixels - own_mean[:, None]) + mean[:, None]
    return moved.reshape(image.shape).to(image.dtype).clamp(0, 1)


def measure(extractor: FeatureExtractor, image: torch.Tensor, targets: StyleTargets, content_layer: str, style_layers: Sequence[str]) -> tuple[float, float]:
    """(content distance, style distance) of ``image`` (1, 3, H, W) to ``targets`` in ``extractor``'s feature space."""
    with torch.no_grad():
        features = extractor(image)
        content = content_distance(features[content_layer], targets.content).item()
        style = style_distance({name: gram_matrix(features[name]) for name in style_layers}, targets.grams).item()
    return content, style


def resize_longer_side(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (N, 3, H, W) so its longer side is ``size`` pixels, keeping the aspect ratio (antialiased)."""
    height, width = image.shape[-2:]
    scale = size / max(height, width)
    target = (max(1, round(height * scale)), max(1, round(width * scale)))
    return F.interpolate(image, size=target, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def samples_as_content(samples: torch.Tensor, count: int) -> torch.Tensor:
    """A square grid of the first ``count`` generated images (N, C, S, S) in [-1, 1] -> (1, 3, H, W) in [0, 1]."""
    columns = max(1, round(count**0.5))
    grid = torchvision.utils.make_grid(samples[:count].float(), nrow=columns, padding=2, normalize=True, value_range=(-1, 1), pad_value=0.0)
    return grid.expand(3, -1, -1).unsqueeze(0).contiguous() if grid.shape[0] == 1 else grid.unsqueeze(0)


def side_by_side(images: Sequence[torch.Tensor], height: int, gap: int = 4) -> torch.Tensor:
    """Images (1, 3, h, w) in [0, 1] scaled to a common ``height`` and joined left to right with white gaps."""
    scaled = []
    for image in images:
        h, w = image.shape[-2:]
        scaled.append(F.interpolate(image, size=(height, max(1, round(w * height / h))), mode="bilinear", antialias=True, align_corners=False))
        scaled.append(torch.ones(1, 3, height, gap))
    return torch.cat(scaled[:-1], dim=3).clamp(0, 1)


COLOUR_BINS = 8  # per channel: 512 colour cells


def colour_histogram(image: torch.Tensor, bins: int = COLOUR_BINS) -> torch.Tensor:
    """The share of the pixels of ``image`` (1, 3, H, W) in [0, 1] in each of bins³ RGB cells, flattened."""
    cells = (image[0].clamp(0, 1) * bins).long().clamp_max(bins - 1)  # (3, H, W) cell index per channel
    index = (cells[0] * bins + cells[1]) * bins + cells[2]
    return torch.bincount(index.flatten(), minlength=bins**3).double() / index.numel()


def colour_distance(image: torch.Tensor, histogram: torch.Tensor) -> float:
    """Total-variation distance between the colour histogram of ``image`` (1, 3, H, W) and ``histogram``:
    0 for the same colours in the same proportions, 1 for no colour in common (8 levels per channel)."""
    return 0.5 * (colour_histogram(image) - histogram).abs().sum().item()


def luminance_edges(image: torch.Tensor) -> torch.Tensor:
    """The Sobel gradient magnitude (H, W) of the luminance of ``image`` (1, 3, H, W) in [0, 1], float64."""
    from skimage.filters import sobel

    luminance = torch.einsum("c,chw->hw", torch.tensor(RGB_TO_YIQ[0], dtype=torch.float64), image[0].double())
    return torch.from_numpy(sobel(luminance.numpy()))


def edge_similarity(image: torch.Tensor, reference: torch.Tensor) -> float:
    """Structural similarity (SSIM, Wang et al. 2004; scikit-image's) of the luminance edges of ``image`` and
    ``reference``, both (1, 3, H, W) in [0, 1] of one size: 1 when the edges are where the reference has them."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(luminance_edges(image).numpy(), luminance_edges(reference).numpy(), data_range=1.0))


def judge(
    image: torch.Tensor,
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    blend: Sequence[float],
    content_layer: str,
    style_layers: Sequence[str],
    seed: int,
) -> dict[str, float]:
    """How far ``image`` went, measured in a feature space the optimization never saw: VGG19 with other
    random weights (seed ``seed + JUDGE_SEED_OFFSET``), at ``content_layer`` and ``style_layers``.

    Returns the style distance of the result and, for scale, of the content image to the (blended)
    styles' Grams, and the content distance of the result and of the first style image (resized to
    the content's size) to the content's features: keys ``judge_style_distance_result``,
    ``judge_style_distance_content``, ``judge_content_distance_result``, ``judge_content_distance_style``.
    Then two judges of another family than any network: the colour-histogram distance to the (blended) styles'
    colours (``judge_colour_distance_result``, and ``_content`` for scale) and the structural similarity of
    the luminance edges to the content's (``judge_edge_similarity_result``, and ``_style`` for scale).
    """
    judge_network = FeatureExtractor(random_vgg19_features(seed + JUDGE_SEED_OFFSET), [content_layer, *style_layers])
    targets = style_targets(judge_network, content, styles, blend, content_layer, style_layers)
    result_content, result_style = measure(judge_network, image, targets, content_layer, style_layers)
    _, content_style = measure(judge_network, content, targets, content_layer, style_layers)
    style_as_content = F.interpolate(styles[0], size=content.shape[-2:], mode="bilinear", antialias=True, align_corners=False)
    style_content, _ = measure(judge_network, style_as_content, targets, content_layer, style_layers)
    total = float(sum(blend))
    style_colours = sum(colour_histogram(style) * (weight / total) for style, weight in zip(styles, blend))
    return {
        "judge_style_distance_result": result_style,
        "judge_style_distance_content": content_style,
        "judge_content_distance_result": result_content,
        "judge_content_distance_style": style_content,
        "judge_colour_distance_result": colour_distance(image, style_colours),
        "judge_colour_distance_content": colour_distance(content, style_colours),
        "judge_edge_similarity_result": edge_similarity(image, content),
        "judge_edge_similarity_style": edge_similarity(style_as_content, content),
    }


def to_png(image: torch.Tensor) -> Image.Image:
    """The first image of (N, 3, H, W) in [0, 1] as an 8-bit RGB picture (rounded to the nearest level)."""
    array = image[0].permute(1, 2, 0).mul(255).add(0.5).clamp(0, 255).to(torch.uint8).numpy()
    return Image.fromarray(array, mode="RGB")


@dataclass
class Stylized:
    """One style transfer as the stylize stage makes it: the inputs at their working size, the result
    (``preserve_colors`` applied), the optimization's record and the judges' figures."""

    content: torch.Tensor  # (1, 3, H, W) in [0, 1]
    styles: list[torch.Tensor]
    image: torch.Tensor
    result: TransferResult
    judged: dict[str, float]


def coarse_to_fine_sizes(size: int, coarse_size: int) -> list[int]:
    """The longer sides the optimization runs at: ``size`` halved while it stays at or above ``coarse_size``,
    smallest first (512 from 128: [128, 256, 512]; 300 from 128: [150, 300]; at most ``coarse_size``: [size])."""
    sizes = [size]
    while sizes[0] / 2 >= coarse_size:
        sizes.insert(0, round(sizes[0] / 2))
    return sizes


def stylize(params, samples: torch.Tensor | None = None, progress: bool = True) -> Stylized:
    """The style transfer that ``style`` params (``ganyard.params.StyleParams``) describe. ``samples``
    (N, C, S, S) in [-1, 1] are the content when ``params.content`` is ``samples``.

    Coarse to fine above ``coarse_size``: ``steps`` at the smallest of ``coarse_to_fine_sizes``, then the
    result upsampled (bicubic) as the start of ``refine_steps`` at each next size, content and styles
    resized from the originals each time. The returned result's steps and seconds are the totals."""
    if params.content == "samples":
        if samples is None:
            raise ValueError("style.content is samples: pass the generated images")
        original_content = samples_as_content(samples, params.content_images)
    else:
        original_content = load_image(params.content)
    original_styles = [load_image(spec) for spec in params.style_images]
    # The content in the styles' colours is what the optimization starts from and keeps the shapes of; the
    # judges still compare the result with the content as it was.
    working_content = recolour(original_content, *colour_statistics(original_styles, params.blend)) if params.recolour_content else original_content
    extractor, style_layers = style_network(params)
    result, steps, seconds = None, 0, 0.0
    for size in coarse_to_fine_sizes(params.size, params.coarse_size):
        content = resize_longer_side(working_content, size)
        styles = [resize_longer_side(style, size) for style in original_styles]
        targets = style_targets(extractor, content, styles, params.blend, params.content_layer, style_layers)
        if result is not None:  # refine the coarser solution
            start = F.interpolate(result.image, size=content.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
        elif params.init == "content":
            start = content
        else:
            start = torch.rand(content.shape, generator=torch.Generator().manual_seed(params.seed))
        result = transfer(
            extractor,
            targets,
            start,
            params.content_layer,
            style_layers,
            params.content_weight,
            params.style_weight,
            params.tv_weight,
            params.optimizer,
            params.steps if result is None else params.refine_steps,
            params.lr,
            progress,
        )
        steps, seconds = steps + result.steps, seconds + result.seconds
    result.steps, result.seconds = steps, seconds
    content = resize_longer_side(original_content, params.size)
    image = preserve_colors(result.image, content) if params.preserve_colors else result.image
    # Judged in feature spaces the optimization never saw: VGG19 of another seed, colours, edges.
    judged = judge(image, content, styles, params.blend, params.content_layer, params.style_layers, params.seed)
    return Stylized(content, styles, image, result, judged)
