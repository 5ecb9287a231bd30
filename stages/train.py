"""Stage train: data/prepared/train.pt -> models/generator.pt, models/checkpoints/last.pt, metrics/train/.

Every ``train.checkpoint_every`` epochs the whole state of the run goes (atomically) to
models/checkpoints/last.pt: both networks and optimizers, the EMA, the replay buffer, ADA's p, the
random generators and everything logged so far. DVC keeps that folder between runs (persist: true
in dvc.yaml), so after an interruption (a crash, SIGKILL, a reboot) ``dvc repro`` continues from the
last checkpoint and ends with the same generator, bit for bit, as an uninterrupted run. A checkpoint
of other params or data is set aside, not resumed; one of a finished run is simply replaced.
"""

import os
import time
from pathlib import Path

import numpy as np
import torch
from dvclive import Live

from ganyard import distributed
from ganyard.cli import StageError, load_evaluator, run_stage
from ganyard.environment import kernel_environment
from ganyard.images import to_grid
from ganyard.io import load_torch, publish, save_json, save_torch
from ganyard.metrics.evaluation import QuickFID
from ganyard.models import build_discriminator, build_generator, generator_config
from ganyard.runs import BestGenerator, resumable_checkpoint, run_fingerprint
from ganyard.sampling import balanced_labels, generate, sample_noise
from ganyard.training import DivergenceError, EpochStats, iterations_per_epoch, make_gan, train

CHECKPOINT = Path("models/checkpoints/last.pt")
SET_ASIDE = Path("models/set_aside")
INPUTS = ("data/prepared/train.pt", "models/evaluator.pt")
# dvclive appends to its files in place; it writes here and whole files are published to metrics/train.
LIVE_STAGING = Path("metrics/.train-live")
LIVE_OUTPUT = Path("metrics/train")


def main(params) -> None:
    processes = distributed.processes_from_environment()
    try:
        device = distributed.resolve_device(params.train.device, processes.local_rank)
        if params.train.amp and device.type != "cuda":
            raise StageError(f"train.amp = true is mixed precision on CUDA GPUs; train.device = {params.train.device!r} resolved to {device.type} here")
        if device.type == "cuda":  # cuBLAS is deterministic only with this workspace setting, read when CUDA starts
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        distributed.start(processes, device)
    except distributed.DeviceError as error:
        raise StageError(str(error)) from None
    try:
        train_on(params, device, processes)
    finally:
        distributed.stop()


