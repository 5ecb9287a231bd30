"""GAN objectives on discriminator logits (cross-entropy on logits, numerically stable).

With D(x) = sigmoid(logit):
- discriminator: maximize log D(x) + log(1 - D(G(z)))  ->  loss softplus(-real) + softplus(fake), batch means;
- generator, ``minimax``: minimize log(1 - D(G(z)))   ->  loss -softplus(fake)  (Goodfellow 2014, as the seed has it);
- generator, ``non_saturating``: maximize log D(G(z)) ->  loss softplus(-fake)  (stronger gradients early on).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

GENERATOR_LOSSES = ("non_saturating", "minimax")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with label 1 for reals and 0 for fakes; logits (N,) -> scalar."""
    real_term = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake_term = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real_term + fake_term


def generator_loss(fake_logits: torch.Tensor, objective: str) -> torch.Tensor:
    """The generator's loss on D's logits for its samples (N,) -> scalar."""
    if objective == "non_saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if objective == "minimax":
        # log(1 - sigmoid(l)) = -softplus(l): minimizing it is minimizing -BCE(l, label 0).
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    raise ValueError(f"unknown generator objective {objective!r}; allowed: {GENERATOR_LOSSES}")
