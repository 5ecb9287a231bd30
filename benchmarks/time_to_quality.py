"""Time to quality: how long the default recipe and the reference DCGAN loop train until the quick FID
first reaches a threshold; prints figures, asserts nothing.

    PYTHONPATH=src python benchmarks/time_to_quality.py [--threshold 5] [--budget-seconds 900] [--plot reports/time_to_quality.png]
        [--profile profiles/progressive.yaml ...] [--without-reference]

Needs `dvc repro` first (the prepared training split and the evaluator). Both loops train on the same
images with the same threads, one epoch (a pass over the training split) at a time, alternating, so a
slow or fast spell of the machine falls on both alike; only training is timed. After every epoch each
is scored as the train stage scores it: FID on the evaluator's features between ``--eval-samples``
images from one fixed batch of noise (drawn in eval mode, from the moving average where the recipe
keeps one) and the training split.

- ganyard: ``ganyard.training.train`` with the committed params.yaml's ``model`` and ``train`` sections
  (the default recipe), one epoch per call;
- reference: the loop of benchmarks/train_throughput.py at its own settings, pytorch/examples'
  dcgan/main.py: the same network architecture at the old default widths, Adam 2e-4 with betas
  (0.5, 0.999) for both networks, the generator step on the discriminator step's G(z), no moving
  average, per-item PIL loading.

- with ``--profile PATH`` (as often as wanted): also the recipe of that profile merged over params.yaml
  (``profiles/<architecture>.yaml``: another architecture with its recommended params), named after the file;
  ``--without-reference`` leaves the reference loop out.

Each stops at the threshold or when its training time passes ``--budget-seconds``; the ratio of each
loop's time to the default's is printed (or that it never got there within the budget).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch
from train_throughput import ReferenceLoop, dcgan_params

from ganyard import paths
from ganyard.metrics.evaluation import QuickFID
from ganyard.models import build_discriminator, build_generator
from ganyard.models.evaluator import load_evaluator
from ganyard.params import Params, load_params, validate_params
from ganyard.profiles import merged_params
from ganyard.sampling import generate, sample_noise
from ganyard.training import iterations_per_epoch, make_gan, train


class GanyardRecipe:
    """A ganyard recipe (the default, or a profile's), trained one epoch per ``run_epoch`` call."""

    def __init__(self, params: Params, images: torch.Tensor, seed: int, name: str = "ganyard default"):
        self.name = name
        if params.train.instance_noise:
            raise SystemExit("train.instance_noise anneals over the whole run; this benchmark trains one epoch at a time: set it to 0")
        torch.manual_seed(seed)
        channels, size = images.shape[1], images.shape[-1]
        generator = build_generator(params.model, channels=channels, image_size=size)
        self.gan = make_gan(generator, build_discriminator(params.model, channels=channels, image_size=size), params.train)
        self.params, self.images, self.epoch = params.train, images, 0
        self.rng = torch.Generator().manual_seed(seed)

    def run_epoch(self) -> None:
        self.epoch += 1
        train(self.gan, self.images, self.params.model_copy(update={"epochs": self.epoch}), self.rng, progress=False, start_epoch=self.epoch - 1)

    @property
    def sampling_generator(self) -> torch.nn.Module:
        return self.gan.sampling_generator


class Reference:
    """benchmarks/train_throughput.py's main.py-style loop, one pass over its DataLoader per ``run_epoch`` call."""

    name = "reference"

    def __init__(self, images: torch.Tensor, seed: int):
        torch.manual_seed(seed)  # main.py draws noise and shuffles from torch's global generator
        self.loop = ReferenceLoop(dcgan_params(), images)
        self.iterations = len(self.loop.loader)

    def run_epoch(self) -> None:
        self.loop.run(self.iterations)

    @property
    def sampling_generator(self) -> torch.nn.Module:
        return self.loop.generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold", type=float, default=5.0, help="quick FID to reach (default 5)")
    parser.add_argument("--budget-seconds", type=float, default=900.0, help="training time after which a loop stops trying (default 900)")
    parser.add_argument("--eval-samples", type=int, default=1000, help="generated images per quick FID (default 1000, as train.eval_samples)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="also write the FID curves over training time to this PNG")
    parser.add_argument("--profile", action="append", default=[], help="also train this profile's recipe (merged over params.yaml); repeatable")
    parser.add_argument("--without-reference", action="store_true", help="leave the reference loop out")
    args = parser.parse_args()
    prepared = paths.TRAIN_DATA
    if not prepared.is_file() or not paths.EVALUATOR.is_file():
        raise SystemExit("needs data/prepared/train.pt and models/evaluator.pt: run `dvc repro` first")
    images = torch.load(prepared, weights_only=True)["images"]
    params = load_params("params.yaml")
    quick_fid = QuickFID(load_evaluator(), images)
    noise = sample_noise(args.eval_samples, params.model.latent_dim, torch.Generator().manual_seed(args.seed + 1))
    loops = [GanyardRecipe(params, images, args.seed)]
    for profile in args.profile:  # checked like params.yaml itself, before any training
        loops.append(GanyardRecipe(validate_params(merged_params("params.yaml", profile)), images, args.seed, name=f"ganyard {Path(profile).stem}"))
    if not args.without_reference:
        loops.append(Reference(images, args.seed))
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{len(images)} training images, {iterations_per_epoch(len(images), params.train)} iterations per epoch (ganyard), "
        f"threshold: quick FID {args.threshold:g} ({args.eval_samples} samples against the training split), budget {args.budget_seconds:g} s each"
    )
    seconds = {loop.name: 0.0 for loop in loops}
    curves: dict[str, list[tuple[float, float]]] = {loop.name: [] for loop in loops}
    reached: dict[str, tuple[int, float]] = {}
    epoch = 0
    while any(loop.name not in reached and seconds[loop.name] < args.budget_seconds for loop in loops):
        epoch += 1
        for loop in loops:
            if loop.name in reached or seconds[loop.name] >= args.budget_seconds:
                continue
            started = time.perf_counter()
            loop.run_epoch()
            seconds[loop.name] += time.perf_counter() - started
            fid = quick_fid(generate(loop.sampling_generator, noise))
            curves[loop.name].append((seconds[loop.name], fid))
            if fid <= args.threshold:
                reached[loop.name] = (epoch, seconds[loop.name])
        print(
            f"epoch {epoch:4d}: "
            + "; ".join(f"{name} {curve[-1][1]:8.2f} after {curve[-1][0]:6.1f} s" for name, curve in curves.items() if len(curve) == epoch),
            flush=True,
        )
    for loop in loops:
        best_seconds, best_fid = min(curves[loop.name], key=lambda point: point[1])
        if loop.name in reached:
            at_epoch, at_seconds = reached[loop.name]
            print(f"{loop.name}: quick FID <= {args.threshold:g} at epoch {at_epoch}, after {at_seconds:.1f} s of training")
        else:
            print(f"{loop.name}: never reached {args.threshold:g} within {args.budget_seconds:g} s (lowest {best_fid:.2f} after {best_seconds:.1f} s)")
    ours = reached.get(loops[0].name)
    if ours is None:
        print(f"the ganyard default did not reach {args.threshold:g} within the budget")
    for loop in loops[1:]:
        theirs = reached.get(loop.name)
        if ours and theirs:
            print(f"time to quick FID {args.threshold:g}: {loop.name} takes {theirs[1] / ours[1]:.2f}x as long as the ganyard default")
        elif ours:
            print(
                f"time to quick FID {args.threshold:g}: ganyard default {ours[1]:.1f} s; {loop.name} did not get there in {args.budget_seconds:g} s "
                f"(more than {args.budget_seconds / ours[1]:.2f}x)"
            )
    if args.plot:
        plot(curves, args.threshold, args.plot)


def plot(curves: dict[str, list[tuple[float, float]]], threshold: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.6))
    for name, curve in curves.items():
        axis.plot([point[0] for point in curve], [point[1] for point in curve], label=name)
    axis.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    axis.set(yscale="log", xlabel="training seconds", ylabel="quick FID (training split)", title="Time to quality")
    axis.grid(alpha=0.3, which="both")
    axis.legend()
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