def train_on(params, device: torch.device, processes: distributed.Processes) -> None:
    """The stage's work in this process: all of it alone, or its share under torchrun (rank 0 writes)."""
    prepared = load_torch(INPUTS[0], "prepared training data")
    images, labels = prepared["images"], prepared["labels"]
    iterations_per_epoch(len(images), params.train)  # refuses a batch larger than the data, before any compute
    channels, image_size = images.shape[1], images.shape[-1]
    if params.model.conditional and labels is None:
        raise StageError("model.conditional = true needs labelled data; the prepared data has no labels (a flat image folder)")
    classes = len(prepared["class_names"]) if params.model.conditional else 0
    # Exact on CPU; on GPUs some kernels have no deterministic version, and those warn instead of failing.
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
    # Independent streams for weights, training noise/shuffling, the preview noise and the quick-FID noise.
    init_seed, train_seed, preview_seed, eval_seed = np.random.SeedSequence(params.seed).generate_state(4)
    torch.manual_seed(int(init_seed))
    generator = build_generator(params.model, channels, image_size, classes).to(device)
    discriminator = build_discriminator(params.model, channels, image_size, classes).to(device)
    if processes.world_size > 1:
        generator, discriminator = (distributed.pool_batch_norm(network, device) for network in (generator, discriminator))
    gan = make_gan(generator, discriminator, params.train, processes)
    images, labels = images.to(device), labels.to(device) if labels is not None else None  # resident for the whole run
    rng = torch.Generator().manual_seed(int(train_seed))
    preview_noise = sample_noise(params.train.preview_images, params.model.latent_dim, torch.Generator().manual_seed(int(preview_seed)))
    preview_labels = balanced_labels(params.train.preview_images, classes)
    quick_fid, best = None, BestGenerator()
    if params.train.eval_every and processes.is_main:
        # FID on the evaluator's features against the training split, from one fixed batch of noise: it
        # chooses the best generator, so it must not see the test split that the final scores use.
        quick_fid = QuickFID(load_evaluator(INPUTS[1]), prepared["images"])
        eval_noise = sample_noise(params.train.eval_samples, params.model.latent_dim, torch.Generator().manual_seed(int(eval_seed)))
        eval_labels = balanced_labels(params.train.eval_samples, classes)

    fingerprint = run_fingerprint(params, device, processes.world_size, INPUTS) if processes.is_main else None
    records, start_epoch = [], 0  # one record per epoch: its stats, the values logged, the preview grid
    # Process 0 decides and hands the state to the others (on other machines they may have no checkpoint file).
    checkpoint = distributed.share_from_main(resumable_checkpoint(CHECKPOINT, fingerprint, SET_ASIDE) if processes.is_main else None, processes, device)
    if checkpoint is not None:
        gan.load_state_dict(checkpoint["gan"], rng)
        rng.set_state(checkpoint["rng"])
        torch.set_rng_state(checkpoint["torch_rng"])
        records, start_epoch = checkpoint["records"], checkpoint["epoch"]
        best = BestGenerator.from_state(checkpoint["best"])
        if processes.is_main:
            print(f"resuming from {CHECKPOINT}: epoch {start_epoch} of {params.train.epochs} was done")
    config = generator_config(params.model, channels, image_size, classes)
    saved_epoch = start_epoch if checkpoint is not None else None

    def save_checkpoint(epoch: int, complete: bool) -> None:
        save_torch({"config": config, "epoch": epoch, "complete": complete, "fingerprint": fingerprint, "gan": gan.state_dict(),
                    "rng": rng.get_state(), "torch_rng": torch.get_rng_state(), "records": records, "best": best.state()}, CHECKPOINT)

    if not processes.is_main:  # under torchrun the other processes only train
        try:
            train(gan, images, params.train, rng, labels=labels, start_epoch=start_epoch, progress=False)
        except DivergenceError as error:  # every process sees the same averaged losses, so all stop here
            raise StageError(f"{error} (process {processes.rank}; process 0 says more)") from None
        return
    if processes.world_size > 1:
        print(f"training in {processes.world_size} processes on {device.type}, {params.train.batch_size // processes.world_size} images of each batch apiece")
    published = {}  # what publish() has seen of the staging folder, so unchanged files are not read again
    with Live(str(LIVE_STAGING), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        def write_record(epoch: int, record: dict) -> None:
            live.step = epoch
            for name, value in record["metrics"].items():
                live.log_metric(name, value)
            live.log_image(f"preview/epoch_{epoch:04d}.png", record["preview"].numpy())

        def on_epoch(epoch: int, stats: EpochStats) -> None:
            nonlocal saved_epoch
            metrics = stats.means()
            if params.train.augment == "ada":
                metrics["augment_probability"] = stats.augment_probability
            if params.train.discriminator_skip_below is not None:
                metrics["discriminator_skipped"] = stats.discriminator_skipped
            if quick_fid is not None and (epoch % params.train.eval_every == 0 or epoch == params.train.epochs):
                metrics["fid"] = quick_fid(generate(gan.sampling_generator, eval_noise, eval_labels))
                best.offer(epoch, metrics["fid"], gan.sampling_generator)
            preview = to_grid(generate(gan.sampling_generator, preview_noise, preview_labels), columns=classes or None)
            record = {"stats": stats.to_dict(), "metrics": metrics, "preview": torch.from_numpy(np.array(preview))}
            records.append(record)
            write_record(epoch, record)
            publish(LIVE_STAGING, LIVE_OUTPUT, seen=published)
            if epoch % params.train.checkpoint_every == 0 and epoch < params.train.epochs:
                save_checkpoint(epoch, complete=False)
                saved_epoch = epoch

        for epoch, record in enumerate(records, start=1):  # a resumed run logs the epochs before it again
            write_record(epoch, record)
        started = time.perf_counter()
        try:
            train(gan, images, params.train, rng, on_epoch=on_epoch, labels=labels, start_epoch=start_epoch)
        except DivergenceError as error:
            last = f"{CHECKPOINT} (epoch {saved_epoch})" if saved_epoch is not None else "none yet"
            raise StageError(
                f"{error}. Training stopped there and wrote nothing more; the last good checkpoint is {last}. "
                "A lower train.lr, a gradient penalty (train.r1_gamma) or spectral norm usually keep it finite."
            ) from None
        seconds = time.perf_counter() - started
        history = [EpochStats.from_dict(record["stats"]) for record in records]
        live.summary["generator_updates"] = sum(s.generator_updates for s in history)
        live.summary["discriminator_updates"] = sum(s.discriminator_updates for s in history)
        live.summary["discriminator_skipped"] = sum(s.discriminator_skipped for s in history)
        if best.epoch is not None:
            live.summary["best_epoch"], live.summary["best_fid"] = best.epoch, best.fid
    publish(LIVE_STAGING, LIVE_OUTPUT, remove_others=True)  # Live wrote metrics.json on leaving the with block

    last = {"config": config, "state_dict": gan.sampling_generator.state_dict(), "epoch": params.train.epochs}
    save_torch(last, "models/generator.pt")
    # Without a quick FID (train.eval_every: 0) nothing was chosen: the best is the last.
    chosen = {"config": config, "state_dict": best.state_dict, "epoch": best.epoch, "quick_fid": best.fid} if best.epoch is not None else last
    save_torch(chosen, "models/generator_best.pt")
    save_checkpoint(params.train.epochs, complete=True)
    save_json(kernel_environment(device, processes.world_size), "metrics/environment.json")
    # Printed, not saved: a wall-clock time in an output would change dvc.lock on every rerun of the same run.
    print(f"trained epochs {start_epoch + 1} to {params.train.epochs} in {seconds:.0f} s")


if __name__ == "__main__":
    run_stage("train", main)
