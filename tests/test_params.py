import runpy
from pathlib import Path

import pytest
import yaml
from PIL import Image

from ganyard.cli import StageError
from ganyard.io import DataError
from ganyard.params import Params, ParamsError, load_params, missing_files, validate_params

REPO = Path(__file__).resolve().parents[1]


def test_committed_params_file_is_valid_and_equals_the_documented_defaults():
    assert load_params(REPO / "params.yaml") == Params()


def test_params_yaml_lists_every_key_so_dvc_exp_run_can_set_it():
    def leaf_keys(mapping: dict, prefix: str = "") -> set[str]:
        keys = set()
        for key, value in mapping.items():
            keys |= leaf_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"}
        return keys

    assert leaf_keys(yaml.safe_load((REPO / "params.yaml").read_text())) == leaf_keys(Params().model_dump())


def test_every_key_of_params_yaml_is_documented_in_the_params_reference():
    reference = (REPO / "docs" / "params.md").read_text()
    def leaf_keys(mapping: dict, prefix: str = ""):
        for key, value in mapping.items():
            yield from leaf_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]

    names = list(leaf_keys(yaml.safe_load((REPO / "params.yaml").read_text())))
    assert "train.replay.size" in names
    for name in names:
        assert f"`{name}`" in reference, f"{name} is missing from docs/params.md"


