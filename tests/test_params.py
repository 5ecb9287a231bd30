import re
import runpy
import subprocess
import sys
import typing
from pathlib import Path
from typing import Literal

import pytest
import yaml
from PIL import Image
from pydantic import Field

from ganyard import params_reference
from ganyard.io import DataError
from ganyard.params import Params, ParamsError, Section, YamlFloat, load_params, missing_files, validate_params
from ganyard.params_reference import allowed_text, leaf_fields, render_table, rows
from ganyard.stage import StageError

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


def leaf_keys(mapping: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in mapping.items():
        keys |= leaf_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"}
    return keys


def test_the_params_table_of_docs_is_generated_from_the_params_models():
    region = params_reference.marked_region((REPO / "docs" / "params.md").read_text(encoding="utf-8"))
    assert region == render_table(), "docs/params.md is out of date with src/ganyard/params.py: run python -m ganyard.params_reference"


def test_every_leaf_key_has_a_description():
    fields = dict(leaf_fields())
    assert "train.replay.size" in fields and "seed" in fields and "train.replay" not in fields
    assert len(fields) == len(leaf_keys(Params().model_dump()))
    assert [key for key, field in fields.items() if not (field.description or "").strip()] == []


def literal_choices(annotation) -> tuple[list | None, bool]:
    """The values of a Literal annotation (or an optional one), and whether None is allowed too."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation)), False
    members = typing.get_args(annotation)
    literals = [member for member in members if typing.get_origin(member) is typing.Literal]
    if len(literals) == 1 and type(None) in members and len(members) == 2:
        return list(typing.get_args(literals[0])), True
    return None, False


def test_the_allowed_column_lists_exactly_the_choices_of_each_literal():
    previous, checked = None, []
    for (key, field), (_, _, allowed, _) in zip(leaf_fields(), rows(), strict=True):
        choices, nullable = literal_choices(field.annotation)
        if choices is None:
            previous = None
            continue
        expected = ["null"] * nullable + [f"`{value}`" if isinstance(value, str) else str(value) for value in choices]
        if allowed == "likewise":
            assert previous == expected, f"{key} says likewise but allows {expected}, not {previous}"
        else:
            assert allowed.split(", ") == expected, key
        previous = expected
        checked.append(key)
    assert {"data.source", "data.channels", "data.image_size", "model.discriminator_norm", "train.device"} <= set(checked)
    row = {key.strip("`"): allowed for key, _, allowed, _ in rows()}
    assert row["data.channels"] == "null, 1, 3" and row["train.amp"] == "true, false"
    assert row["train.lr_generator"] == "null or 0 < x ≤ 1" and row["model.latent_dim"] == "1–4096"


def test_the_allowed_column_is_derived_from_types_and_constraints():
    class Toy(Section):
        count: int = Field(5, ge=1, le=100, description="an int in a range")
        rate: YamlFloat | None = Field(None, gt=0.0, le=1.0, description="an optional float")
        slope: YamlFloat = Field(0.2, ge=0.0, lt=1.0, description="half-open")
        weight: YamlFloat = Field(1.0, ge=0.0, description="bounded below")
        share: YamlFloat = Field(0.5, ge=0.0, le=1.0, description="closed")
        threshold: YamlFloat | None = Field(None, description="any number")
        images: int = Field(10, ge=1, description="bounded below")
        seed: int = Field(0, ge=0, le=2**32 - 1, description="a seed")
        flag: bool = Field(False, description="a switch")
        mode: Literal["a", "b"] = Field("a", description="a choice")
        other_mode: Literal["a", "b"] = Field("b", description="the same choice")
        size: Literal[16, 32] | None = Field(None, description="a numeric choice")
        path: str = Field("x", description="a path", json_schema_extra={"allowed": "an existing file"})

    assert [(key, default, allowed) for key, default, allowed, _ in rows(Toy)] == [
        ("`count`", "5", "1–100"),
        ("`rate`", "null", "null or 0 < x ≤ 1"),
        ("`slope`", "0.2", "0 ≤ x < 1"),
        ("`weight`", "1.0", "≥ 0"),
        ("`share`", "0.5", "0–1"),
        ("`threshold`", "null", "null or a number"),
        ("`images`", "10", "integer ≥ 1"),
        ("`seed`", "0", "0–2³²−1"),
        ("`flag`", "false", "true, false"),
        ("`mode`", "`a`", "`a`, `b`"),
        ("`other_mode`", "`b`", "likewise"),
        ("`size`", "null", "null, 16, 32"),
        ("`path`", "`x`", "an existing file"),
    ]

    class Unsaid(Section):
        name: str = Field("x", description="what it allows is not in the type")

    with pytest.raises(ValueError, match="name: cannot derive.*json_schema_extra"):
        allowed_text(Unsaid.model_fields["name"], "name")


def test_check_mode_finds_a_stale_table_and_regeneration_fixes_it(tmp_path, capsys):
    current = (REPO / "docs" / "params.md").read_text(encoding="utf-8")
    docs = tmp_path / "params.md"
    stale = current.replace("| `train.lr` | 0.0008 |", "| `train.lr` | 0.0002 |")
    assert stale != current
    docs.write_text(stale, encoding="utf-8")
    assert params_reference.main(["--check"], path=docs) == 1
    message = capsys.readouterr().err
    assert "python -m ganyard.params_reference" in message and message.count("\n") == 1
    assert docs.read_text(encoding="utf-8") == stale
    assert params_reference.main([], path=docs) == 0
    assert docs.read_text(encoding="utf-8") == current  # the prose around the table is kept
    assert params_reference.main(["--check"], path=docs) == 0
    assert sorted(tmp_path.iterdir()) == [docs]  # no temporary file left behind
    docs.write_text("# no markers\n", encoding="utf-8")
    assert params_reference.main([], path=docs) == 2
    assert docs.read_text(encoding="utf-8") == "# no markers\n"


def test_the_params_reference_does_not_import_torch():
    code = "import ganyard.params_reference, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_choice_comments_in_params_yaml_list_exactly_the_allowed_values():
    fields, path, checked, wrong = dict(leaf_fields()), [], [], []
    for line in (REPO / "params.yaml").read_text(encoding="utf-8").splitlines():
        match = re.match(r"( *)(\w+):[^#]*(?:#(.*))?$", line)
        if not match:
            continue
        indent, key, comment = match.groups()
        path = path[: len(indent) // 2] + [key]
        name = ".".join(path)
        if name not in fields or not comment or " | " not in comment:
            continue
        choices, nullable = literal_choices(fields[name].annotation)
        if choices is None:  # a free-text alternative such as style.content's "samples | path of an image"
            continue
        listed = [re.match(r"\s*([\w.-]+)", part).group(1) for part in comment.split("|")]
        allowed = [str(value) for value in choices] + ["null"] * nullable
        if sorted(listed) != sorted(allowed):
            wrong.append(f"{name}: the comment lists {listed}, the field allows {allowed}")
        checked.append(name)
    assert wrong == [], "params.yaml's comments disagree with src/ganyard/params.py:\n  " + "\n  ".join(wrong)
    assert {"data.image_size", "data.source", "data.channels", "train.loss", "train.generator_noise", "train.device"} <= set(checked)


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
        ({"evaluator": {"unlabelled_task": "rotation_colour"}}, ["evaluator.unlabelled_task = 'rotation_colour'", "'mnist5k' is labelled", "folder"]),
        (
            {"data": {"source": "folder", "channels": 1}, "evaluator": {"unlabelled_task": "rotation_colour"}},
            ["unlabelled colour pictures", "grey images have one channel", "unlabelled_task: rotation"],
        ),
        ({"evaluator": {"unlabelled_task": "colour"}}, ["evaluator.unlabelled_task", "'rotation'", "'rotation_colour'"]),
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
    assert params.train.lr_of("generator") == pytest.approx(1e-3)
    assert params.train.lr_of("discriminator") == pytest.approx(2e-4)


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
    params = validate_params(
        {
            "data": {"path": str(tmp_path)},
            "style": {"content": str(tmp_path / "nope.jpg"), "style_image": [str(picture), "skimage:coffee", "gone.png"]},
        }
    )
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
    with pytest.raises(StageError, match="evaluator.unlabelled_task = 'rotation_colour'.*has class sub-folders.*unlabelled_task: rotation"):
        main(validate_params({"data": {"source": "folder", "path": "labelled"}, "evaluator": {"unlabelled_task": "rotation_colour"}}))
    main(validate_params({"data": {"source": "folder", "path": "flat"}, "evaluator": {"unlabelled_task": "rotation_colour"}}))


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

    def lazy_exports(path: Path) -> dict[str, str]:
        # A package that imports its names on first use (PEP 562, ganyard.data) maps each to its module in _MODULE_OF.
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == "_MODULE_OF" for target in node.targets):
                return ast.literal_eval(node.value)
        return {}

    def imported(path: Path) -> set[Path]:
        names = set()
        for node in module_level(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ganyard"):
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
                package = module_file(node.module)
                if package is not None and package.name == "__init__.py":
                    exports = lazy_exports(package)
                    names.update(exports[alias.name] for alias in node.names if alias.name in exports)
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
