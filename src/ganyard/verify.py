"""Check that the committed results are what the code makes: `make verify`.

    python -m ganyard.verify [--workdir DIR] [--band studies/seed_band.json]

Copies the repository's files (tracked and untracked, not git-ignored: the committed dvc.lock and
metrics, none of DVC's cache) into ``workdir``, runs every stage there (``dvc repro --force``) and
compares the new dvc.lock and metrics with the repository's:

- Always: every stage's command, params and code dependencies. A difference means dvc.lock is stale:
  the code or params changed and nobody reran the pipeline.
- Bit for bit, where this machine selects the same kernels as the one that committed
  (``metrics/environment.json``, which the train stage writes, is equal): every output hash and every
  metric value.
- Elsewhere, within the seed study's prediction intervals: the outputs may differ, and each metric that
  the seed study (``studies/seed_band.json``, :data:`MIN_SEEDS` or more seeds of the default) saw vary
  with ``seed`` must lie in the interval that one new run of the same pipeline falls in with probability
  ``1 - FALSE_ALARM / K`` (K such metrics: by Bonferroni the whole check calls an unchanged pipeline
  changed at most :data:`FALSE_ALARM` of the time, for normal scores); other whole numbers and strings
  must be equal; fractions that no run of the study moved are listed as not checked. (The evaluator's own
  numbers move with the kernels, not the seed: they get intervals only where the study mixes kernel kinds.)

The output says which of the two was checked. Exit status 0 when nothing differs, 1 with the list of
what differs, 2 for bad arguments. Wall-clock times are in no output, so nothing is skipped for them.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from scipy import stats

from ganyard import paths
from ganyard.profiles import flatten
from ganyard.reproduce import declared_outputs, repro_in_copy

ENVIRONMENT = str(paths.ENVIRONMENT)
SEED_BAND = "studies/seed_band.json"
# The chance that the whole check on another machine calls an unchanged pipeline changed.
FALSE_ALARM = 0.01
# The fewest seeds of the default the intervals are built from (the seed study aims at 10): t's tail makes them
# wide with few: for 25 varying metrics about ±12 standard deviations at 5 seeds and ±5.7 at 10 (±58 at 3).
MIN_SEEDS = 5
# A metric whose seeds agree to this relative difference does not depend on the seed (real-data scores,
# the evaluator's accuracy): the study says nothing about how far another machine may move it.
SEED_INVARIANT = 1e-9


def lock_entries(lock: dict) -> dict[str, object]:
    """Every fact of a dvc.lock as ``"stage: kind path" -> value``: ``cmd``, each dep's and out's hash
    (``md5``, ``.dir`` for folders) and each param's value (dotted key)."""
    entries = {}
    for stage, entry in lock.get("stages", {}).items():
        entries[f"{stage}: cmd"] = entry.get("cmd")
        for kind in ("deps", "outs"):
            for item in entry.get(kind, []):
                entries[f"{stage}: {kind} {item['path']}"] = item.get("md5") or item.get("hash")
        for params_file, values in entry.get("params", {}).items():
            for key, value in flatten(values).items():
                entries[f"{stage}: params {params_file}:{key}"] = value
    return entries


