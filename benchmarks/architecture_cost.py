"""Seconds per training iteration of each architecture with its profile; prints figures, asserts nothing.

    PYTHONPATH=src python benchmarks/architecture_cost.py [--image-size 32] [--rounds 3] [--device cuda] [--amp]

Each architecture trains with params.yaml and its profile merged over it (profiles/<architecture>.yaml;
dcgan: params.yaml alone) on random images of ``--image-size`` at ``train.batch_size``, through ganyard's
own ``train`` (R1, EMA and the rest as configured; no quick FID or previews). A growing network gets a
schedule of one iteration per phase, so it has reached the full size before the timed epochs. The
architectures take turns over ``--rounds`` rounds, so that a slow spell of the machine falls on all
alike; the median epoch (10 iterations) of each is printed. ``--device cuda`` times them on a GPU (the
clock read after ``torch.cuda.synchronize``), ``--amp`` with ``train.amp``'s bfloat16 forward passes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import get_args

import torch
import yaml

from ganyard.distributed import resolve_device
from ganyard.models import build_discriminator, build_generator
from ganyard.params import Device, validate_params
from ganyard.profiles import load_profile, merge
from ganyard.training import make_gan, train

ARCHITECTURES = ("dcgan", "msg", "progressive", "stylegan2")
ITERATIONS = 10  # per timed epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=32, choices=[16, 32, 64, 128])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=get_args(Device), help="train.device's values")
    parser.add_argument("--amp", action="store_true", help="bfloat16 forward passes (train.amp; CUDA only)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    base = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    runs = {}
    for name in ARCHITECTURES:
        profile = load_profile(f"profiles/{name}.yaml") if name != "dcgan" else {}
        batch = base["train"]["batch_size"]
        overrides = {
            "data": {"image_size": args.image_size},
            "train": {"epochs": 1, "device": args.device, "amp": args.amp, "growth": {"stable_images": batch, "fade_images": batch}},
        }
        params = validate_params(merge(merge(base, profile), overrides))
        images = torch.rand(ITERATIONS * params.train.batch_size, 1, args.image_size, args.image_size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        images = images.to(device)
        torch.manual_seed(0)
        shape = {"channels": 1, "image_size": args.image_size}
        networks = (build_generator(params.model, **shape).to(device), build_discriminator(params.model, **shape).to(device))
        gan = make_gan(*networks, params.train)
        rng = torch.Generator().manual_seed(0)
        warm_up = 2  # epochs: a growing network is at full size after 2 x doublings + 1 iterations (11 at 128 px)
        train(gan, images, params.train.model_copy(update={"epochs": warm_up}), rng, progress=False)
        runs[name] = (gan, params, images, rng, warm_up)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, (gan, params, images, rng, done) in runs.items():
            synchronize(device)
            started = time.perf_counter()
            train(gan, images, params.train.model_copy(update={"epochs": done + 1}), rng, progress=False, start_epoch=done)
            synchronize(device)
            seconds[name].append((time.perf_counter() - started) / ITERATIONS)
            runs[name] = (gan, params, images, rng, done + 1)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"{args.image_size} px, batch {base['train']['batch_size']}, {device.type} ({where}){', amp' if args.amp else ''}, median of {args.rounds} rounds:")
    for name, values in seconds.items():
        widths = f"widths {runs[name][1].model.generator_width}/{runs[name][1].model.discriminator_width}"
        print(f"{name:>12}: {statistics.median(values):.3f} s per iteration ({widths})")


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work, so that the clock reads what it took."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
