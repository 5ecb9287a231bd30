"""A study's experiments, stage by stage as dvc.yaml runs them, on a machine without DVC (the lent GPU).

    python benchmarks/study_without_dvc.py emoji --seeds 0 --device cuda --out /tmp/emoji
    python benchmarks/study_without_dvc.py emoji --device cuda --set data.image_size=128 --epochs dcgan=100 --out /tmp/emoji128

Every configuration of a study of studies/run.py (with ``train.device`` and the ``--set`` overrides on top)
runs in one scratch copy of the repository (the files git sees, as ``python -m ganyard.reproduce`` copies
them), through dvc.yaml's stages up to ``evaluate``, each stage's ``cmd`` as written there. A stage runs
again only when its params or the outputs of the stages it reads have changed, as DVC decides: the data,
the evaluator and the real statistics are made once for all the configurations that share them. What each
run wrote (metrics/eval.json, the training summary and quick-FID log, the sample grid) is copied to
``OUT/<study>-<configuration>-seed<N>/`` and a table of the train stage's seconds, its seconds per iteration
and the scores is printed at the end and written to ``OUT/summary.md``.

Nothing is versioned or cached: this is for previews of a study on another machine and for GPU runs that
2 CPU cores cannot afford, not a replacement for `dvc exp run`, whose experiments the docs cite.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from ganyard import paths  # noqa: E402
from ganyard.profiles import merge, unflatten  # noqa: E402
from ganyard.reproduce import copy_repository  # noqa: E402

LAST_STAGE = "evaluate"  # the comparison's stages end here, as the studies' `dvc exp run ... evaluate`
KEPT = [paths.EVAL_METRICS, paths.TRAIN_SUMMARY, paths.TRAIN_CURVES / "fid.tsv", paths.SAMPLE_GRID, paths.DATA_METRICS, paths.EVALUATOR_METRICS]


def load_studies():
    """studies/run.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("studies_run", REPO / "studies" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def content_hash(path: Path) -> str:
    """MD5 of a file's bytes, or of a folder's relative names and bytes; "missing" when absent."""
    if path.is_file():
        return hashlib.md5(path.read_bytes()).hexdigest()
    if path.is_dir():
        digest = hashlib.md5()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(item.relative_to(path)).encode() + b"\0" + item.read_bytes())
        return digest.hexdigest()
    return "missing"


def param_values(params: dict, keys: list) -> dict:
    """The values of a stage's ``params`` entries of dvc.yaml ("data", "evaluate.backbone", "params.yaml:" for all)."""
    values = {}
    for entry in keys:
        if isinstance(entry, dict):  # {"params.yaml": None}: every param
            return params
        node = params
        for part in entry.split("."):
            node = node[part]
        values[entry] = node
    return values


