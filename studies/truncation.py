"""The truncation trade-off of the committed generator: scores and samples at several ``sample.truncation`` values.

    python studies/truncation.py [--thresholds 3 2 1.5 1 0.75 0.5]    # after `dvc repro`

For each value, the sample stage's draw (``sample.count`` z from ``sample.seed``, truncated) through the
generator that ``sample.checkpoint`` names, scored as the evaluate stage scores (FID, precision, recall,
coverage against the test split). Prints a markdown table and writes ``docs/figures/truncation.png``: the
scores over the threshold, and 16 samples at each value.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ganyard import paths
from ganyard.images import to_grid
from ganyard.io import load_torch
from ganyard.metrics.backbones import load_backbones
from ganyard.metrics.evaluation import describe_images, evaluate_samples
from ganyard.models import load_generator
from ganyard.params import load_params
from ganyard.sampling import balanced_labels, draw_noise, generate

SCORES = ("fid", "precision", "recall", "coverage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[3, 2, 1.5, 1, 0.75, 0.5])
    args = parser.parse_args()
    params = load_params()
    generator, _ = load_generator(paths.SAMPLED_GENERATOR[params.sample.checkpoint])
    real = load_torch(paths.REAL_FEATURES, "real-image features")
    evaluator, inception = load_backbones(params.evaluate)
    rows, grids = [], []
    for threshold in [None, *args.thresholds]:
        noise = draw_noise(generator, params.sample.count, torch.Generator().manual_seed(params.sample.seed), threshold)
        images = generate(generator, noise, balanced_labels(params.sample.count, generator.classes), truncation=threshold)
        scores = evaluate_samples(
            describe_images(images, evaluator, inception, desc=f"truncation {threshold}"), real["train"], real["test"], real["test_labels"], params.evaluate
        )
        rows.append((threshold, scores))
        grids.append((threshold, to_grid(images[:16], columns=4)))
    print("| truncation | " + " | ".join(SCORES) + " |\n| --- |" + " --- |" * len(SCORES))
    for threshold, scores in rows:
        print(f"| {'none' if threshold is None else threshold} | " + " | ".join(f"{scores[name]:.3g}" for name in SCORES if name in scores) + " |")
    print(f"(real images: FID {rows[0][1]['fid_real']:.3g}, precision {rows[0][1]['precision_real']:.3g}, recall {rows[0][1]['recall_real']:.3g})")
    print(f"wrote {plot(rows, grids)}")


def plot(rows: list, grids: list) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(2 * len(grids), 6.2))
    top = figure.add_gridspec(2, 1, height_ratios=(1.3, 1))
    axis = figure.add_subplot(top[0])
    truncated = [(threshold, scores) for threshold, scores in rows if threshold is not None]
    thresholds = [threshold for threshold, _ in truncated]
    for name in SCORES[1:]:
        if name in rows[0][1]:
            line = axis.plot(thresholds, [scores[name] for _, scores in truncated], "o-", label=name)[0]
            axis.axhline(rows[0][1][name], color=line.get_color(), linestyle=":", linewidth=1)
    fid_axis = axis.twinx()
    fid_axis.plot(thresholds, [scores["fid"] for _, scores in truncated], "ks-", label="FID (right axis)")
    fid_axis.axhline(rows[0][1]["fid"], color="k", linestyle=":", linewidth=1)
    fid_axis.set(yscale="log", ylabel="FID (evaluator features)")
    axis.set(xlabel="sample.truncation (z threshold); dotted: no truncation", ylabel="precision, recall, coverage", ylim=(0, 1.02))
    axis.invert_xaxis()
    figure.legend(loc="upper center", ncol=4, fontsize=8)
    strip = top[1].subgridspec(1, len(grids))
    for index, (threshold, grid) in enumerate(grids):
        image_axis = figure.add_subplot(strip[index])
        image_axis.imshow(grid, cmap="gray")
        image_axis.set_title("none" if threshold is None else f"{threshold:g}", fontsize=9)
        image_axis.axis("off")
    path = Path("docs/figures/truncation.png")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


if __name__ == "__main__":
    main()
