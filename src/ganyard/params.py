"""Typed, validated params: one pydantic model per section of ``params.yaml``.

Every value a user may change is declared here with its type, default and allowed range, so a
bad value is refused before any compute starts, with a message that names the key, the value
and what is allowed. ``load_params`` is the only entry point the stages use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator


class ParamsError(ValueError):
    """params.yaml is missing, unreadable or holds a value that is not allowed."""


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


# YAML 1.1 reads 2e-4 as a string (it wants 2.0e-4); accept the number a person means.
YamlFloat = Annotated[float, BeforeValidator(_yaml_float)]


class Section(BaseModel):
    # Unknown keys are errors (a typo must not silently fall back to a default), and types are
    # strict ("10" is no integer, 2.5 no epoch count); only YamlFloat fields read number strings.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class DataParams(Section):
    source: Literal["mnist5k", "digits", "mnist", "fashion_mnist", "cifar10", "folder"] = "mnist5k"
    path: str = Field("images", min_length=1)
    channels: Literal[1, 3] | None = None
    on_bad_image: Literal["skip", "fail"] = "skip"
    split_seed: int = Field(0, ge=0, le=2**32 - 1)
    test_fraction: YamlFloat = Field(0.2, gt=0.0, lt=1.0)
    image_size: Literal[16, 32, 64, 128] = 32
    limit: int | None = Field(None, ge=20)

    @field_validator("path")
    @classmethod
    def _path_dvc_can_track(cls, value: str) -> str:
        # dvc.yaml lists data.path as a dependency of prepare, and DVC takes it literally
        if value.startswith("~"):
            raise ValueError("a path DVC can read: write it out in full (/home/...), DVC does not expand ~")
        return value


class ModelParams(Section):
    architecture: Literal["dcgan", "mlp"] = "dcgan"
    latent_dim: int = Field(100, ge=1, le=4096)
    generator_width: int = Field(32, ge=1, le=1024)
    discriminator_width: int = Field(32, ge=1, le=1024)
    generator_norm: Literal["batch", "instance", "layer", "none"] = "batch"
    discriminator_norm: Literal["batch", "instance", "layer", "none"] = "batch"
    spectral_norm: Literal["none", "discriminator", "generator", "both"] = "none"
    init: Literal["dcgan_normal", "xavier", "kaiming", "orthogonal", "default"] = "dcgan_normal"
    generator_activation: Literal["relu", "leaky_relu", "elu", "gelu", "silu"] = "relu"
    discriminator_activation: Literal["relu", "leaky_relu", "elu", "gelu", "silu"] = "leaky_relu"
    leaky_slope: YamlFloat = Field(0.2, ge=0.0, lt=1.0)
    minibatch_stddev: bool = False
    minibatch_discrimination: int = Field(0, ge=0, le=1024)
    minibatch_kernel_dim: int = Field(5, ge=1, le=256)
    conditional: bool = False

    @model_validator(mode="after")
    def _norms_fit_the_architecture(self) -> ModelParams:
        if self.architecture == "mlp":
            for key in ("generator_norm", "discriminator_norm"):
                if getattr(self, key) == "instance":
                    raise ValueError(f"model.{key} = 'instance' normalizes feature maps; the mlp architecture has none (use batch, layer or none)")
        return self


class ReplayParams(Section):
    size: int = Field(0, ge=0, le=1_000_000)
    fraction: YamlFloat = Field(0.5, ge=0.0, le=1.0)


class TrainParams(Section):
    epochs: int = Field(90, ge=1, le=100_000)
    batch_size: int = Field(64, ge=2, le=65_536)
    loss: Literal["non_saturating", "minimax", "hinge", "least_squares", "wasserstein"] = "non_saturating"
    gradient_penalty: YamlFloat = Field(10.0, ge=0.0)
    r1_gamma: YamlFloat = Field(1.0, ge=0.0)
    label_smoothing: YamlFloat = Field(0.0, ge=0.0, lt=0.5)
    instance_noise: YamlFloat = Field(0.0, ge=0.0)
    discriminator_skip_below: YamlFloat | None = None
    replay: ReplayParams = ReplayParams()
    ema: YamlFloat | None = Field(0.995, gt=0.0, lt=1.0)
    augment: Literal["none", "diffaugment", "ada"] = "none"
    ada_target: YamlFloat = Field(0.6, gt=0.0, lt=1.0)
    ada_images: int = Field(500_000, ge=1)
    discriminator_steps: int = Field(1, ge=1, le=100)
    generator_steps: int = Field(1, ge=1, le=100)
    generator_noise: Literal["fresh", "reuse"] = "reuse"  # reuse: the generator update takes the last discriminator update's G(z)
    lr: YamlFloat = Field(8e-4, gt=0.0, le=1.0)
    lr_generator: YamlFloat | None = Field(None, gt=0.0, le=1.0)
    lr_discriminator: YamlFloat | None = Field(None, gt=0.0, le=1.0)
    beta1: YamlFloat = Field(0.5, ge=0.0, lt=1.0)
    beta2: YamlFloat = Field(0.999, ge=0.0, lt=1.0)
    preview_images: int = Field(64, ge=1, le=1024)
    eval_every: int = Field(2, ge=0, le=100_000)
    eval_samples: int = Field(1000, ge=10, le=100_000)
    checkpoint_every: int = Field(5, ge=1, le=100_000)
    device: Literal["auto", "cpu", "cuda", "mps"] = "cpu"  # not auto: the same params must give the same numbers anywhere
    amp: bool = False


    @model_validator(mode="after")
    def _amp_needs_cuda(self) -> TrainParams:
        if self.amp and self.device in ("cpu", "mps"):
            raise ValueError(f"train.amp = true is mixed precision on CUDA GPUs; train.device = {self.device!r} (use 'cuda' or 'auto', or amp: false)")
        return self

    @model_validator(mode="after")
    def _smoothing_needs_cross_entropy(self) -> TrainParams:
        if self.label_smoothing and self.loss not in ("non_saturating", "minimax"):
            raise ValueError(f"train.label_smoothing = {self.label_smoothing} smooths cross-entropy labels; train.loss = {self.loss!r} has none (use non_saturating or minimax)")
        return self

    @property
    def generator_lr(self) -> float:
        return self.lr if self.lr_generator is None else self.lr_generator

    @property
    def discriminator_lr(self) -> float:
        return self.lr if self.lr_discriminator is None else self.lr_discriminator


class EvaluatorParams(Section):
    epochs: int = Field(8, ge=1, le=1000)
    batch_size: int = Field(64, ge=2, le=65_536)
    lr: YamlFloat = Field(3e-3, gt=0.0, le=1.0)
    weight_decay: YamlFloat = Field(1e-4, ge=0.0, le=1.0)
    width: int = Field(16, ge=1, le=512)
    feature_dim: int = Field(128, ge=2, le=4096)
    shift_pixels: int = Field(2, ge=0, le=16)
    seed: int = Field(0, ge=0, le=2**63 - 1)


class EvaluateParams(Section):
    backbone: Literal["evaluator", "inception"] = "evaluator"
    inception_weights: str | None = None
    is_splits: int = Field(10, ge=1, le=1000)
    kid_subsets: int = Field(100, ge=1, le=10_000)
    kid_subset_size: int = Field(1000, ge=2, le=100_000)
    precision_recall_k: int = Field(3, ge=1, le=100)
    seed: int = Field(2020, ge=0, le=2**32 - 1)


# torchvision VGG19 ``features`` layer names: blocks of 2, 2, 4, 4, 4 convolutions, each followed by a ReLU.
VGG19_LAYERS = tuple(
    name
    for block, convolutions in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
    for index in range(1, convolutions + 1)
    for name in (f"conv{block}_{index}", f"relu{block}_{index}")
) + tuple(f"pool{block}" for block in range(1, 6))


class StyleParams(Section):
    content: str = Field("samples", min_length=1)
    content_images: int = Field(16, ge=1, le=1024)
    style_image: str | list[str] = "skimage:coffee"
    style_blend: list[YamlFloat] | None = None
    init: Literal["content", "noise"] = "content"
    content_weight: YamlFloat = Field(1.0, ge=0.0)
    style_weight: YamlFloat = Field(0.5, ge=0.0)
    tv_weight: YamlFloat = Field(1.0, ge=0.0)
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    steps: int = Field(200, ge=1, le=100_000)
    lr: YamlFloat = Field(1.0, gt=0.0, le=1000.0)
    size: int = Field(128, ge=16, le=2048)
    preserve_colors: bool = False
    weights: Literal["random", "imagenet"] = "random"
    weights_path: str | None = None
    content_layer: str = "relu4_2"
    style_layers: list[str] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    seed: int = Field(0, ge=0, le=2**32 - 1)


    @field_validator("style_image")
    @classmethod
    def _some_style_image(cls, value: str | list[str]) -> str | list[str]:
        images = [value] if isinstance(value, str) else value
        if not images or any(not image for image in images):
            raise ValueError("a non-empty image name or path, or a non-empty list of them")
        return value

    @field_validator("content_layer")
    @classmethod
    def _known_content_layer(cls, value: str) -> str:
        if value not in VGG19_LAYERS:
            raise ValueError(f"one of the VGG19 layers {list(VGG19_LAYERS)}")
        return value

    @field_validator("style_layers")
    @classmethod
    def _known_style_layers(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in VGG19_LAYERS]
        if not value or unknown:
            raise ValueError(f"a non-empty list of VGG19 layers {list(VGG19_LAYERS)} (unknown: {unknown})")
        return value

    @model_validator(mode="after")
    def _blend_matches_images(self) -> StyleParams:
        if self.style_blend is not None:
            if len(self.style_blend) != len(self.style_images):
                raise ValueError(f"style.style_blend has {len(self.style_blend)} weights for {len(self.style_images)} style images; give one per image")
            if any(weight < 0 for weight in self.style_blend) or sum(self.style_blend) <= 0:
                raise ValueError("style.style_blend weights must be >= 0 with a positive sum")
        return self

    @property
    def style_images(self) -> list[str]:
        return [self.style_image] if isinstance(self.style_image, str) else list(self.style_image)

    @property
    def blend(self) -> list[float]:
        return list(self.style_blend) if self.style_blend is not None else [1.0] * len(self.style_images)


class SampleParams(Section):
    checkpoint: Literal["best", "last"] = "best"  # best: the epoch of the lowest quick FID (train.eval_every), EMA weights where kept
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
    style: StyleParams = StyleParams()

    @field_validator("data", "model", "train", "sample", "evaluator", "evaluate", "style", mode="before")
    @classmethod
    def _empty_section_is_defaults(cls, value: Any) -> Any:
        return {} if value is None else value

    @model_validator(mode="after")
    def _combinations_that_make_sense(self) -> Params:
        if self.train.loss == "wasserstein" and self.train.gradient_penalty and self.model.discriminator_norm == "batch":
            raise ValueError(
                "train.loss = 'wasserstein' with train.gradient_penalty > 0 needs a critic without batch norm: the penalty is "
                "per image and batch norm mixes the images of a batch (Gulrajani et al. 2017); set model.discriminator_norm "
                "to layer, instance or none"
            )
        if self.sample.checkpoint == "best" and not self.train.eval_every:
            raise ValueError(
                "sample.checkpoint = 'best' is the generator of the epoch with the lowest quick FID, and train.eval_every = 0 "
                "measures none; set train.eval_every > 0, or sample.checkpoint: last"
            )
        if self.model.conditional and self.train.replay.size:
            raise ValueError(
                "model.conditional = true with train.replay.size > 0: the replay buffer keeps images without the classes "
                "they were drawn for; use one or the other"
            )
        return self


def missing_files(params: Params) -> list[str]:
    """The files and folders that params name by path and that do not exist, each as ``key = 'path'``.

    Checked with the params, before any compute, so a typo in a path stops the pipeline before DVC
    removes any stage's outputs.
    """
    problems = []
    if not Path(params.data.path).is_dir():
        # a dependency of prepare in dvc.yaml, so it must exist whatever data.source is
        what = "is a file, not a folder" if Path(params.data.path).exists() else "does not exist"
        problems.append(f"data.path = {params.data.path!r} {what} (DVC tracks it as the prepare stage's input even when "
                        "data.source is not folder; the default is the repository's images/ folder)")
    named = [("style.content", params.style.content)] if params.style.content != "samples" else []
    named += [("style.style_image", image) for image in params.style.style_images if not image.startswith("skimage:")]
    if params.style.weights_path:
        named.append(("style.weights_path", params.style.weights_path))
    if params.evaluate.inception_weights:
        named.append(("evaluate.inception_weights", params.evaluate.inception_weights))
    return problems + [f"{key} = {path!r}" for key, path in named if not Path(path).expanduser().is_file()]


def _allowed(error: dict) -> str:
    """What is allowed, in words, for one pydantic error."""
    context = error.get("ctx") or {}
    kind = error["type"]
    if kind == "literal_error":
        return f"one of {context['expected']}"
    if kind == "extra_forbidden":
        return "no such key; check the spelling against the params reference in docs/params.md"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return error["msg"].removeprefix("Input should be ").replace("Input", "a value")
    return error["msg"].removeprefix("Value error, ")


def format_validation_error(error: ValidationError, source: str) -> str:
    """One line per bad key: ``train.lr = -1.0: must be greater than 0``."""
    lines = [f"invalid params in {source}:"]
    for item in error.errors():
        # repr for unprintable parts: a key with a control character must not break the message's lines
        key = ".".join(str(part) if str(part).isprintable() else repr(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key ({_allowed(item)})")
        elif item["type"] == "value_error" and isinstance(item["input"], dict):
            lines.append(f"  {key}: {item['msg'].removeprefix('Value error, ')}")
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
