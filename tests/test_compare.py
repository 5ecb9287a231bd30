import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganyard.compare import compare, experiments_table, main, mean_and_interval, welch_p_value


def exp_show(runs: list[tuple[int, int, float, float]]) -> list[dict]:
    """`dvc exp show --json` shaped data: one experiment per (discriminator_steps, seed, fid, recall)."""
    experiments = []
    for index, (steps, seed, fid, recall) in enumerate(runs):
        data = {
            "params": {"params.yaml": {"data": {"seed": seed, "train": {"discriminator_steps": steps, "lr": 0.0002}, "style": {"style_layers": ["relu1_1"]}}}},
            "metrics": {"metrics/eval.json": {"data": {"fid": fid, "recall": recall, "backbone": "evaluator"}}},
        }
        experiments.append({"name": f"exp-{index}", "revs": [{"rev": f"{index:040d}", "data": data}]})
    queued = {"name": "queued", "revs": [{"rev": "f" * 40, "data": {"params": {"params.yaml": {"data": {"seed": 9}}}}}]}
    # a running experiment: DVC shows its temporary workspace, whose metrics are still the parent commit's
    running = {
        "name": "running",
        "revs": [
            {
                "rev": "d" * 40,
                "data": {"rev": "workspace", "params": {"params.yaml": {"data": {"seed": 8}}}, "metrics": {"metrics/eval.json": {"data": {"fid": 99.0}}}},
            }
        ],
    }
    return [
        {"rev": "workspace", "data": {}},
        {"rev": "abc", "name": "main", "data": {"metrics": {"metrics/eval.json": {"data": {"fid": 99.0}}}}, "experiments": experiments + [queued, running]},
    ]


def test_table_has_one_row_per_finished_experiment_and_skips_commits_queued_and_running_ones():
    table = experiments_table(exp_show([(1, 0, 10.0, 0.5), (2, 0, 12.0, 0.4)]))
    assert list(table["name"]) == ["exp-0", "exp-1"] and list(table["fid"]) == [10.0, 12.0]
    assert "backbone" not in table.columns and table.loc[1, "param:train.discriminator_steps"] == 2


def test_interval_matches_the_t_distribution_by_hand():
    mean, half_width = mean_and_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half_width == pytest.approx(4.302652729911275 * 1.0 / math.sqrt(3))
    assert math.isnan(mean_and_interval([5.0])[1])


def test_welch_agrees_with_the_textbook_formula():
    a, b = np.array([10.1, 11.3, 9.8, 10.6]), np.array([12.0, 13.5, 12.7])
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    assert welch_p_value(a, b) == pytest.approx(2 * stats.t.sf(abs(t), dof))
    assert welch_p_value([1.0, 1.0], [1.0, 1.0]) == 1.0 and welch_p_value([1.0, 1.0], [2.0, 2.0]) == 0.0
    assert math.isnan(welch_p_value([1.0], [1.0, 2.0]))


def test_identical_groups_give_p_near_one_and_separated_groups_p_below_001():
    rng = np.random.default_rng(0)
    same = rng.normal(20, 2, size=5)
    runs = [(1, seed, fid, 0.5) for seed, fid in enumerate(same)]
    runs += [(2, seed, fid, 0.5) for seed, fid in enumerate(same)]  # the same values: no difference at all
    runs += [(5, seed, fid, 0.5) for seed, fid in enumerate(rng.normal(40, 2, size=5))]  # ten standard deviations away
    summary = compare(experiments_table(exp_show(runs)), ["fid"], {"train.discriminator_steps": "1"})
    by_steps = summary.set_index("configuration")
    assert by_steps.loc["train.discriminator_steps=2", "fid_p"] == pytest.approx(1.0)
    assert by_steps.loc["train.discriminator_steps=5", "fid_p"] < 0.01
    assert math.isnan(by_steps.loc["train.discriminator_steps=1", "fid_p"]) and by_steps.loc["train.discriminator_steps=1", "baseline"]
    assert list(summary["runs"]) == [5, 5, 5]
    assert by_steps.loc["train.discriminator_steps=5", "fid_mean"] == pytest.approx(np.mean([r[2] for r in runs[10:]]))


def test_seed_alone_does_not_make_a_configuration_and_bad_requests_are_explained():
    table = experiments_table(exp_show([(1, 0, 10.0, 0.5), (1, 1, 11.0, 0.6)]))
    summary = compare(table, ["fid", "recall"])
    assert list(summary["configuration"]) == ["all runs"] and summary.loc[0, "runs"] == 2
    with pytest.raises(ValueError, match=r"metrics \['fdi'\] are in no experiment; known: \['fid', 'recall'\]"):
        compare(table, ["fdi"])
    with pytest.raises(ValueError, match="matches 0 configurations"):
        compare(table, ["fid"], {"train.discriminator_steps": "3"})


