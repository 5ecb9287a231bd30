"""Stage stylize: style transfer onto the GAN's samples or a picture -> data/stylized/, metrics/style.json."""

import torch

from ganyard import paths
from ganyard.io import load_image, load_torch, save_json, save_png
from ganyard.stage import run_stage
from ganyard.style import (
    FeatureExtractor,
    judge,
    load_vgg19_features,
    preserve_colors,
    resize_longer_side,
    samples_as_content,
    side_by_side,
    style_targets,
    to_png,
    transfer,
)


def main(params) -> None:
    style = params.style
    torch.use_deterministic_algorithms(True)
    if style.content == "samples":
        content = samples_as_content(load_torch(paths.SAMPLE_IMAGES, "generated samples")["images"], style.content_images)
    else:
        content = load_image(style.content)
    content = resize_longer_side(content, style.size)
    styles = [resize_longer_side(load_image(spec), style.size) for spec in style.style_images]
    extractor = FeatureExtractor(load_vgg19_features(style.weights, style.seed, style.weights_path), [style.content_layer, *style.style_layers])
    targets = style_targets(extractor, content, styles, style.blend, style.content_layer, style.style_layers)
    if style.init == "content":
        start = content
    else:
        start = torch.rand(content.shape, generator=torch.Generator().manual_seed(style.seed))
    result = transfer(
        extractor,
        targets,
        start,
        style.content_layer,
        style.style_layers,
        style.content_weight,
        style.style_weight,
        style.tv_weight,
        style.optimizer,
        style.steps,
        style.lr,
    )
    image = preserve_colors(result.image, content) if style.preserve_colors else result.image
    # Judged in a feature space the optimization never saw: the same architecture, another seed.
    judged = judge(image, content, styles, style.blend, style.content_layer, style.style_layers, style.seed)

    save_png(to_png(image), paths.STYLIZED_IMAGE)
    save_png(to_png(side_by_side([content, *styles, image], height=max(style.size, 128))), paths.STYLIZED_PANEL)
    losses = {"content_loss": result.content_loss, "style_loss": result.style_loss, "tv_loss": result.tv_loss, "steps": result.steps}
    save_json({**losses, "weights": style.weights, **judged}, paths.STYLE_METRICS)
    print(
        f"stylized in {result.seconds:.1f} s ({result.steps} steps). Judged by an unseen network: style distance to the "
        f"style {judged['judge_style_distance_result']:.3f} (content image: {judged['judge_style_distance_content']:.3f}); "
        f"content distance to the content {judged['judge_content_distance_result']:.3f} (style image: {judged['judge_content_distance_style']:.3f})"
    )


if __name__ == "__main__":
    run_stage("stylize", main)
