"""The adversarial training loop: Goodfellow et al. 2014, Algorithm 1.

Each iteration makes ``discriminator_steps`` discriminator updates, each on a fresh minibatch of m
real images (label 1) and G(z) for m fresh noise vectors z ~ N(0, I) (label 0), then
``generator_steps`` generator updates through the frozen discriminator toward label 1.
An epoch is one pass of the training images through the discriminator, so it has
N // (m * discriminator_steps) iterations. The ``train`` params add to this loop the objectives and
penalties of ``losses``, label smoothing, instance noise, skipping the discriminator, experience
replay, augmentation, a moving average of the generator and class conditioning; a growing GAN
(``model.architecture: progressive``) is set to its growth stage before every iteration.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ganyard.augment import AdaptiveAugment, diff_augment
from ganyard.cpu import denormals_flushed
from ganyard.distributed import Processes, average, average_gradients
from ganyard.losses import PAIRED, discriminator_loss, generator_loss, gradient_norm_penalty, gradient_penalty
from ganyard.models.blocks import MinibatchDiscrimination, MinibatchStdDev
from ganyard.models.msg import pack_pyramid
from ganyard.models.progressive import GrowingNetwork, GrowthSchedule, fade_reals
from ganyard.params import ParamsError, TrainParams
from ganyard.progress import progress_bar
from ganyard.replay import ReplayBuffer
from ganyard.sampling import random_labels, sample_noise


@dataclass
class GAN:
    """The two networks, their optimizers and the helpers a run configures.

    ``generator_ema`` (``train.ema`` or ``train.ema_half_life_images``) is an exponential moving average of the generator's weights,
    the one to sample from when present; ``replay`` (``train.replay.size``) keeps earlier fakes;
    ``growth`` (``train.growth``) is the schedule of networks that grow (ProGAN's), else None.
    """

    generator: nn.Module
    discriminator: nn.Module
    generator_optimizer: torch.optim.Optimizer
    discriminator_optimizer: torch.optim.Optimizer
    generator_ema: AveragedModel | None = None
    replay: ReplayBuffer | None = None
    augmentation: str = "none"
    ada: AdaptiveAugment | None = None
    processes: Processes = Processes()  # this process's share of the work under torchrun
    amp: bool = False  # bfloat16 autocast of the forward passes (train.amp, CUDA)
    growth: GrowthSchedule | None = None

    def autocast(self):
        """The mixed-precision context of the forward passes: bfloat16 on CUDA with ``amp``, else a no-op."""
        device = next(self.generator.parameters()).device
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.amp)

    def global_draw(self, local_count: int, draw: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """``draw(count)`` made for the global batch and cut to this process's share, so that every random
        number is the one a single process would draw (all processes share the seed)."""
        return self.processes.shard(draw(local_count * self.processes.world_size))

    def augment(self, images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """What the discriminator sees of ``images`` (as ``generate`` and ``real_input`` give them) under ``train.augment``."""
        if self.augmentation == "diffaugment":
            return diff_augment(images, rng, scales=self.scales)
        if self.augmentation == "ada":
            return diff_augment(images, rng, self.ada.probability, scales=self.scales)
        return images

    def grow(self, images_shown: int) -> None:
        """Set G, D and the EMA copy to the growth stage after ``images_shown`` real images; when a fade starts
        or ends, reset both optimizers' state (fresh moments and step counts, same learning rate), as ProGAN's
        ``reset_opt_for_new_lod`` does. A no-op for a GAN that does not grow."""
        if self.growth is None:
            return
        stage = self.growth.at(images_shown)
        if stage.levels != self.generator.growth.levels:  # the networks hold the stage of the iteration before
            for optimizer in (self.generator_optimizer, self.discriminator_optimizer):
                optimizer.state.clear()
        for network in self.growing_networks:
            network.grow_to(stage)

    @property
    def growing_networks(self) -> list[GrowingNetwork]:
        """G, D and the EMA copy (AveragedModel averages parameters and buffers, not the stage: it is set here)."""
        networks = [self.generator, self.discriminator] + ([self.generator_ema.module] if self.generator_ema is not None else [])
        return [network for network in networks if isinstance(network, GrowingNetwork)]

    def growth_stage(self) -> dict | None:
        """{"resolution", "alpha"} of a growing GAN's current stage (the generator's), for logs and checkpoints; None otherwise."""
        return {"resolution": self.generator.growth.resolution, "alpha": self.generator.growth.alpha} if self.growth is not None else None

    @property
    def scales(self) -> int:
        """How many scales of each image the discriminator reads: MSG-GAN's (4x4 up to the full size), else 1."""
        return getattr(self.generator, "scales", 1)

    def generate(self, noise: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """G(z) as the discriminator reads it: images (N, C, H, W), or MSG-GAN's every scale packed, (N, scales * C, H, W)
        (``ganyard.models.msg``); an unconditional generator ignores the labels."""
        return self.generator.multi_scale(noise, labels) if self.scales > 1 else self.generator(noise, labels)

    def real_input(self, real: torch.Tensor) -> torch.Tensor:
        """Real images (N, C, H, W) as the discriminator reads them: MSG-GAN's average-pooled pyramid packed like ``generate``'s,
        a growing discriminator's reals faded to its stage (``fade_reals``), or unchanged."""
        if self.scales > 1:
            return pack_pyramid(real, self.scales)
        return fade_reals(real, self.discriminator.growth) if self.growth is not None else real

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def classes(self) -> int:
        """The number of classes of a class-conditional GAN; 0 when unconditional."""
        return getattr(self.generator, "classes", 0)

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator to draw images from: the moving average when kept, else the trained one."""
        return self.generator_ema.module if self.generator_ema is not None else self.generator

    def state_dict(self) -> dict:
        state = {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "generator_optimizer": self.generator_optimizer.state_dict(),
            "discriminator_optimizer": self.discriminator_optimizer.state_dict(),
        }
        if self.generator_ema is not None:
            state["generator_ema"] = self.generator_ema.state_dict()
        if self.replay is not None:
            state["replay"] = self.replay.state_dict()
        if self.ada is not None:
            state["ada"] = self.ada.state_dict()
        return state

    def load_state_dict(self, state: dict, rng: torch.Generator | None = None) -> None:
        """Restore what ``state_dict`` saved; the replay buffer (if saved) is rebuilt on ``rng``."""
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.generator_optimizer.load_state_dict(state["generator_optimizer"])
        self.discriminator_optimizer.load_state_dict(state["discriminator_optimizer"])
        if self.generator_ema is not None:
            self.generator_ema.load_state_dict(state["generator_ema"])
        if "replay" in state:
            self.replay = ReplayBuffer.from_state_dict(state["replay"], rng)
        if self.ada is not None:
            self.ada.load_state_dict(state["ada"])

    def non_finite_weight(self) -> str | None:
        """The name of the first weight or buffer of either network holding NaN or Inf, or None."""
        for network_name, network in (("generator", self.generator), ("discriminator", self.discriminator)):
            for name, tensor in [*network.named_parameters(), *network.named_buffers()]:
                if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                    return f"{network_name}.{name}"
        return None


class DivergenceError(RuntimeError):
    """A loss or weight became NaN or Inf; ``epoch`` and ``iteration`` (1-based, over the run) say when."""

    def __init__(self, epoch: int, iteration: int, what: str):
        self.epoch, self.iteration, self.what = epoch, iteration, what
        super().__init__(f"training diverged at epoch {epoch}, iteration {iteration}: {what} is not finite")


def lazy_r1_ratio(params: TrainParams) -> float:
    """k / (k + 1) for lazy R1 (or R2) every k = ``train.r1_interval`` > 1 discriminator updates, else 1: the factor
    of the discriminator's Adam learning rate, and the power of its betas (StyleGAN2's ``mb_ratio``)."""
    lazy = (params.r1_gamma or params.r2_gamma) and params.r1_interval > 1
    return params.r1_interval / (params.r1_interval + 1) if lazy else 1.0


def ema_decay(params: TrainParams, updates: int) -> float:
    """The generator EMA's decay at its update after ``updates`` earlier generator updates (0: the first).

    ``train.ema`` is a fixed decay. ``train.ema_half_life_images`` h gives 0.5 ** (m / h) for m =
    ``train.batch_size`` images an update, StyleGAN2's ``ema_beta``; with ``train.ema_rampup`` r the half-life
    is at most r times the images trained on so far, ``updates`` · m, so the first update copies (decay 0)
    and the average forgets the random start as fast as the run moves away from it.
    """
    if params.ema_half_life_images is None:
        if params.ema is None:
            raise ValueError("train.ema and train.ema_half_life_images are both null: there is no moving average")
        return params.ema
    half_life = float(params.ema_half_life_images)
    if params.ema_rampup is not None:
        half_life = min(half_life, updates * params.batch_size * params.ema_rampup)
    return 0.5 ** (params.batch_size / half_life) if half_life > 0 else 0.0


def make_generator_ema(generator: nn.Module, params: TrainParams) -> AveragedModel | None:
    """The moving average of ``generator``'s weights and buffers that ``train.ema`` or ``train.ema_half_life_images``
    ask for (decay by ``ema_decay``), or None where both are null."""
    if params.ema is None and params.ema_half_life_images is None:
        return None
    if params.ema_half_life_images is None:
        return AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(params.ema), use_buffers=True)

    def half_life_update(averages: list[torch.Tensor], currents: list[torch.Tensor], updates: torch.Tensor) -> None:
        # AveragedModel copies at its first update and passes the count of updates before this one
        get_ema_multi_avg_fn(ema_decay(params, int(updates)))(averages, currents, updates)

    return AveragedModel(generator, multi_avg_fn=half_life_update, use_buffers=True)


def make_gan(generator: nn.Module, discriminator: nn.Module, params: TrainParams, processes: Processes = Processes()) -> GAN:
    """Wrap two networks with Adam optimizers at the configured learning rates and betas.

    The networks' weights are put in channels-last (NHWC) layout first, in place: oneDNN's CPU
    convolutions run about 15% faster on it (benchmarks/train_throughput.py). Adam is the fused
    implementation (one kernel for all tensors instead of a loop over them). Growing networks
    (``GrowingNetwork``) get ``params.growth``'s schedule.
    """
    for network in (generator, discriminator):
        network.to(memory_format=torch.channels_last)
    device = next(generator.parameters()).device
    fused = device.type in ("cpu", "cuda")
    # Lazy R1 takes a separate step every r1_interval updates: k + 1 steps where k were planned, so D's Adam runs
    # at lr and betas ** (k / (k + 1)) for the same pace per real batch (StyleGAN2's mb_ratio; 1 when not lazy).
    ratio = lazy_r1_ratio(params)
    return GAN(
        generator=generator,
        discriminator=discriminator,
        generator_optimizer=torch.optim.Adam(generator.parameters(), lr=params.lr_of("generator"), betas=(params.beta1, params.beta2), fused=fused),
        discriminator_optimizer=torch.optim.Adam(
            discriminator.parameters(), lr=params.lr_of("discriminator") * ratio, betas=(params.beta1**ratio, params.beta2**ratio), fused=fused
        ),
        generator_ema=make_generator_ema(generator, params),
        augmentation=params.augment,
        ada=AdaptiveAugment(params.ada_target, params.ada_images) if params.augment == "ada" else None,
        processes=processes,
        amp=params.amp,
        growth=GrowthSchedule(generator.image_size, params.growth.stable_images, params.growth.fade_images) if isinstance(generator, GrowingNetwork) else None,
    )


@dataclass
class EpochStats:
    """Running totals over one epoch's updates; the means are properties."""

    discriminator_updates: int = 0
    discriminator_skipped: int = 0  # evaluations without a step (train.discriminator_skip_below)
    generator_updates: int = 0
    discriminator_loss_total: float = 0.0
    generator_loss_total: float = 0.0
    augment_probability: float = 0.0  # ADA's p at the end of the epoch
    discriminator_on_real_total: float = 0.0  # sum of batch means of D(x) = sigmoid(logit) on reals
    discriminator_on_fake_total: float = 0.0  # sum of batch means of D(G(z)) during D's updates

    @property
    def discriminator_evaluations(self) -> int:
        return self.discriminator_updates + self.discriminator_skipped

    @property
    def discriminator_loss(self) -> float:
        return self.discriminator_loss_total / max(self.discriminator_evaluations, 1)

    @property
    def generator_loss(self) -> float:
        return self.generator_loss_total / max(self.generator_updates, 1)

    @property
    def discriminator_on_real(self) -> float:
        return self.discriminator_on_real_total / max(self.discriminator_evaluations, 1)

    @property
    def discriminator_on_fake(self) -> float:
        return self.discriminator_on_fake_total / max(self.discriminator_evaluations, 1)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> EpochStats:
        """The stats of ``to_dict``; keys of other versions (the wall-clock ``seconds`` of checkpoints before it left) are dropped."""
        return cls(**{field.name: values[field.name] for field in fields(cls) if field.name in values})

    def means(self) -> dict[str, float]:
        """The per-epoch values that are logged and plotted."""
        return {
            "discriminator_loss": self.discriminator_loss,
            "generator_loss": self.generator_loss,
            "discriminator_on_real": self.discriminator_on_real,
            "discriminator_on_fake": self.discriminator_on_fake,
        }


