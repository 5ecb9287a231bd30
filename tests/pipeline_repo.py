"""What the end-to-end tests share: a copy of the repository with tiny params, and running dvc and git in it."""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ganyard.reproduce import copy_repository

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "data": {"limit": 300},
    "model": {"generator_width": 8, "discriminator_width": 8, "latent_dim": 16},
    "train": {"epochs": 1, "batch_size": 32, "preview_images": 16},
    "sample": {"count": 40, "grid_images": 16},
    "evaluator": {"epochs": 1, "width": 4, "feature_dim": 16},
    "evaluate": {"kid_subsets": 5, "is_splits": 2},
    "style": {"size": 32, "steps": 5, "content_images": 4, "style_layers": ["relu1_1", "relu2_1"], "content_layer": "relu2_2"},
}


def run(args, cwd, check=True):
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("PYTHONPATH", None)  # dvc.yaml's commands point the stages at the copy's own src/
    env.update(GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com", GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com")
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def dvc(cwd, *args, check=True):
    return run([str(Path(sys.executable).parent / "dvc"), *args], cwd, check)


def set_params(repo: Path, overrides: dict) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for section, values in overrides.items():
        if isinstance(values, dict):
            params[section].update(values)
        else:
            params[section] = values
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def stages_run(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def declared_outputs(repo: Path) -> list[Path]:
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    paths = []
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                paths.append(repo / (entry if isinstance(entry, str) else next(iter(entry))))
    return paths


def copy_of_the_repository(root: Path, overrides: dict) -> Path:
    """The working tree's files (tracked and untracked, not ignored) in a fresh git repository at ``root``."""
    copy_repository(REPO, root)
    set_params(root, overrides)
    run(["git", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "tiny"], root)
    return root


def tiny_repository_after_first_repro(tmp_path_factory, name: str) -> Path:
    """A private copy of a git + DVC checkout of the working tree with TINY params, after one `dvc repro`.

    That first `dvc repro` (about 40 s) runs once per test session: the first module to ask builds it,
    under a lock, in the session's temporary folder that pytest-xdist's workers share; every module then
    works on its own copy, so what one module changes the others do not see. Its output is kept in
    ``first_repro.log``.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if "PYTEST_XDIST_WORKER" in os.environ else base  # a worker's basetemp is popen-gwN under the session's
    built = shared / "tiny-after-first-repro" / "ganyard"
    with open(shared / "tiny-after-first-repro.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (built / "first_repro.log").is_file():
            shutil.rmtree(built.parent, ignore_errors=True)  # what a failed build left
            copy_of_the_repository(built, TINY)
            first = dvc(built, "repro")
            (built / "first_repro.log").write_text(first.stdout + first.stderr)
    root = tmp_path_factory.mktemp(name) / "ganyard"
    shutil.copytree(built, root, symlinks=True)
    return root
