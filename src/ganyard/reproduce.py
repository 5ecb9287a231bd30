"""Reproduce the pipeline with a params profile in a scratch copy, and check what it produced.

    python -m ganyard.reproduce --profile profiles/small.yaml --workdir /tmp/ganyard-ci

Copies the repository's files (tracked and untracked, not git-ignored) into ``workdir``, merges the
profile over its params.yaml (validated like any params), makes it a git repository, runs
``dvc repro`` there, then checks every output dvc.yaml declares: each exists, each metrics file
holds only finite numbers, and the keys a run must report are there. Exit status 0 only if all of
that holds; the workspace's own params and outputs are never touched. ``.ci/run`` and the GitHub
workflow call this after the tests.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ganyard import paths
from ganyard.params import ParamsError
from ganyard.profiles import flatten, merged_params

# Keys every run must report, per metrics file (unlabelled data has no IS or coverage, so those are not here).
REQUIRED = {
    str(paths.DATA_METRICS): ["train.count", "test.count"],
    str(paths.EVALUATOR_METRICS): ["test_accuracy"],
    str(paths.TRAIN_SUMMARY): ["discriminator_loss", "generator_loss", "generator_updates", "discriminator_updates"],
    str(paths.EVAL_METRICS): ["fid", "fid_real", "kid_mean", "kid_mean_real", "precision", "recall", "n_samples"],
    str(paths.STYLE_METRICS): ["content_loss", "style_loss", "judge_style_distance_result"],
}


def declared_outputs(dvc_yaml: dict) -> tuple[list[str], list[str]]:
    """(every out, metric and plot path of every stage, the metrics paths among them)."""
    outputs, metrics = [], []
    for stage in dvc_yaml["stages"].values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                path = entry if isinstance(entry, str) else next(iter(entry))
                outputs.append(path)
                if kind == "metrics":
                    metrics.append(path)
    return outputs, metrics


def problems_with_outputs(repo: Path) -> list[str]:
    """Every declared output that is missing, every metrics file that cannot be read, every required
    key that is missing and every number that is not finite, as one line each."""
    outputs, metrics = declared_outputs(yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8")))
    problems = [f"{path}: declared in dvc.yaml, not written" for path in outputs if not (repo / path).exists()]
    for path in metrics:
        if not (repo / path).is_file():
            continue
        try:
            values = flatten(json.loads((repo / path).read_text(encoding="utf-8")))
        except ValueError as error:
            problems.append(f"{path}: not valid JSON ({error})")
            continue
        problems += [f"{path}: {key} missing" for key in REQUIRED.get(path, []) if key not in values]
        problems += [f"{path}: {key} = {value} is not finite" for key, value in values.items() if isinstance(value, float) and not math.isfinite(value)]
    return problems


def copy_repository(source: Path, target: Path) -> None:
    """The files git sees in ``source`` (tracked and untracked, not ignored), into a fresh ``target``."""
    listing = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=source, capture_output=True, text=True, check=True)
    for name in filter(None, listing.stdout.split("\0")):
        if (source / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)


def run(command: list[str], cwd: Path) -> None:
    print(f"$ {' '.join(command)}", flush=True)
    subprocess.run(command, cwd=cwd, check=True)


def repro_in_copy(repo: Path, workdir: Path, message: str, *dvc_args: str, params: dict | None = None) -> None:
    """The files git sees in ``repo`` copied to ``workdir`` (with ``params`` as its params.yaml, if given),
    committed to a fresh git repository there, and ``dvc repro *dvc_args`` run in it. Raises
    CalledProcessError naming the command that failed."""
    workdir.mkdir(parents=True, exist_ok=True)
    copy_repository(repo, workdir)
    if params is not None:
        (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    run(["git", "init", "-q"], workdir)
    run(["git", "add", "-A"], workdir)
    run(["git", "-c", "user.name=ganyard", "-c", "user.email=ci@ganyard", "commit", "-qm", message], workdir)
    run(["dvc", "repro", *dvc_args], workdir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganyard.reproduce", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True, help="YAML file of params to merge over params.yaml")
    parser.add_argument("--workdir", required=True, help="empty or missing folder for the scratch copy")
    parser.add_argument("--repo", default=".", help="the repository to copy (default: the current folder)")
    args = parser.parse_args(argv)
    repo, workdir = Path(args.repo).resolve(), Path(args.workdir).resolve()
    try:
        if workdir.exists() and any(workdir.iterdir()):
            raise ValueError(f"--workdir {workdir} is not empty; give a new folder (nothing in it is overwritten)")
        params = merged_params(repo / "params.yaml", args.profile)
    except (OSError, ValueError, ParamsError, yaml.YAMLError) as error:
        print(f"ganyard reproduce: {error}", file=sys.stderr)
        return 2
    try:
        repro_in_copy(repo, workdir, f"reproduce with {args.profile}", params=params)
    except subprocess.CalledProcessError as error:
        print(f"ganyard reproduce: {' '.join(error.cmd)} failed with exit status {error.returncode}", file=sys.stderr)
        return 1
    problems = problems_with_outputs(workdir)
    if problems:
        print("ganyard reproduce: the run is incomplete:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    scores = json.loads((workdir / paths.EVAL_METRICS).read_text(encoding="utf-8"))
    print(
        f"reproduced with {args.profile}: every declared output written, every metric finite; "
        f"FID {scores['fid']:.4g} (real {scores['fid_real']:.4g}). Report: {workdir / 'reports/report.md'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