@pytest.mark.parametrize(
    ("override", "expected_fragments"),
    [
        ({"train": {"lr": -1}}, ["train.lr", "-1", "greater than 0"]),
        ({"model": {"architecture": "foo"}}, ["model.architecture", "'foo'", "'dcgan'", "'mlp'"]),
        ({"train": {"epochs": "ten"}}, ["train.epochs", "'ten'", "integer"]),
        ({"train": {"epochs": 2.5}}, ["train.epochs", "2.5", "integer"]),
        ({"train": {"epoch": 3}}, ["train.epoch", "unknown key"]),
        ({"trian": {"epochs": 3}}, ["trian", "unknown key"]),
        ({"data": {"test_fraction": 1.5}}, ["data.test_fraction", "1.5", "less than 1"]),
        ({"data": {"image_size": 48}}, ["data.image_size", "48", "16", "128"]),
        ({"train": {"loss": "wgan"}}, ["train.loss", "'wgan'", "'non_saturating'", "'wasserstein'"]),
        ({"sample": {"count": 0}}, ["sample.count", "0", "greater than or equal to 1"]),
        ({"train": {"discriminator_steps": True}}, ["train.discriminator_steps", "True"]),
        ({"seed": -3}, ["seed", "-3"]),
        ({"train": {"lr": float("inf")}}, ["train.lr", "inf", "finite"]),
        ({"style": {"style_weight": float("nan")}}, ["style.style_weight", "nan", "finite"]),
        ({"data": {"source": "imagenet"}}, ["data.source", "'imagenet'", "'folder'", "'cifar10'"]),
        ({"data": {"channels": 4}}, ["data.channels", "4", "1", "3"]),
        ({"data": {"on_bad_image": "ignore"}}, ["data.on_bad_image", "'ignore'", "'skip'", "'fail'"]),
        ({"data": {"path": "~/photos"}}, ["data.path", "~/photos", "DVC does not expand ~"]),
        ({"data": {"path": ""}}, ["data.path", "at least 1 character"]),
        ({"sample": {"checkpoint": "first"}}, ["sample.checkpoint", "'first'", "'best'", "'last'"]),
        ({"train": {"eval_every": 0}}, ["sample.checkpoint = 'best'", "train.eval_every = 0", "sample.checkpoint: last"]),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(override, expected_fragments):
    with pytest.raises(ParamsError) as caught:
        validate_params(override, "params.yaml")
    message = str(caught.value)
    for fragment in expected_fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_every_bad_key_is_reported_at_once():
    with pytest.raises(ParamsError) as caught:
        validate_params({"train": {"lr": 0, "beta1": 2}, "model": {"latent_dim": 0}})
    message = str(caught.value)
    assert "train.lr" in message and "train.beta1" in message and "model.latent_dim" in message


def test_yaml_exponent_without_dot_is_a_number():
    # PyYAML reads 2e-4 as the string "2e-4"; a person means the number.
    params = validate_params(yaml.safe_load("train:\n  lr: 2e-4\n  lr_generator: 1e-3\n"))
    assert params.train.lr == pytest.approx(2e-4)
    assert params.train.generator_lr == pytest.approx(1e-3)
    assert params.train.discriminator_lr == pytest.approx(2e-4)


def test_not_a_mapping_and_unreadable_yaml(tmp_path):
    with pytest.raises(ParamsError, match="expected a mapping"):
        validate_params([1, 2])
    broken = tmp_path / "params.yaml"
    broken.write_text("train: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(broken)
    with pytest.raises(ParamsError, match="cannot read params file"):
        load_params(tmp_path / "missing.yaml")


def test_empty_section_means_defaults():
    assert validate_params({"train": None}).train == Params().train


def test_missing_files_named_by_params_are_listed(tmp_path):
    picture = tmp_path / "style.png"
    picture.write_bytes(b"")
    params = validate_params({
        "data": {"path": str(tmp_path)},
        "style": {"content": str(tmp_path / "nope.jpg"), "style_image": [str(picture), "skimage:coffee", "gone.png"]},
    })
    assert missing_files(params) == [f"style.content = '{tmp_path / 'nope.jpg'}'", "style.style_image = 'gone.png'"]
    assert missing_files(validate_params({"data": {"path": str(tmp_path)}})) == []


def test_the_image_folder_must_exist_whatever_the_source(tmp_path):
    # dvc.yaml tracks data.path as an input of prepare, so DVC needs it even for the bundled digits
    (problem,) = missing_files(validate_params({"data": {"path": str(tmp_path / "photos")}}))
    assert problem.startswith(f"data.path = '{tmp_path / 'photos'}' does not exist")
    (tmp_path / "file.png").write_bytes(b"")
    (problem,) = missing_files(validate_params({"data": {"source": "folder", "path": str(tmp_path / "file.png")}}))
    assert "is a file, not a folder" in problem


def check_params_stage():
    return runpy.run_path(str(REPO / "stages" / "check_params.py"), run_name="check_params")["main"]


def test_check_params_refuses_conditioning_on_a_flat_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "a.png")
    main = check_params_stage()
    with pytest.raises(StageError, match="model.conditional = true needs labelled images.*no class sub-folders"):
        main(validate_params({"data": {"source": "folder", "path": "flat"}, "model": {"conditional": True}}))
    assert not (tmp_path / "data" / "params.ok").exists()
    main(validate_params({"data": {"source": "folder", "path": "flat"}}))
    assert (tmp_path / "data" / "params.ok").is_file()
    (tmp_path / "labelled" / "cats").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "labelled" / "cats" / "a.png")
    main(validate_params({"data": {"source": "folder", "path": "labelled"}, "model": {"conditional": True}}))


def test_check_params_refuses_a_folder_without_images(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no pictures here")
    with pytest.raises(DataError, match="holds no images"):
        check_params_stage()(validate_params({"data": {"source": "folder", "path": "empty"}}))


def test_every_stage_depends_on_every_ganyard_module_it_imports():
    # A module missing from a stage's deps would let DVC skip the stage after that module changed.
    import ast

    import yaml

    root = Path(__file__).resolve().parents[1]
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]

    def module_file(name: str) -> Path | None:
        path = root / "src" / Path(*name.split("."))
        return path / "__init__.py" if path.is_dir() else path.with_suffix(".py") if path.with_suffix(".py").is_file() else None

    def module_level(tree):  # imports inside functions run only when a stage calls them: not counted
        for node in ast.iter_child_nodes(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield node
                yield from module_level(node)

    def imported(path: Path) -> set[Path]:
        names = set()
        for node in module_level(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ganyard"):
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names if alias.name.startswith("ganyard"))
        return {file for file in map(module_file, names) if file is not None}

    missing = {}
    for name, stage in stages.items():
        script = root / stage["cmd"].split()[-1]
        needed, todo = set(), [script]
        while todo:
            for file in imported(todo.pop()) - needed:
                needed.add(file)
                todo.append(file)
        deps = [root / dep for dep in stage.get("deps", [])]
        uncovered = sorted(str(file.relative_to(root)) for file in needed if not any(file == dep or dep in file.parents for dep in deps))
        if uncovered:
            missing[name] = uncovered
    assert missing == {}, f"stages import these modules without listing them in their deps: {missing}"
