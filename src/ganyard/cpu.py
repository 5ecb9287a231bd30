"""Process-wide torch modes: deterministic kernels, and flushing denormal numbers to zero in every OpenMP thread."""

from __future__ import annotations

import ctypes
import functools
import sys
from contextlib import contextmanager
from pathlib import Path

import torch

_EACH_THREAD = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def use_deterministic_algorithms(warn_only: bool = False) -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=warn_only)`` without its import of torch._inductor.

    torch's function imports the compiler (2 to 3 s on 2 cores, at the start of every stage that calls it) only
    to set the compiler's own ``deterministic`` flag. ganyard never compiles, so this sets the flag the eager
    kernels read, and the compiler's too when something has imported it already.
    """
    torch._C._set_deterministic_algorithms(True, warn_only=warn_only)
    inductor_config = sys.modules.get("torch._inductor.config")
    if inductor_config is not None:
        inductor_config.deterministic = True


@functools.cache
def _openmp() -> ctypes.CDLL | None:
    """The GNU OpenMP runtime torch's wheels bundle (torch/lib/libgomp*.so*), or None where there is none."""
    for path in sorted((Path(torch.__file__).parent / "lib").glob("libgomp*.so*")):
        try:
            library = ctypes.CDLL(str(path))
        except OSError:
            continue
        library.GOMP_parallel.argtypes = [_EACH_THREAD, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
        return library
    return None


def set_flush_denormal_in_every_thread(on: bool) -> None:
    """torch.set_flush_denormal sets the FPU flags of the calling thread only, and OpenMP's worker
    threads (which run half of every 2-thread operation) keep theirs: so run it inside each of them too,
    through OpenMP itself. Where torch's OpenMP runtime is not found, the calling thread only."""
    torch.set_flush_denormal(on)
    openmp = _openmp()
    if openmp is not None:
        openmp.GOMP_parallel(_EACH_THREAD(lambda _: torch.set_flush_denormal(on)), None, torch.get_num_threads(), 0)


@contextmanager
def denormals_flushed():
    """Within: float math flushes denormal numbers to zero (CPU FTZ/DAZ) in every thread; the previous mode after.

    A discriminator that wins drives values into denormals, which CPUs compute many times slower.
    """
    was_flushing = (torch.tensor([1e-40]) * 1.0).item() == 0.0  # 1e-40 is a float32 denormal
    set_flush_denormal_in_every_thread(True)
    try:
        yield
    finally:
        set_flush_denormal_in_every_thread(was_flushing)
