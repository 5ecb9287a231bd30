"""Draw images from a trained generator file, without the pipeline around it.

    python -m ganyard.generate --model models/generator.pt --count 64 --out DIR [--seed S] [--truncation T] [--class C] [--grid FILE]

Writes DIR/000000.png, 000001.png, ... (a folder that torch-fidelity and clean-fid read as it is), and with
``--grid`` one grid of them. The generator file (the train stage's ``models/generator.pt`` or
``generator_best.pt``) holds the network's config beside its weights, so only the installed ganyard package
is needed. The same file, --count, --seed, --truncation and --class draw the same images every time; a
conditional generator without --class draws classes 0, 1, 2, ... in turn, as the sample stage does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from ganyard.images import export_pngs, to_grid
from ganyard.io import ArtifactError, save_png
from ganyard.models import load_generator
from ganyard.sampling import balanced_labels, draw_noise, generate, truncates_styles


def draw(generator: nn.Module, count: int, seed: int, truncation: float | None = None, class_index: int | None = None) -> torch.Tensor:
    """``count`` images (count, C, H, W) in [-1, 1] from noise seeded with ``seed``; a conditional generator's classes are
    ``class_index`` for all, or 0, 1, 2, ... in turn. ValueError for a class or truncation the generator does not take."""
    classes = generator.classes
    if class_index is not None and not classes:
        raise ValueError(f"--class {class_index}: this generator is unconditional (trained with model.conditional: false); leave --class out")
    if class_index is not None and not 0 <= class_index < classes:
        raise ValueError(f"--class {class_index} is out of range: this generator has classes 0 to {classes - 1}")
    if truncation is not None and (truncation <= 0 or (truncates_styles(generator) and truncation > 1)):
        allowed = "psi in (0, 1] (StyleGAN2's w toward the mean w)" if truncates_styles(generator) else "a threshold > 0 on z"
        raise ValueError(f"--truncation {truncation}: this generator takes {allowed}")
    noise = draw_noise(generator, count, torch.Generator().manual_seed(seed), truncation)
    labels = torch.full((count,), class_index) if class_index is not None else balanced_labels(count, classes)
    return generate(generator, noise, labels, truncation=truncation)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2]
    )
    parser.add_argument("--model", required=True, help="a generator file: models/generator.pt or models/generator_best.pt")
    parser.add_argument("--count", type=int, required=True, help="images to draw (at least 1)")
    parser.add_argument("--out", required=True, help="a new or empty folder for the PNG files")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the noise (default 1234, the sample stage's)")
    parser.add_argument("--truncation", type=float, default=None, help="z threshold, or StyleGAN2's psi in (0, 1] (default: none)")
    parser.add_argument("--class", dest="class_index", type=int, default=None, help="draw only this class (a conditional generator)")
    parser.add_argument("--grid", default=None, help="also write the images as one grid to this PNG file")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.count < 1:
        parser.error(f"--count {args.count}: give at least 1 image")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        parser.error(f"--out {out} {'is a file' if not out.is_dir() else 'is not empty'}; give a new or empty folder (nothing is overwritten)")
    try:
        generator, saved = load_generator(args.model)
        images = draw(generator, args.count, args.seed, args.truncation, args.class_index)
    except (ArtifactError, ValueError) as error:
        print(f"ganyard.generate: {'--model ' if isinstance(error, ArtifactError) else ''}{error}", file=sys.stderr)
        return 2
    export_pngs(images, out)
    if args.grid:
        save_png(to_grid(images), args.grid)
    epoch = f", epoch {saved['epoch']}" if "epoch" in saved else ""
    print(f"wrote {len(images)} images of {list(images.shape[1:])} from {args.model}{epoch} to {out}/" + (f" and {args.grid}" if args.grid else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
