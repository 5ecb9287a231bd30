"""Stage sample: models/generator_best.pt or generator.pt (sample.checkpoint) -> data/samples/samples.pt
(sample.count images) and grid.png."""

import torch

from ganyard import paths
from ganyard.images import to_grid
from ganyard.io import load_torch, save_png, save_torch
from ganyard.models import generator_from_config
from ganyard.sampling import balanced_labels, generate, sample_noise
from ganyard.stage import run_stage

GENERATORS = {"best": paths.GENERATOR_BEST, "last": paths.GENERATOR}


def main(params) -> None:
    saved = load_torch(GENERATORS[params.sample.checkpoint], "generator")
    generator = generator_from_config(saved["config"])
    generator.load_state_dict(saved["state_dict"])
    rng = torch.Generator().manual_seed(params.sample.seed)
    noise = sample_noise(params.sample.count, generator.latent_dim, rng)
    classes = generator.classes
    labels = balanced_labels(params.sample.count, classes)
    images = generate(generator, noise, labels)
    if classes:
        # One row per class: the same noise vectors down each column, so only the class changes.
        columns = max(1, params.sample.grid_images // classes)
        grid_noise = sample_noise(columns, generator.latent_dim, rng).repeat(classes, 1)
        grid = generate(generator, grid_noise, torch.arange(classes).repeat_interleave(columns))
        save_torch({"images": images, "labels": labels}, paths.SAMPLE_IMAGES)
        save_png(to_grid(grid, columns=columns), paths.SAMPLE_GRID)
    else:
        save_torch({"images": images}, paths.SAMPLE_IMAGES)
        save_png(to_grid(images[: params.sample.grid_images]), paths.SAMPLE_GRID)
    chosen = f" (quick FID {saved['quick_fid']:.3g})" if "quick_fid" in saved else ""
    print(
        f"sampled {len(images)} images of shape {list(images.shape[1:])} from the {params.sample.checkpoint} generator, epoch {saved.get('epoch', '?')}{chosen} -> {paths.SAMPLES}/"
    )


if __name__ == "__main__":
    run_stage("sample", main)
