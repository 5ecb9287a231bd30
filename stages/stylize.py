"""Stage stylize: style transfer onto the GAN's samples or a picture -> data/stylized/, metrics/style.json."""

from pathlib import Path

import torch
from PIL import Image

from ganyard.cli import StageError, run_stage
from ganyard.io import load_image, load_torch, save_json, save_png
from ganyard.style import (
    VGG19_WEIGHTS_FILE,
    FeatureExtractor,
    imagenet_vgg19_features,
    measure,
    preserve_colors,
    random_vgg19_features,
    resize_longer_side,
    samples_as_content,
    side_by_side,
    style_targets,
    transfer,
)

EVALUATION_SEED_OFFSET = 1_000_003  # the judging network's seed: never the optimizing network's


def to_png(image: torch.Tensor) -> Image.Image:
    array = image[0].permute(1, 2, 0).mul(255).add(0.5).clamp(0, 255).to(torch.uint8).numpy()
    return Image.fromarray(array, mode="RGB")


def vgg_features(style) -> torch.nn.Sequential:
    if style.weights == "random":
        return random_vgg19_features(style.seed)
    path = Path(style.weights_path).expanduser() if style.weights_path else Path(torch.hub.get_dir()) / "checkpoints" / VGG19_WEIGHTS_FILE
    if not path.is_file():
        raise StageError(
            f"ImageNet VGG19 weights not found at {path}. Download https://download.pytorch.org/models/{VGG19_WEIGHTS_FILE} "
            f"into {Path(torch.hub.get_dir()) / 'checkpoints'} or set style.weights_path; or use style.weights: random."
        )
    try:
        return imagenet_vgg19_features(load_torch(path, "VGG19 weights"))
    except RuntimeError as error:
        raise StageError(f"{path} does not hold torchvision's VGG19 weights: {str(error).splitlines()[0]}") from None


def main(params) -> None:
    style = params.style
    torch.use_deterministic_algorithms(True)
    if style.content == "samples":
        content = samples_as_content(load_torch("data/samples/samples.pt", "generated samples")["images"], style.content_images)
    else:
        content = load_image(style.content)
    content = resize_longer_side(content, style.size)
    styles = [resize_longer_side(load_image(spec), style.size) for spec in style.style_images]
    layers = [style.content_layer, *style.style_layers]
    extractor = FeatureExtractor(vgg_features(style), layers)
    targets = style_targets(extractor, content, styles, style.blend, style.content_layer, style.style_layers)
    if style.init == "content":
        start = content
    else:
        start = torch.rand(content.shape, generator=torch.Generator().manual_seed(style.seed))
    result = transfer(
        extractor, targets, start, style.content_layer, style.style_layers,
        style.content_weight, style.style_weight, style.tv_weight, style.optimizer, style.steps, style.lr,
    )  # fmt: skip
    image = preserve_colors(result.image, content) if style.preserve_colors else result.image

    # Judge in a feature space the optimization never saw: the same architecture, another seed.
    judge = FeatureExtractor(random_vgg19_features(style.seed + EVALUATION_SEED_OFFSET), layers)
    judged_targets = style_targets(judge, content, styles, style.blend, style.content_layer, style.style_layers)
    result_content, result_style = measure(judge, image, judged_targets, style.content_layer, style.style_layers)
    content_content, content_style = measure(judge, content, judged_targets, style.content_layer, style.style_layers)
    style_as_content = torch.nn.functional.interpolate(styles[0], size=content.shape[-2:], mode="bilinear", antialias=True, align_corners=False)
    style_content, _ = measure(judge, style_as_content, judged_targets, style.content_layer, style.style_layers)

    save_png(to_png(image), "data/stylized/result.png")
    save_png(to_png(side_by_side([content, *styles, image], height=max(style.size, 128))), "data/stylized/panel.png")
    save_json(
        {
            "content_loss": result.content_loss,
            "style_loss": result.style_loss,
            "tv_loss": result.tv_loss,
            "steps": result.steps,
            "weights": style.weights,
            "judge_style_distance_result": result_style,
            "judge_style_distance_content": content_style,
            "judge_content_distance_result": result_content,
            "judge_content_distance_style": style_content,
        },
        "metrics/style.json",
    )
    print(
        f"stylized in {result.seconds:.1f} s ({result.steps} steps). Judged by an unseen network: style distance to the "
        f"style {result_style:.3f} (content image: {content_style:.3f}); content distance to the content {result_content:.3f} "
        f"(style image: {style_content:.3f})"
    )


if __name__ == "__main__":
    run_stage("stylize", main)
