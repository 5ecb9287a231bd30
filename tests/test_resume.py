"""End to end: SIGKILL in the middle of training, `dvc repro` again, and the same generator bit for bit."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from test_pipeline import TINY, copy_of_the_repository, digest, dvc, run, set_params, stages_run

pytestmark = pytest.mark.slow

RESUMABLE = {**TINY, "data": {"limit": 1000}, "train": {**TINY["train"], "epochs": 8, "checkpoint_every": 1, "eval_every": 2}}
CHECKPOINT = "models/checkpoints/last.pt"
TRAIN_OUTPUTS = ["models/generator.pt", "metrics/train/plots/metrics/generator_loss.tsv", "metrics/train/plots/metrics/fid.tsv",
                 "metrics/train/plots/images/preview/epoch_0002.png", "metrics/train/plots/images/preview/epoch_0008.png"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = copy_of_the_repository(tmp_path_factory.mktemp("resume") / "ganyard", RESUMABLE)
    dvc(root, "repro")
    return root


def checkpoint_epoch(repo: Path) -> int:
    try:
        checkpoint = torch.load(repo / CHECKPOINT, weights_only=True)
    except Exception:  # not there yet
        return 0
    return -1 if checkpoint["complete"] else checkpoint["epoch"]


def kill_training_after(repo: Path, epoch: int) -> int:
    """Start a forced `dvc repro` of train, SIGKILL it (dvc and the stage) once a checkpoint of ``epoch`` or later exists."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    process = subprocess.Popen([str(Path(sys.executable).parent / "dvc"), "repro", "--force", "--single-item", "train"], cwd=repo, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while checkpoint_epoch(repo) < epoch:
        assert process.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return checkpoint_epoch(repo)


def test_a_run_killed_mid_training_resumes_and_ends_bit_identical(repo):
    uninterrupted = {name: digest(repo / name) for name in TRAIN_OUTPUTS}
    killed_at = kill_training_after(repo, 3)
    assert 3 <= killed_at < 8
    assert not (repo / "models/generator.pt").exists()  # DVC removed it before the killed run; nothing half-written instead
    result = dvc(repo, "repro")
    assert f"resuming from {CHECKPOINT}: epoch {killed_at} of 8 was done" in result.stdout
    assert "train" in stages_run(result.stdout)
    assert {name: digest(repo / name) for name in TRAIN_OUTPUTS} == uninterrupted
    assert stages_run(dvc(repo, "repro").stdout) == []  # and DVC agrees the pipeline is where it was


def test_a_checkpoint_of_other_params_is_set_aside_not_resumed(repo):
    kill_training_after(repo, 2)
    good = (repo / "params.yaml").read_text()
    set_params(repo, {"train": {"lr": 1e-4}})
    result = dvc(repo, "repro")
    (repo / "params.yaml").write_text(good)
    assert f"resuming from {CHECKPOINT}: epoch" not in result.stdout
    assert f"not resuming from {CHECKPOINT}: it was written by a run with other params or data" in result.stdout
    assert len(list((repo / "models/set_aside").glob("last-*.pt"))) == 1


def test_a_diverging_run_names_the_epoch_and_the_last_good_checkpoint_and_exits_non_zero(repo):
    # Non-finite training images make the losses NaN in the first iteration.
    prepared = torch.load(repo / "data/prepared/train.pt", weights_only=True)
    prepared["images"][:, 0, 0, 0] = float("nan")
    torch.save(prepared, repo / "data/prepared/train.pt")
    checkpoint_before = digest(repo / CHECKPOINT)
    result = run(["env", "PYTHONPATH=src", sys.executable, "stages/train.py"], repo, check=False)
    assert result.returncode == 2
    assert "ganyard train: training diverged at epoch 1, iteration 1: the discriminator loss is not finite" in result.stderr
    assert "the last good checkpoint is none yet" in result.stderr and "Traceback" not in result.stderr
    assert digest(repo / CHECKPOINT) == checkpoint_before  # nothing written over
