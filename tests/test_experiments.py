"""End to end: DVC experiments of the tiny pipeline, one at a time and four from the queue, two at a time."""

import json
import math
import time

import pytest

from pipeline_repo import dvc, run, stages_run, tiny_repository_after_first_repro

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return tiny_repository_after_first_repro(tmp_path_factory, "experiments")


def test_experiment_with_another_learning_rate_is_listed_with_params_and_summary(repo):
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    ran = stages_run(dvc(repo, "exp", "run", "-S", "train.lr=1e-4", "--name", "slow-lr").stdout)
    assert set(ran) == {"check_params", "train", "sample", "evaluate", "stylize", "report"}  # real features and evaluator reused
    table = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    experiments = [exp for commit in table for exp in (commit.get("experiments") or [])]
    runs = {exp["name"]: exp["revs"][0]["data"] for exp in experiments}
    assert "slow-lr" in runs
    data = runs["slow-lr"]
    assert data["params"]["params.yaml"]["data"]["train"]["lr"] == pytest.approx(1e-4)
    assert "generator_loss" in data["metrics"]["metrics/train/metrics.json"]["data"]
    assert "fid" in data["metrics"]["metrics/eval.json"]["data"]


def test_conditional_experiment_scores_whether_samples_show_their_class(repo):
    dvc(repo, "exp", "run", "-S", "model.conditional=true", "--name", "conditional")
    dvc(repo, "exp", "apply", "conditional")
    scores = json.loads((repo / "metrics/eval.json").read_text())
    assert 0 <= scores["conditional_accuracy"] <= 1 and 0 <= scores["conditional_accuracy_real"] <= 1
    import torch

    saved = torch.load(repo / "data/samples/samples.pt", weights_only=True)
    assert torch.equal(saved["labels"], torch.arange(len(saved["labels"])) % 10)


def test_four_queued_experiments_run_two_at_a_time_each_with_its_own_outputs(repo):
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "before the queue"], repo, check=False)  # nothing to commit is fine
    dvc(repo, "exp", "run", "--queue", "-S", "seed=11,12,13,14")
    baseline = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    finished_refs = ["git", "for-each-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}"]  # experiments of this commit only
    earlier = len(run(finished_refs, repo).stdout.splitlines())  # experiments run before, from the same commit
    dvc(repo, "queue", "start", "-j", "2")
    deadline = time.monotonic() + 600
    # Wait cheaply: a finished experiment is a git ref under refs/exps/<baseline>, and `git for-each-ref` costs
    # milliseconds where `dvc queue status` costs a second of the CPU the two runs need; the status is
    # asked only every 15 s, to stop early when a run failed.
    asked = time.monotonic()
    while len(run(finished_refs, repo).stdout.splitlines()) < earlier + 4:
        assert time.monotonic() < deadline, dvc(repo, "queue", "status").stdout
        if time.monotonic() - asked > 15:
            asked = time.monotonic()
            if not any(word in dvc(repo, "queue", "status").stdout for word in ("Queued", "Running")):
                break
        time.sleep(1)
    while any(word in dvc(repo, "queue", "status").stdout for word in ("Queued", "Running")):  # the last result being collected
        assert time.monotonic() < deadline, dvc(repo, "queue", "status").stdout
        time.sleep(2)
    status = dvc(repo, "queue", "status").stdout
    assert "Failed" not in status, status
    table = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    runs = {}
    for commit in table:
        for experiment in commit.get("experiments") or []:
            data = experiment["revs"][0]["data"]
            seed = data["params"]["params.yaml"]["data"]["seed"]
            if seed in (11, 12, 13, 14):
                runs[seed] = data
    assert sorted(runs) == [11, 12, 13, 14]
    fids = {seed: data["metrics"]["metrics/eval.json"]["data"]["fid"] for seed, data in runs.items()}
    assert all(math.isfinite(fid) for fid in fids.values()) and len(set(fids.values())) == 4  # each its own run
    generators = {seed: data["outs"]["models/generator.pt"]["hash"] for seed, data in runs.items()}
    assert len(set(generators.values())) == 4
