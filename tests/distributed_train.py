"""Train tiny GANs, alone or as torchrun's processes, and save what each ended with (tests/test_distributed.py).

python tests/distributed_train.py OUT_DIR RUNS_JSON
python -m torch.distributed.run --standalone --nproc_per_node 2 tests/distributed_train.py OUT_DIR RUNS_JSON

RUNS_JSON maps a name to a config ({"model": {...}, "train": {...}}); the runs train one after another in the
same processes and process group (starting the processes costs more than a tiny run), each from its own seeds,
and each saves OUT_DIR/<name>.pt. A config's "stop_after": E ends its run after epoch E as if killed there, with
process 0's checkpoint (ganyard.runs.RunState) in its file; "resume_from": PATH continues from such a checkpoint,
handed from process 0 to the others as the train stage does.
"""

import json
import sys
from pathlib import Path

import torch

from ganyard import distributed
from ganyard.models import build_discriminator, build_generator
from ganyard.params import ModelParams, TrainParams
from ganyard.runs import RunState
from ganyard.training import make_gan, train


class Killed(Exception):
    """Raised in every process after the epoch of ``stop_after``: the run ends there, its checkpoint written."""


def main(out_dir: Path, runs: dict[str, dict]) -> None:
    processes = distributed.processes_from_environment()
    device = torch.device("cpu")
    distributed.start(processes, device)
    try:
        for name, config in runs.items():
            train_one(out_dir / f"{name}.pt", config, processes, device)
    finally:
        distributed.stop()


def train_one(out: Path, config: dict, processes: distributed.Processes, device: torch.device) -> None:
    """One run of ``config``, its result (or its checkpoint, with stop_after) saved by process 0 in ``out``."""
    model = ModelParams(**{"generator_width": 8, "discriminator_width": 8, "latent_dim": 16, **config.get("model", {})})
    params = TrainParams(**{"epochs": 2, "batch_size": 32, **config.get("train", {})})
    images = torch.rand(256, 1, 16, 16, generator=torch.Generator().manual_seed(5)) * 2 - 1
    torch.manual_seed(0)
    generator, discriminator = build_generator(model, channels=1, image_size=16), build_discriminator(model, channels=1, image_size=16)
    if processes.world_size > 1:
        generator, discriminator = (distributed.data_parallel(network, processes, device) for network in (generator, discriminator))
    gan = make_gan(generator, discriminator, params, processes)
    initial_generator = {name: tensor.clone() for name, tensor in gan.generator.state_dict().items()}
    state = RunState(config={}, fingerprint=None, gan=gan, rng=torch.Generator().manual_seed(1))
    if "resume_from" in config:
        checkpoint = torch.load(config["resume_from"], weights_only=True) if processes.is_main else None
        state.restore(distributed.share_from_main(checkpoint, processes, device))

    def end_epoch(epoch, stats):
        if epoch == config.get("stop_after"):
            if processes.is_main:
                state.save(out, epoch)
            raise Killed

    try:
        history = train(gan, images, params, state.rng, on_epoch=end_epoch, progress=False, start_epoch=state.start_epoch)
    except Killed:
        return
    if processes.is_main:
        torch.save({"gan": gan.state_dict(), "initial_generator": initial_generator, "losses": [stats.means() for stats in history]}, out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.loads(sys.argv[2]))
