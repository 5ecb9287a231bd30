import math

import pytest
import torch

from ganyard.losses import discriminator_loss, generator_loss

LOG3 = math.log(3.0)  # logit of D = 0.75


def test_discriminator_loss_by_hand():
    # D(x) = 0.75 on the real, D(G(z)) = 0.5 on the fake: -log 0.75 - log(1 - 0.5)
    loss = discriminator_loss(torch.tensor([LOG3]), torch.tensor([0.0]))
    assert loss.item() == pytest.approx(-math.log(0.75) - math.log(0.5), rel=1e-6)


def test_discriminator_loss_is_a_batch_mean_per_term():
    real = torch.tensor([LOG3, 0.0])  # D = 0.75, 0.5
    fake = torch.tensor([-LOG3, 0.0])  # D = 0.25, 0.5
    expected = -(math.log(0.75) + math.log(0.5)) / 2 - (math.log(0.75) + math.log(0.5)) / 2
    assert discriminator_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("objective", "logit", "expected"),
    [
        ("non_saturating", 0.0, -math.log(0.5)),
        ("non_saturating", LOG3, -math.log(0.75)),
        ("minimax", 0.0, math.log(0.5)),
        ("minimax", LOG3, math.log(0.25)),
    ],
)
def test_generator_losses_by_hand(objective, logit, expected):
    assert generator_loss(torch.tensor([logit]), objective).item() == pytest.approx(expected, rel=1e-6)


def test_minimax_saturates_where_non_saturating_does_not():
    # The reason the non-saturating loss exists: when D confidently rejects G's samples,
    # log(1 - D(G(z))) has almost no gradient while -log D(G(z)) has a strong one.
    logit = torch.tensor([-8.0], requires_grad=True)
    (minimax_grad,) = torch.autograd.grad(generator_loss(logit, "minimax"), logit)
    (non_saturating_grad,) = torch.autograd.grad(generator_loss(logit, "non_saturating"), logit)
    assert abs(minimax_grad.item()) < 1e-3
    assert abs(non_saturating_grad.item()) > 0.99


def test_losses_are_stable_for_extreme_logits():
    extreme = torch.tensor([-1e4, 1e4])
    assert torch.isfinite(discriminator_loss(extreme, extreme))
    for objective in ("minimax", "non_saturating"):
        assert torch.isfinite(generator_loss(extreme, objective))


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="unknown generator objective 'wgan'"):
        generator_loss(torch.zeros(2), "wgan")


def test_the_relativistic_pairing_loss_by_hand():
    # each real against the fake of its index: D's loss softplus(f - r), G's softplus(r - f)
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.5, 1.0])
    softplus = lambda value: math.log1p(math.exp(value))  # noqa: E731
    assert discriminator_loss(real, fake, "relativistic").item() == pytest.approx((softplus(-1.5) + softplus(1.0)) / 2, rel=1e-6)
    assert generator_loss(fake, "relativistic", real).item() == pytest.approx((softplus(1.5) + softplus(-1.0)) / 2, rel=1e-6)
    # a uniform shift of every logit changes nothing: only the difference within a pair counts
    assert discriminator_loss(real + 7, fake + 7, "relativistic").item() == pytest.approx(discriminator_loss(real, fake, "relativistic").item(), rel=1e-6)
    with pytest.raises(ValueError, match="pairs each fake with a real: give real_logits"):
        generator_loss(fake, "relativistic")
