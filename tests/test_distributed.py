"""Data-parallel training under torchrun (gloo, 2 CPU processes) equals one process at the same global batch.

The weights agree to about 1e-4 after 16 Adam steps (Adam scales tiny gradient round-off up to the step
size); without pooled batch norm they differ by 2e-3, and without averaged gradients by far more.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganyard.distributed import DeviceError, Processes, resolve_device
from ganyard.params import ParamsError, TrainParams
from ganyard.training import check_data_parallel

SCRIPT = Path(__file__).with_name("distributed_train.py")
SRC = Path(__file__).resolve().parents[1] / "src"


def train_in(processes: int, out: Path, config: dict | None = None) -> dict:
    # One thread per process: the two processes share the machine's cores, as they would share GPUs.
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable] if processes == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    result = subprocess.run([*launcher, str(SCRIPT), str(out), json.dumps(config or {})], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return torch.load(out, weights_only=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "config",
    [
        {},
        {"train": {"r1_gamma": 1.0}},  # R1 differentiates twice through the pooled batch norm
        {
            "model": {"spectral_norm": "discriminator", "discriminator_norm": "none"},
            "train": {"loss": "hinge", "r1_gamma": 1.0, "ema": 0.9, "instance_noise": 0.1},
        },
        {"train": {"generator_noise": "reuse"}},  # the generator step backpropagates into the discriminator step's pooled batch norm
    ],
    ids=["batch-norm", "batch-norm-r1", "spectral-norm-r1-ema-instance-noise", "batch-norm-reuse"],
)
def test_two_processes_with_gloo_train_like_one_process_at_the_same_global_batch(tmp_path, tmp_path_factory, config):
    alone = train_in(1, tmp_path / "alone.pt", config)
    pair = train_in(2, tmp_path / "pair.pt", config)
    for network in ("generator", "discriminator"):
        for name, tensor in alone["gan"][network].items():
            if tensor.is_floating_point():
                torch.testing.assert_close(pair["gan"][network][name], tensor, rtol=1e-3, atol=3e-4, msg=f"{network}.{name}")
    for epoch_alone, epoch_pair in zip(alone["losses"], pair["losses"]):
        assert epoch_pair == pytest.approx(epoch_alone, rel=1e-3)
    # and the run did move the weights: the comparison is not of two untouched initializations
    assert not torch.equal(alone["gan"]["generator"]["net.0.weight"], one_epoch(tmp_path_factory)["gan"]["generator"]["net.0.weight"])


ONE_EPOCH = {}


def one_epoch(tmp_path_factory) -> dict:
    """One process trained for one epoch, the same for every config: trained once per test process."""
    if not ONE_EPOCH:
        ONE_EPOCH.update(train_in(1, tmp_path_factory.mktemp("one_epoch") / "one_epoch.pt", {"train": {"epochs": 1}}))
    return ONE_EPOCH


def test_what_several_processes_cannot_do_yet_is_refused_by_name():
    check_data_parallel(TrainParams(), 1)
    check_data_parallel(TrainParams(batch_size=64), 4)
    with pytest.raises(ParamsError) as refused:
        check_data_parallel(TrainParams(batch_size=30, augment="diffaugment", replay={"size": 100}), 4)
    message = str(refused.value)
    assert "train.batch_size = 30 is the global batch and must split evenly over the 4 processes" in message
    assert "train.augment = 'diffaugment'" in message and "train.replay.size" in message


def test_a_shard_is_this_processes_share_of_the_global_batch():
    batch = torch.arange(12)
    assert [Processes(rank, 3).shard(batch).tolist() for rank in range(3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert Processes().shard(batch) is batch


def test_device_auto_is_the_cpu_here_and_a_missing_gpu_is_named(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(DeviceError, match=r"train.device = 'cuda', but (no GPU is visible to this torch|this torch \(.*\) is built without CUDA)"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="MPS"):
        resolve_device("mps")


def test_several_processes_on_mps_are_refused_by_name():
    from ganyard.distributed import start

    with pytest.raises(DeviceError, match="cannot reduce across Apple MPS"):
        start(Processes(0, 2), torch.device("mps"))


def test_the_train_stage_names_a_missing_gpu_before_reading_anything(tmp_path, monkeypatch):
    import runpy

    from ganyard.params import validate_params
    from ganyard.stage import StageError

    monkeypatch.chdir(tmp_path)  # no data here: the device is checked first
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    main = runpy.run_path(str(Path(__file__).resolve().parents[1] / "stages" / "train.py"), run_name="train")["main"]
    with pytest.raises(StageError, match="train.device = 'cuda', but"):
        main(validate_params({"train": {"device": "cuda"}}))
    with pytest.raises(StageError, match="train.amp = true is mixed precision on CUDA GPUs; train.device = 'auto' resolved to cpu"):
        main(validate_params({"train": {"device": "auto", "amp": True}}))
