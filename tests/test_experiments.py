"""End to end: DVC experiments of the tiny pipeline, run one at a time (tests/test_queue.py runs them from the queue)."""

import json

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
