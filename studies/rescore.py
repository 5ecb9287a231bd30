"""Score finished experiments' samples again, on another experiment's evaluator.

    python studies/rescore.py --evaluator-from architectures-dcgan-seed2 architectures-dcgan-seed0 architectures-msg-seed0 ...

Scores are comparable only between runs that share the evaluator. When two runs of one study were scored by
different evaluators (the queue trained one on 1 thread before ``ganyard.evaluator.TRAINING_THREADS``), this
reads each experiment's samples and the evaluator of ``--evaluator-from`` from DVC's cache, prepares the data
as that experiment's params say, and prints each experiment's FID, precision, recall and coverage as it was
scored and as the chosen evaluator scores it, beside the real images' FID. Nothing is written.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tempfile
from pathlib import Path

import dvc.api
import torch
import yaml

from ganyard import paths
from ganyard.data import prepare_data
from ganyard.metrics.evaluation import describe_images, evaluate_samples
from ganyard.models.evaluator import load_evaluator
from ganyard.params import validate_params

SCORES = ("fid", "precision", "recall", "coverage")


def read(path: str, experiment: str) -> bytes:
    """The bytes of a DVC-tracked ``path`` as ``experiment`` (any git revision or experiment name) left it."""
    with dvc.api.open(path, rev=experiment, mode="rb") as handle:
        return handle.read()


def git_text(path: str, experiment: str) -> str:
    """A git-tracked file as ``experiment`` left it."""
    return subprocess.run(["git", "show", f"{experiment_ref(experiment)}:{path}"], capture_output=True, text=True, check=True).stdout


def experiment_ref(experiment: str) -> str:
    """The git revision of an experiment name (its ref under refs/exps), or the name itself when it is no experiment."""
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], capture_output=True, text=True, check=True).stdout.split()
    found = [ref for ref in refs if ref.rsplit("/", 1)[-1] == experiment]
    return found[-1] if found else experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluator-from", required=True, help="the experiment whose evaluator (and data params) scores them all")
    parser.add_argument("experiments", nargs="+", help="the experiments whose samples to score again")
    args = parser.parse_args()
    params = validate_params(yaml.safe_load(git_text("params.yaml", args.evaluator_from)))
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / paths.EVALUATOR.name
        saved.write_bytes(read(paths.EVALUATOR.as_posix(), args.evaluator_from))
        evaluator = load_evaluator(saved)
    prepared = prepare_data(params.data, progress=False)
    train, test = prepared.splits["train"], prepared.splits["test"]
    real_train, real_test = describe_images(train.images, evaluator), describe_images(test.images, evaluator)
    print(f"| experiment | as scored: {', '.join(SCORES)}, real FID | on {args.evaluator_from}'s evaluator |\n| --- | --- | --- |")
    for experiment in args.experiments:
        before = yaml.safe_load(git_text(paths.EVAL_METRICS.as_posix(), experiment))
        samples = torch.load(io.BytesIO(read(paths.SAMPLE_IMAGES.as_posix(), experiment)), weights_only=True)["images"]
        after = evaluate_samples(describe_images(samples, evaluator), real_train, real_test, test.labels, params.evaluate)
        cells = [", ".join(f"{scores[name]:.3g}" for name in (*SCORES, "fid_real") if name in scores) for scores in (before, after)]
        print(f"| {experiment} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
