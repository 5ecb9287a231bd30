"""GAN objectives on discriminator logits (or critic scores), and the gradient penalties.

With D(x) = sigmoid(logit), for reals r and fakes f (logits), batch means throughout:

| ``train.loss``     | discriminator loss                          | generator loss            |
| ------------------ | ------------------------------------------- | ------------------------- |
| ``non_saturating`` | softplus(-r) + softplus(f)  (cross-entropy) | softplus(-f) = -log D(G(z)) |
| ``minimax``        | the same                                    | -softplus(f) = log(1 - D(G(z))), Goodfellow et al. 2014 |
| ``hinge``          | relu(1 - r) + relu(1 + f)                   | -f  (Lim & Ye 2017; Miyato et al. 2018) |
| ``least_squares``  | ((r - 1)^2 + f^2) / 2                       | (f - 1)^2 / 2  (Mao et al. 2017) |
| ``wasserstein``    | f - r (+ gradient penalty)                  | -f  (Arjovsky 2017; Gulrajani et al. 2017) |
| ``relativistic``   | softplus(f - r), each real paired with a fake | softplus(r - f)  (RpGAN: Jolicoeur-Martineau 2019; R3GAN: Huang et al. 2024) |

The relativistic pairing loss judges each fake against a real, not against a fixed label: the generator's loss
needs D's logits on reals too. R1 (at reals) and R2 (at fakes) are the same gradient-norm penalty at different
inputs (``gradient_norm_penalty``); R3GAN trains with both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import torch
import torch.nn.functional as F

from ganyard.params import Objective

OBJECTIVES = get_args(Objective)
PAIRED = ("relativistic",)  # objectives whose generator loss also needs D's logits on the real batch
CROSS_ENTROPY = ("non_saturating", "minimax")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, objective: str = "non_saturating", real_label: float = 1.0) -> torch.Tensor:
    """The discriminator's loss for logits (N,) of reals and fakes -> scalar.

    ``real_label`` < 1 is one-sided label smoothing (Salimans et al. 2016), cross-entropy objectives only.
    """
    if objective in CROSS_ENTROPY:
        real_term = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
        return real_term + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    if objective == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    if objective == "least_squares":
        return 0.5 * ((real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean())
    if objective == "wasserstein":
        return fake_logits.mean() - real_logits.mean()
    if objective == "relativistic":
        return F.softplus(fake_logits - real_logits).mean()
    raise ValueError(f"unknown objective {objective!r}; allowed: {OBJECTIVES}")


def generator_loss(fake_logits: torch.Tensor, objective: str, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    """The generator's loss on D's logits for its samples (N,) -> scalar; a ``PAIRED`` objective also takes the
    logits of as many reals (N,), each paired with the fake of its index."""
    if objective in PAIRED and real_logits is None:
        raise ValueError(f"the {objective} generator loss pairs each fake with a real: give real_logits")
    if objective == "relativistic":
        return F.softplus(real_logits - fake_logits).mean()
    if objective == "non_saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if objective == "minimax":
        # log(1 - sigmoid(l)) = -softplus(l): minimizing it is minimizing -BCE(l, label 0).
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    if objective in ("hinge", "wasserstein"):
        return -fake_logits.mean()
    if objective == "least_squares":
        return 0.5 * (fake_logits - 1).pow(2).mean()
    raise ValueError(f"unknown generator objective {objective!r}; allowed: {OBJECTIVES}")


def gradient_penalty(discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - 1)^2] at random points between reals and fakes."""
    mix = torch.rand(real.shape[0], 1, 1, 1, generator=rng).to(real.device)
    between = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (gradient,) = torch.autograd.grad(discriminator(between).sum(), between, create_graph=True)
    return (gradient.flatten(1).norm(dim=1) - 1).pow(2).mean()


def gradient_norm_penalty(logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """E[||grad D(x)||^2] at D's ``inputs`` (N, ...), which must require grad when D ran on them: R1 (Mescheder et al.
    2018) at reals, R2 at fakes. Per image, also when D reads several images at once (``model.pack``)."""
    (gradient,) = torch.autograd.grad(logits.sum(), inputs, create_graph=True)
    return gradient.flatten(1).pow(2).sum(dim=1).mean()
