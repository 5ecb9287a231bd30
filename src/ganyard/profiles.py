"""Params profiles: YAML files of params merged over params.yaml (profiles/*.yaml).

A profile holds only the keys that differ from params.yaml, such as an architecture's own recipe
(profiles/stylegan2.yaml) or a fast run (profiles/small.yaml). To run one as a DVC experiment,
versioned like any other:

    python -m ganyard.profiles profiles/stylegan2.yaml --exp-run -S seed=1 --queue

checks params.yaml with the profile merged over it (the same checks as every stage, before any
compute), then runs ``dvc exp run`` with ``-S key=value`` for each of the profile's keys and the
arguments after ``--exp-run``. Without ``--exp-run`` it prints those ``-S`` arguments, shell-quoted
(``eval "dvc exp run $(python -m ganyard.profiles FILE)"``). ``python -m ganyard.reproduce
--profile`` runs a profile in a scratch copy instead.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from ganyard.params import Params, ParamsError, validate_params


def sections(model: type[BaseModel] = Params, prefix: str = "") -> set[str]:
    """The dotted names of the params' sections and sub-sections ("train", "train.replay", ...)."""
    names = set()
    for name, field in model.model_fields.items():
        if isinstance(field.default, BaseModel):
            names |= {prefix + name} | sections(type(field.default), f"{prefix}{name}.")
    return names


def merge(base: dict, override: dict) -> dict:
    """``override`` merged into a copy of ``base``, section by section."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def load_profile(path: str | Path) -> dict:
    """The profile's params as a nested dict; ValueError when it is not a YAML mapping."""
    profile = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(profile, dict):
        raise ValueError(f"{path} must hold a YAML mapping of params sections, like params.yaml; it holds a {type(profile).__name__}")
    empty = [key for key, value in flatten(profile).items() if value is None and key in sections()]
    if empty:
        # `-S train=null` would replace the whole section of params.yaml, not leave it alone
        raise ValueError(f"{path} has empty sections ({', '.join(empty)}): give them keys, or leave them out")
    return profile


def merged_params(params_path: str | Path, profile_path: str | Path) -> dict:
    """params.yaml with the profile merged over it, validated (ParamsError naming both files when invalid)."""
    params = merge(yaml.safe_load(Path(params_path).read_text(encoding="utf-8")), load_profile(profile_path))
    validate_params(params, f"{params_path} with {profile_path}")
    return params


def flatten(mapping: dict, prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr": 1}} -> {"train.lr": 1}: nested mappings to dotted keys (lists are leaves)."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def unflatten(dotted: dict[str, Any]) -> dict:
    """{"train.lr": 1} -> {"train": {"lr": 1}}: dotted keys to nested mappings, the inverse of ``flatten``."""
    nested: dict = {}
    for key, value in dotted.items():
        *sections, leaf = key.split(".")
        target = nested
        for section in sections:
            target = target.setdefault(section, {})
        target[leaf] = value
    return nested


def override_value(value: Any) -> str:
    """``value`` in the override grammar that ``dvc exp run -S`` parses (Hydra's); a string is quoted where it would read back as another type or value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_/][\w\-./:]*", value) and value.lower() not in ("null", "true", "false", "nan", "inf"):
        return value  # reads back as this string unquoted
    if isinstance(value, str):
        # Hydra's quoted strings: a backslash escapes only a quote or the backslashes before one (and the closing quote).
        escaped = re.sub(r'(\\*)"', lambda match: match.group(1) * 2 + '\\"', value)
        return '"' + re.sub(r"(\\+)$", lambda match: match.group(1) * 2, escaped) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(override_value(item) for item in value) + "]"
    raise ValueError(f"a profile value must be a number, string, boolean, null or list; got {value!r}")


def set_arguments(profile: dict) -> list[str]:
    """``dvc exp run``'s arguments that set the profile's keys: ["-S", "train.lr=0.0025", ...]."""
    arguments = []
    for key, value in flatten(profile).items():
        arguments += ["-S", f"{key}={override_value(value)}"]
    return arguments


def exp_run_command(profile: dict, extra: list[str]) -> list[str]:
    """The ``dvc exp run`` command line that applies ``profile``, then ``extra`` (more -S, --queue, a stage...)."""
    return ["dvc", "exp", "run", *set_arguments(profile), *extra]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganyard.profiles", description="apply a params profile as a DVC experiment, or print its -S arguments")
    parser.add_argument("profile", help="YAML file of params to merge over params.yaml, e.g. profiles/stylegan2.yaml")
    parser.add_argument("--params", default="params.yaml", help="the params file the profile is merged over (default: params.yaml)")
    parser.add_argument("--exp-run", nargs=argparse.REMAINDER, metavar="DVC_ARGS", help="run `dvc exp run` with the profile and these arguments")
    args = parser.parse_args(argv)
    try:
        merged_params(args.params, args.profile)
        profile = load_profile(args.profile)
    except (OSError, ValueError, ParamsError, yaml.YAMLError) as error:
        print(f"ganyard profiles: {error}", file=sys.stderr)
        return 2
    if args.exp_run is None:
        print(shlex.join(set_arguments(profile)))
        return 0
    command = exp_run_command(profile, args.exp_run)
    print("+ " + shlex.join(command), flush=True)
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
