"""Score finished experiments' samples again, on another experiment's evaluator.

    python studies/rescore.py --evaluator-from architectures-dcgan-seed2 architectures-dcgan-seed0 architectures-msg-seed0 ...
    python studies/rescore.py --evaluator-from emoji-dcgan-seed0 --shrink emoji128-dcgan-seed0 emoji128-stylegan2-seed0 ...

Scores are comparable only between runs that share the evaluator. When two runs of one study were scored by
different evaluators (the queue trained one on 1 thread before ``ganyard.evaluator.TRAINING_THREADS``), this
reads each experiment's samples and the evaluator of ``--evaluator-from`` from DVC's cache, prepares the data
as that experiment's params say, and prints each experiment's FID, precision, recall and coverage as it was
scored and as the chosen evaluator scores it, beside the real images' FID. Nothing is written.

Samples larger than the evaluator's pictures (the 128-px emoji runs, which stop at the sample stage and were
never scored) are refused unless ``--shrink``: then they are shrunk to its size as the prepare stage shrinks a
folder's pictures (8-bit, then bilinear with antialiasing: ``ganyard.data.prepare.prepare_images``), and the
real training pictures at the samples' size, shrunk the same way, are scored first: the floor of that path.
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
from ganyard.data.prepare import prepare_images
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


def shrink(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, S, S) in [-1, 1] -> (N, C, size, size): to 8 bits as a saved picture, then as the prepare stage resizes."""
    return prepare_images(((images + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8), size)


def cells(scores: dict | None) -> str:
    """The scores of SCORES and the real FID of one evaluation, or "not scored"."""
    return "not scored" if scores is None else ", ".join(f"{scores[name]:.3g}" for name in (*SCORES, "fid_real") if name in scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluator-from", required=True, help="the experiment whose evaluator (and data params) scores them all")
    parser.add_argument("--shrink", action="store_true", help="shrink samples larger than the evaluator's pictures to its size")
    parser.add_argument("experiments", nargs="+", help="the experiments whose samples to score again")
    args = parser.parse_args()
    studies = load_studies()
    refs = studies.experiment_refs()
    unknown = [name for name in (args.evaluator_from, *args.experiments) if name not in refs]
    if unknown:
        raise SystemExit(f"studies/rescore.py: no finished experiment named {', '.join(unknown)} (`dvc exp list --all-commits` lists them)")
    if not studies.evaluated(refs[args.evaluator_from]):
        raise SystemExit(
            f"studies/rescore.py: --evaluator-from {args.evaluator_from} stopped before the evaluate stage; take the evaluator of one that scored its samples"
        )
    source = refs[args.evaluator_from]
    params = validate_params(yaml.safe_load(git_text(source, Path("params.yaml"))))
    # memory-mapped: read as each is scored (eight runs' samples at 128 px would be several hundred MB at once)
    samples = {name: torch.load(studies.cached_output(refs[name], paths.SAMPLE_IMAGES), weights_only=True, mmap=True)["images"] for name in args.experiments}
    size = params.data.image_size
    other_sizes = sorted({images.shape[-1] for images in samples.values() if images.shape[-1] != size})
    if any(other < size for other in other_sizes) or (other_sizes and not args.shrink):
        listed = ", ".join(f"{name} {images.shape[-1]} px" for name, images in samples.items() if images.shape[-1] != size)
        raise SystemExit(f"studies/rescore.py: {args.evaluator_from}'s evaluator reads {size}-px pictures and the samples of {listed} are not; "
                         f"pass --shrink to score larger samples shrunk to {size} px (smaller ones cannot be scored on it)")  # fmt: skip
    evaluator = load_evaluator(studies.cached_output(source, paths.EVALUATOR))
    prepared = prepare_data(params.data, progress=False)
    train, test = prepared.splits["train"], prepared.splits["test"]
    real_train, real_test = describe_images(train.images, evaluator), describe_images(test.images, evaluator)
    print(f"| experiment | as scored: {', '.join(SCORES)}, real FID | on {args.evaluator_from}'s evaluator |\n| --- | --- | --- |")
    for other in other_sizes:  # the floor of the shrinking: the real training pictures at the samples' size, shrunk alike
        real = prepare_data(params.data.model_copy(update={"image_size": other}), progress=False).splits["train"].images
        floor = evaluate_samples(describe_images(shrink(real, size), evaluator), real_train, real_test, test.labels, params.evaluate)
        print(f"| real training pictures at {other} px, shrunk to {size} | not scored | {cells(floor)} |")
    for name, images in samples.items():
        before = json.loads(git_text(refs[name], paths.EVAL_METRICS)) if studies.evaluated(refs[name]) else None
        shrunk = images.shape[-1] != size
        after = evaluate_samples(describe_images(shrink(images, size) if shrunk else images, evaluator), real_train, real_test, test.labels, params.evaluate)
        print(f"| {name}{' (shrunk)' if shrunk else ''} | {cells(before)} | {cells(after)} |")


if __name__ == "__main__":
    main()
