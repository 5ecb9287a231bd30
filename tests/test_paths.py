"""ganyard.paths names every file the stages read and write; dvc.yaml declares them. The two must agree."""

import ast
from pathlib import Path, PurePosixPath

import yaml

from ganyard import paths

REPO = Path(__file__).resolve().parents[1]
# In ganyard.paths but deliberately not in dvc.yaml, and why.
UNDECLARED = {
    "SET_ASIDE": "checkpoints of other runs, moved out of the way for the user to look at; no stage reads them",
    "TRAIN_STAGING": "dvclive's scratch folder; only the files published from it to metrics/train are outputs",
    "TRAIN_METRICS": "the folder of the train stage's log; dvc.yaml declares its parts (TRAIN_SUMMARY, TRAIN_CURVES, TRAIN_IMAGES)",
}
ARTIFACT_FOLDERS = ("data/", "models/", "metrics/", "reports/")


def constants() -> dict[str, PurePosixPath]:
    return {name: PurePosixPath(value.as_posix()) for name, value in vars(paths).items() if name.isupper() and isinstance(value, Path)}


def declared(kinds: tuple[str, ...]) -> set[PurePosixPath]:
    """Every path that a stage of dvc.yaml lists under ``kinds``; an entry is a path or a one-key {path: options}."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    found = set()
    for stage in stages.values():
        for kind in kinds:
            for entry in stage.get(kind, []):
                found.add(PurePosixPath(entry if isinstance(entry, str) else next(iter(entry))))
    return found


def test_every_path_the_stages_use_is_declared_in_dvc_yaml():
    everything = declared(("deps", "outs", "metrics", "plots"))
    missing = {
        name: str(path)
        for name, path in constants().items()
        if name not in UNDECLARED and not any(path == entry or entry in path.parents for entry in everything)
    }
    assert missing == {}, f"ganyard.paths names these, but no stage of dvc.yaml declares them (or a folder above them): {missing}"
    assert set(UNDECLARED) <= set(constants())
    assert not any(constants()[name] in everything for name in UNDECLARED)


def test_every_output_declared_in_dvc_yaml_has_a_name_in_ganyard_paths():
    outputs = declared(("outs", "metrics", "plots"))
    named = set(constants().values())
    assert outputs and outputs - named == set(), f"dvc.yaml declares outputs that ganyard.paths does not name: {sorted(map(str, outputs - named))}"
    train_parts = {constants()[name] for name in ("TRAIN_SUMMARY", "TRAIN_CURVES", "TRAIN_IMAGES")}
    assert all(constants()["TRAIN_METRICS"] in part.parents for part in train_parts)


def literal_paths(script: Path) -> list[str]:
    """The string constants of ``script``'s code (f-string parts included, docstrings not) that name an artifact."""
    tree = ast.parse(script.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings and node.value.startswith(ARTIFACT_FOLDERS)
    ]


def test_the_stages_name_their_files_through_ganyard_paths():
    scripts = sorted((REPO / "stages").glob("*.py"))
    assert len(scripts) >= 9
    literals = {script.name: found for script in scripts if (found := literal_paths(script))}
    assert literals == {}, f"stage scripts with literal artifact paths (use ganyard.paths): {literals}"


def test_the_literal_check_sees_plain_strings_and_f_strings_but_not_docstrings(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text('"""Stage x: data/a -> models/b."""\n\ndef main(name):\n    """Writes metrics/c."""\n    return "data/a", f"models/{name}.pt", "other"\n')
    assert literal_paths(script) == ["data/a", "models/"]
