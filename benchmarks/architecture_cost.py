"""Seconds per training iteration of each architecture with its profile; prints figures, asserts nothing.

    PYTHONPATH=src python benchmarks/architecture_cost.py [--image-size 32] [--rounds 3]

Each architecture trains with params.yaml and its profile merged over it (profiles/<architecture>.yaml;
dcgan: params.yaml alone) on random images of ``--image-size`` at ``train.batch_size``, through ganyard's
own ``train`` (R1, EMA and the rest as configured; no quick FID or previews). A growing network gets a
schedule of one iteration per phase, so it has reached the full size before the timed epochs. The
architectures take turns over ``--rounds`` rounds, so that a slow spell of the machine falls on all
alike; the median epoch (10 iterations) of each is printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import yaml

from ganyard.models import build_discriminator, build_generator
from ganyard.params import validate_params
from ganyard.profiles import load_profile, merge
from ganyard.training import make_gan, train

ARCHITECTURES = ("dcgan", "msg", "progressive", "stylegan2")
ITERATIONS = 10  # per timed epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=32, choices=[16, 32, 64, 128])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    runs = {}
    for name in ARCHITECTURES:
        profile = load_profile(f"profiles/{name}.yaml") if name != "dcgan" else {}
        batch = base["train"]["batch_size"]
        overrides = {"data": {"image_size": args.image_size}, "train": {"epochs": 1, "growth": {"stable_images": batch, "fade_images": batch}}}
        params = validate_params(merge(merge(base, profile), overrides))
        images = torch.rand(ITERATIONS * params.train.batch_size, 1, args.image_size, args.image_size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        torch.manual_seed(0)
        shape = {"channels": 1, "image_size": args.image_size}
        gan = make_gan(build_generator(params.model, **shape), build_discriminator(params.model, **shape), params.train)
        rng = torch.Generator().manual_seed(0)
        warm_up = 2  # epochs: a growing network is at full size after 2 x doublings + 1 iterations (11 at 128 px)
        train(gan, images, params.train.model_copy(update={"epochs": warm_up}), rng, progress=False)
        runs[name] = (gan, params, images, rng, warm_up)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, (gan, params, images, rng, done) in runs.items():
            started = time.perf_counter()
            train(gan, images, params.train.model_copy(update={"epochs": done + 1}), rng, progress=False, start_epoch=done)
            seconds[name].append((time.perf_counter() - started) / ITERATIONS)
            runs[name] = (gan, params, images, rng, done + 1)
    print(f"{args.image_size} px, batch {base['train']['batch_size']}, {torch.get_num_threads()} threads, median of {args.rounds} rounds:")
    for name, values in seconds.items():
        widths = f"widths {runs[name][1].model.generator_width}/{runs[name][1].model.discriminator_width}"
        print(f"{name:>12}: {statistics.median(values):.3f} s per iteration ({widths})")


if __name__ == "__main__":
    main()
