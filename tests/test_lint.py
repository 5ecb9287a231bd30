"""The code is formatted and lint-free as pyproject.toml's [tool.ruff] says: `make format` fixes what these find."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


def ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([RUFF, *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module", autouse=True)
def _ruff_installed():
    assert RUFF, "ruff is not installed: pip install -e '.[test]'"


def test_the_code_is_formatted():
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, f"run `make format`:\n{result.stdout}{result.stderr}"


def test_the_linter_finds_nothing():
    result = ruff("check", "--output-format", "concise", ".")
    assert result.returncode == 0, f"run `make format` or fix by hand:\n{result.stdout}{result.stderr}"


def test_the_checks_find_what_they_are_for(tmp_path):
    # The same settings on a planted file: an unused import, a misordered import and code the formatter rewrites.
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "planted.py").write_text("import sys\nimport os\nx = {  'a':1 }\n")
    assert ruff("format", "--check", ".", cwd=tmp_path).returncode == 1
    found = ruff("check", "--output-format", "concise", ".", cwd=tmp_path).stdout
    assert "F401" in found and "I001" in found
