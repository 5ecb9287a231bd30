"""Compare DVC experiments over seeds: is a training choice measurably better, or is it noise?

    python -m ganyard.compare                                          # experiments of the current commit
    python -m ganyard.compare --baseline train.discriminator_steps=1 --metrics fid,recall
    python -m ganyard.compare --commits 3                              # experiments of the last 3 commits
    python -m ganyard.compare --names 'confirm-*' --baseline confirm-old-default

Reads the experiments with ``dvc exp show --json``, groups them into configurations by every param
except ``seed``, and for each configuration and metric gives the mean over its seeds with a 95%
confidence interval (Student's t) and, against the baseline configuration, the p-value of Welch's
t-test (unequal variances, scipy.stats.ttest_ind). Writes ``<out>.md`` (markdown), ``<out>.csv`` and
``<out>.png`` (bars with the intervals as error bars).

A configuration is labelled by its params (``train.discriminator_steps=2``); when its experiments are
named ``<name>-seed<N>`` with one ``<name>`` of their own, by that name (the params are in the CSV).
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import json
import math
import re
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ganyard import paths
from ganyard.io import ArtifactError, write_atomic, write_text
from ganyard.profiles import flatten

SEED_KEY = "seed"
METRICS_FILE = str(paths.EVAL_METRICS)
DEFAULT_METRICS = ("fid", "kid_mean", "precision", "recall", "is_mean", "coverage")


def experiments_table(exp_show: list[dict], metrics_file: str = METRICS_FILE) -> pd.DataFrame:
    """One row per finished experiment in ``dvc exp show --json`` output: ``name``, every param as
    ``param:<dotted key>`` and every number of ``metrics_file`` as ``<key>``.

    Only experiments are read, not the commits they branch from (a baseline commit run with the same
    params as an experiment would otherwise be counted twice). Experiments without the metrics file
    (queued, failed) are left out, and so are running ones: DVC shows those with the files of their
    temporary workspace (``data.rev`` is not the experiment's own), which are the parent commit's metrics.
    """
    rows = []
    for commit in exp_show:
        for experiment in commit.get("experiments") or []:
            for revision in experiment.get("revs") or []:
                data = revision.get("data") or {}
                if data.get("rev", revision.get("rev")) != revision.get("rev"):
                    continue  # still running
                metrics = ((data.get("metrics") or {}).get(metrics_file) or {}).get("data")
                params = ((data.get("params") or {}).get("params.yaml") or {}).get("data")
                if not metrics or params is None:
                    continue
                row = {"name": experiment.get("name") or revision.get("name") or revision.get("rev", "")[:7]}
                row.update({f"param:{key}": _hashable(value) for key, value in flatten(params).items()})
                row.update({key: value for key, value in flatten(metrics).items() if isinstance(value, int | float) and not isinstance(value, bool)})
                rows.append(row)
    return pd.DataFrame(rows)


def _hashable(value):
    """A param as a table cell: lists and mappings as JSON, null as ``null`` (how `-S` and ``--baseline``
    spell it; left as None, pandas would take it for a missing value and merge it with any other)."""
    if value is None:
        return "null"
    return json.dumps(value) if isinstance(value, list | dict) else value


def configuration_columns(table: pd.DataFrame, seed_key: str = SEED_KEY) -> list[str]:
    """The param columns that tell configurations apart: those that vary, except the seed."""
    columns = [c for c in table.columns if c.startswith("param:") and c != f"param:{seed_key}"]
    return [c for c in columns if table[c].astype(str).nunique(dropna=False) > 1]  # a key some experiments lack varies too


def mean_and_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its ``confidence`` interval (Student's t); NaN half-width for one value."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan
    half_width = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return mean, float(half_width)


def welch_p_value(first: Sequence[float], second: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test that the two samples have the same mean.

    NaN when either has fewer than two values. Samples without spread compare exactly: p = 1 for
    equal means, 0 otherwise (the t statistic is undefined there).
    """
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if len(first) < 2 or len(second) < 2:
        return math.nan
    if first.std() == 0 and second.std() == 0:
        return 1.0 if first.mean() == second.mean() else 0.0
    with warnings.catch_warnings():  # scipy warns when a group's values agree to the last bits; the test stays valid
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        return float(stats.ttest_ind(first, second, equal_var=False).pvalue)


def label_of(row: pd.Series, columns: list[str]) -> str:
    """``train.discriminator_steps=2, train.lr=0.0001`` for a configuration; ``all runs`` when nothing varies."""
    return ", ".join(f"{column.removeprefix('param:')}={row[column]}" for column in columns) or "all runs"


def name_stem(name: str) -> str:
    """``confirm-ema-seed2`` -> ``confirm-ema``: an experiment's name without its seed suffix."""
    return re.sub(r"-seed\d+$", "", str(name))


def with_name_labels(groups: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The groups relabelled by their experiments' common name stem, where every group has one stem of its own."""
    stems = {label: {name_stem(name) for name in group["name"]} for label, group in groups.items()}
    if all(len(names) == 1 for names in stems.values()) and len({next(iter(names)) for names in stems.values()}) == len(groups):
        return {next(iter(stems[label])): group for label, group in groups.items()}
    return groups


def compare(table: pd.DataFrame, metrics: Sequence[str], baseline: dict[str, str] | str | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """One row per configuration: ``configuration``, ``params``, ``runs``, and per metric ``<m>_mean``,
    ``<m>_ci`` (half-width) and ``<m>_p`` (Welch's p against the baseline; NaN for the baseline).

    ``baseline`` maps dotted param keys to values as text (``{"train.discriminator_steps": "1"}``), or
    is a configuration's label (its experiments' name stem); by default the first configuration in
    sorted order. Raises ValueError for unknown metrics or a baseline that matches no configuration.
    """
    missing = [metric for metric in metrics if metric not in table.columns]
    if missing:
        known = sorted(c for c in table.columns if not c.startswith("param:") and c != "name")
        raise ValueError(f"metrics {missing} are in no experiment; known: {known}")
    columns = configuration_columns(table)
    keyed = table.assign(configuration=table.apply(label_of, axis=1, columns=columns))
    groups = with_name_labels(dict(iter(keyed.groupby("configuration", sort=True))))  # iter: dict() would take the groupby for a mapping
    base_label = next(iter(groups))
    if isinstance(baseline, str):
        if baseline not in groups:
            raise ValueError(f"baseline {baseline!r} is none of the configurations {list(groups)}")
        base_label = baseline
    elif baseline:
        matching = [
            label
            for label, group in groups.items()
            if all(f"param:{key}" in group and group[f"param:{key}"].astype(str).eq(value).all() for key, value in baseline.items())
        ]
        if len(matching) != 1:
            raise ValueError(f"baseline {baseline} matches {len(matching)} configurations of {list(groups)}; it must match one")
        base_label = matching[0]
    rows = []
    for label, group in groups.items():
        row = {"configuration": label, "params": group["configuration"].iloc[0], "baseline": label == base_label, "runs": len(group)}
        for metric in metrics:
            values = group[metric].dropna().to_numpy()
            row[f"{metric}_mean"], row[f"{metric}_ci"] = mean_and_interval(values, confidence) if len(values) else (math.nan, math.nan)
            base_values = groups[base_label][metric].dropna().to_numpy()
            row[f"{metric}_p"] = math.nan if label == base_label else welch_p_value(values, base_values)
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(summary: pd.DataFrame, metrics: Sequence[str]) -> str:
    """A table with one row per configuration: runs, and per metric ``mean ± ci`` and p."""
    table = pd.DataFrame({"configuration": summary["configuration"] + np.where(summary["baseline"], " (baseline)", ""), "runs": summary["runs"]})
    for metric in metrics:
        table[metric] = [
            f"{mean:.4g} ± {ci:.2g}" if not math.isnan(ci) else f"{mean:.4g}" for mean, ci in zip(summary[f"{metric}_mean"], summary[f"{metric}_ci"])
        ]
        table[f"p ({metric})"] = ["" if math.isnan(p) else f"{p:.3g}" for p in summary[f"{metric}_p"]]
    return table.to_markdown(index=False)


def bar_chart(summary: pd.DataFrame, metrics: Sequence[str], path: str | Path) -> Path:
    """One panel per metric: a bar per configuration with its confidence interval as the error bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics) + 1, 3.6), squeeze=False)
    positions = np.arange(len(summary))
    for axis, metric in zip(axes[0], metrics):
        errors = summary[f"{metric}_ci"].fillna(0).to_numpy()
        colours = ["tab:grey" if is_base else "tab:blue" for is_base in summary["baseline"]]
        axis.bar(positions, summary[f"{metric}_mean"], yerr=errors, capsize=4, color=colours)
        axis.set_xticks(positions, summary["configuration"], rotation=30, ha="right", fontsize=7)
        axis.set_title(metric)
    figure.suptitle("mean over seeds, 95% confidence interval (grey: baseline)", fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    return write_atomic(path, lambda temporary: temporary.write_bytes(buffer.getvalue()))


def read_dvc_experiments(all_commits: bool = False, commits: int = 1) -> list[dict]:
    """``dvc exp show --json`` of the repository in the current directory: the experiments of the
    last ``commits`` commits, or of all of them."""
    command = ["dvc", "exp", "show", "--json", *(["--all-commits"] if all_commits else ["--num", str(commits)])]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def parse_baseline(text: str | None) -> dict[str, str] | str | None:
    """``"train.discriminator_steps=1,train.lr=0.0002"`` -> {key: value}; a name without ``=`` stays a name."""
    if not text:
        return None
    if "=" not in text:
        return text
    pairs = [item.split("=", 1) for item in text.split(",")]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"--baseline {text!r}: expected key=value[,key=value]")
    return {key.strip(): value.strip() for key, value in pairs}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganyard.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", default=None, help=f"comma-separated keys of {METRICS_FILE} (default: those of {','.join(DEFAULT_METRICS)} present)")
    parser.add_argument("--baseline", default=None, help="key=value[,key=value] or a configuration's name picking the baseline (default: the first)")
    parser.add_argument(
        "--names", default=None, help="only the experiments whose name matches one of these comma-separated patterns (shell-style: 'confirm-*')"
    )
    parser.add_argument("--out", default="reports/compare", help="output path without extension (default: reports/compare)")
    parser.add_argument("--commits", type=int, default=1, help="read the experiments of the last N commits (default: 1, HEAD's)")
    parser.add_argument("--all-commits", action="store_true", help="read the experiments of every commit")
    parser.add_argument("--json", dest="json_file", default=None, help="read this saved `dvc exp show --json` output instead of running dvc")
    args = parser.parse_args(argv)
    try:
        exp_show = json.loads(Path(args.json_file).read_text()) if args.json_file else read_dvc_experiments(args.all_commits, args.commits)
        table = experiments_table(exp_show)
        if args.names and not table.empty:
            patterns = args.names.split(",")  # several studies sharing one baseline: 'norms-*,confirm-final-*'
            table = table[[any(fnmatch.fnmatchcase(str(name), pattern) for pattern in patterns) for name in table["name"]]].reset_index(drop=True)
        if table.empty:
            raise ValueError(f"no finished experiment with {METRICS_FILE}{' named ' + args.names if args.names else ''}; run some with `dvc exp run` first")
        metrics = args.metrics.split(",") if args.metrics else [m for m in DEFAULT_METRICS if m in table.columns]
        summary = compare(table, metrics, parse_baseline(args.baseline))
    except (ValueError, RuntimeError, OSError) as error:
        print(f"ganyard compare: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    markdown = to_markdown(summary, metrics)
    try:
        write_text(summary.to_csv(index=False), out.with_suffix(".csv"))
        write_text(markdown + "\n", out.with_suffix(".md"))
        bar_chart(summary, metrics, out.with_suffix(".png"))
    except ArtifactError as error:
        print(f"ganyard compare: {error}", file=sys.stderr)
        return 2
    print(markdown)
    print(f"\n{len(table)} experiments in {len(summary)} configurations; wrote {out}.md, {out}.csv, {out}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
