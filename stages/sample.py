"""Stage sample: models/generator.pt -> data/samples/samples.pt (sample.count images) and grid.png."""

import torch

from ganyard.cli import run_stage
from ganyard.images import to_grid
from ganyard.io import load_torch, save_png, save_torch
from ganyard.models import generator_from_config
from ganyard.training import generate, sample_noise


def main(params) -> None:
    saved = load_torch("models/generator.pt", "generator")
    generator = generator_from_config(saved["config"])
    generator.load_state_dict(saved["state_dict"])
    noise = sample_noise(params.sample.count, generator.latent_dim, torch.Generator().manual_seed(params.sample.seed))
    images = generate(generator, noise)
    save_torch({"images": images}, "data/samples/samples.pt")
    save_png(to_grid(images[: params.sample.grid_images]), "data/samples/grid.png")
    print(f"sampled {len(images)} images of shape {list(images.shape[1:])} -> data/samples/")


if __name__ == "__main__":
    run_stage("sample", main)
