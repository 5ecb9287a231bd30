"""Where training runs: the device (``train.device``) and, under torchrun, several data-parallel processes.

Data parallelism here is DDP's arithmetic written out, as stylegan3's training loop does it: every
process holds the same networks, takes its 1/world_size share of each global batch, and after each
backward the gradients are averaged over the processes (one all-reduce of the flattened
gradients), so every process takes the same optimizer step as one process on the whole batch.
torch's DistributedDataParallel wrapper is not used: it assumes one forward and one backward per
step, while a GAN's generator step runs through a frozen discriminator and the penalties take
gradients of gradients. Batch norm statistics are pooled over the processes (``PooledBatchNorm``:
torch's SyncBatchNorm has no CPU kernel and cannot be differentiated twice), so the result is that of
one process on the global batch to float round-off (tests/test_distributed.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import get_args

import torch
import torch.distributed as dist
from torch import nn

from ganyard.params import AMP_NEEDS_CUDA, Device

DEVICES = get_args(Device)


class DeviceError(RuntimeError):
    """``train.device`` names a device this machine or this torch build does not have."""


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``train.device`` -> a torch.device: auto picks CUDA, then Apple's MPS, then the CPU.

    Raises DeviceError naming what is missing when an explicit ``cuda`` or ``mps`` is not available.
    """
    if name not in DEVICES:
        raise DeviceError(f"train.device = {name!r}; allowed: {', '.join(DEVICES)}")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda":
        if not cuda:
            why = (
                f"this torch ({torch.__version__}) is built without CUDA"
                if torch.version.cuda is None
                else f"no GPU is visible to this torch ({torch.__version__}, built for CUDA {torch.version.cuda})"
            )
            raise DeviceError(f"train.device = 'cuda', but {why}; use 'auto' or 'cpu'")
        if local_rank >= torch.cuda.device_count():
            raise DeviceError(
                f"process {local_rank} of this machine has no GPU of its own: torch sees {torch.cuda.device_count()}; "
                "start at most that many processes per machine (torchrun --nproc_per_node)"
            )
        return torch.device("cuda", local_rank)
    if name == "mps" and not mps:
        raise DeviceError("train.device = 'mps', but Apple's Metal (MPS) backend is not available here; use 'auto' or 'cpu'")
    return torch.device(name)


def training_device(name: str, local_rank: int = 0, amp: bool = False) -> torch.device:
    """``resolve_device``, and DeviceError when ``amp`` is asked for but the device resolved to is not a CUDA GPU."""
    device = resolve_device(name, local_rank)
    if amp and device.type != "cuda":
        raise DeviceError(f"{AMP_NEEDS_CUDA}; train.device = {name!r} resolved to {device.type} here")
    return device


@dataclass(frozen=True)
class Processes:
    """This process's place among the training processes: rank 0 of 1 without torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The process that logs and writes files."""
        return self.rank == 0

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's share of a global batch (N, ...) -> (N / world_size, ...)."""
        if self.world_size == 1:
            return batch
        size = len(batch) // self.world_size
        return batch[self.rank * size : (self.rank + 1) * size]


def processes_from_environment() -> Processes:
    """The rank and world size torchrun sets in the environment (RANK, WORLD_SIZE, LOCAL_RANK)."""
    return Processes(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))


def start(processes: Processes, device: torch.device) -> None:
    """Join the process group torchrun describes: NCCL between GPUs, gloo between CPU processes.

    Raises DeviceError for MPS, which torch.distributed has no backend for.
    """
    if processes.world_size == 1 or dist.is_initialized():
        return
    if device.type == "mps":
        raise DeviceError("several processes (torchrun) need CUDA GPUs or CPUs; torch.distributed cannot reduce across Apple MPS devices")
    if device.type == "cuda":
        torch.cuda.set_device(device)  # before NCCL starts, so that each process talks through its own GPU
    # Process 0 scores and checkpoints between epochs while the others wait at the next all-reduce: allow it time.
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", timeout=timedelta(minutes=60))


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def average_gradients(module: nn.Module, world_size: int) -> None:
    """Replace every gradient of ``module`` by its mean over the processes (one all-reduce)."""
    if world_size == 1:
        return
    gradients = [parameter.grad for parameter in module.parameters() if parameter.grad is not None]
    if not gradients:
        return
    flat = average(torch.cat([gradient.flatten() for gradient in gradients]), world_size)
    for gradient, averaged in zip(gradients, flat.split([g.numel() for g in gradients])):
        gradient.copy_(averaged.view_as(gradient))


