"""End to end: four experiments of the tiny pipeline from DVC's queue, two at a time.

A module of its own (on its own copy of the shared repository) so that pytest-xdist can run it beside
the other end-to-end modules: it is the longest single test.
"""

import json
import math
import time

import pytest
import yaml
from pipeline_repo import dvc, run, tiny_repository_after_first_repro

pytestmark = pytest.mark.slow
LEARNING_RATES = [0.0001, 0.0002, 0.0003, 0.0004]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return tiny_repository_after_first_repro(tmp_path_factory, "queue")


def test_four_queued_experiments_run_two_at_a_time_each_with_its_own_outputs(repo):
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "before the queue"], repo, check=False)  # nothing to commit is fine
    # Up to evaluate, as the studies queue them: style transfer and the report would only lengthen each run. Four
    # learning rates rather than four seeds: the data, the evaluator and the real features stay the baseline's, so
    # each run trains, samples and scores, and the queue is what is tested, not the stages a seed reruns.
    dvc(repo, "exp", "run", "--queue", "-S", f"train.lr={','.join(map(str, LEARNING_RATES))}", "evaluate")
    baseline = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    finished_refs = ["git", "for-each-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}"]  # experiments of this commit only
    dvc(repo, "queue", "start", "-j", "2")
    deadline = time.monotonic() + 600
    # Wait cheaply: a finished experiment is a git ref under refs/exps/<baseline>, and `git for-each-ref` costs
    # milliseconds where `dvc queue status` costs a second of the CPU the two runs need; the status is
    # asked only every 15 s, to stop early when a run failed.
    asked = time.monotonic()
    while len(run(finished_refs, repo).stdout.splitlines()) < 4:
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
            lr = data["params"]["params.yaml"]["data"]["train"]["lr"]
            if lr in LEARNING_RATES:
                runs[lr] = data
    assert sorted(runs) == LEARNING_RATES
    fids = {lr: data["metrics"]["metrics/eval.json"]["data"]["fid"] for lr, data in runs.items()}
    assert all(math.isfinite(fid) for fid in fids.values()) and len(set(fids.values())) == 4  # each its own run
    generators = {lr: data["outs"]["models/generator.pt"]["hash"] for lr, data in runs.items()}
    assert len(set(generators.values())) == 4
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    baseline_evaluator = next(out["md5"] for out in lock["stages"]["train_evaluator"]["outs"] if out["path"] == "models/evaluator.pt")
    assert {data["deps"]["models/evaluator.pt"]["hash"] for data in runs.values()} == {baseline_evaluator}  # not trained again
