import errno
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganyard.io import ArtifactError, load_torch, publish, save_json, save_torch, write_atomic
from ganyard.stage import run_stage


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_round_trip(tmp_path):
    path = save_torch({"images": torch.arange(6.0).view(2, 3), "config": {"name": "dcgan"}}, tmp_path / "a" / "x.pt")
    loaded = load_torch(path)
    assert torch.equal(loaded["images"], torch.arange(6.0).view(2, 3)) and loaded["config"] == {"name": "dcgan"}


def test_a_file_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"payload": _RunsCode()}, path, pickle_module=pickle)
    with pytest.raises(ArtifactError, match="cannot be loaded"):
        load_torch(path, "checkpoint")
    assert not (tmp_path / "pwned").exists()


def test_missing_and_corrupt_files_name_the_path(tmp_path):
    with pytest.raises(ArtifactError, match="generator .*missing.pt does not exist"):
        load_torch(tmp_path / "missing.pt", "generator")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a torch file")
    with pytest.raises(ArtifactError, match="corrupt.pt cannot be loaded"):
        load_torch(corrupt)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = save_json({"fid": 1.0}, tmp_path / "eval.json")

    def disk_full(temporary):
        temporary.write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(ArtifactError) as caught:
        write_atomic(target, disk_full)
    assert str(caught.value).startswith(f"cannot write {target}: No space left on device; the disk is full")
    assert "(any previous eval.json is unchanged)" in str(caught.value)
    assert target.read_text() == '{\n  "fid": 1.0\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.json"]


def test_an_unwritable_output_folder_is_a_clear_error(tmp_path):
    (tmp_path / "models").write_text("a file where a folder should be")
    with pytest.raises(ArtifactError, match="cannot write .*models/generator.pt: .*models is a file, not a folder"):
        save_torch({"x": torch.zeros(1)}, tmp_path / "models" / "generator.pt")


def test_a_stage_that_runs_out_of_disk_exits_with_a_message_not_a_traceback(capsys):
    def main(params):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "metrics/train/metrics.json")

    with pytest.raises(SystemExit) as exit_status:
        run_stage("train", main, params_path=Path(__file__).resolve().parents[1] / "params.yaml")
    assert exit_status.value.code == 2
    assert "ganyard train: cannot write metrics/train/metrics.json: No space left on device; the disk is full" in capsys.readouterr().err


