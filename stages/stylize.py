"""Stage stylize: style transfer onto the GAN's samples or a picture -> data/stylized/, metrics/style.json."""

from ganyard import paths
from ganyard.cpu import use_deterministic_algorithms
from ganyard.io import load_torch, save_json, save_png
from ganyard.stage import run_stage
from ganyard.style import side_by_side, stylize, to_png, weights_record


def main(params) -> None:
    style = params.style
    use_deterministic_algorithms()
    samples = load_torch(paths.SAMPLE_IMAGES, "generated samples")["images"] if style.content == "samples" else None
    done = stylize(style, samples)
    result, judged = done.result, done.judged

    save_png(to_png(done.image), paths.STYLIZED_IMAGE)
    save_png(to_png(side_by_side([done.content, *done.styles, done.image], height=max(style.size, 128))), paths.STYLIZED_PANEL)
    losses = {"content_loss": result.content_loss, "style_loss": result.style_loss, "tv_loss": result.tv_loss, "steps": result.steps}
    save_json({**losses, "features": style.features, **weights_record(style.weights, style.weights_path), **judged}, paths.STYLE_METRICS)
    print(
        f"stylized in {result.seconds:.1f} s ({result.steps} steps). Judged by an unseen network: style distance to the "
        f"style {judged['judge_style_distance_result']:.3f} (content image: {judged['judge_style_distance_content']:.3f}); "
        f"content distance to the content {judged['judge_content_distance_result']:.3f} (style image: {judged['judge_content_distance_style']:.3f}); "
        f"colour distance to the style {judged['judge_colour_distance_result']:.3f} (content image: {judged['judge_colour_distance_content']:.3f}); "
        f"edge similarity to the content {judged['judge_edge_similarity_result']:.3f} (style image: {judged['judge_edge_similarity_style']:.3f})"
    )


if __name__ == "__main__":
    run_stage("stylize", main)
