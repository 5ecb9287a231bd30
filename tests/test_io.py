import os
import pickle

import pytest
import torch

from ganyard.io import ArtifactError, load_torch, save_json, save_torch, write_atomic


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

    def crash(temporary):
        temporary.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, crash)
    assert target.read_text() == '{\n  "fid": 1.0\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.json"]


def test_equal_content_gives_equal_bytes(tmp_path):
    # DVC compares outputs by hash: equal weights must give an identical file, whatever its name.
    state = {"weight": torch.arange(4.0)}
    first, second = save_torch(state, tmp_path / "a.pt"), save_torch(state, tmp_path / "b.pt")
    assert first.read_bytes() == second.read_bytes()
