"""End to end: SIGKILL in the middle of training, `dvc repro` again, and the same generator bit for bit."""

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from pipeline_repo import TINY, copy_of_the_repository, digest, dvc, run, set_params, stages_run

pytestmark = pytest.mark.slow

RESUMABLE = {**TINY, "data": {"limit": 1000}, "train": {**TINY["train"], "epochs": 8, "checkpoint_every": 1, "eval_every": 2}}
CHECKPOINT = "models/checkpoints/last.pt"
TRAIN_OUTPUTS = [
    "models/generator.pt",
    "models/generator_best.pt",
    "metrics/train/plots/metrics/generator_loss.tsv",
    "metrics/train/plots/metrics/fid.tsv",
    "metrics/train/plots/images/preview/epoch_0002.png",
    "metrics/train/plots/images/preview/epoch_0008.png",
]


FULL_RUN = {}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = copy_of_the_repository(tmp_path_factory.mktemp("resume") / "ganyard", RESUMABLE)
    started = time.monotonic()
    dvc(root, "repro")
    FULL_RUN["seconds"] = time.monotonic() - started
    return root


def dvc_repro_in_background(repo: Path, *args: str) -> subprocess.Popen:
    """`dvc repro` in its own process group, so that one killpg reaches dvc and the stage it runs."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dvc"), "repro", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def checkpoint_epoch(repo: Path) -> int:
    try:
        checkpoint = torch.load(repo / CHECKPOINT, weights_only=True)
    except Exception:  # not there yet
        return 0
    return -1 if checkpoint["complete"] else checkpoint["epoch"]


def kill_training_after(repo: Path, epoch: int) -> int:
    """Start a forced `dvc repro` of train, SIGKILL it (dvc and the stage) once a checkpoint of ``epoch`` or later exists."""
    process = dvc_repro_in_background(repo, "--force", "--single-item", "train")
    deadline = time.monotonic() + 300
    while checkpoint_epoch(repo) < epoch:
        assert process.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return checkpoint_epoch(repo)


def test_the_best_generator_is_the_lowest_quick_fid_and_is_chosen_without_the_test_split(repo, tmp_path):
    best = torch.load(repo / "models/generator_best.pt", weights_only=True)
    rows = [line.split("\t") for line in (repo / "metrics/train/plots/metrics/fid.tsv").read_text().splitlines()[1:]]
    curve = {int(step): float(fid) for step, fid in rows}
    assert sorted(curve) == [2, 4, 6, 8]
    assert best["epoch"] == min(curve, key=curve.get) and best["quick_fid"] == pytest.approx(min(curve.values()))
    summary = json.loads((repo / "metrics/train/metrics.json").read_text())
    assert summary["best_epoch"] == best["epoch"]
    # The train stage alone, in a folder that has no test split at all: the same best generator, bit for bit.
    for name in ("params.yaml", "data/prepared/train.pt", "models/evaluator.pt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((repo / name).read_bytes())
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    result = subprocess.run([sys.executable, str(repo / "stages/train.py")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "data/prepared/test.pt").exists()
    assert digest(tmp_path / "models/generator_best.pt") == digest(repo / "models/generator_best.pt")


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


OUTPUT_FOLDERS = ("data", "models", "metrics", "reports")


def output_files(repo: Path) -> dict[str, Path]:
    """Every file the pipeline wrote (not dvclive's staging folder, which only train itself reads)."""
    files = {}
    for folder in OUTPUT_FOLDERS:
        for path in (repo / folder).rglob("*"):
            relative = path.relative_to(repo).as_posix()
            if path.is_file() and not relative.startswith(("metrics/.train-live/", "models/set_aside/")):
                files[relative] = path
    return files


def is_temporary(relative: str) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return name.startswith(".") and name.endswith(".tmp")


def why_not_whole(path: Path) -> str | None:
    """None when ``path`` is a whole file of its kind, else what is wrong with it."""
    try:
        if path.suffix == ".pt":
            torch.load(path, weights_only=True)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix in (".tsv", ".csv"):
            text = path.read_text()
            rows = list(csv.reader(text.splitlines(), delimiter="\t" if path.suffix == ".tsv" else ","))
            if not text.endswith("\n") or len({len(row) for row in rows}) != 1:
                return "rows of unequal length or no final newline"
        elif path.suffix == ".png":
            with Image.open(path) as image:
                image.load()
        elif path.suffix in (".md", ".txt", ".ok"):
            text = path.read_text()
            if text and not text.endswith("\n"):
                return "no final newline"
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def lock_is_whole(repo: Path) -> bool:
    """Whether DVC reads the repository's dvc.lock (DVC itself says, through `dvc status`)."""
    return run([str(Path(sys.executable).parent / "dvc"), "status"], repo, check=False).returncode == 0


def test_the_wholeness_check_finds_a_cut_file_of_every_kind(repo, tmp_path):
    kinds = {
        "models/generator.pt",
        "metrics/eval.json",
        "metrics/train/plots/metrics/fid.tsv",
        "metrics/class_histogram.csv",
        "data/samples/grid.png",
        "reports/report.md",
    }
    for name in kinds:
        whole = (repo / name).read_bytes()
        assert why_not_whole(repo / name) is None
        cut = tmp_path / Path(name).name
        cut.write_bytes(whole[: len(whole) * 2 // 3])
        assert why_not_whole(cut) is not None, name


def test_killing_dvc_repro_at_random_moments_never_leaves_half_a_file_and_the_run_ends_bit_identical(repo):
    # every file, the checkpoint, metrics and report included: no output records how long anything took
    uninterrupted = {name: digest(path) for name, path in output_files(repo).items()}
    moments = random.Random(8).sample(range(5, 96, 5), 5)  # percent of an uninterrupted run; fixed, so CI sees the same ones
    kills, cut_locks = 0, 0
    for round_number, percent in enumerate(moments):
        lock_before = (repo / "dvc.lock").read_text()
        # Every stage runs again (--force); train resumes from the checkpoint a previous kill left, if any.
        process = dvc_repro_in_background(repo, "--force")
        try:
            process.wait(timeout=FULL_RUN["seconds"] * percent / 100)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            kills += 1
        broken = {name: why for name, path in output_files(repo).items() if not is_temporary(name) and (why := why_not_whole(path))}
        assert broken == {}, f"killed at {percent}% of a run (round {round_number}): half-written files {broken}"
        if not lock_is_whole(repo):
            # DVC rewrites dvc.lock in place (open 'w+' in dvc/utils/serialize/_common.py), so a kill inside that
            # write cuts it: DVC's file, not ours. The remedy the README gives a user: restore it from git.
            (repo / "dvc.lock").write_text(lock_before)
            cut_locks += 1
    print(
        f"uninterrupted run {FULL_RUN['seconds']:.0f} s; killed at {sorted(moments)} percent of it: {kills} of {len(moments)} landed; "
        f"{cut_locks} cut DVC's dvc.lock"
    )
    assert kills >= 3  # most rounds were killed mid-run, not after the pipeline had finished
    dvc(repo, "repro")
    finished = output_files(repo)
    assert [name for name in finished if is_temporary(name)] == []  # a killed writer's temporary does not outlive the next run
    assert {name: digest(path) for name, path in finished.items()} == uninterrupted
    assert stages_run(dvc(repo, "repro").stdout) == []


def test_a_checkpoint_of_other_params_is_set_aside_not_resumed(repo):
    kill_training_after(repo, 2)
    good = (repo / "params.yaml").read_text()
    set_params(repo, {"train": {"lr": 1e-4, "epochs": 2}})  # 2 epochs: other params all the same, and a short run
    result = dvc(repo, "repro", "train")  # what follows train has nothing to say about the checkpoint
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