def test_killed_writers_leave_the_old_file_or_the_new_one_never_half(tmp_path):
    # A child process rewrites one file through save_json as fast as it can; it is SIGKILLed at random
    # moments, and after every kill the file must parse and be one of the versions it wrote.
    script = (
        "import sys; from ganyard.io import save_json\n"
        "print('ready', flush=True)\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1\n"
        "    save_json({'version': i, 'padding': 'x' * (1 + i % 5000) * 50}, sys.argv[1])\n"
    )
    target = tmp_path / "metrics.json"
    save_json({"version": 0, "padding": ""}, target)
    rng = random.Random(0)
    seen = set()
    for _ in range(8):
        child = subprocess.Popen(
            [sys.executable, "-c", script, str(target)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")},
        )
        assert child.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.05, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait()
        content = json.loads(target.read_text())  # never half a file
        assert len(content["padding"]) in (0, 50 * (1 + content["version"] % 5000))
        seen.add(content["version"])
    assert len(seen) >= 6  # the kills did land mid-run, at different versions
    assert [p.name for p in tmp_path.iterdir() if p.name != "metrics.json" and not p.name.startswith(".metrics.json.")] == []


def test_equal_content_gives_equal_bytes(tmp_path):
    # DVC compares outputs by hash: equal weights must give an identical file, whatever its name.
    state = {"weight": torch.arange(4.0)}
    first, second = save_torch(state, tmp_path / "a.pt"), save_torch(state, tmp_path / "b.pt")
    assert first.read_bytes() == second.read_bytes()


def test_equal_content_gives_equal_bytes_whatever_objects_hold_it(tmp_path):
    # A resumed run's records come from torch.load: equal strings, but other objects than an
    # uninterrupted run's, which pickle would write once and refer back to.
    key = "".join(["discriminator", "_loss"])  # built at run time: not the interned literal
    shared = [{key: 1.0}, {key: 2.0}]
    separate = [{"discriminator_loss": 1.0}, {"".join(["discriminator", "_loss"]): 2.0}]
    assert shared == separate
    save_torch({"records": shared, "weights": torch.arange(3.0)}, tmp_path / "shared.pt")
    save_torch({"records": separate, "weights": torch.arange(3.0)}, tmp_path / "separate.pt")
    assert (tmp_path / "shared.pt").read_bytes() == (tmp_path / "separate.pt").read_bytes()


def test_publish_copies_new_and_changed_files_and_leaves_equal_ones_alone(tmp_path):
    staging, target = tmp_path / "staging", tmp_path / "target"
    (staging / "plots/metrics").mkdir(parents=True)
    (staging / "plots/metrics/loss.tsv").write_text("step\tloss\n1\t0.5\n")
    (staging / "metrics.json").write_text("{}")
    assert publish(staging, target) == ["metrics.json", "plots/metrics/loss.tsv"]
    assert (target / "plots/metrics/loss.tsv").read_text() == "step\tloss\n1\t0.5\n"
    unchanged_since = (target / "metrics.json").stat().st_mtime_ns
    (staging / "plots/metrics/loss.tsv").write_text("step\tloss\n1\t0.5\n2\t0.4\n")
    time.sleep(0.01)
    assert publish(staging, target) == ["plots/metrics/loss.tsv"]
    assert (target / "plots/metrics/loss.tsv").read_text().endswith("2\t0.4\n")
    assert (target / "metrics.json").stat().st_mtime_ns == unchanged_since
    assert sorted(p.name for p in target.rglob("*") if p.is_file()) == ["loss.tsv", "metrics.json"]  # no temporaries left


def test_publish_can_remove_what_the_staging_folder_no_longer_has(tmp_path):
    staging, target = tmp_path / "staging", tmp_path / "target"
    for folder in (staging, target / "images"):
        folder.mkdir(parents=True)
    (staging / "metrics.json").write_text("{}")
    (target / "images/epoch_0009.png").write_bytes(b"from a longer run")
    publish(staging, target)
    assert (target / "images/epoch_0009.png").is_file()
    publish(staging, target, remove_others=True)
    assert [p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()] == ["metrics.json"]


def test_the_next_write_removes_a_killed_writers_temporary(tmp_path):
    # In a persist: true output (models/checkpoints) DVC would otherwise track the leftover with the folder.
    stale = tmp_path / ".last.pt.abc12345.tmp"
    stale.write_bytes(b"half of a checkpoint")
    other = tmp_path / ".generator.pt.abc12345.tmp"
    other.write_bytes(b"another file's")
    save_torch({"epoch": 1}, tmp_path / "last.pt")
    assert not stale.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".generator.pt.abc12345.tmp", "last.pt"]


def test_publish_with_seen_reads_only_what_changed_and_cleanup_spares_other_files_temporaries(tmp_path):
    staging, target = tmp_path / "staging", tmp_path / "target"
    staging.mkdir()
    (staging / "epoch_0001.png").write_bytes(b"one")
    seen = {}
    assert publish(staging, target, seen=seen) == ["epoch_0001.png"]
    (target / "epoch_0001.png").write_bytes(b"changed behind publish's back")
    assert publish(staging, target, seen=seen) == []  # unchanged in staging since the last call: not read again
    (staging / "epoch_0001.png").write_bytes(b"one, rewritten")
    assert publish(staging, target, seen=seen) == ["epoch_0001.png"]
    # a temporary of metrics.json is not one of metrics's, though both names start ".metrics."
    other = target / ".metrics.json.abcd1234.tmp"
    other.write_bytes(b"in progress")
    save_json({}, target / "metrics")
    assert other.exists()