def average(values: torch.Tensor, world_size: int) -> torch.Tensor:
    """The mean over the processes of a small tensor (losses for the logs), the same on every process."""
    if world_size == 1:
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values / world_size


def share_from_main(value, processes: Processes, device: torch.device):
    """Process 0's ``value`` (any picklable object, None included) on every process.

    For what only process 0 may decide, such as whether and where to resume: the other processes may
    run on machines without the checkpoint file. The peers are the run's own processes, so pickle is safe here.
    """
    if processes.world_size == 1:
        return value
    holder = [value if processes.is_main else None]
    dist.broadcast_object_list(holder, src=0, device=device if device.type == "cuda" else None)
    return holder[0]


class _SumOverProcesses(torch.autograd.Function):
    """All-reduce (sum) that autograd sees through: every process's output depends on every input, so
    the gradient of each input is the sum of the output gradients over the processes."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> torch.Tensor:
        return _SumOverProcesses.apply(gradient)  # itself differentiable: R1 and WGAN-GP differentiate twice


class PooledBatchNorm(nn.BatchNorm2d):
    """Batch norm whose training-mode statistics are those of the global batch over all processes.

    The per-channel sums and sums of squares are all-reduced by an autograd-aware all-reduce, so the
    backward pass pools its gradients the same way. Outside training, or in a single process, it is
    torch's batch norm exactly. Input and output (N, C) or (N, C, ...), like BatchNorm1d and
    BatchNorm2d, whose state dicts it shares.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected a batch of shape (N, C, ...), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        channels, dims = x.shape[1], [0, *range(2, x.dim())]
        shape = (1, channels) + (1,) * (x.dim() - 2)
        local_count = torch.tensor([x.numel() // channels], dtype=x.dtype, device=x.device)
        sums = _SumOverProcesses.apply(torch.cat([x.sum(dim=dims), local_count]))
        count = sums[-1]
        mean = sums[:channels] / count
        centred = x - mean.view(shape)
        # Two passes (the mean first), not E[x^2] - E[x]^2, which loses digits when |mean| >> std.
        variance = _SumOverProcesses.apply((centred * centred).sum(dim=dims)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(variance.detach() * count / (count - 1), momentum)  # unbiased, as torch keeps it
        normalized = centred * torch.rsqrt(variance.view(shape) + self.eps)
        return normalized * self.weight.view(shape) + self.bias.view(shape) if self.affine else normalized


def data_parallel(network: nn.Module, processes: Processes, device: torch.device) -> nn.Module:
    """``network`` (in place) ready to train as one of ``processes``, as one process would on the global batch.

    Its batch norms pool their statistics over the processes (``pool_batch_norm``), and its layers that
    draw random numbers per image (those with a ``processes`` attribute: StyleGAN2's noise inputs and style
    mixing) draw them for the global batch and keep this process's share.
    """
    pool_batch_norm(network, device)
    for layer in network.modules():
        if hasattr(layer, "processes"):
            layer.processes = processes
    return network


def pool_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with every batch norm pooling its statistics over the processes (in place).

    The same module on GPUs: torch's SyncBatchNorm is faster there, but its backward cannot be
    differentiated again, which the R1 penalty of a batch-normalized discriminator needs.
    """
    for name, child in module.named_children():
        if type(child) in (nn.BatchNorm1d, nn.BatchNorm2d):
            pooled = PooledBatchNorm(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            pooled.load_state_dict(child.state_dict())
            setattr(module, name, pooled.to(device))
        else:
            pool_batch_norm(child, device)
    return module
