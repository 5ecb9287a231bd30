"""A training run as the train stage makes it, in one process or in each of torchrun's.

``TrainingRun(...)`` reads the prepared data, seeds and builds the networks and resumes from the
checkpoint of an interrupted run with the same params and data. ``train`` runs the epochs left; on
process 0 each epoch ends with ``end_epoch``: its metrics, the quick FID (which picks the best
generator), the preview grid, the log and, every ``train.checkpoint_every`` epochs, a checkpoint.
A resumed run ends with the same generator, bit for bit, as an uninterrupted one.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ganyard import distributed
from ganyard.cpu import use_deterministic_algorithms
from ganyard.distributed import Processes
from ganyard.images import to_grid
from ganyard.io import load_torch
from ganyard.metrics.evaluation import QuickFID
from ganyard.models import build_discriminator, build_generator, generator_config
from ganyard.models.evaluator import load_evaluator
from ganyard.params import Params
from ganyard.runs import RunState, resumable_checkpoint, run_fingerprint
from ganyard.sampling import balanced_labels, generate, sample_noise
from ganyard.stage import StageError
from ganyard.training import DivergenceError, EpochStats, iterations_per_epoch, make_gan, train
from ganyard.training_log import TrainingLog


class TrainingRun:
    """The networks, data and state of one run; ``checkpoint`` is where it resumes from and saves to.

    ``data`` is the prepared training split; ``evaluator`` (for the quick FID, on process 0 when
    ``train.eval_every``) and ``data`` make the run's fingerprint with the params. A checkpoint that
    another run wrote is moved to ``set_aside``. Raises StageError for a conditional model on
    unlabelled data, ParamsError for a batch larger than the data, ArtifactError for a missing input.
    """

    def __init__(
        self, params: Params, device: torch.device, processes: Processes, data: str | Path, evaluator: str | Path, checkpoint: str | Path, set_aside: str | Path
    ):
        self.params, self.processes, self.checkpoint_path = params, processes, Path(checkpoint)
        prepared = load_torch(data, "prepared training data")
        images, labels = prepared["images"], prepared["labels"]
        iterations_per_epoch(len(images), params.train)  # refuses a batch larger than the data, before any compute
        channels, image_size = images.shape[1], images.shape[-1]
        if params.model.conditional and labels is None:
            raise StageError("model.conditional = true needs labelled data; the prepared data has no labels (a flat image folder)")
        self.classes = classes = len(prepared["class_names"]) if params.model.conditional else 0
        # Exact on CPU; on GPUs some kernels have no deterministic version, and those warn instead of failing.
        use_deterministic_algorithms(warn_only=device.type != "cpu")
        # Independent streams for weights, training noise/shuffling, the preview noise and the quick-FID noise.
        init_seed, train_seed, preview_seed, eval_seed = np.random.SeedSequence(params.seed).generate_state(4)
        torch.manual_seed(int(init_seed))
        generator = build_generator(params.model, channels=channels, image_size=image_size, classes=classes).to(device)
        discriminator = build_discriminator(params.model, channels=channels, image_size=image_size, classes=classes).to(device)
        if processes.world_size > 1:
            generator, discriminator = (distributed.data_parallel(network, processes, device) for network in (generator, discriminator))
        self.gan = make_gan(generator, discriminator, params.train, processes)
        self.images, self.labels = images.to(device), labels.to(device) if labels is not None else None  # resident for the whole run
        rng = torch.Generator().manual_seed(int(train_seed))
        self.preview_noise = sample_noise(params.train.preview_images, params.model.latent_dim, torch.Generator().manual_seed(int(preview_seed)))
        self.preview_labels = balanced_labels(params.train.preview_images, classes)
        self.quick_fid = self.eval_noise = self.eval_labels = None  # process 0 measures the quick FID, when train.eval_every
        if params.train.eval_every and processes.is_main:
            # FID on the evaluator's features against the training split, from one fixed batch of noise: it
            # chooses the best generator, so it must not see the test split that the final scores use.
            self.quick_fid = QuickFID(load_evaluator(evaluator), prepared["images"])
            self.eval_noise = sample_noise(params.train.eval_samples, params.model.latent_dim, torch.Generator().manual_seed(int(eval_seed)))
            self.eval_labels = balanced_labels(params.train.eval_samples, classes)

        fingerprint = run_fingerprint(params, device, processes.world_size, [data, evaluator]) if processes.is_main else None
        config = generator_config(params.model, channels=channels, image_size=image_size, classes=classes)
        self.state = RunState(config, fingerprint, self.gan, rng)
        # Process 0 decides and hands the state to the others (on other machines they may have no checkpoint file).
        resumed = resumable_checkpoint(self.checkpoint_path, fingerprint, Path(set_aside)) if processes.is_main else None
        resumed = distributed.share_from_main(resumed, processes, device)
        if resumed is not None:
            self.state.restore(resumed)
            if processes.is_main:
                print(f"resuming from {self.checkpoint_path}: epoch {self.state.start_epoch} of {params.train.epochs} was done")

    def train(self, log: TrainingLog | None = None) -> float:
        """Train the epochs left; process 0 logs them to ``log`` (which it needs), after the epochs before a resume.

        Returns the seconds it took. Raises StageError when training diverges, naming the last good checkpoint.
        """
        params, state = self.params.train, self.state
        if not self.processes.is_main:  # under torchrun the other processes only train
            try:
                train(self.gan, self.images, params, state.rng, labels=self.labels, start_epoch=state.start_epoch, progress=False)
            except DivergenceError as error:  # every process sees the same averaged losses, so all stop here
                raise StageError(f"{error} (process {self.processes.rank}; process 0 says more)") from None
            return 0.0
        if log is None:
            raise ValueError("process 0 logs the run: give train() a TrainingLog")
        for epoch, record in enumerate(state.records, start=1):  # a resumed run logs the epochs before it again
            log.write(epoch, record)
        started = time.perf_counter()
        try:
            train(self.gan, self.images, params, state.rng, on_epoch=partial(self.end_epoch, log=log), labels=self.labels, start_epoch=state.start_epoch)
        except DivergenceError as error:
            last = f"{self.checkpoint_path} (epoch {state.saved_epoch})" if state.saved_epoch is not None else "none yet"
            raise StageError(
                f"{error}. Training stopped there and wrote nothing more; the last good checkpoint is {last}. "
                "A lower train.lr, a gradient penalty (train.r1_gamma) or spectral norm usually keep it finite."
            ) from None
        seconds = time.perf_counter() - started
        log.summarize([EpochStats.from_dict(record["stats"]) for record in state.records], state.best)
        return seconds

    def end_epoch(self, epoch: int, stats: EpochStats, log: TrainingLog) -> None:
        """Process 0's work after each epoch: metrics, quick FID and best generator, preview, ``log``, checkpoint every N."""
        params, state = self.params.train, self.state
        metrics = stats.means()
        if params.augment == "ada":
            metrics["augment_probability"] = stats.augment_probability
        if params.discriminator_skip_below is not None:
            metrics["discriminator_skipped"] = stats.discriminator_skipped
        if self.gan.growth is not None:  # the stage of the epoch's last iteration (model.architecture: progressive)
            metrics.update(self.gan.growth_stage())
        if self.quick_fid is not None and (epoch % params.eval_every == 0 or epoch == params.epochs):
            metrics["fid"] = self.quick_fid(generate(self.gan.sampling_generator, self.eval_noise, self.eval_labels))
            state.best.offer(epoch, metrics["fid"], self.gan.sampling_generator)
        preview = to_grid(generate(self.gan.sampling_generator, self.preview_noise, self.preview_labels), columns=self.classes or None)
        record = {"stats": stats.to_dict(), "metrics": metrics, "preview": torch.from_numpy(np.array(preview))}
        state.records.append(record)
        log.write(epoch, record)
        log.publish()
        if epoch % params.checkpoint_every == 0 and epoch < params.epochs:
            state.save(self.checkpoint_path, epoch)

    def generators(self) -> tuple[dict, dict]:
        """(the last generator, the chosen one) as their files hold them: the config beside the sampling
        generator's weights (the EMA when kept). Without a quick FID (train.eval_every: 0) nothing was
        chosen: the chosen one is then the last."""
        config, best = self.state.config, self.state.best
        last = {"config": config, "state_dict": self.gan.sampling_generator.state_dict(), "epoch": self.params.train.epochs}
        chosen = {"config": config, "state_dict": best.state_dict, "epoch": best.epoch, "quick_fid": best.fid} if best.epoch is not None else last
        return last, chosen
