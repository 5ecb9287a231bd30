"""The judged comparison of the offline style-transfer recipes (issue 20): each recipe on four style
images and two contents, panels side by side and the judges' figures.

    python studies/style.py [--recipes vgg19 ...] [--out docs/figures/style-comparison.png]   # after `dvc repro`
    OMP_NUM_THREADS=1 python studies/style.py --recipes A B &   # two processes at once on 2 cores,
    OMP_NUM_THREADS=1 python studies/style.py --recipes C D     # then once with all: the transfers come from the cache

Every transfer is the stylize stage's (``ganyard.style.stylize``) with ``params.yaml``'s style params and
the recipe's changes (each recipe pins the keys any recipe changes, so it means the same whatever
params.yaml's defaults are). Prints one markdown row per recipe and pair and the recipes' means over the
pairs: the held-out VGG19's style and content distances (lower is better), the colour-histogram distance
to the style (lower) and the structural similarity of the luminance edges to the content (higher).
Writes one figure: a row per (content, style) pair, the content and the style, then each recipe's result.
Each finished transfer is kept in ``data/style-study/`` under the hash of its params, content samples and
``ganyard.style``'s code, so a rerun, or a run of several processes' recipes together, does not transfer
again.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
from pathlib import Path

from ganyard import paths
from ganyard.io import load_torch, save_torch
from ganyard.params import load_params
from ganyard.style import stylize

CACHE = Path("data/style-study")
# name -> style params over params.yaml's. The first is the default before issue 20's study (commit f518d56);
# multiscale32 is the multi-scale network with 32 maps per size, not the paper's 128, whose L-BFGS
# evaluations cost about 6 times a random VGG19's at 128 px (several minutes a picture on 2 cores).
BEFORE = {"features": "vgg19", "style_weight": 0.5, "recolour_content": False}
RECIPES = {
    "vgg19": BEFORE,
    "multiscale32": {**BEFORE, "features": "multiscale", "multiscale_maps": 32},
    "vgg19-recolour": {**BEFORE, "recolour_content": True},
    "vgg19-recolour-style5": {**BEFORE, "recolour_content": True, "style_weight": 5.0},
    "vgg19-recolour-style20": {**BEFORE, "recolour_content": True, "style_weight": 20.0},
    "multiscale32-recolour-style5": {**BEFORE, "features": "multiscale", "multiscale_maps": 32, "recolour_content": True, "style_weight": 5.0},
}
STYLES = ("skimage:coffee", "skimage:chelsea", "skimage:astronaut", "skimage:brick")
CONTENTS = ("samples", "skimage:rocket")  # the GAN's grid and a photo that is none of the styles
JUDGES = (  # key in the judged figures, column title, better
    ("judge_style_distance_result", "style distance (VGG19, unseen seed)", "lower"),
    ("judge_content_distance_result", "content distance (VGG19, unseen seed)", "lower"),
    ("judge_colour_distance_result", "colour-histogram distance to the style", "lower"),
    ("judge_edge_similarity_result", "edge SSIM to the content", "higher"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--out", type=Path, default=Path("docs/figures/style-comparison.png"))
    parser.add_argument("--steps", type=int, help="L-BFGS loss evaluations (default: params.yaml's style.steps)")
    args = parser.parse_args()
    params = load_params().style
    params = params.model_copy(update={"steps": args.steps}) if args.steps else params
    samples = load_torch(paths.SAMPLE_IMAGES, "generated samples")["images"]
    rows, panels = [], []
    for content in CONTENTS:
        for style in STYLES:
            pictures = []
            for recipe in args.recipes:
                done = cached_stylize(params.model_copy(update={"content": content, "style_image": style, **RECIPES[recipe]}), samples)
                rows.append((recipe, content, style, done["judged"], done["seconds"]))
                print(
                    f"| {recipe} | {content} | {style} | " + " | ".join(f"{done['judged'][key]:.3g}" for key, _, _ in JUDGES) + f" | {done['seconds']:.0f} |",
                    flush=True,
                )
                pictures = pictures or [done["content"], done["style"]]
                pictures.append(done["image"])
            panels.append((f"{content} + {style}", pictures))
    print("\n| recipe | " + " | ".join(f"{title} ({better})" for _, title, better in JUDGES) + " | seconds |\n| --- |" + " --- |" * (len(JUDGES) + 1))
    for recipe in args.recipes:
        mine = [row for row in rows if row[0] == recipe]
        means = [statistics.fmean(row[3][key] for row in mine) for key, _, _ in JUDGES]
        print(f"| {recipe} | " + " | ".join(f"{mean:.3g}" for mean in means) + f" | {statistics.fmean(row[4] for row in mine):.0f} |")
    print(f"wrote {plot(panels, args.recipes, args.out)}")


def cached_stylize(params, samples) -> dict:
    """``stylize(params, samples)``'s content, first style, image, judged figures and seconds, from
    ``CACHE`` when the same params and samples were transferred before by the same ``ganyard.style`` code."""
    code = Path(stylize.__code__.co_filename).read_bytes()  # a changed transfer must not be answered from the cache
    key = hashlib.sha256(params.model_dump_json().encode() + samples.numpy().tobytes() + code).hexdigest()[:16]
    path = CACHE / f"{key}.pt"
    if path.is_file():
        return load_torch(path, "cached style transfer")
    done = stylize(params, samples, progress=False)
    record = {"content": done.content, "style": done.styles[0], "image": done.image, "judged": done.judged, "seconds": done.result.seconds}
    CACHE.mkdir(parents=True, exist_ok=True)
    save_torch(record, path)
    return record


def plot(panels: list, recipes: list[str], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = ["content", "style", *recipes]
    figure, axes = plt.subplots(len(panels), len(columns), figsize=(2.2 * len(columns), 2.2 * len(panels)), squeeze=False)
    for row, (title, pictures) in enumerate(panels):
        for column, picture in enumerate(pictures):
            axis = axes[row][column]
            axis.imshow(picture[0].permute(1, 2, 0).clamp(0, 1).numpy())
            axis.set_xticks([]), axis.set_yticks([])
            if row == 0:
                axis.set_title(columns[column], fontsize=10)
        axes[row][0].set_ylabel(title.replace("skimage:", ""), fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out


if __name__ == "__main__":
    main()
