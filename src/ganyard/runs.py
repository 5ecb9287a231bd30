"""The state of a training run around the loop: which checkpoint may be resumed, what a checkpoint holds,
and the best generator so far.

A checkpoint is resumed only by the run that wrote it (``run_fingerprint``); any other is set aside, not
deleted. The best generator is the sampling generator (the EMA when kept) at the epoch of the lowest
quick FID; the quick FID is measured against the training split, so the test split, which the final
scores use, never chooses the checkpoint (Keep the best checkpoint for reporting and the last for
resuming: boschresearch/OASIS #4).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from ganyard.io import ArtifactError, load_torch, save_torch
from ganyard.params import Params

if TYPE_CHECKING:
    from ganyard.training import GAN


def run_fingerprint(params: Params, device: torch.device, world_size: int, inputs: list[str | Path]) -> str:
    """What makes two runs the same run: seed, model and train params (not how often to checkpoint), the
    device kind and process count they ran on (their float round-off differs), and the bytes of ``inputs``."""
    train_params = params.train.model_dump(exclude={"checkpoint_every", "device"})  # "auto" counts as what it resolved to
    identity = {"seed": params.seed, "model": params.model.model_dump(), "train": train_params, "where": [device.type, world_size]}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode())
    for path in inputs:
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


def set_aside(checkpoint: Path, folder: Path, reason: str) -> Path:
    """Move ``checkpoint`` into ``folder`` under a time-stamped name (never over another), say why; returns where."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{checkpoint.stem}-{time.strftime('%Y%m%d-%H%M%S')}{checkpoint.suffix}"
    checkpoint.replace(target)
    print(f"not resuming from {checkpoint}: {reason}; moved it to {target} and starting from epoch 0")
    return target


def resumable_checkpoint(checkpoint: Path, fingerprint: str, set_aside_folder: Path) -> dict | None:
    """The checkpoint of an interrupted run with exactly this fingerprint, or None (an unreadable
    checkpoint or one of another run is set aside; a finished run's is left to be replaced)."""
    if not checkpoint.is_file():
        return None
    try:
        state = load_torch(checkpoint, "checkpoint")
    except ArtifactError as error:
        set_aside(checkpoint, set_aside_folder, str(error))
        return None
    if state.get("complete"):
        return None  # a finished run: a new one (dvc repro --force) starts over and replaces it
    if state.get("fingerprint") != fingerprint:
        set_aside(checkpoint, set_aside_folder, "it was written by a run with other params or data")
        return None
    return state


@dataclass
class BestGenerator:
    """The generator's weights at the epoch of the lowest quick FID offered so far (the first, on a tie)."""

    epoch: int | None = None
    fid: float = math.inf
    state_dict: dict[str, torch.Tensor] = field(default_factory=dict)

    def offer(self, epoch: int, fid: float, generator: nn.Module) -> bool:
        """Keep a copy of ``generator``'s weights if ``fid`` is lower than any before; True when kept."""
        if not fid < self.fid:  # also refuses NaN
            return False
        self.epoch, self.fid = epoch, fid
        self.state_dict = {name: tensor.detach().to("cpu", copy=True) for name, tensor in generator.state_dict().items()}
        return True

    def state(self) -> dict:
        """For a checkpoint: everything ``from_state`` needs."""
        return {"epoch": self.epoch, "fid": self.fid, "state_dict": self.state_dict}

    @classmethod
    def from_state(cls, state: dict) -> BestGenerator:
        return cls(state["epoch"], state["fid"], state["state_dict"])


@dataclass
class RunState:
    """What a checkpoint holds: everything a run needs to continue as if it had never stopped.

    The GAN (both networks and optimizers, the EMA, the replay buffer, ADA's p), the training random
    generator and torch's global one, one record per epoch done (its stats, the values logged, the
    preview grid), the best generator so far and a growing GAN's stage (resolution and alpha, also held by
    the networks' weights, and checked against them on restore); with the generator's ``config`` (to rebuild it) and the
    run's ``fingerprint`` which, with ``complete``, decides whether a later run may resume from it
    (``resumable_checkpoint``).
    """

    config: dict
    fingerprint: str | None
    gan: GAN
    rng: torch.Generator
    records: list[dict] = field(default_factory=list)
    best: BestGenerator = field(default_factory=BestGenerator)
    start_epoch: int = 0  # the epochs done before this process started: those of the checkpoint resumed from
    saved_epoch: int | None = None  # the epoch of the last checkpoint written or resumed from, None before the first

    def checkpoint(self, epoch: int, complete: bool) -> dict:
        """The checkpoint after ``epoch``; ``complete`` when the run has finished (it is then not resumed)."""
        return {
            "config": self.config,
            "epoch": epoch,
            "complete": complete,
            "fingerprint": self.fingerprint,
            "gan": self.gan.state_dict(),
            "rng": self.rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "records": self.records,
            "best": self.best.state(),
            "growth": self.gan.growth_stage(),
        }

    def save(self, path: str | Path, epoch: int, complete: bool = False) -> None:
        """Write ``checkpoint(epoch, complete)`` to ``path`` (atomically)."""
        save_torch(self.checkpoint(epoch, complete), path)
        self.saved_epoch = epoch

    def restore(self, checkpoint: dict) -> None:
        """Continue from ``checkpoint``: the GAN, both random generators, the records and the best generator.

        Raises ArtifactError when the growth stage the checkpoint records is not the one its networks hold.
        """
        self.gan.load_state_dict(checkpoint["gan"], self.rng)
        held = {(network.growth.resolution, network.growth.alpha) for network in self.gan.growing_networks}
        recorded = checkpoint.get("growth")
        if recorded is not None and held != {(recorded["resolution"], recorded["alpha"])}:
            raise ArtifactError(
                f"the checkpoint records the growth stage {recorded}, but its networks hold {sorted(held)}: it is damaged; delete it to start over"
            )
        self.rng.set_state(checkpoint["rng"])
        torch.set_rng_state(checkpoint["torch_rng"])
        self.records, self.start_epoch = checkpoint["records"], checkpoint["epoch"]
        self.best = BestGenerator.from_state(checkpoint["best"])
        self.saved_epoch = self.start_epoch