class Pipeline:
    """dvc.yaml's stages up to LAST_STAGE in a working copy, each rerun when what it reads has changed."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        stages = yaml.safe_load((workdir / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
        names = list(stages)
        self.stages = {name: stages[name] for name in names[: names.index(LAST_STAGE) + 1]}
        outputs = {}
        for name, stage in self.stages.items():
            for kind in ("outs", "metrics"):
                for entry in stage.get(kind, []):
                    outputs[entry if isinstance(entry, str) else next(iter(entry))] = name
        # The deps of each stage that another stage writes (code deps do not change within one copy).
        self.upstream = {name: [dep for dep in stage.get("deps", []) if dep in outputs] for name, stage in self.stages.items()}
        self.last_key: dict[str, str] = {}

    def run(self, params: dict) -> dict[str, float]:
        """Writes ``params`` as params.yaml and runs every stage whose params or inputs changed; seconds of each run stage."""
        (self.workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
        seconds = {}
        for name, stage in self.stages.items():
            key = json.dumps(
                [param_values(params, stage.get("params", [])), [content_hash(self.workdir / dep) for dep in self.upstream[name]]], sort_keys=True, default=str
            )
            if self.last_key.get(name) == key:
                print(f"--- {name}: unchanged, not run", flush=True)
                continue
            print(f"--- {name}: {stage['cmd']}", flush=True)
            started = time.perf_counter()
            subprocess.run(stage["cmd"], shell=True, cwd=self.workdir, check=True)
            seconds[name] = time.perf_counter() - started
            self.last_key[name] = key
        return seconds


def main() -> int:
    studies = load_studies()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", choices=sorted(studies.STUDIES))
    parser.add_argument("--seeds", type=int, nargs="+", help="only these of the study's seeds (default: all)")
    parser.add_argument("--runs", nargs="+", help="only these configurations (default: all)")
    parser.add_argument("--device", default="cuda", help="train.device of every run (default cuda)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a dotted param over the study's, as YAML (repeatable)")
    parser.add_argument("--epochs", action="append", default=[], metavar="CONFIGURATION=N", help="train.epochs of one configuration (repeatable)")
    parser.add_argument("--tag", default="", help="appended to each run's folder name (e.g. -128px)")
    parser.add_argument("--out", required=True, type=Path, help="folder for what each run wrote, and summary.md")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/study_without_dvc"), help="the scratch copy (emptied first)")
    args = parser.parse_args()
    spec = studies.STUDIES[args.study]
    runs = args.runs or list(spec["runs"])
    if unknown := [name for name in runs if name not in spec["runs"]]:
        parser.error(f"--runs {' '.join(unknown)}: not configurations of {args.study} ({', '.join(spec['runs'])})")
    if missing := studies.missing_folders(args.study):
        parser.error("; ".join(missing))
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: give KEY=VALUE, e.g. train.epochs=10")
        overrides[key] = yaml.safe_load(value)
    epochs = {}
    for item in args.epochs:
        name, _, value = item.partition("=")
        if name not in spec["runs"] or not value.isdigit():
            parser.error(f"--epochs {item!r}: give CONFIGURATION=N with a configuration of {args.study} ({', '.join(spec['runs'])})")
        epochs[name] = int(value)

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    copy_repository(REPO, args.workdir)
    base = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    pipeline = Pipeline(args.workdir)
    rows = []
    for seed in args.seeds or spec["seeds"]:
        for name in runs:
            label = f"{args.study}-{name}-seed{seed}{args.tag}"
            dotted = {**studies.run_params(args.study, name), "seed": seed, "train.device": args.device, **overrides}
            if name in epochs:
                dotted["train.epochs"] = epochs[name]
            params = merge(base, unflatten(dotted))
            print(f"=== {label}: {' '.join(f'{k}={v}' for k, v in dotted.items())}", flush=True)
            try:
                seconds = pipeline.run(params)
            except subprocess.CalledProcessError as error:
                print(f"{label}: {error.cmd} failed with exit status {error.returncode}", flush=True)
                rows.append((label, None, None, {}))
                continue
            kept = args.out / label
            for path in KEPT:
                if (args.workdir / path).is_file():
                    (kept / path).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(args.workdir / path, kept / path)
            scores = json.loads((args.workdir / paths.EVAL_METRICS).read_text(encoding="utf-8"))
            updates = json.loads((args.workdir / paths.TRAIN_SUMMARY).read_text(encoding="utf-8"))["generator_updates"]
            rows.append((label, seconds.get("train"), updates, scores))
    lines = ["| run | train s | generator updates | s per update | FID | real FID | precision | recall |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, train_seconds, updates, scores in rows:
        if not scores:
            lines.append(f"| {label} | failed | | | | | | |")
            continue
        per_update = f"{train_seconds / updates:.3f}" if train_seconds and updates else ""
        lines.append(
            f"| {label} | {'not rerun' if train_seconds is None else f'{train_seconds:.0f}'} | {updates} | {per_update} | {scores['fid']:.2f} | {scores['fid_real']:.3f} | "
            f"{scores['precision']:.2f} | {scores['recall']:.2f} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 1 if any(not scores for *_, scores in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
