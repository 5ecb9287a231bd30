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
from ganyard.models import build_discriminator
from ganyard.params import ModelParams, ParamsError, TrainParams
from ganyard.training import check_data_parallel

SCRIPT = Path(__file__).with_name("distributed_train.py")
SRC = Path(__file__).resolve().parents[1] / "src"


def train_in(processes: int, out_dir: Path, runs: dict[str, dict]) -> dict[str, dict]:
    """Each of ``runs`` (name -> config) trained in one launch of ``processes`` processes: name -> what it saved."""
    # One thread per process: the two processes share the machine's cores, as they would share GPUs.
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable] if processes == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    out_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([*launcher, str(SCRIPT), str(out_dir), json.dumps(runs)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return {name: torch.load(out_dir / f"{name}.pt", weights_only=True) for name in runs}


STYLEGAN2 = {"architecture": "stylegan2", "generator_width": 4, "discriminator_width": 4, "style_mixing": 0.5}
# id -> config of the comparisons of one process with two
CONFIGS = {
    "batch-norm": {},
    "batch-norm-r1": {"train": {"r1_gamma": 1.0}},  # R1 differentiates twice through the pooled batch norm
    "spectral-norm-r1-ema-instance-noise": {
        "model": {"spectral_norm": "discriminator", "discriminator_norm": "none"},
        "train": {"loss": "hinge", "r1_gamma": 1.0, "ema": 0.9, "instance_noise": 0.1},
    },
    "batch-norm-reuse": {"train": {"generator_noise": "reuse"}},  # the generator step backpropagates into the discriminator step's pooled batch norm
    # noise inputs and style mixing draw per image: each process draws the global batch's and keeps its share
    "stylegan2-noise-mixing-r1": {"model": STYLEGAN2, "train": {"r1_gamma": 1.0}},
    "msg-batch-norm-r1": {"model": {"architecture": "msg"}, "train": {"r1_gamma": 1.0}},  # every scale packed in one tensor, R1 through it
    # growing from 4x4 to 16x16 in the 16 iterations, through two fades and four Adam resets
    "progressive": {"model": {"architecture": "progressive"}, "train": {"growth": {"stable_images": 96, "fade_images": 96}}},
}
RESUMED = {"model": STYLEGAN2, "train": {"epochs": 3, "r1_gamma": 1.0}}  # the killed and resumed stylegan2 run's config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """{"alone": name -> result, "pair": name -> result}: every config of CONFIGS trained alone and by 2 processes,
    and RESUMED uninterrupted by 2, in one launch each (a launch costs more than its tiny runs)."""
    folder = tmp_path_factory.mktemp("distributed")
    return {"alone": train_in(1, folder / "alone", CONFIGS), "pair": train_in(2, folder / "pair", {**CONFIGS, "uninterrupted": RESUMED})}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONFIGS))
def test_two_processes_with_gloo_train_like_one_process_at_the_same_global_batch(trained, name):
    alone, pair = trained["alone"][name], trained["pair"][name]
    progressive = CONFIGS[name].get("model", {}).get("architecture") == "progressive"
    # Equalized-lr weights are stored at N(0, 1), 50 times DCGAN's 0.02, and after each of Adam's resets the first steps are
    # +-lr wherever a gradient is round-off: 5e-3 there (measured: up to 3e-3 on 1% of the weights) is the same relative
    # closeness as 3e-4 for DCGAN's weights, and the effective weights (times 1/sqrt(fan-in)) agree to 2e-4.
    atol = 5e-3 if progressive else 3e-4
    for network in ("generator", "discriminator"):
        for key, tensor in alone["gan"][network].items():
            if tensor.is_floating_point():
                torch.testing.assert_close(pair["gan"][network][key], tensor, rtol=1e-3, atol=atol, msg=f"{network}.{key}")
    for epoch_alone, epoch_pair in zip(alone["losses"], pair["losses"]):
        assert epoch_pair == pytest.approx(epoch_alone, rel=1e-3)
    if progressive:  # it grew all the way in both
        assert alone["gan"]["generator"]["_extra_state"].tolist() == pair["gan"]["generator"]["_extra_state"].tolist() == [16.0, 1.0]
        return
    # and the run did move the weights: the comparison is not of two untouched initializations
    trained_weights, initial = alone["gan"]["generator"], alone["initial_generator"]
    assert sum(not torch.equal(trained_weights[key], initial[key]) for key in initial) > len(initial) // 2


@pytest.mark.slow
def test_a_distributed_stylegan2_run_killed_after_an_epoch_resumes_bit_identical(trained, tmp_path):
    # Noise inputs and style mixing draw from torch's global generator, the same stream in every process (each keeps
    # its share of the global batch): process 0's checkpoint holds that state for all, so the resumed pair draws on.
    # The killed run and the resumed one are launches of their own: a resume starts from fresh processes.
    uninterrupted = trained["pair"]["uninterrupted"]
    killed = train_in(2, tmp_path, {"checkpoint": {**RESUMED, "stop_after": 1}})["checkpoint"]
    assert killed["epoch"] == 1 and not killed["complete"]
    resumed = train_in(2, tmp_path, {"resumed": {**RESUMED, "resume_from": str(tmp_path / "checkpoint.pt")}})["resumed"]
    for part, tensors in uninterrupted["gan"].items():
        if part.endswith("_optimizer"):
            continue  # nested dicts; the weights below follow from them
        for name, tensor in tensors.items():
            assert torch.equal(resumed["gan"][part][name], tensor), f"{part}.{name}"
    assert resumed["losses"][-2:] == uninterrupted["losses"][-2:]  # the two epochs after the resume, exactly
    # the noise did reach the images: its strengths moved from their initial 0
    assert any(name.endswith("noise.strength") and tensor.abs() > 0 for name, tensor in uninterrupted["gan"]["generator"].items())


def test_what_several_processes_cannot_do_yet_is_refused_by_name():
    check_data_parallel(TrainParams(), 1)
    check_data_parallel(TrainParams(batch_size=64), 4)
    with pytest.raises(ParamsError) as refused:
        check_data_parallel(TrainParams(batch_size=30, augment="diffaugment", replay={"size": 100}), 4)
    message = str(refused.value)
    assert "train.batch_size = 30 is the global batch and must split evenly over the 4 processes" in message
    assert "train.augment = 'diffaugment'" in message and "train.replay.size" in message
    with_stddev = build_discriminator(ModelParams(architecture="progressive", minibatch_stddev=True), channels=1, image_size=16)
    check_data_parallel(TrainParams(), 1, with_stddev)
    with pytest.raises(ParamsError, match="model.minibatch_stddev = true is not supported with several processes"):
        check_data_parallel(TrainParams(), 2, with_stddev)
    check_data_parallel(TrainParams(), 2, build_discriminator(ModelParams(architecture="progressive"), channels=1, image_size=16))
    with_discrimination = build_discriminator(ModelParams(minibatch_discrimination=4), channels=1, image_size=16)
    with pytest.raises(ParamsError, match="model.minibatch_discrimination > 0 is not supported with several processes"):
        check_data_parallel(TrainParams(), 2, with_discrimination)


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
