"""What decides whether two machines compute the same bits: the kernels torch dispatches to.

The train stage writes :func:`kernel_environment` to ``metrics/environment.json``; ``python -m
ganyard.verify`` (``make verify``) compares it with the committed one. Equal means the same torch, the same
instruction set for its own kernels and for oneDNN's, and the same thread count, so a rerun must give
the committed outputs bit for bit; anything else is another machine, where only the seed study's prediction intervals
of the metrics can be asked for.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile

import torch


@functools.cache  # oneDNN prints its info lines once per process
def onednn_cpu() -> dict[str, str]:
    """oneDNN's version, the instruction set it dispatches to and its thread count on this CPU, read
    from its verbose log of one convolution (torch has no API for the ISA). Missing keys: not seen."""
    found = {}
    if not torch.backends.mkldnn.is_available():
        return found
    sys.stdout.flush()
    saved = os.dup(1)  # oneDNN prints from C to file descriptor 1
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 1)
        try:
            with torch.no_grad(), torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                # Large enough for torch to route it through oneDNN.
                torch.nn.functional.conv2d(torch.ones(8, 64, 32, 32), torch.ones(64, 64, 3, 3))
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        log.seek(0)
        text = log.read().decode(errors="replace")
    for key, pattern in (
        ("onednn_version", r"info,oneDNN (v[\d.]+)"),
        ("onednn_isa", r"info,cpu,isa:([^\n]+)"),
        ("onednn_threads", r"info,cpu,runtime:[^,]*,nthr:(\d+)"),
    ):
        if match := re.search(pattern, text):
            found[key] = match.group(1).strip()
    return found


def kernel_environment(device: torch.device, world_size: int = 1) -> dict[str, object]:
    """A JSON-able description of what selects the numeric kernels of a run on ``device``."""
    environment: dict[str, object] = {
        "torch": torch.__version__,
        "device": device.type,
        "processes": world_size,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        **onednn_cpu(),
    }
    if device.type == "cuda":
        environment |= {"cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "gpu": torch.cuda.get_device_name(device)}
    return environment
