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
import importlib.util
import json
import subprocess
from pathlib import Path

import torch
import yaml

from ganyard import paths
from ganyard.data import prepare_data
from ganyard.metrics.evaluation import describe_images, evaluate_samples
from ganyard.models.evaluator import load_evaluator
from ganyard.params import validate_params

SCORES = ("fid", "precision", "recall", "coverage")


def load_studies():
    """studies/run.py as a module (a script beside this one, not part of the package): its experiment_refs and cached_output."""
    spec = importlib.util.spec_from_file_location("studies_run", Path(__file__).resolve().parent / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git_text(ref: str, path: Path) -> str:
    """A git-tracked file as the experiment at ``ref`` left it."""
    return subprocess.run(["git", "show", f"{ref}:{path.as_posix()}"], capture_output=True, text=True, check=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluator-from", required=True, help="the experiment whose evaluator (and data params) scores them all")
    parser.add_argument("experiments", nargs="+", help="the experiments whose samples to score again")
    args = parser.parse_args()
    studies = load_studies()
    refs = studies.experiment_refs()
    unknown = [name for name in (args.evaluator_from, *args.experiments) if name not in refs]
    if unknown:
        raise SystemExit(f"studies/rescore.py: no finished experiment named {', '.join(unknown)} (`dvc exp list --all-commits` lists them)")
    source = refs[args.evaluator_from]
    params = validate_params(yaml.safe_load(git_text(source, Path("params.yaml"))))
    evaluator = load_evaluator(studies.cached_output(source, paths.EVALUATOR))
    prepared = prepare_data(params.data, progress=False)
    train, test = prepared.splits["train"], prepared.splits["test"]
    real_train, real_test = describe_images(train.images, evaluator), describe_images(test.images, evaluator)
    print(f"| experiment | as scored: {', '.join(SCORES)}, real FID | on {args.evaluator_from}'s evaluator |\n| --- | --- | --- |")
    for experiment in args.experiments:
        before = json.loads(git_text(refs[experiment], paths.EVAL_METRICS))
        samples = torch.load(studies.cached_output(refs[experiment], paths.SAMPLE_IMAGES), weights_only=True)["images"]
        after = evaluate_samples(describe_images(samples, evaluator), real_train, real_test, test.labels, params.evaluate)
        cells = [", ".join(f"{scores[name]:.3g}" for name in (*SCORES, "fid_real") if name in scores) for scores in (before, after)]
        print(f"| {experiment} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
