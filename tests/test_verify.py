"""The reproduction check's comparisons (ganyard.verify) on known locks and metrics, and the kernel record."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from ganyard.environment import kernel_environment
from ganyard.verify import MIN_SEEDS, differences, lock_entries, prediction_intervals, seed_study

LOCK = {
    "schema": "2.0",
    "stages": {
        "train": {
            "cmd": "python stages/train.py",
            "deps": [{"path": "src/ganyard/training.py", "hash": "md5", "md5": "aaa"}, {"path": "data/prepared", "hash": "md5", "md5": "bbb.dir"}],
            "params": {"params.yaml": {"seed": 0, "train": {"lr": 0.0008}}},
            "outs": [{"path": "models/generator.pt", "hash": "md5", "md5": "ccc"}, {"path": "data/prepared", "hash": "md5", "md5": "bbb.dir"}],
        },
    },
}
METRICS = {
    "metrics/eval.json: fid": 0.85,
    "metrics/eval.json: n_samples": 4000,
    "metrics/train/metrics.json: best_epoch": 86,
    "metrics/eval.json: fid_real": 0.18,
    "metrics/eval.json: backbone": "evaluator",
    "metrics/environment.json: torch_threads": 2,
}
INTERVALS = {"metrics/eval.json: fid": (0.68, 1.02), "metrics/train/metrics.json: best_epoch": (82.0, 90.5)}


def changed(lock: dict, stage_kind: str, path: str, md5: str) -> dict:
    lock = json.loads(json.dumps(lock))
    for item in lock["stages"]["train"][stage_kind]:
        if item["path"] == path:
            item["md5"] = md5
    return lock


def test_every_fact_of_a_lock_is_one_entry():
    assert lock_entries(LOCK) == {
        "train: cmd": "python stages/train.py",
        "train: deps src/ganyard/training.py": "aaa",
        "train: deps data/prepared": "bbb.dir",
        "train: params params.yaml:seed": 0,
        "train: params params.yaml:train.lr": 0.0008,
        "train: outs models/generator.pt": "ccc",
        "train: outs data/prepared": "bbb.dir",
    }


def test_bit_for_bit_names_every_output_and_metric_that_moved_and_nothing_else():
    assert differences(LOCK, LOCK, METRICS, METRICS, intervals=None) == ([], [])
    new_lock = changed(LOCK, "outs", "models/generator.pt", "ddd")
    new_metrics = {**METRICS, "metrics/eval.json: fid": 0.8500000000000001}
    problems, unchecked = differences(LOCK, new_lock, METRICS, new_metrics, intervals=None)
    assert problems == ["dvc.lock train: outs models/generator.pt: ccc -> ddd", "metrics/eval.json: fid: 0.85 -> 0.8500000000000001"]
    assert unchecked == []


def test_a_stale_lock_is_named_on_any_machine():
    stale = changed(LOCK, "deps", "src/ganyard/training.py", "eee")
    for intervals in (None, INTERVALS):
        problems, _ = differences(LOCK, stale, METRICS, METRICS, intervals=intervals)
        assert problems == ["dvc.lock train: deps src/ganyard/training.py: aaa -> eee"]
    new_params = json.loads(json.dumps(LOCK))
    new_params["stages"]["train"]["params"]["params.yaml"]["train"]["lr"] = 0.0004
    assert differences(LOCK, new_params, METRICS, METRICS, intervals=INTERVALS)[0] == ["dvc.lock train: params params.yaml:train.lr: 0.0008 -> 0.0004"]


def test_on_other_kernels_outputs_may_differ_and_metrics_must_stay_within_the_prediction_intervals():
    other_bytes = changed(changed(LOCK, "outs", "models/generator.pt", "ddd"), "deps", "data/prepared", "fff.dir")
    other_bytes = changed(other_bytes, "outs", "data/prepared", "fff.dir")
    within = {
        **METRICS,
        "metrics/eval.json: fid": 0.85 + 0.16,
        "metrics/train/metrics.json: best_epoch": 90,
        "metrics/eval.json: fid_real": 0.181,
        "metrics/environment.json: torch_threads": 16,
    }
    problems, unchecked = differences(LOCK, other_bytes, METRICS, within, intervals=INTERVALS)
    assert problems == []
    assert unchecked == ["metrics/eval.json: fid_real: 0.18 -> 0.181 (does not vary with the seed: no interval)"]
    outside = {**within, "metrics/eval.json: fid": 0.85 + 0.18, "metrics/train/metrics.json: best_epoch": 91, "metrics/eval.json: n_samples": 3999}
    problems, _ = differences(LOCK, other_bytes, METRICS, outside, intervals=INTERVALS)
    assert [line.split(" ->")[0] for line in problems] == [
        "metrics/eval.json: fid: 0.85",
        "metrics/eval.json: n_samples: 4000",
        "metrics/train/metrics.json: best_epoch: 86",
    ]
    assert "outside the prediction interval [0.68, 1.02] of the seed study" in problems[0]


def test_a_metric_missing_from_either_side_is_a_difference():
    fewer = {key: value for key, value in METRICS.items() if key != "metrics/eval.json: fid"}
    assert differences(LOCK, LOCK, METRICS, fewer, intervals=None)[0] == ["metrics/eval.json: fid: missing from the new run"]
    assert differences(LOCK, LOCK, fewer, METRICS, intervals=INTERVALS)[0] == ["metrics/eval.json: fid: new"]


def test_each_interval_is_the_t_prediction_interval_and_the_seed_invariant_metrics_get_none():
    seen = [0.86, 0.75, 0.92, 0.81, 0.88, 0.79, 0.95, 0.83, 0.9, 0.77]
    intervals = prediction_intervals({"fid": seen, "fid_real": [0.18] * 10, "kid_real": [-0.025286866588947916, -0.02528686658894788] * 5}, 0.01)
    assert set(intervals) == {"fid"}  # one varying metric: no Bonferroni share
    half = stats.t.ppf(0.995, 9) * np.std(seen, ddof=1) * np.sqrt(1.1)
    assert intervals["fid"] == pytest.approx((np.mean(seen) - half, np.mean(seen) + half), rel=1e-12)
    # with K varying metrics each interval is the single-metric interval at false_alarm / K
    shared = prediction_intervals({f"m{k}": seen for k in range(15)}, 0.01)
    assert shared["m0"] == pytest.approx(prediction_intervals({"m0": seen}, 0.01 / 15)["m0"], rel=1e-12)


def test_one_new_run_falls_outside_as_often_as_promised_and_the_old_range_of_three_seeds_alarmed_on_almost_every_check():
    # Normal scores, one metric and a 20 % target so the rate is measurable: 4,000 studies of 10 seeds, each
    # followed by one new run of the same pipeline. The binomial's standard error is 0.0063.
    rng = np.random.default_rng(0)
    studies, new_runs = rng.normal(5.0, 0.3, size=(4000, 10)), rng.normal(5.0, 0.3, size=4000)
    outside = [not low <= new <= high for seen, new in zip(studies, new_runs) for low, high in [prediction_intervals({"fid": list(seen)}, 0.2)["fid"]]]
    assert np.mean(outside) == pytest.approx(0.2, abs=0.025)
    # what make verify did before: the new run within the range (max - min) of 3 seeds of the committed run (a
    # 4th): 31 % per metric, so over the 15 metrics that vary, a false alarm on 1 - 0.69^15 = 99.6 % of checks
    three = studies[:, :3]
    old_rule = np.abs(new_runs - studies[:, 3]) > three.max(axis=1) - three.min(axis=1)
    assert 0.25 < np.mean(old_rule) < 0.4 and 1 - (1 - np.mean(old_rule)) ** 15 > 0.99


def test_the_seed_study_needs_five_seeds_with_every_metric(tmp_path):
    runs = [{"name": f"seeds-default-seed{seed}", "seed": seed} for seed in range(MIN_SEEDS)]
    study = {"runs": runs, "metrics": {"a: fid": {"values": [0.8 + seed / 100 for seed in range(MIN_SEEDS)]}}}
    (tmp_path / "band.json").write_text(json.dumps(study))
    assert seed_study(tmp_path / "band.json") == {"a: fid": study["metrics"]["a: fid"]["values"]}
    (tmp_path / "band.json").write_text(json.dumps({**study, "runs": runs[:3]}))
    with pytest.raises(ValueError, match="3 seeds with a value for each metric; make verify needs 5"):
        seed_study(tmp_path / "band.json")


def test_the_kernel_record_names_torch_its_cpu_capability_onednn_and_the_threads():
    environment = kernel_environment(torch.device("cpu"))
    assert environment["torch"] == torch.__version__ and environment["device"] == "cpu" and environment["processes"] == 1
    assert environment["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert environment["torch_threads"] == torch.get_num_threads()
    assert environment["onednn_isa"] and environment["onednn_version"].startswith("v")
    assert environment == kernel_environment(torch.device("cpu"))  # oneDNN tells its ISA once a process: kept
    json.dumps(environment)


REPO = Path(__file__).resolve().parents[1]


def test_real_runs_of_the_unchanged_default_on_either_kernel_kind_pass_the_committed_seed_study():
    # tests/verify_runs.json: the scores of real runs (the committed default on AVX-512 and on AVX2), checked
    # against the committed seed study's prediction intervals as make verify checks a rerun on other kernels.
    runs = {name: run["metrics"] for name, run in json.loads((REPO / "tests/verify_runs.json").read_text()).items()}
    study = json.loads((REPO / "studies/seed_band.json").read_text())
    values = seed_study(REPO / "studies/seed_band.json")
    in_study = next(index for index, run in enumerate(study["runs"]) if run["torch_cpu_capability"] == "AVX512" and run["seed"] == 0)
    assert all(runs["avx512-seed0"][name] == seen[in_study] for name, seen in values.items())  # that run is one of the study's
    # so it is checked against the intervals of the other seeds (leave one out), and the AVX2 run, in none, against all
    without = prediction_intervals({name: seen[:in_study] + seen[in_study + 1 :] for name, seen in values.items()})
    assert differences(LOCK, LOCK, runs["avx2-seed0"], runs["avx512-seed0"], without)[0] == []
    assert differences(LOCK, LOCK, runs["avx512-seed0"], runs["avx2-seed0"], prediction_intervals(values))[0] == []


def test_a_real_run_with_half_the_epochs_fails_the_committed_seed_study_on_the_scores_it_moved():
    runs = {name: run["metrics"] for name, run in json.loads((REPO / "tests/verify_runs.json").read_text()).items()}
    intervals = prediction_intervals(seed_study(REPO / "studies/seed_band.json"))
    problems, _ = differences(LOCK, LOCK, runs["avx2-seed0"], runs["half-epochs"], intervals)
    named = [": ".join(line.split(": ")[:2]) for line in problems]
    # FID (2.04 against the 10 seeds' 0.93, interval [0.38, 1.48]), the quick FID, KID and the Inception Score left
    # their intervals, and the best epoch can be no later than the last; the update counts, whole numbers, must be
    # equal. Precision, recall and the losses stayed inside.
    outside = {name for name, line in zip(named, problems) if "outside the prediction interval" in line}
    assert outside == {
        "metrics/eval.json: fid",
        "metrics/eval.json: is_mean",
        "metrics/eval.json: kid_mean",
        "metrics/train/metrics.json: fid",
        "metrics/train/metrics.json: best_epoch",
    }, problems
    assert set(named) - outside == {f"metrics/train/metrics.json: {key}" for key in ("discriminator_updates", "generator_updates", "step")}
