"""Stage sample: models/generator_best.pt or generator.pt (sample.checkpoint) -> data/samples/: samples.pt
(sample.count images), grid.png, the interpolation walks (and class morphs) as .png and .gif, and with
sample.export_png every sample as png/NNNNNN.png. Every draw comes from one generator seeded with sample.seed."""

import torch

from ganyard import paths
from ganyard.images import export_pngs, to_grid
from ganyard.interpolation import write_walks
from ganyard.io import save_png, save_torch
from ganyard.models import load_generator
from ganyard.sampling import balanced_labels, draw_noise, generate
from ganyard.stage import run_stage


def main(params) -> None:
    generator, saved = load_generator(paths.SAMPLED_GENERATOR[params.sample.checkpoint])
    rng, truncation = torch.Generator().manual_seed(params.sample.seed), params.sample.truncation
    noise = draw_noise(generator, params.sample.count, rng, truncation)
    classes = generator.classes
    labels = balanced_labels(params.sample.count, classes)
    images = generate(generator, noise, labels, truncation=truncation)
    if classes:
        # One row per class: the same noise vectors down each column, so only the class changes.
        columns = max(1, params.sample.grid_images // classes)
        grid_noise = draw_noise(generator, columns, rng, truncation).repeat(classes, 1)
        grid = generate(generator, grid_noise, torch.arange(classes).repeat_interleave(columns), truncation=truncation)
        save_torch({"images": images, "labels": labels}, paths.SAMPLE_IMAGES)
        save_png(to_grid(grid, columns=columns), paths.SAMPLE_GRID)
    else:
        save_torch({"images": images}, paths.SAMPLE_IMAGES)
        save_png(to_grid(images[: params.sample.grid_images]), paths.SAMPLE_GRID)
    if params.sample.interpolation_rows:
        write_walks(generator, params.sample.interpolation_rows, params.sample.interpolation_steps, rng, truncation)
    if params.sample.export_png:
        export_pngs(images, paths.SAMPLE_PNGS)
    chosen = f" (quick FID {saved['quick_fid']:.3g})" if "quick_fid" in saved else ""
    print(
        f"sampled {len(images)} images of shape {list(images.shape[1:])} from the {params.sample.checkpoint} generator, epoch {saved.get('epoch', '?')}{chosen} -> {paths.SAMPLES}/"
    )


if __name__ == "__main__":
    run_stage("sample", main)