def with_instance_noise(images: torch.Tensor, std: float, rng: torch.Generator, processes: Processes = Processes()) -> torch.Tensor:
    """Instance noise (Sønderby et al. 2017): Gaussian noise of ``std`` on what D sees; ``std`` 0 is a no-op.

    Under torchrun ``images`` are this process's share, and the noise is its share of the global batch's.
    """
    if std == 0:
        return images
    noise = processes.shard(torch.randn((len(images) * processes.world_size, *images.shape[1:]), generator=rng))
    return images + std * noise.to(images.device)


def discriminator_update(
    gan: GAN,
    real: torch.Tensor,
    params: TrainParams,
    rng: torch.Generator,
    stats: EpochStats,
    noise_std: float = 0.0,
    labels: torch.Tensor | None = None,
    keep_fake: bool = False,
    regularize: bool = True,
) -> torch.Tensor | None:
    """One step on the discriminator: reals toward 1, G(z) for fresh z toward 0, with the configured
    objective, penalties, label smoothing and instance noise. Skipped (no weight change) while the
    loss is below ``params.discriminator_skip_below``. A conditional GAN's fakes are drawn for the
    real batch's ``labels``, so both halves (and the penalty's interpolates) share classes.

    With ``keep_fake`` G(z) is computed with its graph and returned as ``gan.generate`` gives it, for a
    generator update to reuse (``train.generator_noise: reuse``); otherwise None. The R1 penalty joins the
    loss of every update when ``train.r1_interval`` is 1; lazily (StyleGAN2), it is a step of its own after
    the update when ``regularize`` (every ``train.r1_interval``-th update), weighted that many times.
    """
    noise = gan.global_draw(real.shape[0], lambda count: sample_noise(count, gan.latent_dim, rng)).to(real.device)
    with torch.set_grad_enabled(keep_fake), gan.autocast():
        generated = gan.generate(noise, labels)
    fake = generated.detach()
    if gan.replay is not None:
        fake = gan.replay.mix(fake)
    fake = with_instance_noise(gan.augment(fake, rng), noise_std, rng, gan.processes)
    real = with_instance_noise(gan.augment(gan.real_input(real), rng), noise_std, rng, gan.processes)
    r1 = params.r1_gamma and regularize and params.r1_interval == 1  # lazy R1 (and R2) step on their own below
    r2 = params.r2_gamma and regularize and params.r1_interval == 1
    if r1:
        real = real.detach().requires_grad_(True)
    if r2:
        fake = fake.detach().requires_grad_(True)
    with gan.autocast():
        real_logits = gan.discriminator(real, labels).float()
        fake_logits = gan.discriminator(fake, labels).float()
    if gan.ada is not None:
        gan.ada.observe(real_logits, images_per_logit=len(real) // len(real_logits))  # model.pack: a logit per pack
    loss = discriminator_loss(real_logits, fake_logits, params.loss, real_label=1.0 - params.label_smoothing)
    if params.loss == "wasserstein" and params.gradient_penalty:
        loss = loss + params.gradient_penalty * gradient_penalty(lambda images: gan.discriminator(images, labels), real.detach(), fake, rng)
    if r1:
        loss = loss + params.r1_gamma / 2 * gradient_norm_penalty(real_logits, real)
    if r2:
        loss = loss + params.r2_gamma / 2 * gradient_norm_penalty(fake_logits, fake)
    # One tensor, one transfer (and under torchrun one all-reduce): every process logs and decides alike.
    values = average(torch.stack([loss, torch.sigmoid(real_logits).mean(), torch.sigmoid(fake_logits).mean()]).detach(), gan.processes.world_size)
    loss_value, on_real, on_fake = values.tolist()
    stats.discriminator_loss_total += loss_value
    stats.discriminator_on_real_total += on_real
    stats.discriminator_on_fake_total += on_fake
    if params.discriminator_skip_below is not None and loss_value < params.discriminator_skip_below:
        stats.discriminator_skipped += 1  # the seed lesson's remedy for a discriminator that wins too fast
    else:
        gan.discriminator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(gan.discriminator, gan.processes.world_size)
        gan.discriminator_optimizer.step()
        stats.discriminator_updates += 1
        if (params.r1_gamma or params.r2_gamma) and regularize and params.r1_interval > 1:
            lazy_regularization_step(gan, real.detach(), fake.detach(), labels, params)
    return generated if keep_fake else None


def lazy_regularization_step(gan: GAN, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None, params: TrainParams) -> None:
    """StyleGAN2's lazy regularization: one discriminator step on ``γ · k / 2 · E[‖∇D(x)‖²]`` alone at the
    (augmented) real batch ``real`` (N, C, H, W), k = ``train.r1_interval``, plus the same with ``train.r2_gamma``
    at the ``fake`` batch D was shown when R2 is on; taken every k-th update, so its gradient over k updates
    equals the penalties' on every update."""
    loss = 0.0
    for gamma, images in ((params.r1_gamma, real), (params.r2_gamma, fake)):
        if gamma:
            images = images.requires_grad_(True)
            with gan.autocast():
                logits = gan.discriminator(images, labels).float()
            loss = loss + gamma * params.r1_interval / 2 * gradient_norm_penalty(logits, images)
    gan.discriminator_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    average_gradients(gan.discriminator, gan.processes.world_size)
    gan.discriminator_optimizer.step()


def generator_update(
    gan: GAN,
    batch_size: int,
    params: TrainParams,
    rng: torch.Generator,
    stats: EpochStats,
    noise_std: float = 0.0,
    generated: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    real: torch.Tensor | None = None,
    real_labels: torch.Tensor | None = None,
) -> None:
    """One step on the generator through the frozen discriminator, toward label 1: on G(z) for fresh
    z (and fresh classes), or on ``generated``, a ``gan.generate`` computed with its graph, and its
    class ``labels`` (used only with ``generated``). A paired objective (``train.loss: relativistic``) also
    reads D's logits on the ``real`` batch (N, C, H, W) of ``real_labels``, seen as the discriminator sees reals."""
    if generated is None:
        device = next(gan.generator.parameters()).device
        noise = gan.global_draw(batch_size, lambda count: sample_noise(count, gan.latent_dim, rng)).to(device)
        labels = gan.global_draw(batch_size, lambda count: random_labels(count, gan.classes, rng)).to(device) if gan.classes else None
        with gan.autocast():
            generated = gan.generate(noise, labels)
    gan.discriminator.requires_grad_(False)  # frozen: no gradients for D's weights
    try:
        with gan.autocast():
            fake = with_instance_noise(gan.augment(generated, rng), noise_std, rng, gan.processes)
            logits = gan.discriminator(fake, labels).float()
        real_logits = None
        if params.loss in PAIRED:
            with torch.no_grad(), gan.autocast():  # the reals' side of each pair: a constant for the generator
                shown = with_instance_noise(gan.augment(gan.real_input(real), rng), noise_std, rng, gan.processes)
                real_logits = gan.discriminator(shown, real_labels).float()
        loss = generator_loss(logits, params.loss, real_logits)
        gan.generator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(gan.generator, gan.processes.world_size)
        gan.generator_optimizer.step()
    finally:
        gan.discriminator.requires_grad_(True)
    if gan.generator_ema is not None:
        gan.generator_ema.update_parameters(gan.generator)
    stats.generator_updates += 1
    stats.generator_loss_total += average(loss.detach(), gan.processes.world_size).item()


def train_iteration(
    gan: GAN,
    real_batches: list[torch.Tensor],
    params: TrainParams,
    rng: torch.Generator,
    stats: EpochStats,
    noise_std: float = 0.0,
    label_batches: list[torch.Tensor] | None = None,
    iteration: int = 0,
) -> None:
    """Algorithm 1's inner loop: one discriminator update per real batch, then the generator updates.

    ``iteration`` (0-based, over the run) numbers the discriminator updates for lazy R1 (``train.r1_interval``).

    With ``train.generator_noise: reuse`` the first generator update takes the last discriminator
    update's G(z) (and classes) instead of drawing fresh ones, as pytorch/examples' DCGAN does: one
    generator forward less per iteration.
    """
    generated = labels = None
    for index, real in enumerate(real_batches):
        labels = label_batches[index] if label_batches else None
        last = index == len(real_batches) - 1
        update = iteration * params.discriminator_steps + index
        generated = discriminator_update(
            gan, real, params, rng, stats, noise_std, labels, keep_fake=last and params.generator_noise == "reuse", regularize=update % params.r1_interval == 0
        )
    for _ in range(params.generator_steps):
        generator_update(
            gan, real_batches[0].shape[0], params, rng, stats, noise_std, generated, labels, real_batches[0], label_batches[0] if label_batches else None
        )
        generated = None  # the generator has changed: later updates draw fresh noise
    if gan.ada is not None:
        gan.ada.step()


def iterations_per_epoch(image_count: int, params: TrainParams) -> int:
    """How many Algorithm-1 iterations one pass over ``image_count`` real images allows (at least 1).

    Raises ParamsError when one iteration needs more real images than there are.
    """
    needed = params.batch_size * params.discriminator_steps
    if needed > image_count:
        raise ParamsError(
            f"train.batch_size ({params.batch_size}) x train.discriminator_steps ({params.discriminator_steps}) "
            f"= {needed} real images per iteration, but there are only {image_count} training images; lower one of them"
        )
    return image_count // needed


def check_data_parallel(params: TrainParams, world_size: int, discriminator: nn.Module | None = None) -> None:
    """Refuse, with the reason, what several processes cannot yet do as one process would.

    Raises ParamsError when the batch does not split evenly, a param draws random numbers per image
    in a way that is not yet shared out between processes (augmentation, replay, the WGAN-GP points),
    or ``discriminator`` has a minibatch standard deviation (its groups would be drawn from each
    process's share of the batch, not from the global batch).
    """
    if world_size == 1:
        return
    problems = []
    if params.batch_size % world_size:
        problems.append(f"train.batch_size = {params.batch_size} is the global batch and must split evenly over the {world_size} processes")
    pack = getattr(discriminator, "pack", 1)
    if pack > 1 and (params.batch_size // world_size) % pack:
        problems.append(f"model.pack = {pack} must divide each process's share of the batch, {params.batch_size} / {world_size}")
    if params.augment != "none":
        problems.append(f"train.augment = {params.augment!r} is not supported with several processes yet (use 'none', or one process)")
    if params.replay.size:
        problems.append("train.replay.size > 0 is not supported with several processes yet (use 0, or one process)")
    if params.loss == "wasserstein" and params.gradient_penalty:
        problems.append("train.gradient_penalty with the wasserstein loss is not supported with several processes yet (use r1_gamma, or one process)")
    layers = [type(layer) for layer in discriminator.modules()] if discriminator is not None else []
    if MinibatchStdDev in layers:
        problems.append(
            "model.minibatch_stddev = true is not supported with several processes yet: each process would group the images of its own share "
            "of the batch, not those of the global batch (use false, or one process)"
        )
    if MinibatchDiscrimination in layers:
        problems.append(
            "model.minibatch_discrimination > 0 is not supported with several processes yet: each process would compare the images of its own "
            "share of the batch, not those of the global batch (use 0, or one process)"
        )
    if problems:
        raise ParamsError("training with torchrun: " + "; ".join(problems))


@denormals_flushed()
def train(
    gan: GAN,
    images: torch.Tensor,
    params: TrainParams,
    rng: torch.Generator,
    on_epoch: Callable[[int, EpochStats], None] | None = None,
    progress: bool = True,
    labels: torch.Tensor | None = None,
    start_epoch: int = 0,
) -> list[EpochStats]:
    """Train for ``params.epochs`` epochs on ``images`` (N, C, H, W) in [-1, 1] (and their class
    ``labels`` (N,), needed by a conditional GAN).

    ``rng`` drives the shuffling and all noise, so a seed fixes the run. ``on_epoch(epoch, stats)``
    is called after each epoch (1-based), for logging, previews and checkpoints. To continue a run,
    restore ``gan`` and ``rng`` from the checkpoint of epoch ``start_epoch`` and pass it: the epochs
    after it are then exactly those of an uninterrupted run. Returns the stats of the epochs run.
    Raises DivergenceError as soon as a loss is NaN or Inf (checked after every iteration), or a
    weight (checked after every epoch, before ``on_epoch`` can save it).
    """
    per_epoch = iterations_per_epoch(len(images), params)
    images = images.contiguous(memory_format=torch.channels_last) if images.dim() == 4 else images
    if gan.classes and labels is None:
        raise ValueError("a conditional GAN needs the class labels of its training images")
    check_data_parallel(params, gan.processes.world_size, gan.discriminator)
    if params.replay.size and gan.replay is None:
        gan.replay = ReplayBuffer(params.replay.size, params.replay.fraction, rng)
    history = []
    gan.generator.train()
    gan.discriminator.train()
    iteration, total_iterations = start_epoch * per_epoch, per_epoch * params.epochs
    bar = progress_bar(desc="train", unit="it", total=total_iterations, initial=iteration, enabled=progress)
    for epoch in range(start_epoch + 1, params.epochs + 1):
        stats = EpochStats()
        order = torch.randperm(len(images), generator=rng)[: per_epoch * params.batch_size * params.discriminator_steps]
        # Under torchrun every process draws the same order and keeps its share of each batch.
        batches = [gan.processes.shard(batch) for batch in images[order].split(params.batch_size)]
        label_batches = [gan.processes.shard(batch) for batch in labels[order].split(params.batch_size)] if gan.classes else None
        for start in range(0, len(batches), params.discriminator_steps):
            # Instance noise anneals linearly from train.instance_noise to 0 over the run.
            noise_std = params.instance_noise * (1 - iteration / total_iterations)
            chosen = slice(start, start + params.discriminator_steps)
            gan.grow(iteration * params.batch_size * params.discriminator_steps)  # real images shown so far
            train_iteration(gan, batches[chosen], params, rng, stats, noise_std, label_batches[chosen] if label_batches else None, iteration)
            iteration += 1
            bar.update(1)
            for name, total in (("discriminator loss", stats.discriminator_loss_total), ("generator loss", stats.generator_loss_total)):
                if not math.isfinite(total):
                    bar.close()
                    raise DivergenceError(epoch, iteration, f"the {name}")
        bad_weight = gan.non_finite_weight()
        if bad_weight is not None:
            bar.close()
            raise DivergenceError(epoch, iteration, f"weight {bad_weight}")
        stats.augment_probability = gan.ada.probability if gan.ada is not None else 0.0
        bar.set_postfix(epoch=epoch, d_loss=f"{stats.discriminator_loss:.3f}", g_loss=f"{stats.generator_loss:.3f}")
        history.append(stats)
        if on_epoch is not None:
            on_epoch(epoch, stats)
    bar.close()
    return history
