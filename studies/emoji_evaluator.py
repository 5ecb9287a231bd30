"""Does the evaluator of unlabelled colour pictures see what a person sees? Known damage, scored.

    python studies/emoji_evaluator.py [--tasks rotation rotation_colour] [--epochs 60] \
        [--experiments emoji-dcgan-seed0 emoji-msg-seed0 ...]    # after python -m ganyard.data.emoji --out data/emoji

Prepares the emoji folder at 64 px as the emoji study does (``data.source: folder``), trains the evaluator
once for each ``evaluator.unlabelled_task`` (the study's evaluator params otherwise, from studies/run.py, with
``--epochs`` epochs) and prints one table: its test accuracy on its task, then FID and recall of the training
pictures (the real floor), of the same pictures damaged in ways anyone can see (blurred through 4, 8 and 16 px,
with noise, with their colour channels reordered), and of the samples of finished experiments (read from
DVC's cache), all against the test split as ``metrics/eval.json``'s scores are. An evaluator
worth its name scores every damaged row far above the floor, and ranks the damage as the eye does.
"""

from __future__ import annotations

import argparse
import importlib.util
import typing
from pathlib import Path

import torch
import torch.nn.functional as F

from ganyard import paths
from ganyard.data import prepare_data
from ganyard.evaluator import accuracy, train_evaluator
from ganyard.metrics.evaluation import describe_images, evaluate_samples
from ganyard.params import DataParams, EvaluateParams, EvaluatorParams

# studies/run.py (a script beside this one): the emoji study's params, its experiments and DVC's cache of their outputs
_spec = importlib.util.spec_from_file_location("studies_run", Path(__file__).resolve().parent / "run.py")
studies = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(studies)
STUDY = studies.run_params("emoji", "dcgan")  # every architecture's run shares the data and evaluator params
IMAGE_SIZE = STUDY["data.image_size"]
TASKS = typing.get_args(EvaluatorParams.model_fields["unlabelled_task"].annotation)
NOISE = 0.2  # the standard deviation of the Gaussian noise row, on the [-1, 1] scale


def blurred(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images (N, C, S, S) averaged down to size x size pixels and scaled back up bilinearly: (N, C, S, S)."""
    small = F.interpolate(images, size=size, mode="area")
    return F.interpolate(small, size=images.shape[-1], mode="bilinear", align_corners=False)


def damaged(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The rows of the table: the pictures as they are and damaged in ways the eye sees at once."""
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
    return {
        "real (training pictures)": images,
        **{f"blurred through {size} px": blurred(images, size) for size in (4, 8, 16)},
        f"noise (std {NOISE:g})": (images + NOISE * noise).clamp(-1.0, 1.0),
        "colour channels reordered (b, r, g)": images[:, [2, 0, 1]],
    }


def evaluator_params(task: str, epochs: int) -> EvaluatorParams:
    """The emoji study's evaluator params, with this unlabelled task and epoch count."""
    study = {key.removeprefix("evaluator."): value for key, value in STUDY.items() if key.startswith("evaluator.")}
    return EvaluatorParams(**{**study, "unlabelled_task": task, "epochs": epochs})


def experiment_samples(name: str, refs: dict[str, str]) -> torch.Tensor:
    """The samples (N, C, S, S) of a finished experiment (``refs``: studies/run.py's experiment_refs), from DVC's cache."""
    if name not in refs:
        raise SystemExit(f"studies/emoji_evaluator.py: no finished experiment named {name} (`dvc exp list --all-commits` lists them)")
    return torch.load(studies.cached_output(refs[name], paths.SAMPLE_IMAGES), weights_only=True)["images"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/emoji", help="the emoji folder (python -m ganyard.data.emoji)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--epochs", type=int, default=STUDY["evaluator.epochs"], help="evaluator.epochs (the emoji study's by default)")
    parser.add_argument("--experiments", nargs="*", default=[], help="finished experiments whose samples to score too")
    args = parser.parse_args()
    prepared = prepare_data(DataParams(source="folder", path=args.data, image_size=IMAGE_SIZE), progress=False)
    train, test = prepared.splits["train"].images, prepared.splits["test"].images
    refs = studies.experiment_refs() if args.experiments else {}
    rows = damaged(train) | {f"samples of {name}": experiment_samples(name, refs) for name in args.experiments}
    columns, table = [], {name: [] for name in rows}
    for task in args.tasks:
        params = evaluator_params(task, args.epochs)
        model = train_evaluator(train, None, params, params.seed)
        columns.append(f"{task} (test accuracy {accuracy(model, test, None):.3f})")
        real_train, real_test = describe_images(train, model), describe_images(test, model)
        for name, images in rows.items():
            scores = evaluate_samples(describe_images(images, model), real_train, real_test, None, EvaluateParams())
            table[name].append(f"{scores['fid']:.3g} / {scores['recall']:.2f}")
    print("FID / recall against the test split, by the evaluator's task:\n")
    print("| pictures | " + " | ".join(columns) + " |\n| --- |" + " --- |" * len(columns))
    for name, cells in table.items():
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
