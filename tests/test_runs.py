import math

import torch
from torch import nn

from ganyard.runs import BestGenerator


def test_best_generator_keeps_a_copy_of_the_weights_of_the_lowest_fid():
    network = nn.Linear(3, 2)
    best = BestGenerator()
    assert best.offer(2, 10.0, network)
    kept = {name: tensor.clone() for name, tensor in network.state_dict().items()}
    with torch.no_grad():
        network.weight.add_(1.0)  # training goes on: the kept copy must not follow
    assert not best.offer(4, 12.0, network) and not best.offer(6, 10.0, network)  # worse, and a tie: the first stays
    assert not best.offer(8, math.nan, network)
    assert best.epoch == 2 and best.fid == 10.0
    assert all(torch.equal(best.state_dict[name], kept[name]) for name in kept)
    assert best.offer(10, 9.5, network) and best.epoch == 10
    assert torch.equal(best.state_dict["weight"], network.weight.detach())


def test_best_generator_survives_a_checkpoint_round_trip(tmp_path):
    best = BestGenerator()
    best.offer(3, 4.25, nn.Conv2d(1, 2, 3))
    torch.save(best.state(), tmp_path / "best.pt")
    restored = BestGenerator.from_state(torch.load(tmp_path / "best.pt", weights_only=True))
    assert (restored.epoch, restored.fid) == (3, 4.25)
    assert all(torch.equal(restored.state_dict[name], best.state_dict[name]) for name in best.state_dict)
    assert BestGenerator.from_state(BestGenerator().state()).epoch is None  # a run with no quick FID yet
