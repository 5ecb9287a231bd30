"""Params profiles: merging, validation, and the `dvc exp run -S` arguments that apply one."""

import shutil
from pathlib import Path

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from ganyard.params import ParamsError
from ganyard.profiles import exp_run_command, main, merge, merged_params, set_arguments

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted((ROOT / "profiles").glob("*.yaml"))


def test_profile_merges_section_by_section():
    merged = merge({"train": {"lr": 1, "epochs": 40}, "seed": 0}, {"train": {"epochs": 3}})
    assert merged == {"train": {"lr": 1, "epochs": 3}, "seed": 0}


@pytest.mark.parametrize("profile", PROFILES, ids=[path.stem for path in PROFILES])
def test_every_shipped_profile_is_valid_params(profile):
    merged_params(ROOT / "params.yaml", profile)


def test_set_arguments_through_dvcs_own_parser_give_the_merged_params(tmp_path):
    # Every kind of value a profile holds, including strings that look like other types or need quoting.
    profile = {
        "seed": 3,
        "model": {"architecture": "stylegan2", "minibatch_stddev": True},
        "train": {"lr": 0.0025, "beta1": 0.0, "ema": None, "eval_every": 4, "replay": {"size": 128}},
        "data": {"path": 'my images/it\'s "here": 1\\2\\"3\\'},
        "style": {"style_image": ["skimage:coffee", "null", "1e-3", "True", "a b", "/x/y.png"], "style_layers": ["relu1_1", "relu2_1"]},
    }
    params_file = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", params_file)
    arguments = set_arguments(profile)
    assert arguments[::2] == ["-S"] * (len(arguments) // 2)
    apply_overrides(params_file, arguments[1::2])  # what `dvc exp run -S` does to params.yaml
    expected = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), profile)
    assert yaml.safe_load(params_file.read_text()) == expected


def test_an_invalid_profile_is_refused_naming_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  architecture: stylegan3\n")
    with pytest.raises(ParamsError, match="architecture"):
        merged_params(ROOT / "params.yaml", bad)
    assert main([str(bad), "--params", str(ROOT / "params.yaml")]) == 2
    assert "stylegan3" in capsys.readouterr().err
    bad.write_text("- a list\n")
    assert main([str(bad), "--params", str(ROOT / "params.yaml")]) == 2
    assert "must hold a YAML mapping" in capsys.readouterr().err


def test_main_prints_shell_quoted_arguments(tmp_path, capsys):
    profile = tmp_path / "p.yaml"
    profile.write_text("train:\n  lr: 0.0025\nstyle:\n  style_image: skimage:coffee\n")
    assert main([str(profile), "--params", str(ROOT / "params.yaml")]) == 0
    assert capsys.readouterr().out.strip() == "-S train.lr=0.0025 -S style.style_image=skimage:coffee"


def test_exp_run_command_applies_the_profile_then_the_extra_arguments():
    command = exp_run_command({"model": {"architecture": "stylegan2"}, "train": {"lr": 0.0025}}, ["-S", "seed=1", "--queue"])
    assert command == ["dvc", "exp", "run", "-S", "model.architecture=stylegan2", "-S", "train.lr=0.0025", "-S", "seed=1", "--queue"]


def test_an_empty_section_is_refused_rather_than_set_to_null(tmp_path, capsys):
    profile = tmp_path / "p.yaml"
    profile.write_text("model:\n  architecture: msg\nsample:\n  # count: 100\ntrain:\n  replay:\n")
    assert main([str(profile), "--params", str(ROOT / "params.yaml")]) == 2
    assert "empty sections (sample, train.replay)" in capsys.readouterr().err


def test_unflatten_is_the_inverse_of_flatten():
    from ganyard.profiles import flatten, unflatten

    nested = {"seed": 1, "train": {"lr": 0.001, "replay": {"size": 6400}}, "style": {"style_layers": ["relu1_1"]}}
    assert unflatten(flatten(nested)) == nested
    assert unflatten({"train.replay.size": 5, "train.lr": 2}) == {"train": {"replay": {"size": 5}, "lr": 2}}
