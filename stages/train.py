"""Stage train: data/prepared/train.pt -> models/generator.pt, models/generator_best.pt, models/checkpoints/last.pt, metrics/train/.

Every ``train.checkpoint_every`` epochs the whole state of the run goes (atomically) to
models/checkpoints/last.pt: both networks and optimizers, the EMA, the replay buffer, ADA's p, the
random generators and everything logged so far. DVC keeps that folder between runs (persist: true
in dvc.yaml), so after an interruption (a crash, SIGKILL, a reboot) ``dvc repro`` continues from the
last checkpoint and ends with the same generator, bit for bit, as an uninterrupted run. A checkpoint
of other params or data is set aside, not resumed; one of a finished run is simply replaced.
The run itself is ganyard.training_run's; its log, ganyard.training_log's.
"""

import os

from ganyard import distributed, paths
from ganyard.environment import kernel_environment
from ganyard.io import save_json, save_torch
from ganyard.stage import StageError, run_stage
from ganyard.training_log import TrainingLog
from ganyard.training_run import TrainingRun


def main(params) -> None:
    processes = distributed.processes_from_environment()
    try:
        device = distributed.training_device(params.train.device, processes.local_rank, amp=params.train.amp)
        if device.type == "cuda":  # cuBLAS is deterministic only with this workspace setting, read when CUDA starts
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        distributed.start(processes, device)
    except distributed.DeviceError as error:
        raise StageError(str(error)) from None
    try:
        train_on(params, device, processes)
    finally:
        distributed.stop()


def train_on(params, device, processes: distributed.Processes) -> None:
    """The stage's work in this process: all of it alone, or its share under torchrun (rank 0 writes)."""
    run = TrainingRun(params, device, processes, data=paths.TRAIN_DATA, evaluator=paths.EVALUATOR, checkpoint=paths.CHECKPOINT, set_aside=paths.SET_ASIDE)
    if not processes.is_main:  # under torchrun the other processes only train
        run.train()
        return
    if processes.world_size > 1:
        print(f"training in {processes.world_size} processes on {device.type}, {params.train.batch_size // processes.world_size} images of each batch apiece")
    with TrainingLog(paths.TRAIN_STAGING, paths.TRAIN_METRICS) as log:  # leaving it publishes the log whole to metrics/train
        seconds = run.train(log)

    last, chosen = run.generators()
    save_torch(last, paths.GENERATOR)
    save_torch(chosen, paths.GENERATOR_BEST)
    run.state.save(paths.CHECKPOINT, params.train.epochs, complete=True)
    save_json(kernel_environment(device, processes.world_size), paths.ENVIRONMENT)
    # Printed, not saved: a wall-clock time in an output would change dvc.lock on every rerun of the same run.
    print(f"trained epochs {run.state.start_epoch + 1} to {params.train.epochs} in {seconds:.0f} s")


if __name__ == "__main__":
    run_stage("train", main)
