import json
import math

import pytest
import torch
from torch import nn

from ganyard.models import build_discriminator, build_generator
from ganyard.params import ModelParams, TrainParams
from ganyard.runs import BestGenerator, RunState
from ganyard.training import EpochStats, make_gan, train
from ganyard.training_log import TrainingLog


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


def small_run_state(params: TrainParams, architecture: str = "dcgan") -> RunState:
    torch.manual_seed(0)
    # stylegan2 draws its noise inputs and style mixing from torch's global generator, which the checkpoint keeps
    extra = {"style_mixing": 0.5, "minibatch_stddev": True} if architecture == "stylegan2" else {}
    extra = {"minibatch_stddev": True} if architecture == "progressive" else extra
    model = ModelParams(architecture=architecture, latent_dim=8, generator_width=4, discriminator_width=4, **extra)
    gan = make_gan(build_generator(model, channels=1, image_size=16), build_discriminator(model, channels=1, image_size=16), params)
    return RunState({"channels": 1}, "fingerprint", gan, torch.Generator().manual_seed(1))


@pytest.mark.parametrize("architecture", ["dcgan", "stylegan2", "msg", "progressive"])
def test_a_run_state_restored_from_its_checkpoint_continues_as_if_never_stopped(tmp_path, architecture):
    # progressive (16 px) fades to 8x8 during epoch 1 and resumes right into Adam's reset at the fade's end; the others ignore growth
    params = TrainParams(epochs=3, batch_size=16, growth={"stable_images": 32, "fade_images": 32})
    images = torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    uninterrupted = small_run_state(params, architecture)
    train(uninterrupted.gan, images, params, uninterrupted.rng, progress=False)

    interrupted = small_run_state(params, architecture)

    def save_after_epoch_one(epoch, stats):
        interrupted.records.append({"stats": stats.to_dict()})
        if epoch == 1:
            interrupted.save(tmp_path / "last.pt", epoch)
            raise KeyboardInterrupt  # killed right after the checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(interrupted.gan, images, params, interrupted.rng, on_epoch=save_after_epoch_one, progress=False)
    assert interrupted.saved_epoch == 1
    checkpoint = torch.load(tmp_path / "last.pt", weights_only=True)
    assert list(checkpoint) == ["config", "epoch", "complete", "fingerprint", "gan", "rng", "torch_rng", "records", "best", "growth"]  # the file's layout
    assert checkpoint["growth"] == ({"resolution": 8, "alpha": 0.5} if architecture == "progressive" else None)  # the stage of epoch 1's last iteration
    assert (checkpoint["epoch"], checkpoint["complete"], checkpoint["fingerprint"]) == (1, False, "fingerprint")

    torch.manual_seed(123)  # whatever happened to torch's generator since: the checkpoint brings it back
    resumed = small_run_state(params, architecture)
    resumed.restore(checkpoint)
    assert (resumed.start_epoch, resumed.saved_epoch, len(resumed.records)) == (1, 1, 1)
    train(resumed.gan, images, params, resumed.rng, start_epoch=resumed.start_epoch, progress=False)
    expected, got = uninterrupted.gan.state_dict(), resumed.gan.state_dict()
    for network in ("generator", "discriminator", "generator_ema"):
        assert all(torch.equal(got[network][name], tensor) for name, tensor in expected[network].items()), network


def test_the_training_log_publishes_whole_files_and_its_summary_only_when_the_run_ends_well(tmp_path):
    staging, output = tmp_path / "staging", tmp_path / "train"
    (output / "plots" / "metrics").mkdir(parents=True)
    (output / "plots" / "metrics" / "fid.tsv").write_text("step\tfid\n1\t3.0\n")  # a previous run's
    record = {"metrics": {"generator_loss": 1.5}, "preview": torch.zeros(4, 4, 3, dtype=torch.uint8)}
    best = BestGenerator()
    best.offer(2, 7.5, nn.Linear(1, 1))
    with TrainingLog(staging, output) as log:
        log.write(1, record)
        log.write(2, record)
        log.publish()
        assert (output / "plots" / "metrics" / "generator_loss.tsv").read_text().splitlines()[1:] == ["1\t1.5", "2\t1.5"]
        assert (output / "plots" / "images" / "preview" / "epoch_0002.png").is_file()
        log.summarize([EpochStats(generator_updates=3, discriminator_updates=4), EpochStats(generator_updates=3, discriminator_skipped=1)], best)
    summary = json.loads((output / "metrics.json").read_text())
    assert {key: summary[key] for key in ("generator_updates", "discriminator_updates", "discriminator_skipped", "best_epoch", "best_fid")} == {
        "generator_updates": 6,
        "discriminator_updates": 4,
        "discriminator_skipped": 1,
        "best_epoch": 2,
        "best_fid": 7.5,
    }
    assert not (output / "plots" / "metrics" / "fid.tsv").exists()  # not this run's

    failed = tmp_path / "failed"
    with pytest.raises(RuntimeError), TrainingLog(tmp_path / "staging-failed", failed) as log:
        log.write(1, record)
        raise RuntimeError("diverged")
    assert not failed.exists()  # nothing published after the last good epoch
