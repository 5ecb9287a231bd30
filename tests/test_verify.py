"""The reproduction check's comparisons (ganyard.verify) on known locks and metrics, and the kernel record."""

import json

import pytest
import torch

from ganyard.environment import kernel_environment
from ganyard.verify import differences, lock_entries, seed_band

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
BAND = {"metrics/eval.json: fid": 0.17, "metrics/train/metrics.json: best_epoch": 4}


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
    assert differences(LOCK, LOCK, METRICS, METRICS, band=None) == ([], [])
    new_lock = changed(LOCK, "outs", "models/generator.pt", "ddd")
    new_metrics = {**METRICS, "metrics/eval.json: fid": 0.8500000000000001}
    problems, unchecked = differences(LOCK, new_lock, METRICS, new_metrics, band=None)
    assert problems == ["dvc.lock train: outs models/generator.pt: ccc -> ddd", "metrics/eval.json: fid: 0.85 -> 0.8500000000000001"]
    assert unchecked == []


def test_a_stale_lock_is_named_on_any_machine():
    stale = changed(LOCK, "deps", "src/ganyard/training.py", "eee")
    for band in (None, BAND):
        problems, _ = differences(LOCK, stale, METRICS, METRICS, band=band)
        assert problems == ["dvc.lock train: deps src/ganyard/training.py: aaa -> eee"]
    new_params = json.loads(json.dumps(LOCK))
    new_params["stages"]["train"]["params"]["params.yaml"]["train"]["lr"] = 0.0004
    assert differences(LOCK, new_params, METRICS, METRICS, band=BAND)[0] == ["dvc.lock train: params params.yaml:train.lr: 0.0008 -> 0.0004"]


def test_on_other_kernels_outputs_may_differ_and_metrics_must_stay_within_the_seed_band():
    other_bytes = changed(changed(LOCK, "outs", "models/generator.pt", "ddd"), "deps", "data/prepared", "fff.dir")
    other_bytes = changed(other_bytes, "outs", "data/prepared", "fff.dir")
    within = {
        **METRICS,
        "metrics/eval.json: fid": 0.85 + 0.16,
        "metrics/train/metrics.json: best_epoch": 90,
        "metrics/eval.json: fid_real": 0.181,
        "metrics/environment.json: torch_threads": 16,
    }
    problems, unchecked = differences(LOCK, other_bytes, METRICS, within, band=BAND)
    assert problems == []
    assert unchecked == ["metrics/eval.json: fid_real: 0.18 -> 0.181 (does not vary with the seed: no band)"]
    outside = {**within, "metrics/eval.json: fid": 0.85 + 0.18, "metrics/train/metrics.json: best_epoch": 91, "metrics/eval.json: n_samples": 3999}
    problems, _ = differences(LOCK, other_bytes, METRICS, outside, band=BAND)
    assert [line.split(" ->")[0] for line in problems] == [
        "metrics/eval.json: fid: 0.85",
        "metrics/eval.json: n_samples: 4000",
        "metrics/train/metrics.json: best_epoch: 86",
    ]
    assert "outside the seed-to-seed band 0.17" in problems[0]


def test_a_metric_missing_from_either_side_is_a_difference():
    fewer = {key: value for key, value in METRICS.items() if key != "metrics/eval.json: fid"}
    assert differences(LOCK, LOCK, METRICS, fewer, band=None)[0] == ["metrics/eval.json: fid: missing from the new run"]
    assert differences(LOCK, LOCK, fewer, METRICS, band=BAND)[0] == ["metrics/eval.json: fid: new"]


def test_the_band_is_each_metrics_range_over_the_seeds_and_leaves_out_what_the_seed_does_not_move(tmp_path):
    study = {
        "metrics": {
            "a: fid": {"min": 0.7, "max": 0.9},
            "a: kid_mean_real": {"min": -0.025286866588947916, "max": -0.02528686658894788},
            "a: count": {"min": 4000, "max": 4000},
        }
    }
    (tmp_path / "band.json").write_text(json.dumps(study))
    assert seed_band(tmp_path / "band.json") == {"a: fid": pytest.approx(0.2)}


def test_the_kernel_record_names_torch_its_cpu_capability_onednn_and_the_threads():
    environment = kernel_environment(torch.device("cpu"))
    assert environment["torch"] == torch.__version__ and environment["device"] == "cpu" and environment["processes"] == 1
    assert environment["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert environment["torch_threads"] == torch.get_num_threads()
    assert environment["onednn_isa"] and environment["onednn_version"].startswith("v")
    assert environment == kernel_environment(torch.device("cpu"))  # oneDNN tells its ISA once a process: kept
    json.dumps(environment)
