"""The state of a training run around the loop: which checkpoint may be resumed, and the best generator so far.

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

import torch
from torch import nn

from ganyard.io import ArtifactError, load_torch
from ganyard.params import Params


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
