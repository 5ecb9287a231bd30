"""Timing of the evaluation's hot spots; prints figures, asserts nothing.

    python benchmarks/metrics_speed.py [--repeats 3]

- the Fréchet distance (ganyard's Cholesky and symmetric-eigenvalue route vs pytorch-fid's general matrix square root)
  at d = 128 and d = 2048, with the values, so the speed-up is shown at the same result;
- feature extraction throughput of the evaluator CNN (images/s), at the default architecture.
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import torch

from ganyard.metrics.backbones import extract
from ganyard.metrics.scores import feature_statistics, frechet_distance
from ganyard.models.evaluator import EvaluatorCNN
from ganyard.params import EvaluatorParams


def best_of(repeats: int, function):
    times, value = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - started)
    return min(times), value


def statistics(dimension: int, seed: int):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((2 * dimension + 500, dimension)) @ (rng.standard_normal((dimension, dimension)) / np.sqrt(dimension))
    return feature_statistics(features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from pytorch_fid.fid_score import calculate_frechet_distance

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, numpy {np.__version__}")
    for dimension in (128, 2048):
        first, second = statistics(dimension, 1), statistics(dimension, 2)
        ours_seconds, ours = best_of(args.repeats, lambda: frechet_distance(*first, *second))  # noqa: B023 (called at once, in this iteration)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference_seconds, reference = best_of(1 if dimension > 1000 else args.repeats, lambda: calculate_frechet_distance(*first, *second))  # noqa: B023 (called at once)
        print(
            f"Fréchet distance d={dimension}: ganyard {ours_seconds:.4f} s, pytorch-fid {reference_seconds:.4f} s, "
            f"speed-up {reference_seconds / ours_seconds:.1f}x; values {ours:.10g} vs {reference:.10g} "
            f"(relative difference {abs(ours - reference) / abs(reference):.1e})"
        )

    defaults = EvaluatorParams()
    evaluator = EvaluatorCNN(1, 10, defaults.width, defaults.feature_dim).to(memory_format=torch.channels_last).eval()  # as load_evaluator
    images = torch.rand(10_000, 1, 32, 32) * 2 - 1
    seconds, _ = best_of(args.repeats, lambda: extract(evaluator.features_and_logits, images, progress=False))
    print(f"evaluator features, 10,000 images 32x32: {seconds:.2f} s, {len(images) / seconds:,.0f} images/s")


if __name__ == "__main__":
    main()
