"""Typed, validated params: one pydantic model per section of ``params.yaml``.

Every value a user may change is declared here with its type, default and allowed range, so a
bad value is refused before any compute starts, with a message that names the key, the value
and what is allowed. ``load_params`` is the only entry point the stages use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ParamsError(ValueError):
    """params.yaml is missing, unreadable or holds a value that is not allowed."""


class Section(BaseModel):
    # Unknown keys are errors (a typo must not silently fall back to a default), and
    # "1e-4" must not pass for a number: YAML already gives numbers their type.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DataParams(Section):
    source: Literal["mnist5k"] = "mnist5k"
    split_seed: int = Field(0, ge=0, le=2**32 - 1)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)

    @field_validator("test_fraction", mode="before")
    @classmethod
    def _number_from_yaml_string(cls, value: Any) -> Any:
        return _yaml_float(value)
    image_size: Literal[16, 32, 64, 128] = 32
    limit: int | None = Field(None, ge=20)


class ModelParams(Section):
    architecture: Literal["dcgan", "mlp"] = "dcgan"
    latent_dim: int = Field(100, ge=1, le=4096)
    generator_width: int = Field(32, ge=1, le=1024)
    discriminator_width: int = Field(32, ge=1, le=1024)


class TrainParams(Section):
    epochs: int = Field(40, ge=1, le=100_000)
    batch_size: int = Field(64, ge=2, le=65_536)
    loss: Literal["non_saturating", "minimax"] = "non_saturating"
    discriminator_steps: int = Field(1, ge=1, le=100)
    generator_steps: int = Field(1, ge=1, le=100)
    lr: float = Field(2e-4, gt=0.0, le=1.0)
    lr_generator: float | None = Field(None, gt=0.0, le=1.0)
    lr_discriminator: float | None = Field(None, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)
    preview_images: int = Field(64, ge=1, le=1024)
    eval_every: int = Field(2, ge=0, le=100_000)
    eval_samples: int = Field(1000, ge=10, le=100_000)

    # YAML reads 2e-4 as a string (it wants 2.0e-4); accept what a person would write.
    @field_validator("lr", "lr_generator", "lr_discriminator", "beta1", "beta2", mode="before")
    @classmethod
    def _number_from_yaml_string(cls, value: Any) -> Any:
        return _yaml_float(value)

    @property
    def generator_lr(self) -> float:
        return self.lr if self.lr_generator is None else self.lr_generator

    @property
    def discriminator_lr(self) -> float:
        return self.lr if self.lr_discriminator is None else self.lr_discriminator


class EvaluatorParams(Section):
    epochs: int = Field(8, ge=1, le=1000)
    batch_size: int = Field(64, ge=2, le=65_536)
    lr: float = Field(3e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(1e-4, ge=0.0, le=1.0)
    width: int = Field(16, ge=1, le=512)
    feature_dim: int = Field(128, ge=2, le=4096)
    shift_pixels: int = Field(2, ge=0, le=16)
    seed: int = Field(0, ge=0, le=2**63 - 1)

    @field_validator("lr", "weight_decay", mode="before")
    @classmethod
    def _number_from_yaml_string(cls, value: Any) -> Any:
        return _yaml_float(value)


class EvaluateParams(Section):
    backbone: Literal["evaluator", "inception"] = "evaluator"
    inception_weights: str | None = None
    is_splits: int = Field(10, ge=1, le=1000)
    kid_subsets: int = Field(100, ge=1, le=10_000)
    kid_subset_size: int = Field(1000, ge=2, le=100_000)
    precision_recall_k: int = Field(3, ge=1, le=100)
    seed: int = Field(2020, ge=0, le=2**32 - 1)


class SampleParams(Section):
    count: int = Field(5000, ge=1, le=1_000_000)
    seed: int = Field(1234, ge=0, le=2**63 - 1)
    grid_images: int = Field(64, ge=1, le=1024)


class Params(Section):
    seed: int = Field(0, ge=0, le=2**63 - 1)
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    sample: SampleParams = SampleParams()
    evaluator: EvaluatorParams = EvaluatorParams()
    evaluate: EvaluateParams = EvaluateParams()

    @field_validator("data", "model", "train", "sample", "evaluator", "evaluate", mode="before")
    @classmethod
    def _empty_section_is_defaults(cls, value: Any) -> Any:
        return {} if value is None else value


def _yaml_float(value: Any) -> Any:
    """Turn '2e-4' (which YAML 1.1 leaves a string) into a float; leave anything else alone."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _allowed(error: dict) -> str:
    """What is allowed, in words, for one pydantic error."""
    context = error.get("ctx") or {}
    kind = error["type"]
    if kind == "literal_error":
        return f"one of {context['expected']}"
    if kind == "extra_forbidden":
        return "no such key; check the spelling against the params reference in README.md"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return error["msg"].removeprefix("Input should be ").replace("Input", "a value")
    return error["msg"]


def format_validation_error(error: ValidationError, source: str) -> str:
    """One line per bad key: ``train.lr = -1.0: must be greater than 0``."""
    lines = [f"invalid params in {source}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key ({_allowed(item)})")
        else:
            lines.append(f"  {key} = {item['input']!r}: not allowed; must be {_allowed(item)}")
    return "\n".join(lines)


def validate_params(raw: Any, source: str = "params") -> Params:
    """Check a params mapping (as read from YAML) and return typed params.

    Raises ParamsError naming every bad key, its value and what is allowed.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"invalid params in {source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(format_validation_error(error, source)) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params file. Raises ParamsError with a readable message."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ParamsError(f"cannot read params file {path}: {error.strerror or error}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from None
    return validate_params(raw, str(path))
