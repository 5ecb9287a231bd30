"""The evaluator's blind spot, measured: how ``evaluator.brightness`` changes what the scores see.

    python studies/evaluator_brightness.py [--brightness 0 0.3] [--offsets 0 0.1 0.2 0.3]    # after `dvc repro`

For each brightness, trains the evaluator as the train_evaluator stage does (``params.yaml``'s evaluator
params with that brightness) and prints two tables: its accuracy on the test split with every pixel raised
by each offset (a generator whose background is -0.8 instead of -1 is the offset 0.2), and the scores of
the committed samples (``data/samples/samples.pt``) as drawn and raised by 0.2, against the real images'.
"""

from __future__ import annotations

import argparse

import torch

from ganyard import paths
from ganyard.evaluator import accuracy, train_evaluator
from ganyard.io import load_torch
from ganyard.metrics.evaluation import describe_images, evaluate_samples
from ganyard.params import load_params

SCORES = ("fid", "is_mean", "precision", "recall", "coverage")
GREY = 0.2  # the offset of the samples' second row: a background at -0.8


def raised(images: torch.Tensor, offset: float) -> torch.Tensor:
    return (images + offset).clamp(-1.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brightness", type=float, nargs="+", default=[0.0, 0.3])
    parser.add_argument("--offsets", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3])
    args = parser.parse_args()
    params = load_params()
    train, test = load_torch(paths.TRAIN_DATA, "prepared training data"), load_torch(paths.TEST_DATA, "prepared test data")
    samples = load_torch(paths.SAMPLE_IMAGES, "generated samples")["images"]
    accuracies, scores = [], []
    for brightness in args.brightness:
        evaluator_params = params.evaluator.model_copy(update={"brightness": brightness})
        classes = len(train["class_names"])
        model = train_evaluator(train["images"], train["labels"], evaluator_params, evaluator_params.seed, classes)
        accuracies.append([accuracy(model, raised(test["images"], offset), test["labels"]) for offset in args.offsets])
        real_train, real_test = describe_images(train["images"], model), describe_images(test["images"], model)
        for offset in (0.0, GREY):
            fake = describe_images(raised(samples, offset), model)
            scores.append((brightness, offset, evaluate_samples(fake, real_train, real_test, test["labels"], params.evaluate)))
    print("| evaluator.brightness | " + " | ".join(f"test +{offset:g}" for offset in args.offsets) + " |\n| --- |" + " --- |" * len(args.offsets))
    for brightness, row in zip(args.brightness, accuracies):
        print(f"| {brightness:g} | " + " | ".join(f"{value:.3f}" for value in row) + " |")
    print("\n| evaluator.brightness | samples | " + " | ".join(SCORES) + " |\n| --- | --- |" + " --- |" * len(SCORES))
    for brightness, offset, row in scores:
        shown = "as drawn" if offset == 0 else f"+{offset:g} (grey background)"
        print(f"| {brightness:g} | {shown} | " + " | ".join(f"{row[name]:.3g}" for name in SCORES) + " |")
        if offset == 0:
            print(f"| {brightness:g} | real images | " + " | ".join(f"{row[name + '_real']:.3g}" for name in SCORES) + " |")


if __name__ == "__main__":
    main()