def test_command_writes_markdown_csv_and_chart(tmp_path, capsys):
    runs = [(steps, seed, 20 + steps + 0.1 * seed, 0.5) for steps in (1, 5) for seed in range(3)]
    saved = tmp_path / "exps.json"
    import json

    saved.write_text(json.dumps(exp_show(runs)))
    assert main(["--json", str(saved), "--metrics", "fid,recall", "--baseline", "train.discriminator_steps=1", "--out", str(tmp_path / "out/compare")]) == 0
    markdown = (tmp_path / "out/compare.md").read_text()
    assert "train.discriminator_steps=1 (baseline)" in markdown and "21.1 ± 0.25" in markdown
    assert pd.read_csv(tmp_path / "out/compare.csv").shape[0] == 2
    assert (tmp_path / "out/compare.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["--json", str(saved), "--metrics", "nope"]) == 2
    assert "known:" in capsys.readouterr().err


def test_experiments_named_per_seed_are_labelled_by_name_and_filtered_by_pattern(tmp_path, capsys):
    import json

    runs = [(steps, seed, 20 + steps + 0.1 * seed, 0.5) for steps in (1, 5) for seed in range(3)]
    shown = exp_show(runs)
    for experiment, (steps, seed, _, _) in zip(shown[1]["experiments"], runs):
        experiment["name"] = f"study-ratio{steps}-seed{seed}"
    shown[1]["experiments"].append(
        {
            "name": "other-run",
            "revs": [
                {
                    "rev": "e" * 40,
                    "data": {
                        "params": {"params.yaml": {"data": {"seed": 0, "train": {"discriminator_steps": 9, "lr": 0.0002}}}},
                        "metrics": {"metrics/eval.json": {"data": {"fid": 1.0, "recall": 0.9}}},
                    },
                }
            ],
        }
    )
    table = experiments_table(shown)
    summary = compare(table[table["name"].str.startswith("study-")], ["fid"], "study-ratio1")
    assert list(summary["configuration"]) == ["study-ratio1", "study-ratio5"]
    assert list(summary["params"]) == ["train.discriminator_steps=1", "train.discriminator_steps=5"] and summary["baseline"].tolist() == [True, False]
    with pytest.raises(ValueError, match="baseline 'study-ratio2' is none of the configurations"):
        compare(table[table["name"].str.startswith("study-")], ["fid"], "study-ratio2")
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(shown))
    assert main(["--json", str(saved), "--names", "study-*", "--metrics", "fid", "--baseline", "study-ratio1", "--out", str(tmp_path / "c")]) == 0
    assert "study-ratio5 " in capsys.readouterr().out and "other-run" not in (tmp_path / "c.md").read_text()
    assert main(["--json", str(saved), "--names", "study-ratio5-*,other-*", "--metrics", "fid", "--out", str(tmp_path / "c")]) == 0
    kept = (tmp_path / "c.md").read_text()  # comma-separated patterns: a run matching any of them is kept
    assert "other-run" in kept and "study-ratio5" in kept and "study-ratio1" not in kept
    capsys.readouterr()
    assert main(["--json", str(saved), "--names", "nothing-*", "--out", str(tmp_path / "c")]) == 2
    assert "no finished experiment with metrics/eval.json named nothing-*" in capsys.readouterr().err


def test_a_param_set_to_null_is_a_configuration_of_its_own():
    """`train.ema: null` against `train.ema: 0.995`, nothing else different: two configurations, not one."""
    shown = exp_show([(1, seed, 10.0 + seed, 0.5) for seed in range(2)] + [(1, seed, 20.0 + seed, 0.5) for seed in range(2)])
    for index, experiment in enumerate(shown[1]["experiments"][:4]):
        experiment["revs"][0]["data"]["params"]["params.yaml"]["data"]["train"]["ema"] = None if index < 2 else 0.995
    summary = compare(experiments_table(shown), ["fid"], {"train.ema": "null"})
    assert list(summary["params"]) == ["train.ema=0.995", "train.ema=null"] and list(summary["runs"]) == [2, 2]
    assert summary.set_index("params").loc["train.ema=null", "fid_mean"] == 10.5 and summary["baseline"].tolist() == [False, True]