def metric_values(repo: Path) -> dict[str, object]:
    """``"file: dotted.key" -> value`` for every metrics file dvc.yaml declares that exists in ``repo``."""
    _, metrics = declared_outputs(yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8")))
    values = {}
    for path in metrics:
        if (repo / path).is_file():
            values |= {f"{path}: {key}": value for key, value in flatten(json.loads((repo / path).read_text(encoding="utf-8"))).items()}
    return values


def prediction_intervals(values: dict[str, list[float]], false_alarm: float = FALSE_ALARM) -> dict[str, tuple[float, float]]:
    """``name -> (low, high)`` for every metric of ``values`` (``name -> one value per seed``) that varies
    with the seed (see :data:`SEED_INVARIANT`); the others get none.

    Each is the prediction interval for one new run, ``mean ± t(1 - a/2, n - 1) · s · sqrt(1 + 1/n)`` over
    the n values (s: their sample standard deviation), with ``a = false_alarm / K`` for the K varying
    metrics: a new run of the same pipeline lands outside any of them with probability at most
    ``false_alarm`` (Bonferroni; exact for normal scores)."""
    varying = {name: seen for name, seen in values.items() if max(seen) - min(seen) > SEED_INVARIANT * max(1.0, abs(max(seen)))}
    intervals = {}
    for name, seen in varying.items():
        n = len(seen)
        half_width = stats.t.ppf(1 - false_alarm / len(varying) / 2, n - 1) * statistics.stdev(seen) * math.sqrt(1 + 1 / n)
        intervals[name] = (statistics.fmean(seen) - half_width, statistics.fmean(seen) + half_width)
    return intervals


def seed_study(path: Path) -> dict[str, list[float]]:
    """``"file: key" -> one value per seed`` of the seed study ``path`` (studies/seed_band.json, written by
    ``python studies/run.py band``). Refuses fewer than :data:`MIN_SEEDS` seeds: t's tail would make the
    intervals too wide to notice a changed pipeline."""
    study = json.loads(path.read_text(encoding="utf-8"))
    values = {name: entry["values"] for name, entry in study["metrics"].items()}
    if len(study["runs"]) < MIN_SEEDS or any(len(seen) != len(study["runs"]) for seen in values.values()):
        raise ValueError(f"{len(study['runs'])} seeds with a value for each metric; make verify needs {MIN_SEEDS} (python studies/run.py seeds, then band)")
    return values


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_output(path: str, outputs: set[str]) -> bool:
    return any(path == out or path.startswith(out.rstrip("/") + "/") for out in outputs)


def differences(
    committed_lock: dict, new_lock: dict, committed: dict[str, object], new: dict[str, object], intervals: dict[str, tuple[float, float]] | None
) -> tuple[list[str], list[str]]:
    """(what differs, what was not checked), one line each. ``intervals`` None asks for bit-for-bit equality;
    else (from :func:`prediction_intervals`) outputs and data dependencies may differ, and metrics as the
    module docstring says."""
    before, after = lock_entries(committed_lock), lock_entries(new_lock)
    outputs = {key.split(" ", 2)[2] for key in before | after if key.split(" ", 2)[1:2] == ["outs"]}
    problems, unchecked = [], []
    for key in sorted(before.keys() | after.keys()):
        stage_kind, _, path = key.partition(" ")[2].partition(" ")
        if intervals is not None and (stage_kind == "outs" or (stage_kind == "deps" and is_output(path, outputs))):
            continue  # another machine's kernels: other bytes, judged by the metrics below
        if key not in before or key not in after:
            problems.append(f"dvc.lock {key}: {'only in the new lock' if key in after else 'missing from the new lock'}")
        elif before[key] != after[key]:
            problems.append(f"dvc.lock {key}: {before[key]} -> {after[key]}")
    for key in sorted(committed.keys() | new.keys()):
        if key not in committed or key not in new:
            problems.append(f"{key}: {'new' if key in new else 'missing from the new run'}")
            continue
        old, value = committed[key], new[key]
        if intervals is None or key.startswith(ENVIRONMENT):
            if intervals is None and old != value:
                problems.append(f"{key}: {old!r} -> {value!r}")
        elif key in intervals and is_number(old) and is_number(value):
            low, high = intervals[key]
            if value != old and not low <= value <= high:
                problems.append(f"{key}: {old!r} -> {value!r}, outside the prediction interval [{low:.4g}, {high:.4g}] of the seed study")
        elif isinstance(old, float) or isinstance(value, float):
            unchecked.append(f"{key}: {old!r} -> {value!r} (does not vary with the seed: no interval)")
        elif old != value:
            problems.append(f"{key}: {old!r} -> {value!r}")
    return problems, unchecked


def describe(environment: dict) -> str:
    keys = ("torch", "device", "torch_cpu_capability", "onednn_isa", "torch_threads")
    return ", ".join(f"{key} {environment[key]}" for key in keys if key in environment)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganyard.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="empty or missing folder for the clean copy (default: a new temporary folder)")
    parser.add_argument("--repo", default=".", help="the repository to check (default: the current folder)")
    parser.add_argument("--band", default=SEED_BAND, help=f"the seed study's values of each metric, relative to --repo (default {SEED_BAND})")
    args = parser.parse_args(argv)
    repo = Path(args.repo).resolve()
    workdir = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="ganyard-verify-")) / "ganyard"
    if workdir.exists() and any(workdir.iterdir()):
        print(f"ganyard verify: --workdir {workdir} is not empty; give a new folder (nothing in it is overwritten)", file=sys.stderr)
        return 2
    for required in ("dvc.lock", ENVIRONMENT, args.band):
        if not (repo / required).is_file():
            print(f"ganyard verify: {repo / required} does not exist; commit a full `dvc repro` (and the seed study's band) first", file=sys.stderr)
            return 2
    try:  # read before the long rerun, needed after it only where the kernels differ
        intervals, band_error = prediction_intervals(seed_study(repo / args.band)), None
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
        intervals, band_error = None, f"ganyard verify: {repo / args.band} gives no prediction intervals: {error}"
    committed_lock = yaml.safe_load((repo / "dvc.lock").read_text(encoding="utf-8"))
    committed = metric_values(repo)
    try:
        repro_in_copy(repo, workdir, "verify", "--force")
    except subprocess.CalledProcessError as error:
        print(f"ganyard verify: {' '.join(error.cmd)} failed with exit status {error.returncode}", file=sys.stderr)
        return 1
    new_lock = yaml.safe_load((workdir / "dvc.lock").read_text(encoding="utf-8"))
    new = metric_values(workdir)
    then, now = (json.loads(path.read_text(encoding="utf-8")) for path in (repo / ENVIRONMENT, workdir / ENVIRONMENT))
    same_kernels = then == now
    if same_kernels:
        mode = f"bit for bit (this machine selects the committing machine's kernels: {describe(now)})"
    else:
        changed = ", ".join(f"{key} {then.get(key)!r} here {now.get(key)!r}" for key in sorted(then.keys() | now.keys()) if then.get(key) != now.get(key))
        if band_error:
            print(f"{band_error}; needed here, where the kernels differ from the committing machine's", file=sys.stderr)
            return 2
        mode = (
            f"within the prediction intervals of {args.band} (at most a {FALSE_ALARM:.0%} chance of a false alarm; "
            f"the kernels differ: committed with {changed})"
        )
    problems, unchecked = differences(committed_lock, new_lock, committed, new, None if same_kernels else intervals)
    checked = len(lock_entries(new_lock)), len(new)
    if problems:
        print(f"ganyard verify: checked {mode}; {len(problems)} differences from the committed results:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    for line in unchecked:
        print(f"not checked: {line}")
    print(f"verified {mode}: {checked[0]} dvc.lock entries and {checked[1] - len(unchecked)} of {checked[1]} metrics as committed. Clean copy: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
