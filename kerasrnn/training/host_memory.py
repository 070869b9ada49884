"""Keeping freed host memory in the process for reuse, instead of handing it back to the OS at every free.

Why: glibc's ``malloc`` serves a large block (above its *mmap threshold*,
128 KiB to 32 MiB, adjusted as the program runs) with a fresh ``mmap`` and
unmaps it on ``free``; memory freed at the top of its heap goes back to the
OS past the *trim threshold*. A training step allocates and frees the same
large tensors every batch (a ConvLSTM's whole-sequence gates, their
gradients), so every batch the kernel maps them again and faults in and
zeroes every page on first touch: measured for ``kerasrnn bench --archs
conv-lstm`` on the torch backend, 68 MB of page faults per batch and 40% of
the training time in the kernel (``ru_minflt``, ``ru_stime``). With both
thresholds at 1 GiB the faults drop to none and the step is about a quarter
shorter.

This is the tuning PyTorch's own CPU launcher (``torch.backends.xeon.run_cpu``)
does by preloading jemalloc or tcmalloc; here it is glibc's own ``mallopt``.
The price: up to the threshold of freed memory stays mapped to the process
(its resident size does not shrink after a peak), which is what a training
process wants. ``kerasrnn``'s command line calls :func:`keep_freed_memory`
when it starts, and ``kerasrnn bench`` gives every row's process (native
PyTorch rows included) the same through :func:`child_environment`; library
users may call it themselves. ``KERASRNN_KEEP_FREED_MEMORY=0`` turns it off.

Standard library only: the bench's worker loads this file by path without
importing the package (which imports Keras).
"""

from __future__ import annotations

import ctypes
import os
import platform

THRESHOLD = 1 << 30  # bytes: blocks below are served from the heap; this much freed memory is kept
DISABLE = "KERASRNN_KEEP_FREED_MEMORY"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def enabled() -> bool:
    """Whether the tuning applies here: glibc on Linux, and not turned off by ``KERASRNN_KEEP_FREED_MEMORY``."""
    if os.environ.get(DISABLE, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def keep_freed_memory(threshold: int = THRESHOLD) -> bool:
    """Sets glibc's mmap and trim thresholds of this process to ``threshold`` bytes; returns whether it took."""
    if not enabled():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process' own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, threshold))


def child_environment(threshold: int = THRESHOLD) -> dict[str, str]:
    """The variables that give a child process the same setting from its start (glibc reads them at startup)."""
    if not enabled():
        return {}
    return {"MALLOC_MMAP_THRESHOLD_": str(threshold), "MALLOC_TRIM_THRESHOLD_": str(threshold)}


def describe() -> str:
    """One line for a record (``config.json``, the bench's JSON) of what this process runs with."""
    if not enabled():
        return "glibc defaults (freed memory returned to the OS)"
    return f"freed memory kept: glibc mmap and trim thresholds {THRESHOLD >> 20} MiB"
